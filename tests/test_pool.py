"""SynthPool on the real int8 model: same samples as in-process, errors as BackendError, and no
worker left behind."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from engine import BackendError, tokenize
from engine.backends import OnnxBackend
from engine.pool import SynthPool, default_workers
from engine.voices import load_voice

TEXTS = [
    "Yes.",
    "The keeper climbed the stairs.",
    "Long after midnight, the storm broke against the rocks, and the lamp turned on and on "
    "while the keeper wrote the night's entries into the log by candlelight.",
    "She listened.",
]


@pytest.fixture(scope="module")
def jobs(resolver, english_g2p):
    voice = load_voice("af_heart", resolver)
    jobs = []
    for text, speed in zip(TEXTS, (1.0, 1.0, 1.0, 1.3)):
        ids = tokenize(english_g2p(text))
        padded = np.concatenate([[0], ids, [0]]).astype(np.int64)
        jobs.append((padded, voice.style(ids.size), speed))
    return jobs


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def test_ordered_results_equal_in_process_bit_for_bit(resolver, jobs):
    expected = [OnnxBackend(resolver.model(), threads=1).infer(*job) for job in jobs]
    with SynthPool(resolver.model(), workers=2, threads_per_worker=1) as pool:
        got = list(pool.map_ordered(iter(jobs), window=2))
    assert [g.size for g in got] == [e.size for e in expected]
    assert all(np.array_equal(g, e) for g, e in zip(got, expected))


def test_two_workers_share_one_process_and_its_session_gives_the_same_samples(resolver, jobs):
    expected = OnnxBackend(resolver.model(), threads=1).infer(*jobs[2])
    with SynthPool(resolver.model(), workers=2) as pool:
        assert len(pool.pids) == 1
        futures = [pool.submit(*jobs[2]) for _ in range(4)]  # two at a time on one session
        assert all(np.array_equal(f.result(), expected) for f in futures)


def test_worker_error_is_backend_error_with_its_message(resolver, jobs):
    ids, _, speed = jobs[0]
    with SynthPool(resolver.model(), workers=1) as pool:
        with pytest.raises(BackendError, match="style"):
            list(pool.map_ordered([jobs[1], (ids, np.zeros(5, np.float32), speed)], window=2))
        # The pool survives an input error.
        assert next(pool.map_ordered([jobs[0]])).size > 0


def test_killed_worker_raises_instead_of_hanging(resolver, jobs):
    with SynthPool(resolver.model(), workers=2) as pool:
        results = pool.map_ordered(jobs * 3, window=4)
        next(results)
        os.kill(pool.pids[0], signal.SIGKILL)
        with pytest.raises(BackendError, match="died"):
            list(results)


def _refuse() -> None:
    raise ValueError("this result cannot be read")


class _FakeUnreadableResult:
    """A fake message on the pool's result queue that fails to unpickle in the parent."""

    def __reduce__(self):
        return _refuse, ()


def test_an_unreadable_result_fails_the_waiting_pieces_instead_of_hanging(resolver, jobs):
    with SynthPool(resolver.model(), workers=1) as pool:
        waiting = pool.submit(*jobs[2])
        pool._outbox.put(_FakeUnreadableResult())  # ahead of the piece's own result
        with pytest.raises(BackendError, match="could not be read"):
            waiting.result(timeout=60)
        assert next(pool.map_ordered([jobs[0]])).size > 0  # and the pool goes on


def test_unloadable_model_fails_at_construction(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(BackendError, match="model.onnx"):
        SynthPool(bad, workers=1)


def test_shutdown_leaves_no_child_processes(resolver, jobs):
    # Three workers: a process running two pieces at once on its session, and one with one.
    with SynthPool(resolver.model(), workers=3) as pool:
        assert list(pool.map_ordered(jobs)) and len(pool.pids) == 2
        pids = pool.pids
    assert not any(alive(pid) for pid in pids)

    with pytest.raises(KeyboardInterrupt):
        with SynthPool(resolver.model(), workers=2) as pool:
            pids = pool.pids
            pool.submit(*jobs[2])  # still running when the interrupt arrives
            raise KeyboardInterrupt
    assert not any(alive(pid) for pid in pids)


def test_default_workers_is_at_least_one():
    assert 1 <= default_workers() <= (os.cpu_count() or 1)
    assert default_workers(threads_per_worker=64) == 1
