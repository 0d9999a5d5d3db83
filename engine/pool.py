"""Synthesis in worker processes: one loaded model per process, results in input order.

On CPU, N pieces run side by side with one onnxruntime thread each beat one piece with N
threads (see DESIGN.md, "Measured on this 2-core machine"), so long renders fan pieces out to a
pool::

    with SynthPool(resolver.model(), workers=default_workers()) as pool:
        for samples in pool.map_ordered(jobs, window=4):
            write(samples)  # in reading order, while the workers go on with the next pieces

A worker process runs two pieces at once on one session, from two threads (onnxruntime lets go
of the GIL while it runs, and a session may run several calls at once): the same speed as two
processes, but the model's weights and onnxruntime's own memory are held once, not twice (issue
#29: the three samples as one book, 67 pieces, 2 cores, one process × 2 threads 61.2 s and
720 MB peak against two processes 62.1 s and ~530 MB each).

Workers are started with "spawn" (never fork a process whose onnxruntime threads exist) and
load the model in the pool's constructor, so a bad model fails there and not mid-book.

Determinism: a worker's samples are bit-identical to an in-process ``OnnxBackend`` with the
same thread count (tests/test_pool.py). With onnxruntime 1.32 on the int8 model, 1 and 2 threads
also gave identical samples (bench/throughput.py checks it), but onnxruntime does not promise
that across thread counts, versions or CPUs: treat the thread count as part of a cache key.

Spawned workers re-import the caller's ``__main__`` module: scripts that build a pool need the
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import glob
import itertools
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import CancelledError, Future
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from types import TracebackType

import numpy as np

from engine.errors import AssetError, BackendError
from engine.hearing import Hearing, infer_heard

__all__ = ["PIECES_PER_PROCESS", "Job", "SynthPool", "default_workers", "jemalloc_env"]

# padded ids [0, *ids, 0], (1, 256) style, speed; a fourth item, a Hearing or None, asks the
# worker to transcribe the piece too (map_ordered with timed=True)
Job = tuple

# Pieces one worker process runs at once on its session. Measured with 2 on 2 cores only; more
# threads on one session share its arena's lock, so larger pools get more processes.
PIECES_PER_PROCESS = 2
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
    """``workers`` pieces at a time, in worker processes that each hold one onnxruntime
    session and run up to :data:`PIECES_PER_PROCESS` pieces on it at once, each from a runner
    thread of its own. ``threads_per_worker`` sizes the session's threads: with 1 (the
    default) a piece runs on its runner alone; with more, the pieces of one process share the
    session's extra threads.

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
        context = get_context("spawn")
        self._inbox = context.Queue()  # (task id, step, args), or None: one runner stops
        self._outbox = context.Queue()  # (task id, raised, value)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closing = False
        self._processes: list = []
        self._runners = [min(PIECES_PER_PROCESS, workers - n)
                         for n in range(0, workers, PIECES_PER_PROCESS)]
        # Worker i says it is ready (its pid) or why not under task id -(i + 1).
        self._futures: dict[int, Future] = {-(i + 1): Future() for i in range(len(self._runners))}
        readies = list(self._futures.values())
        try:
            with _environment(jemalloc_env() if env is None else env):
                for i, runners in enumerate(self._runners):
                    process = context.Process(
                        target=_serve, name=f"synth-worker-{i}", daemon=True,
                        args=(str(self.model_path), threads_per_worker, runners, -(i + 1),
                              self._inbox, self._outbox))
                    process.start()
                    self._processes.append(process)
            self._collector = threading.Thread(target=self._collect, name="pool-results",
                                               daemon=True)
            self._collector.start()
            # Every worker has loaded the model (or said why it could not) before any work.
            self.pids = tuple(_result(ready) for ready in readies)
        except BaseException:
            self.terminate()
            raise

    def submit(self, padded_ids: np.ndarray, style: np.ndarray, speed: float,
               hearing: Hearing | None = None, *, timed: bool = False) -> Future:
        """Queue one piece; the future's result is its float32 samples (with ``timed``: the
        samples and the token durations, or None where the model has none). With ``hearing``
        (and ``timed``) the worker also transcribes the piece (the listening check, where the
        audio is): what it heard comes as a third item."""
        if hearing is not None and timed:
            step, args = "heard", (padded_ids, style, speed, hearing)
        else:
            step, args = ("timed" if timed else "samples"), (padded_ids, style, speed)
        with self._lock:
            if self._closing:
                raise BackendError("the synthesis pool is closed")
            if not self._alive():
                raise _broken("a worker is gone")
            task = next(self._ids)
            future = self._futures[task] = Future()
        self._inbox.put((task, step, args))
        return future

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
        with self._lock:
            if self._closing:
                return
            self._closing = True
        for _ in range(sum(self._runners)):
            self._inbox.put(None)  # after the pieces already queued: each runner ends there
        for process in self._processes:
            process.join()
        self._stop_collector()

    def terminate(self) -> None:
        """Kill the workers now (SIGKILL) and reap them; pieces not done are cancelled."""
        with self._lock:
            self._closing = True
        for process in self._processes:
            if process.is_alive():
                process.kill()
        for process in self._processes:
            process.join()
        self._stop_collector()

    def __enter__(self) -> SynthPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.terminate()

    # --- the parent's side of the queues ---

    def _alive(self) -> bool:
        return all(p.exitcode is None for p in self._processes)

    def _collect(self) -> None:
        """Hand each result to its future until the workers are gone; when one dies with work
        still owed, fail every waiting future instead of leaving its caller hanging."""
        while True:
            try:
                item = self._outbox.get(timeout=1.0)
            except queue.Empty:
                if self._alive():
                    continue
                self._fail_all(None if self._closing else _broken("a worker is gone"))
                return
            except (EOFError, OSError):  # the queue's pipe was closed: the pool is done
                self._fail_all(None)
                return
            except Exception as exc:  # noqa: BLE001 (a result that did not unpickle: whose
                # it was is unknown, so every waiting piece fails rather than one hanging)
                self._fail_all(BackendError(f"a result from a synthesis worker could not be "
                                            f"read: {type(exc).__name__}: {exc}"))
                continue
            if item is None:  # from _stop_collector: the workers are gone and all was read
                self._fail_all(None)
                return
            task, raised, value = item
            with self._lock:
                future = self._futures.pop(task, None)
            if future is None or not future.set_running_or_notify_cancel():
                continue  # cancelled while it ran: its result goes nowhere
            if raised:
                future.set_exception(value)
            else:
                future.set_result(value)

    def _fail_all(self, error: BackendError | None) -> None:
        """Fail (with ``error``) or cancel (None) every future still waiting."""
        with self._lock:
            waiting, self._futures = self._futures, {}
        for future in waiting.values():
            if error is None:
                future.cancel()
            elif future.set_running_or_notify_cancel():
                future.set_exception(BackendError(str(error)))  # one instance per waiter

    def _stop_collector(self) -> None:
        """End the result thread once the workers are gone: what they sent is read first,
        then the None put here after it (a worker killed mid-message may have left the pipe
        unreadable, hence the bounded wait)."""
        collector = getattr(self, "_collector", None)
        if collector is not None and collector.is_alive():
            self._outbox.put(None)
            collector.join(timeout=5)
        self._fail_all(None)
        self._outbox.cancel_join_thread()
        self._inbox.cancel_join_thread()  # nobody may be left to read what is still queued
        for channel in (self._inbox, self._outbox):
            channel.close()


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


def _result(future: Future):
    try:
        return future.result()
    except CancelledError:
        raise BackendError("the synthesis pool was shut down before this piece was made") \
            from None


def _broken(why: str) -> BackendError:
    return BackendError(f"a synthesis worker died (killed, or out of memory?): {why}")


# What follows runs in the workers.


def _serve(model_path: str, threads: int, runners: int, ready: int, inbox, outbox) -> None:
    """A worker process: load the model once, say so (or why not), then run pieces from
    ``inbox`` on ``runners`` threads that share the session until each reads a None."""
    # Ctrl-C reaches the whole process group; the parent decides, and kills us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    try:
        from engine.backends import OnnxBackend

        backend = OnnxBackend(Path(model_path), threads=threads).load()
    except Exception as exc:
        message = str(exc) if isinstance(exc, BackendError) else f"{type(exc).__name__}: {exc}"
        outbox.put((ready, True, BackendError(message)))
        return
    outbox.put((ready, False, os.getpid()))
    running = [threading.Thread(target=_run, args=(backend, inbox, outbox), name=f"runner-{i}")
               for i in range(runners)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()


def _run(backend, inbox, outbox) -> None:
    """One runner: pieces from ``inbox`` until a None, each result (or error) to ``outbox``.
    onnxruntime lets go of the GIL while it runs, so runners use a core each."""
    while (item := inbox.get()) is not None:
        task, step, args = item
        try:
            outbox.put((task, False, _STEPS[step](backend, *args)))
        except (BackendError, AssetError) as exc:
            outbox.put((task, True, exc))
        except Exception as exc:  # anything else may not pickle back: send its message
            outbox.put((task, True, BackendError(f"worker {os.getpid()}: "
                                                 f"{type(exc).__name__}: {exc}")))


def _exit_with_parent() -> None:
    """A parent killed by SIGKILL cannot shut its pool down, and an orphaned worker would go
    on burning a core: a daemon thread ends this worker once its parent is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


_STEPS = {
    "samples": lambda backend, ids, style, speed: backend.infer(ids, style, speed),
    "timed": lambda backend, ids, style, speed: backend.infer_timed(ids, style, speed),
    "heard": infer_heard,
}
