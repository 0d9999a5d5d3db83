"""Speed and memory of the whole tool, as issue #8 asks for them. Prints:

1. model-only throughput: the text's pieces (planned up front, not timed) through a started
   worker pool, ``--workers`` × 1 thread, and through one process with 2 threads;
2. end-to-end: ``kokoro-cli convert TEXT -o book.m4b`` with an empty work folder (every piece
   synthesized, loudness normalized, AAC encoded), with ``--workers`` and with ``--workers 1``
   (one process, every core as onnxruntime threads);
3. their ratio: end-to-end throughput / model-only throughput with the same workers;
4. peak memory of the whole process tree (the CLI and its workers), sampled every 50 ms;
5. cold ``say`` of one sentence (after one warm-up run, 5 runs: min and median);
6. an unchanged re-run of the same convert (a no-op);
7. ``say`` answered by a running ``kokoro-cli serve`` (5 runs after a warm-up).

Throughput is audio seconds per wall second; RTF is its inverse. The default text is the three
bundled samples joined into one Markdown book (about 6 minutes of audio); pass a file for a
longer run. Usage: python bench/speed.py [FILE [--chapters 1-2]] [--workers N] [--voice V]
[--skip-single] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from engine import SAMPLE_RATE, AssetResolver, Synthesizer, runtime_model, token_count
from engine.backends import OnnxBackend
from engine.cpu import cpu_info
from engine.g2p import phonemizer_for
from engine.pool import SynthPool
from engine.voices import load_voice
from kokoro_cli.assets_env import resolver_settings
from kokoro_cli.selection import parse_selection
from preprocess import parse_file, plan

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ("story.txt", "report.md", "lighthouse.epub")
CLI = Path(sys.executable).with_name("kokoro-cli")


def bench_book(folder: Path, sources: list[Path], chapters: str | None = None) -> Path:
    """The chapters of ``sources`` (the bundled samples by default; ``chapters`` such as "1-2"
    picks some) as one Markdown book, so model-only and convert read exactly the same text."""
    parts = []
    for source in sources:
        found = parse_file(source).chapters
        chosen = parse_selection(chapters, len(found)) if chapters else range(1, len(found) + 1)
        for chapter in (found[n - 1] for n in chosen):
            parts.append(f"# {chapter.title}\n\n" + "\n\n".join(b.text for b in chapter.blocks))
    path = folder / "bench-book.md"
    path.write_text("\n\n".join(parts) + "\n", "utf-8")
    return path


def pieces(path: Path, voice_spec: str) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The model inputs ``convert`` makes for ``path``, planned as it plans them."""
    voice = load_voice(voice_spec, AssetResolver(**resolver_settings(None, None)))
    plans = plan(parse_file(path), phonemizer_for(voice.info.lang_code), token_count)
    return [Synthesizer.prepare(c.phonemes, voice, 1.0) for p in plans for c in p.chunks]


def model_only(jobs: list, workers: int) -> tuple[float, float]:
    """(audio s, wall s) through a started pool, or in-process with 2 threads if workers == 0,
    on the model ``convert`` runs by default (``--backend onnx``)."""
    model = runtime_model(AssetResolver(**resolver_settings(None, None)), "onnx")
    if workers == 0:
        backend = OnnxBackend(model, threads=2)
        backend.infer(*jobs[0])  # the first call sizes onnxruntime's buffers
        started = time.perf_counter()
        samples = sum(backend.infer(*job).size for job in jobs)
        return samples / SAMPLE_RATE, time.perf_counter() - started
    with SynthPool(model, workers) as pool:
        list(pool.map_ordered(jobs[:workers], window=workers))  # warm-up, one piece each
        started = time.perf_counter()
        samples = sum(a.size for a in pool.map_ordered(jobs))
        return samples / SAMPLE_RATE, time.perf_counter() - started


class TreeMemory:
    """Peak of the summed resident memory of a process and all its descendants."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_mb, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, sum(_rss_mb(p) for p in _tree(self.pid)))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cli(args: list[str]) -> tuple[float, float]:
    """(wall s, peak MB of the process tree) of one kokoro-cli run; exits on failure."""
    started = time.perf_counter()
    proc = subprocess.Popen([str(CLI), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    memory = TreeMemory(proc.pid)
    _, stderr = proc.communicate()
    wall, peak = time.perf_counter() - started, memory.stop()
    if proc.returncode != 0:
        sys.exit(f"kokoro-cli {' '.join(args)} failed:\n{stderr.decode(errors='replace')}")
    return wall, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", type=Path)
    parser.add_argument("--chapters", help="with FILE: only these chapters, e.g. 1-2")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1, help="repeat each measurement, keep the best")
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--skip-single", action="store_true",
                        help="skip the one-process runs (model-only and end-to-end)")
    args = parser.parse_args()
    os.environ["KOKORO_CLI_SERVE"] = "off"  # every say here is a cold one, but for (7)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources = [args.file] if args.file else [ROOT / "samples" / n for n in SAMPLES]
        book = bench_book(folder, sources, args.chapters)
        jobs = pieces(book, args.voice)
        print(f"CPU: {cpu_info().line()}")
        print(f"{book.name}: {len(jobs)} pieces, {sum(j[0].size - 2 for j in jobs)} tokens; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
        # With --runs N each measurement is repeated and the best kept: a shared machine drifts
        # by 10 % from one minute to the next, which would swamp a 5 % overhead.
        runs = range(args.runs)
        audio, wall = min((model_only(jobs, args.workers) for _ in runs), key=lambda r: r[1])
        print(f"(1) model-only, {args.workers} workers x 1 thread: {audio:.1f} s audio in "
              f"{wall:.1f} s, throughput {audio / wall:.2f}x (RTF {wall / audio:.3f})")
        if not args.skip_single:
            single = min(model_only(jobs, 0)[1] for _ in runs)
            print(f"    model-only, 1 process x 2 threads: {single:.1f} s, throughput "
                  f"{audio / single:.2f}x (RTF {single / audio:.3f})")

        def convert(name: str, workers: int) -> list[str]:
            return ["convert", str(book), "-o", str(folder / name), "--voice", args.voice,
                    "--work-dir", str(folder / f"work-{name}"), "--workers", str(workers),
                    "--progress", "none"]

        e2e, peak = min(cli(convert(f"book{i}.m4b", args.workers)) for i in runs)
        print(f"(2) end-to-end convert -> M4B, {args.workers} workers: {e2e:.1f} s, throughput "
              f"{audio / e2e:.2f}x (RTF {e2e / audio:.3f})")
        print(f"(3) end-to-end / model-only throughput: {wall / e2e:.1%}")
        print(f"(4) peak memory of the process tree: {peak:.0f} MB")
        if not args.skip_single:
            e2e_single, peak_single = min(cli(convert(f"single{i}.m4b", 1)) for i in runs)
            print(f"    end-to-end, 1 process x 2 threads: {e2e_single:.1f} s, peak "
                  f"{peak_single:.0f} MB; {args.workers} workers are {e2e_single / e2e:.2f}x "
                  "faster")
        say_args = ["say", "The build finished.", "-o", str(folder / "say.wav")]
        cli(say_args)  # the warm-up: the file cache, a saved optimized graph made once
        says = sorted(cli(say_args)[0] for _ in range(5))
        print(f"(5) cold say of one sentence: median {says[2]:.2f} s, min {says[0]:.2f} s "
              f"(5 runs after a warm-up)")
        rerun, _ = cli(convert("book0.m4b", args.workers))
        print(f"(6) unchanged re-run: {rerun:.2f} s")
        served = sorted(served_says(say_args, folder / "kokoro-cli.sock"))
        print(f"(7) say through a running `kokoro-cli serve`: median {served[2]:.2f} s, min "
              f"{served[0]:.2f} s (5 runs after a warm-up)")


def served_says(say_args: list[str], sock: Path) -> list[float]:
    """Walls of 5 ``say`` runs answered by a server started on ``sock`` (after a warm-up)."""
    os.environ["KOKORO_CLI_SOCKET"] = str(sock)
    os.environ.pop("KOKORO_CLI_SERVE", None)
    server = subprocess.Popen([str(CLI), "serve"], stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        if "serving say" not in server.stderr.readline():  # printed once it has loaded
            sys.exit("kokoro-cli serve did not start")
        cli(say_args)
        return [cli(say_args)[0] for _ in range(5)]
    finally:
        server.terminate()
        server.wait(timeout=60)
        os.environ["KOKORO_CLI_SERVE"] = "off"


if __name__ == "__main__":
    main()
