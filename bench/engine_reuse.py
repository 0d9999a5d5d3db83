"""One engine per command: what it saves. Prints, with the CPU they were measured on:

1. ``convert a b c --out-dir D`` (one command: the model and workers load once) against three
   ``convert`` commands, one per document (each loads its own, as every document did before
   the engine was shared), in fresh work areas so both synthesize everything.
2. ``watch``: three documents dropped in turn; for each, the seconds from the drop to its first
   spoken piece (the 2nd and 3rd load nothing), and how many times the model was loaded.

Usage: python bench/engine_reuse.py [--paragraphs N] [--workers N]"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from engine.cpu import cpu_info

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "bench" / "moby_like.txt"


def cli() -> list[str]:
    exe = Path(sys.executable).with_name("kokoro-cli")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "kokoro_cli"]


def documents(folder: Path, paragraphs: int) -> list[Path]:
    """Three Markdown documents of ``paragraphs`` paragraphs each, from the bench text."""
    text = [p for p in SAMPLE.read_text("utf-8").split("\n\n") if len(p.split()) > 20]
    docs = []
    for n, name in enumerate("abc"):
        body = "\n\n".join(text[n * paragraphs:(n + 1) * paragraphs])
        path = folder / f"{name}.md"
        path.write_text(f"---\ntitle: Part {name}\n---\n\n# Part {name}\n\n{body}\n", "utf-8")
        docs.append(path)
    return docs


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr}")
    return time.perf_counter() - started


def batch_figures(tmp: Path, docs: list[Path], workers: list[str]) -> None:
    common = ["--format", "wav", "--qc", "off", "--quiet", *workers]
    (tmp / "one").mkdir()
    (tmp / "each").mkdir()
    one = timed([*cli(), "convert", *map(str, docs), "--out-dir", str(tmp / "one"),
                 "--work-dir", str(tmp / "w-one"), *common])
    each = sum(timed([*cli(), "convert", str(doc), "--out-dir", str(tmp / "each"),
                      "--work-dir", str(tmp / f"w-{doc.stem}"), *common]) for doc in docs)
    print(f"convert a b c, one command:       {one:7.1f} s")
    print(f"convert a; b; c, three commands:  {each:7.1f} s  ({each / one:.2f}x the one command)")


def watch_figures(tmp: Path, docs: list[Path], workers: list[str]) -> None:
    inbox, out, log = tmp / "inbox", tmp / "watch-out", tmp / "watch.log"
    inbox.mkdir()
    out.mkdir()
    proc = subprocess.Popen(
        [*cli(), "--log-file", str(log), "watch", str(inbox), "--out-dir", str(out),
         "--settle", "0", "--format", "wav", "--qc", "off", "--progress", "json",
         *workers, "--work-dir", str(tmp / "w-watch")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first_piece: list[float] = []
    done = threading.Event()

    def read() -> None:  # the time of the first piece after each drop, from the JSON events
        waiting = True
        for line in proc.stderr:
            event = json.loads(line) if line.startswith("{") else {}
            if event.get("event") == "chunk_done" and waiting:
                first_piece.append(time.perf_counter())
                waiting = False
            elif event.get("event") == "muxing":
                waiting = True
                done.set()

    threading.Thread(target=read, daemon=True).start()
    time.sleep(1.0)  # the watch is up (it loads nothing until a document comes)
    for doc in docs:
        done.clear()
        dropped = time.perf_counter()
        (inbox / doc.name).write_text(doc.read_text("utf-8"), "utf-8")
        if not done.wait(timeout=900):
            proc.kill()
            sys.exit("the watch did not finish a document in 15 minutes")
        print(f"watch: {doc.name} dropped → first piece {first_piece[-1] - dropped:6.2f} s")
        time.sleep(1.0)  # the document's mux and job record end before the next drop
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    loads = log.read_text("utf-8").count("loading the model")
    starts = log.read_text("utf-8").count("synthesis workers")
    print(f"watch: model loaded {loads} time(s) in process, worker pools started {starts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=2, help="paragraphs per document")
    parser.add_argument("--workers", help="--workers for every command (default: the "
                        "machine's, from its cores and memory)")
    args = parser.parse_args()
    print(f"CPU: {cpu_info().line()}")
    workers = ["--workers", args.workers] if args.workers else []
    with tempfile.TemporaryDirectory(prefix="engine-reuse-") as folder:
        tmp = Path(folder)
        docs = documents(tmp, args.paragraphs)
        batch_figures(tmp, docs, workers)
        watch_figures(tmp, docs, workers)


if __name__ == "__main__":
    main()
