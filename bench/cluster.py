"""The Ray executor against the local pool on this machine (#16). Prints:

1. model-only throughput of the text's pieces (planned up front, not timed) through the local
   pool (``--workers`` processes × 1 thread), through Ray with 1 actor and with ``--workers``
   actors (a local Ray instance with that many CPUs), interleaved over ``--runs`` rounds
   so that a machine whose speed drifts treats them alike; the best round of each;
2. the ratios: Ray / local pool with the same number of processes (the executor's overhead;
   the goal is within 10 %), and N actors / 1 actor (the scaling);
3. the per-core throughput (1 actor), which the README's "Scaling out" arithmetic uses;
4. Ray's fixed costs: starting the local instance, the first and the last actor ready (each
   loads the model), shutting down;
5. with ``--end-to-end``: ``kokoro-cli convert FILE`` to M4B from an empty work folder with
   ``--executor local`` and ``--executor ray`` (which starts and stops its own Ray).

Every configuration must give the same samples (checked: the executor does not change audio).
Throughput is audio seconds per wall second; RTF is its inverse.
Usage: python bench/cluster.py [FILE] [--workers N] [--runs N] [--end-to-end]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engine import SAMPLE_RATE, AssetResolver, RayPool, Synthesizer, SynthPool
from kokoro_cli.assets_env import resolver_settings
from speed import pieces  # bench/speed.py: the pieces convert makes, planned as it plans them

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("kokoro-cli")


TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of this process and each of its descendants: the driver,
    pool workers, and a local Ray instance's GCS, raylet, helpers and actors."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
    mine, todo = {}, [os.getpid()]
    while todo:
        pid = todo.pop()
        mine[pid] = stats.get(pid, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == pid]
    return mine


def through(pool, jobs: list) -> tuple[float, float, list[np.ndarray]]:
    """(wall s, CPU s of the whole process tree, samples) of every job through a started
    pool, after one warm-up piece per process (onnxruntime sizes its buffers on the first
    call). CPU time is what a busy machine distorts least: wall time there is shared."""
    list(pool.map_ordered(jobs[:pool.workers], timed=True))
    before, started = tree_cpu(), time.perf_counter()
    out = [samples for samples, _ in pool.map_ordered(jobs, timed=True)]
    wall, after = time.perf_counter() - started, tree_cpu()
    return wall, sum(after[p] - before.get(p, 0.0) for p in after), out


def ray_round(model: Path, actors: int, jobs: list, resolver: AssetResolver) -> tuple:
    """(wall s, CPU s, samples, first actor ready s, all ready s) for ``actors`` actors."""
    import ray

    started = time.perf_counter()
    with RayPool(model, actors, resolver=resolver) as pool:
        first = time.perf_counter() - started
        ray.get([actor.ready.remote() for actor in pool.actors])
        every = time.perf_counter() - started
        wall, cpu, out = through(pool, jobs)
    return wall, cpu, out, first, every


def model_only(text: Path, workers: int, runs: int) -> None:
    import ray

    resolver = AssetResolver(**resolver_settings(None, None))
    model = Synthesizer.load(resolver).model_path  # the timed model, as convert runs it
    jobs = pieces(text, "af_heart")
    started = time.perf_counter()
    ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
    init_s = time.perf_counter() - started
    best: dict[str, tuple[float, float]] = {}  # name -> (best wall s, best CPU s)
    reference = None
    ready: list[tuple[float, float]] = []
    for round_ in range(runs):
        with SynthPool(model, workers) as pool:
            results = {f"local pool, {workers} workers": through(pool, jobs)}
        for actors in (1, workers):
            wall, cpu, out, first, every = ray_round(model, actors, jobs, resolver)
            results[f"ray, {actors} actor{'s' if actors > 1 else ''}"] = (wall, cpu, out)
            ready.append((first, every))
        for name, (wall, cpu, out) in results.items():
            reference = reference or out
            assert all(np.array_equal(a, b) for a, b in zip(out, reference, strict=True)), \
                f"{name} changed the samples"
            old_wall, old_cpu = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(old_wall, wall), min(old_cpu, cpu))
            print(f"round {round_ + 1}: {name:<24} {wall:7.1f} s wall {cpu:7.1f} s CPU",
                  flush=True)
    started = time.perf_counter()
    ray.shutdown()
    shutdown_s = time.perf_counter() - started
    audio = sum(a.size for a in reference) / SAMPLE_RATE
    _report(audio, len(jobs), workers, best, init_s, ready, shutdown_s)


def _report(audio: float, count: int, workers: int, best: dict[str, tuple[float, float]],
            init_s: float, ready: list[tuple[float, float]], shutdown_s: float) -> None:
    print(f"\nmodel only: {count} pieces, {audio:.1f} s of audio (best of the rounds; CPU is "
          "the whole process tree's: driver, workers or actors, and Ray's own processes)")
    for name, (wall, cpu) in best.items():
        print(f"  {name:<24} {wall:7.1f} s wall ({audio / wall:5.2f} audio s per s, "
              f"RTF {wall / audio:.3f})   {cpu:7.1f} s CPU ({audio / cpu:.2f} audio s per "
              "CPU s)")
    local = best[f"local pool, {workers} workers"]
    one, many = best["ray, 1 actor"], best[f"ray, {workers} actors"]
    print(f"  ray {workers} actors vs local pool {workers} workers: wall "
          f"{(many[0] / local[0] - 1) * 100:+.1f} %, CPU {(many[1] / local[1] - 1) * 100:+.1f} %")
    print(f"  ray {workers} actors vs 1 actor: {one[0] / many[0]:.2f}x the throughput")
    print(f"  per core (1 actor, 1 thread, its CPU time and Ray's): {audio / one[1]:.2f} audio "
          "s per CPU second")
    firsts, everys = zip(*ready)
    print(f"ray fixed costs: local instance start {init_s:.1f} s; first actor ready "
          f"{min(firsts):.1f}-{max(firsts):.1f} s, all ready "
          f"{min(everys):.1f}-{max(everys):.1f} s; shutdown {shutdown_s:.1f} s")


def end_to_end(text: Path, workers: int) -> None:
    """Wall time of the whole convert with each executor, from an empty work folder."""
    for executor in ("local", "ray"):
        with tempfile.TemporaryDirectory(prefix="kokoro-cluster-") as tmp:
            args = [str(CLI), "convert", str(text), "-o", f"{tmp}/book.m4b", "--work-dir",
                    f"{tmp}/work", "--workers", str(workers), "--executor", executor, "-q"]
            started = time.perf_counter()
            done = subprocess.run(args, capture_output=True, text=True)
            wall = time.perf_counter() - started
            if done.returncode != 0:
                sys.exit(f"{' '.join(args)} failed:\n{done.stderr}")
            print(f"end to end, --executor {executor:<5} --workers {workers}: {wall:6.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=ROOT / "samples" / "story.txt")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--end-to-end", action="store_true")
    args = parser.parse_args()
    model_only(args.file, args.workers, args.runs)
    if args.end_to_end:
        end_to_end(args.file, args.workers)


if __name__ == "__main__":
    main()
