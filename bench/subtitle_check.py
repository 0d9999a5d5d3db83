"""Check subtitles against the audio they time, with Whisper (bench/asr_check.py).

Usage: python bench/subtitle_check.py [FILE ...] [--work-dir DIR]

Each FILE (default: the three samples) is converted to M4B with ``--subtitles vtt
--subtitles-words`` (a work folder that is kept, so a second run only re-muxes). Printed per
book: the word error rate of each cue's audio (the cue's own span of the decoded M4B,
transcribed alone) against the cue's text, and how far our word start times fall from
Whisper's word timestamps on the whole chapter audio (median and 90th percentile, over words
both sides agree on).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import asr_check  # noqa: E402

RATE = 16_000
STAMP = re.compile(r"<(\d\d):(\d\d):(\d\d\.\d\d\d)>")


def seconds(stamp: str) -> float:
    h, m, s = stamp.replace(",", ".").split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def read_vtt(path: Path) -> list[tuple[float, float, str, list[tuple[float, str]]]]:
    """(start, end, plain text, [(word start, word)]) per cue."""
    cues = []
    for block in path.read_text().split("\n\n")[1:]:
        lines = block.strip().splitlines()
        if not lines:
            continue
        start, end = (seconds(x) for x in lines[0].split(" --> "))
        body = " ".join(lines[1:])
        words, at = [], start
        for token in body.split(" "):
            found = STAMP.match(token)
            if found:
                at = seconds(token[1:found.end() - 1])
                token = token[found.end():]
            words.append((at, token))
        text = STAMP.sub("", body).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        cues.append((start, end, text, words))
    return cues


def convert(source: Path, out: Path, work: Path) -> None:
    exe = Path(sys.executable).with_name("kokoro-cli")
    subprocess.run([str(exe), "convert", str(source), "-o", str(out), "--work-dir", str(work),
                    "--subtitles", "vtt", "--subtitles-words", "--quiet"], check=True)


def cue_wer(audio: np.ndarray, cues) -> list[float]:
    rates = []
    for start, end, text, _ in cues:
        clip = audio[int(max(0.0, start - 0.05) * RATE):int((end + 0.05) * RATE)]
        rates.append(asr_check.wer(text, asr_check.transcribe_samples(clip, RATE)))
    return rates


def word_offsets(audio: np.ndarray, cues) -> list[float]:
    """|our word start - Whisper's| for the words both sides agree on (aligned by difflib over
    normalized words)."""
    from difflib import SequenceMatcher

    heard = [(w, t) for w, t, _ in asr_check.word_timings(audio, RATE)
             if len(asr_check.normalize(w)) == 1]
    ours = [(w, t) for *_, words in cues for t, w in words if len(asr_check.normalize(w)) == 1]
    a = [asr_check.normalize(w)[0] for w, _ in ours]
    b = [asr_check.normalize(w)[0] for w, _ in heard]
    offsets = []
    for block in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        offsets += [abs(ours[block.a + k][1] - heard[block.b + k][1]) for k in range(block.size)]
    return offsets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "subbench")
    args = parser.parse_args()
    files = args.files or [ROOT / "samples" / n for n in ("report.md", "lighthouse.epub",
                                                           "story.txt")]
    args.work_dir.mkdir(parents=True, exist_ok=True)
    for source in files:
        out = args.work_dir / f"{source.stem}.m4b"
        convert(source, out, args.work_dir / "work")
        cues = read_vtt(out.with_suffix(".vtt"))
        audio = asr_check.load_audio(out, RATE)
        rates = cue_wer(audio, cues)
        offsets = word_offsets(audio, cues)
        bad = [(round(r, 2), c[2]) for r, c in zip(rates, cues) if r > 0.15]
        print(f"{source.name}: {len(cues)} cues, WER per cue median {np.median(rates):.3f}, "
              f"mean {np.mean(rates):.3f}, {sum(r <= 0.15 for r in rates)}/{len(rates)} at "
              f"<= 0.15; word starts vs Whisper: median {np.median(offsets) * 1000:.0f} ms, "
              f"p90 {np.percentile(offsets, 90) * 1000:.0f} ms over {len(offsets)} words")
        for rate, text in bad:
            print(f"  WER {rate}: {text}")


if __name__ == "__main__":
    main()
