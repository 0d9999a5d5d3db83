"""SSML heard (#27): render a few SSML cases for real and print what they sound like.

Usage: python bench/ssml_check.py [--keep DIR]

Each case is converted to WAV with ``kokoro-cli convert`` (int8 model, default voice), then:
a ``<break>`` is measured as the longest silence inside the audio (must be the break's length
within 20 ms), and ``<say-as interpret-as="characters">`` and ``<phoneme>`` are transcribed by
the Whisper judge of ``bench/asr_check.py`` (tiny.en, offline), which must hear the letters
one by one and the phonemes as given (the text says "potato", the phonemes "tomato"). Prints
one line per case and the CPU line; exits 1 when a case fails.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asr_check import normalize, transcribe  # noqa: E402
from engine.cpu import cpu_info  # noqa: E402

SPEAK = ('<speak version="1.1" xmlns="http://www.w3.org/2001/10/synthesis" '
         'xml:lang="en-US"><p>{}</p></speak>')
# (name, SSML paragraph, check): a check is ("gap", ms) or ("heard", words that must be heard,
# words that must not)
CASES = [
    ("break 250 ms", 'Hello<break time="250ms"/>world.', ("gap", 250)),
    ("break 1.2 s", 'Hello<break time="1.2s"/>world.', ("gap", 1200)),
    ("break strong", 'Hello<break strength="strong"/>world.', ("gap", 650)),
    ("say-as characters", 'The code is <say-as interpret-as="characters">FBK</say-as>.',
     ("heard", ["f", "b", "k"], [])),
    ("phoneme ipa", 'I like <phoneme alphabet="ipa" ph="təˈmeɪtoʊ">potato</phoneme> soup.',
     ("heard", ["tomato"], ["potato"])),
    ("phoneme x-sampa", 'I like <phoneme alphabet="x-sampa" ph="t@\'meItoU">potato</phoneme> '
     "soup.", ("heard", ["tomato"], ["potato"])),
]


def gap_ms(path: Path) -> float:
    """The longest silence (under -50 dBFS, in 5 ms frames) between the first and last sound."""
    samples, rate = sf.read(path, dtype="float32")
    frame = rate // 200
    levels = np.abs(samples[: samples.size // frame * frame]).reshape(-1, frame).max(axis=1)
    loud = np.flatnonzero(levels >= 10 ** (-50 / 20))
    longest = run = 0
    for quiet in levels[loud[0]:loud[-1]] < 10 ** (-50 / 20):
        run = run + 1 if quiet else 0
        longest = max(longest, run)
    return longest * 5.0


def render(folder: Path, name: str, paragraph: str) -> Path:
    source = folder / f"{name.replace(' ', '_')}.ssml"
    source.write_text(SPEAK.format(paragraph), encoding="utf-8")
    out = source.with_suffix(".wav")
    exe = Path(sys.executable).with_name("kokoro-cli")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "kokoro_cli"]
    subprocess.run([*command, "convert", str(source), "-o", str(out), "--loudness", "off",
                    "--qc", "off", "--progress", "plain", "--work-dir", str(folder / "work")],
                   check=True, capture_output=True)
    return out


def judge(out: Path, check: tuple) -> tuple[bool, str]:
    if check[0] == "gap":
        gap = gap_ms(out)
        return abs(gap - check[1]) <= 20, f"silence {gap:.0f} ms (break {check[1]} ms)"
    heard = transcribe(out)
    words = normalize(heard)
    joined = "".join(words)
    ok = all(w in words or w in joined for w in check[1]) and not any(w in words
                                                                       for w in check[2])
    return ok, f"heard {heard.strip()!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="render into this folder and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ssml-check-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"cpu: {cpu_info().line()}")
    failed = 0
    for name, paragraph, check in CASES:
        ok, said = judge(render(folder, name, paragraph), check)
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name:<20} {said}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
