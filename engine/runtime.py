"""One command's engine: the loaded models and the worker pool, kept for the whole command.

Like faster-whisper's ``WhisperModel`` (loaded once, ``transcribe()`` many times), an
:class:`Engine` is opened once per command and every input of the command (every book of a
``convert a b c``, every document a ``watch`` narrates) speaks through it::

    with Engine(resolver, workers=2) as engine:
        for book in books:
            synth = engine.synthesizer("auto")   # loaded on the first call, then reused
            ...render_job(..., pools=engine)      # the workers started once, lent per book

It owns a :class:`Synthesizer` per backend (a second backend in the same command loads once)
and one pool of workers: local processes (:class:`SynthPool`, started on the first book big
enough to need them) or Ray actors (:class:`RayExecutor`, joined or started when the engine
opens). A pool that failed or was stopped mid-book is ended and the next book starts a new one.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from engine.assets import AssetResolver
from engine.synth import Synthesizer, resolve_backend

if TYPE_CHECKING:
    from engine.pool import SynthPool
    from engine.ray_pool import RayExecutor

__all__ = ["Engine"]

log = logging.getLogger(__name__)


class Engine:
    """The models and workers of one command: ``workers`` local processes (1: synthesis in
    this process; None: as many as the cores and memory allow), or with ``ray``
    (``(address or None, backend)``) the actors of a Ray cluster, as many as it holds unless
    ``workers`` says. Use as a context manager."""

    def __init__(self, resolver: AssetResolver, *, workers: int | None = None,
                 ray: tuple[str | None, str] | None = None) -> None:
        self.resolver = resolver
        self.workers = workers
        self._ray = ray
        self.cluster: RayExecutor | None = None
        self._synths: dict[str, Synthesizer] = {}
        self._pool: SynthPool | None = None
        # Two locks: a pool may be starting in a render's background thread (seconds) while
        # this thread asks for its synthesizer.
        self._synth_lock, self._pool_lock = threading.Lock(), threading.Lock()
        self.loads = 0  # models this engine loaded: in-process synthesizers and pools started

    def __enter__(self) -> Engine:
        if self._ray is not None:
            from engine.ray_pool import RayExecutor

            address, backend = self._ray
            self.cluster = RayExecutor(address, resolver=self.resolver, backend=backend)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(failed=exc_type is not None)

    def synthesizer(self, backend: str = "auto") -> Synthesizer:
        """The in-process synthesizer for ``backend`` (``auto`` resolved), loaded on first use
        and shared by every later book of the command."""
        resolved = resolve_backend(self.resolver, backend)
        with self._synth_lock:
            if resolved in self._synths:
                log.info("reusing the loaded model (%s backend)", resolved)
            else:
                log.info("loading the model (%s backend)", resolved)
                self._synths[resolved] = Synthesizer.load(self.resolver, backend=resolved)
                self.loads += 1
            return self._synths[resolved]

    def capacity(self) -> int:
        """Workers a book may use: ``workers`` when set, else the Ray cluster's actors or
        what this machine's cores and memory allow."""
        if self.workers is not None:
            return self.workers
        if self.cluster is not None:
            return self.cluster.capacity()
        from engine.pool import default_workers

        return default_workers()

    def warm(self, model_path: Path, workers: int) -> bool:
        """Whether :meth:`lend` would cost nothing now (a running pool of that shape)."""
        if self.cluster is not None:
            return True
        pool = self._pool
        return pool is not None and pool.model_path == Path(model_path) \
            and pool.workers == workers

    def lend(self, model_path: Path, workers: int) -> _Lease:
        """The command's pool for ``model_path`` with ``workers`` workers, lent for one book:
        started on first use (or when its shape changes), kept when the book ends well."""
        if self.cluster is not None:
            return self.cluster.pool(model_path, workers)
        from engine.pool import SynthPool

        with self._pool_lock:
            if self._pool is not None and not self.warm(model_path, workers):
                self._pool.close()
                self._pool = None
            if self._pool is None:
                log.info("starting %d synthesis workers", workers)
                self._pool = SynthPool(model_path, workers)
                self.loads += 1
            return _Lease(self, self._pool)

    def _ended(self, pool: SynthPool) -> None:
        """A lent pool that was killed (its book failed or was stopped): start anew next time."""
        with self._pool_lock:
            if self._pool is pool:
                self._pool = None

    def close(self, failed: bool = False) -> None:
        """End the workers (kill them when the command failed) and leave the cluster."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None and failed:
            pool.terminate()
        elif pool is not None:
            pool.close()
        if self.cluster is not None:
            cluster, self.cluster = self.cluster, None
            cluster.close()


class _Lease:
    """A book's use of the engine's local pool: closing it keeps the workers for the next
    book; terminating it (the book failed mid-way, pieces may be in flight) kills them."""

    def __init__(self, engine: Engine, pool: SynthPool) -> None:
        self._engine, self.pool = engine, pool
        self.workers = pool.workers
        self.map_ordered = pool.map_ordered
        self.submit = pool.submit

    def close(self) -> None:
        """Nothing to end: the pool stays with the engine."""

    def terminate(self) -> None:
        self.pool.terminate()
        self._engine._ended(self.pool)
