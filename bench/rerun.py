"""Resumable-job figures: a first conversion, an unchanged re-run (a no-op), a re-run after
editing one paragraph, and a re-mux after deleting the output. Prints wall time, pieces
synthesized/reused and peak memory (max RSS of the child process).

Usage: python bench/rerun.py [FILE.txt|FILE.md] [--voice V]"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"(\d+) pieces: (\d+) synthesized, (\d+) reused")


def run(cmd: list[str]) -> tuple[float, str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
    peak_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    match = SUMMARY.search(proc.stderr)
    what = (f"{match.group(2)} synthesized, {match.group(3)} reused" if match
            else "no-op" if "up to date" in proc.stderr else proc.stderr.strip()[-80:])
    return wall, what, peak_mb


def edit_one_paragraph(path: Path) -> None:
    paragraphs = path.read_text("utf-8").split("\n\n")
    target = max(range(len(paragraphs)), key=lambda i: len(paragraphs[i]))
    paragraphs[target] = paragraphs[target].replace(" the ", " that ", 1)
    path.write_text("\n\n".join(paragraphs), "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", nargs="?", type=Path, default=ROOT / "samples" / "story.txt")
    parser.add_argument("--voice", default="af_heart")
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("kokoro-cli")
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / args.file.name
        shutil.copyfile(args.file, book)
        out = Path(tmp) / "book.m4b"
        cmd = [str(exe), "convert", str(book), "-o", str(out), "--voice", args.voice,
               "--work-dir", str(Path(tmp) / "work"), "--progress", "none"]
        steps = [("first run", lambda: None), ("unchanged re-run", lambda: None),
                 ("one paragraph edited", lambda: edit_one_paragraph(book)),
                 ("output deleted (re-mux)", out.unlink)]
        for name, prepare in steps:
            prepare()
            wall, what, peak = run(cmd)
            print(f"{name:<26} {wall:7.2f} s   {what:<32} peak RSS so far {peak:6.0f} MB")


if __name__ == "__main__":
    main()
