"""Model-only throughput of in-process synthesis vs. SynthPool worker layouts, on the chunks of
samples/story.txt and samples/lighthouse.epub (G2P done up front, not timed).

For each layout: real-time factor (wall s / audio s, all workers together), throughput (audio s
per wall s), peak RSS of the parent and of each worker (VmHWM from /proc), and whether the
samples are bit-identical to the in-process 2-thread run. Each layout runs ``--runs`` times
(default 2; the machine may be busy) and the best run is kept.

Usage: python bench/throughput.py [--runs N] [--limit CHUNKS] [--jemalloc]
``--jemalloc`` re-runs this script under LD_PRELOAD=libjemalloc.so.2 with
MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1; workers inherit it (they are spawned).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from engine import SAMPLE_RATE, AssetResolver, token_count, tokenize
from engine.backends import OnnxBackend
from engine.g2p import phonemizer_for
from engine.pool import Job, SynthPool, jemalloc_env
from engine.voices import load_voice
from kokoro_cli.assets_env import resolver_settings
from preprocess import Normalizer, chunk_chapter, parse_file

ROOT = Path(__file__).resolve().parents[1]
FILES = (ROOT / "samples" / "story.txt", ROOT / "samples" / "lighthouse.epub")
LAYOUTS = (("1 process x 2 threads", 0, 2), ("2 workers x 1 thread", 2, 1),
           ("1 worker x 2 threads", 1, 2))


def load_jobs(voice_name: str, limit: int | None) -> list[Job]:
    g2p = phonemizer_for("a")
    voice = load_voice(voice_name, AssetResolver(**resolver_settings(None, None)))
    jobs = []
    for path in FILES:
        for chapter in parse_file(path).chapters:
            for chunk in chapter_chunks(chapter, g2p):
                ids = tokenize(chunk.phonemes)
                if ids.size:
                    jobs.append((np.concatenate([[0], ids, [0]]).astype(np.int64),
                                 voice.style(ids.size), 1.0))
    return jobs[:limit]


def chapter_chunks(chapter, g2p) -> Iterator:
    return chunk_chapter(chapter, g2p, token_count, Normalizer())


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM (peak resident set) of one process, in MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    """Start this process's VmHWM afresh (Linux: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass


def run_layout(model: Path, jobs: list[Job], workers: int, threads: int) -> dict:
    """One timed pass; workers == 0 means in-process OnnxBackend."""
    reset_peak_rss()
    if workers == 0:
        backend = OnnxBackend(model, threads=threads)
        backend.infer(*jobs[0])  # warm-up: the first call sizes the arena
        return timed(lambda: (backend.infer(*job) for job in jobs), [])
    # The workers use this process's allocator, so --jemalloc compares allocators throughout.
    with SynthPool(model, workers, threads, env={}) as pool:
        list(pool.map_ordered(jobs[:workers], window=workers))  # warm-up, one piece each
        result = timed(lambda: pool.map_ordered(jobs, window=2 * workers), list(pool.pids))
    return result


def timed(stream: Callable[[], Iterator[np.ndarray]], pids: list[int]) -> dict:
    digest = hashlib.sha256()
    samples = 0
    started = time.perf_counter()
    for audio in stream():
        digest.update(audio.tobytes())
        samples += audio.size
    wall = time.perf_counter() - started
    audio_s = samples / SAMPLE_RATE
    return {"wall": wall, "audio": audio_s, "rtf": wall / audio_s, "speed": audio_s / wall,
            "digest": digest.hexdigest(), "parent_mb": peak_rss_mb(),
            "worker_mb": [peak_rss_mb(pid) for pid in pids]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N chunks")
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--jemalloc", action="store_true")
    args = parser.parse_args()
    if args.jemalloc and "jemalloc" not in os.environ.get("LD_PRELOAD", ""):
        env = jemalloc_env()
        if not env:
            sys.exit("jemalloc is missing: apt-get install libjemalloc2")
        os.execve(sys.executable, [sys.executable, *sys.argv], dict(os.environ, **env))

    model = AssetResolver(**resolver_settings(None, None)).model()
    jobs = load_jobs(args.voice, args.limit)
    allocator = "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else "glibc"
    tokens = sum(job[0].size - 2 for job in jobs)
    print(f"{len(jobs)} chunks, {tokens} tokens, allocator {allocator}, "
          f"best of {args.runs}, load avg {os.getloadavg()[0]:.2f}")
    reference = None
    for name, workers, threads in LAYOUTS:
        best = min((run_layout(model, jobs, workers, threads) for _ in range(args.runs)),
                   key=lambda r: r["wall"])
        reference = reference or best["digest"]
        workers_mb = ", ".join(f"{mb:.0f}" for mb in best["worker_mb"]) or "-"
        print(f"{name:24} audio {best['audio']:6.1f} s  wall {best['wall']:6.1f} s  "
              f"RTF {best['rtf']:.3f}  throughput {best['speed']:.2f}x  "
              f"peak RSS parent {best['parent_mb']:.0f} MB, workers [{workers_mb}] MB  "
              f"same samples as first: {best['digest'] == reference}")


if __name__ == "__main__":
    main()
