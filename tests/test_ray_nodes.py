"""``convert --executor ray`` on two Ray nodes on this machine (a head and a worker node, 1 CPU
each, so one actor lands on each), started as Ray's own tests do (``ray.cluster_utils``):

- the worker node's raylet is killed mid-book: the run finishes on the head's actor with the
  local executor's PCM, every piece synthesized once;
- the head is killed mid-book: one line, exit 4, and the next run (local) resumes with the
  pieces made before the loss reused.

Each conversion is the installed script in a subprocess that joins with ``--ray-address``.
The cluster's health checks run every 0.5 s (Ray's default takes ~15 s to call a node dead).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kokoro_cli.jobs.job import list_jobs
from tests.conftest import SHORT_BOOK

pytestmark = pytest.mark.slow

BOOK = SHORT_BOOK

BACKEND = ("--backend", "onnx-int8")  # the same samples at any thread count (as test_ray_executor)
FAST_HEALTH = {"health_check_period_ms": 500, "health_check_failure_threshold": 3,
               "health_check_initial_delay_ms": 0}


@pytest.fixture
def two_nodes(resolver) -> Iterator[tuple]:
    """(cluster, worker node): a head and a worker node with 1 CPU each."""
    pytest.importorskip("ray")
    from ray._private.authentication.authentication_token_setup import (
        enable_token_auth_by_default)
    from ray.cluster_utils import Cluster

    enable_token_auth_by_default()  # as `ray start --head` and ray.init's own cluster do
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "include_dashboard": False, "_system_config": FAST_HEALTH})
    try:
        worker = cluster.add_node(num_cpus=1)
        yield cluster, worker
    finally:
        for node in [*cluster.worker_nodes, cluster.head_node]:
            if node is not None:
                cluster.remove_node(node, allow_graceful=False)


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("book") / "book.txt"
    path.write_text(BOOK)
    return path


@pytest.fixture(scope="module")
def local_pcm(book, resolver, tmp_path_factory) -> list[np.ndarray]:
    folder = tmp_path_factory.mktemp("local")
    done = subprocess.run(_cmd(book, folder), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return _chapter_pcm(folder / "work")


def _cmd(book: Path, folder: Path, *extra: str) -> list[str]:
    exe = Path(sys.executable).with_name("kokoro-cli")
    script = [str(exe)] if exe.exists() else [sys.executable, "-m", "kokoro_cli"]
    return script + ["convert", str(book), "-o", str(folder / "book.m4b"), "--work-dir",
                     str(folder / "work"), "--progress", "json", *BACKEND, *extra]


def _chapter_pcm(work: Path) -> list[np.ndarray]:
    (job,) = list_jobs(work)
    return [sf.read(p, dtype="int16")[0]
            for p in sorted((job.path / "chapters").glob("[0-9]*.wav"))]


def _events(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def _pieces(events: list[dict]) -> tuple[int, int]:
    """(synthesized, reused) pieces of a run."""
    done = [e for e in events if e["event"] == "chunk_done"]
    return sum(not e["reused"] for e in done), sum(e["reused"] for e in done)


def _start_and_make_a_piece(book: Path, folder: Path, address: str) -> tuple:
    """The Ray run, started and read until its first piece is made: (process, lines read)."""
    proc = subprocess.Popen(_cmd(book, folder, "--executor", "ray", "--ray-address", address),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if '"chunk_done"' in line:
            return proc, seen
    pytest.fail(f"the run ended before making a piece (exit {proc.wait()}): {''.join(seen)}")


def test_losing_a_worker_node_mid_book_finishes_on_the_head(two_nodes, book, local_pcm,
                                                            tmp_path):
    cluster, worker = two_nodes
    proc, seen = _start_and_make_a_piece(book, tmp_path, cluster.address)
    cluster.remove_node(worker, allow_graceful=False)  # SIGKILL: raylet and its actor
    try:
        _, rest = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 0, rest
    assert "a Ray actor is lost (its node was lost)" in rest, "no actor was on the lost node"
    events = _events("".join(seen) + rest)
    (planned,) = [e["chunks"] for e in events if e["event"] == "planned"]
    assert _pieces(events) == (planned, 0), "each piece synthesized once"
    for ray_pcm, reference in zip(_chapter_pcm(tmp_path / "work"), local_pcm, strict=True):
        assert np.array_equal(ray_pcm, reference)


def test_losing_the_head_mid_book_is_one_line_and_resumes(two_nodes, book, local_pcm,
                                                          tmp_path):
    cluster, _ = two_nodes
    proc, seen = _start_and_make_a_piece(book, tmp_path, cluster.address)
    cluster.remove_node(cluster.head_node, allow_graceful=False)
    try:
        _, rest = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 4, rest
    assert rest.splitlines()[-1].startswith("error: lost the Ray cluster's head ("), rest
    assert "Traceback" not in rest
    assert not [line for line in rest.splitlines() if not line.startswith(("{", "error:"))]
    made = _pieces(_events("".join(seen) + rest))[0]
    assert not (tmp_path / "book.m4b").exists()

    resumed = subprocess.run(_cmd(book, tmp_path), capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert _pieces(_events(resumed.stderr))[1] == made >= 1, "the pieces made were reused"
    for pcm, reference in zip(_chapter_pcm(tmp_path / "work"), local_pcm, strict=True):
        assert np.array_equal(pcm, reference)
