"""Synthesis in worker processes: one loaded model per worker, results in input order.

On CPU, N processes with one onnxruntime thread each beat one process with N threads (see
DESIGN.md, "Measured on this 2-core machine"), so long renders fan pieces out to a pool::

    with SynthPool(resolver.model(), workers=default_workers()) as pool:
        for samples in pool.map_ordered(jobs, window=4):
            write(samples)  # in reading order, while the workers go on with the next pieces

Workers are started with "spawn" (never fork a process whose onnxruntime threads exist) and
load the model once, in the pool's constructor, so a bad model fails there and not mid-book.

Determinism: a worker's samples are bit-identical to an in-process ``OnnxBackend`` with the
same thread count (tests/test_pool.py). With onnxruntime 1.32 on the int8 model, 1 and 2 threads
also gave identical samples (bench/throughput.py checks it), but onnxruntime does not promise
that across thread counts, versions or CPUs: treat the thread count as part of a cache key.

Spawned workers re-import the caller's ``__main__`` module: scripts that build a pool need the
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import glob
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from types import TracebackType

import numpy as np

from engine.errors import AssetError, BackendError
from engine.hearing import Hearing, infer_heard

__all__ = ["Job", "SynthPool", "default_workers", "jemalloc_env"]

# padded ids [0, *ids, 0], (1, 256) style, speed; a fourth item, a Hearing or None, asks the
# worker to transcribe the piece too (map_ordered with timed=True)
Job = tuple

WORKER_PEAK_BYTES = 1_200_000_000  # one worker on a 500-token piece, with headroom
PARENT_RESERVE_BYTES = 500_000_000  # the caller's own G2P, text and audio buffers
JEMALLOC = "/usr/lib/*-linux-gnu/libjemalloc.so.2"  # Debian's libjemalloc2, any architecture
# Hand memory back a second after it is freed, not at once: onnxruntime re-allocates the same
# large buffers on every piece, and glibc (or immediate purging) spends its time mapping and
# unmapping them; never purging (dirty_decay_ms:-1) kept every worker at the peak of its longest
# piece for good, which two workers then added up (issue #29: 2 workers on samples/story.txt,
# tree peak 1,477 → 1,216 MB, RTF 0.466 → 0.384 median of 2 interleaved rounds, loaded machine).
JEMALLOC_CONF = "dirty_decay_ms:1000,muzzy_decay_ms:0"

_env_lock = threading.Lock()


def default_workers(threads_per_worker: int = 1) -> int:
    """Workers that fit this machine: one per usable core (divided by the threads each runs),
    capped by available memory at about 1.2 GB per worker; at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    by_cpu = max(1, (cores or 1) // max(1, threads_per_worker))
    available = _mem_available()
    if available is None:
        return by_cpu
    return max(1, min(by_cpu, (available - PARENT_RESERVE_BYTES) // WORKER_PEAK_BYTES))


def _mem_available() -> int | None:
    """MemAvailable from /proc/meminfo in bytes, or None where there is no such file."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def jemalloc_env() -> dict[str, str]:
    """Environment that makes workers use jemalloc (Debian ``libjemalloc2``), or {} without it.

    :class:`SynthPool` passes it to its workers unless told otherwise; existing LD_PRELOAD
    entries are kept.
    """
    found = sorted(glob.glob(JEMALLOC))
    if not found:
        return {}
    preload = " ".join(p for p in (os.environ.get("LD_PRELOAD", ""), found[0]) if p)
    return {"LD_PRELOAD": preload, "MALLOC_CONF": JEMALLOC_CONF}


class SynthPool:
    """N worker processes, each with the ONNX model loaded using ``threads_per_worker`` threads.

    Use as a context manager. A normal exit lets running pieces finish; an exception (including
    KeyboardInterrupt) kills the workers at once. ``env`` adds environment variables for the
    workers only; by default :func:`jemalloc_env` (jemalloc where it is installed: DESIGN.md
    measured 0.27 → 0.21 RTF for 2 threads; for a 1-thread worker on a quiet machine it gains
    about 1 %), ``{}`` for none.
    """

    def __init__(self, model_path: Path, workers: int, threads_per_worker: int = 1, *,
                 env: Mapping[str, str] | None = None) -> None:
        if workers < 1 or threads_per_worker < 1:
            raise ValueError("workers and threads_per_worker must be at least 1")
        self.model_path = Path(model_path)
        self.workers = workers
        self.threads_per_worker = threads_per_worker
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context("spawn"),
            initializer=_init_worker, initargs=(str(self.model_path), threads_per_worker))
        try:
            self.pids = self._start(jemalloc_env() if env is None else env)
        except BaseException:
            self.terminate()
            raise

    def _start(self, env: Mapping[str, str]) -> tuple[int, ...]:
        """Spawn every worker now and wait until each has loaded the model.

        The executor spawns a new process on each submit while none is idle, so ``workers``
        back-to-back submits start all of them, inside the window where ``env`` is set.
        """
        with _environment(env):
            pings = [self._executor.submit(_ready) for _ in range(self.workers)]
        # Keep the handles: Python 3.11's executor has no public way to kill its workers.
        self._processes = list(self._executor._processes.values())
        for ping in pings:
            _result(ping)
        return tuple(p.pid for p in self._processes)

    def submit(self, padded_ids: np.ndarray, style: np.ndarray, speed: float,
               hearing: Hearing | None = None, *, timed: bool = False) -> Future:
        """Queue one piece; the future's result is its float32 samples (with ``timed``: the
        samples and the token durations, or None where the model has none). With ``hearing``
        (and ``timed``) the worker also transcribes the piece (the listening check, where the
        audio is): what it heard comes as a third item."""
        try:
            if hearing is not None and timed:
                return self._executor.submit(_infer_heard, padded_ids, style, speed, hearing)
            return self._executor.submit(_infer_timed if timed else _infer, padded_ids, style,
                                         speed)
        except BrokenProcessPool as exc:
            raise _broken(exc) from exc

    def map_ordered(self, jobs: Iterable[Job], window: int | None = None, *,
                    timed: bool = False) -> Iterator:
        """Samples for each job, in input order, keeping up to ``window`` jobs in flight
        (default: two per worker) so the workers stay busy while the caller writes. With
        ``timed``: (samples, token durations or None) for each job.

        Memory is bounded by the window: at most ``window`` results wait in the pool. A worker's
        failure is raised as BackendError at that job's position; the jobs after it are dropped.
        """
        window = window or 2 * self.workers
        if window < 1:
            raise ValueError("window must be at least 1")
        pending: deque[Future] = deque()
        try:
            for job in jobs:
                if len(pending) < window:
                    pending.append(self.submit(*job, timed=timed))
                    continue
                samples = _result(pending.popleft())
                pending.append(self.submit(*job, timed=timed))  # refill before the caller takes its time
                yield samples
            while pending:
                yield _result(pending.popleft())
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        """Stop taking work, let running pieces finish and wait for the workers to exit."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def terminate(self) -> None:
        """Kill the workers now (SIGKILL) and reap them."""
        for process in getattr(self, "_processes", []):
            if process.is_alive():
                process.kill()
        for process in getattr(self, "_processes", []):
            process.join()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> SynthPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.terminate()


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set ``env`` in this process while workers are spawned (they copy os.environ), then
    restore it. Other threads starting processes meanwhile would see it too: keep it short."""
    if not env:
        yield
        return
    with _env_lock:
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _result(future: Future) -> np.ndarray:
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise _broken(exc) from exc


def _broken(exc: BrokenProcessPool) -> BackendError:
    return BackendError(f"a synthesis worker died (killed, or out of memory?): {exc}")


# What follows runs in the workers.

_backend = None  # the worker's OnnxBackend
_init_error: str | None = None


def _init_worker(model_path: str, threads: int) -> None:
    """Load the model once per worker. Errors are kept and raised by the first task, because
    an initializer that raises only breaks the pool and its message is lost."""
    global _backend, _init_error
    # Ctrl-C reaches the whole process group; the parent decides, and kills us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    try:
        from engine.backends import OnnxBackend

        _backend = OnnxBackend(Path(model_path), threads=threads).load()
    except Exception as exc:
        _init_error = str(exc) if isinstance(exc, BackendError) else f"{type(exc).__name__}: {exc}"


def _exit_with_parent() -> None:
    """A parent killed by SIGKILL cannot shut its pool down, and an orphaned worker would go
    on burning a core: a daemon thread ends this worker once its parent is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _ready() -> int:
    if _init_error is not None:
        raise BackendError(_init_error)
    return os.getpid()


def _infer(padded_ids: np.ndarray, style: np.ndarray, speed: float) -> np.ndarray:
    return _infer_timed(padded_ids, style, speed)[0]


def _infer_timed(padded_ids: np.ndarray, style: np.ndarray,
                 speed: float) -> tuple[np.ndarray, np.ndarray | None]:
    _ready()
    try:
        return _backend.infer_timed(padded_ids, style, speed)
    except BackendError:
        raise
    except Exception as exc:  # anything else may not pickle back: send its message
        raise BackendError(f"worker {os.getpid()}: {type(exc).__name__}: {exc}") from None


def _infer_heard(padded_ids: np.ndarray, style: np.ndarray, speed: float,
                 hearing: Hearing) -> tuple:
    _ready()
    try:
        return infer_heard(_backend, padded_ids, style, speed, hearing)
    except (BackendError, AssetError):
        raise
    except Exception as exc:  # anything else may not pickle back: send its message
        raise BackendError(f"worker {os.getpid()}: {type(exc).__name__}: {exc}") from None
