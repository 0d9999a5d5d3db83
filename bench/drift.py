"""No drift over a long book: subtitle times against the audio they time, hours in.

Usage: python bench/drift.py [--hours 20] [--chapters 40] [--work-dir DIR]

A book of ``--hours`` of speech costs seconds of synthesis: its chapters repeat one paragraph
of three sentences, and a short book holding the same paragraph is converted first in the same
work folder, so the long one takes every piece from the piece cache (the same phonemes, the
same key). The long book then goes through the real path: planning (G2P on all of its text),
chapter WAVs written from the cache with their timing sidecars, one M4B at the audiobook
loudness (measured, one gain, the limiter where needed) with 0.5 s of room tone, and WebVTT
subtitles. The book ends with a sentence said nowhere else.

Checked, for the last sentence of every chapter and for the last cue of the book: the
sentence's own samples (from its chapter WAV, where the job's timing says they are) are found
in the decoded M4B by cross-correlation, and the offset from where the cue says they start is
printed. Drift would grow with the hour; a constant offset would be the codec's delay. The last
sentence is unique, so its match cannot be an earlier repetition.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / ".venv" / "bin" / "kokoro-cli"
RATE = 24000
ROOM_TONE_MS = 500
PARAGRAPH = ("The keeper climbed the stairs and lit the lamp. Far out, a ship turned toward the "
             "light. Nobody slept that night on the rock.")
LAST = "The end came at last, quietly."
SECONDS_PER_PARAGRAPH = 7.53  # measured: af_heart, speed 1, pauses and headings included


def books(folder: Path, hours: float, chapters: int) -> tuple[Path, Path]:
    """The short book that fills the cache and the long one made of the same pieces."""
    warm = folder / "warm.md"
    warm.write_text(f"# One\n\n{PARAGRAPH}\n\n# Two\n\n{PARAGRAPH}\n\n{LAST}\n")
    reps = max(1, round(hours * 3600 / SECONDS_PER_PARAGRAPH / chapters))
    body = "".join(f"# Part {c}\n\n" + f"{PARAGRAPH}\n\n" * reps for c in range(1, chapters + 1))
    long = folder / "long.md"
    long.write_text(f"{body}{LAST}\n")
    return warm, long


def convert(source: Path, work: Path) -> str:
    run = subprocess.run([str(CLI), "convert", str(source), "-o", str(source.with_suffix(".m4b")),
                          "--work-dir", str(work), "--subtitles", "vtt", "--loudness", "audiobook",
                          "--room-tone-ms", str(ROOM_TONE_MS), "--progress", "plain"],
                         capture_output=True, text=True)
    if run.returncode:
        sys.exit(f"convert {source.name} failed: {run.stdout}{run.stderr}")
    return run.stdout + run.stderr


def job_chapters(work: Path) -> list[tuple[Path, dict]]:
    """(chapter WAV, timing) of the long book's job: the job with the most audio."""
    jobs = {p.parent.parent for p in work.rglob("chapters/*.timing.json")}
    folder = max(jobs, key=lambda j: sum(w.stat().st_size for w in j.glob("chapters/*.wav")))
    return [(t.with_name(t.name.replace(".timing.json", ".wav")), json.loads(t.read_text()))
            for t in sorted(folder.glob("chapters/*.timing.json"))]


def last_cue(vtt: Path) -> tuple[float, float, str]:
    lines = vtt.read_text().strip().split("\n\n")[-1].splitlines()
    start, end = (_seconds(x) for x in lines[0].split(" --> "))
    return start, end, " ".join(lines[1:])


def _seconds(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def offset_ms(audio: Path, expected_s: float, reference: np.ndarray, pad_s: float = 1.0) -> float:
    """Where ``reference`` is heard in ``audio`` (searched ``pad_s`` either side of
    ``expected_s``), minus ``expected_s``, in milliseconds."""
    start = max(0.0, expected_s - pad_s)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{start:.6f}", "-i", str(audio), "-t",
                          f"{reference.size / RATE + 2 * pad_s:.6f}", "-f", "s16le", "-ac", "1",
                          "-ar", str(RATE), "-"], capture_output=True, check=True).stdout
    window = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768
    lag = best_lag(window, reference)
    return (start + lag / RATE - expected_s) * 1000


def best_lag(window: np.ndarray, reference: np.ndarray) -> int:
    """The shift of ``reference`` inside ``window`` with the highest correlation (by FFT)."""
    n = 1 << int(np.ceil(np.log2(window.size + reference.size)))
    spectrum = np.fft.rfft(window, n) * np.conj(np.fft.rfft(reference, n))
    scores = np.fft.irfft(spectrum, n)[:window.size - reference.size + 1]
    return int(np.argmax(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=20.0)
    parser.add_argument("--chapters", type=int, default=40)
    parser.add_argument("--work-dir", type=Path, help="kept (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kokoro-drift-") as tmp:
        folder = args.work_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        warm, long = books(folder, args.hours, args.chapters)
        convert(warm, folder / "work")
        started = time.perf_counter()
        summary = convert(long, folder / "work")
        took = time.perf_counter() - started
        print(next((line for line in summary.splitlines() if "pieces:" in line), summary[-300:]))
        report(folder, long.with_suffix(".m4b"), took)


def report(folder: Path, m4b: Path, took: float) -> None:
    chapters = job_chapters(folder / "work")
    head = ROOM_TONE_MS * RATE // 1000
    print(f"{sum(t['samples'] for _, t in chapters) / RATE / 3600:.2f} h in {len(chapters)} "
          f"chapters; convert (plan, render from cache, loudness, M4B, VTT) {took:.0f} s")
    offsets, before = [], head
    for number, (wav, timing) in enumerate(chapters, 1):
        start, end, _text, _words = timing["sentences"][-1]
        reference, _ = sf.read(wav, start=start, stop=end, dtype="float64")
        expected = (before + start) / RATE
        offsets.append(offset_ms(m4b, expected, reference))
        print(f"chapter {number:3d}: last sentence at {expected / 3600:6.3f} h, "
              f"heard {offsets[-1]:+.2f} ms from its timing")
        before += timing["samples"]
    cue_start, cue_end, text = last_cue(m4b.with_suffix(".vtt"))
    last_start, last_end = (before - chapters[-1][1]["samples"] + x
                            for x in chapters[-1][1]["sentences"][-1][:2])
    print(f"last cue {text!r}: {cue_start:.3f}-{cue_end:.3f} s; its samples "
          f"{last_start / RATE:.4f}-{last_end / RATE:.4f} s; heard {offsets[-1]:+.2f} ms from "
          f"its start; largest offset anywhere {max(offsets, key=abs):+.2f} ms")


if __name__ == "__main__":
    main()
