"""Synthesis on a Ray cluster (``convert --executor ray``): actors that each hold a loaded
model, fed one stream of pieces, results in input order.

:class:`RayPool` has :class:`engine.SynthPool`'s interface (``map_ordered``, ``submit``,
``close``, ``terminate``), so :meth:`engine.Synthesizer.speak` and the job runner use either.
Actors only turn (ids, style, speed) into samples and token durations; the driver keeps every
piece of job state, so a run stopped anywhere resumes, on Ray or locally, and loses only the
pieces in flight. :class:`RayExecutor` joins (or starts) the cluster once per command and
lends one pool to every book of the run, so actors never reload the model between books.

Faults: an actor whose process dies is restarted by Ray (it loads the model again) and the
piece it held is run again (``max_restarts``, ``max_task_retries``). An actor whose node is
lost is dropped by the driver, which asks for a replacement and gives its pieces to the actors
that remain (:mod:`engine.ray_dispatch`); every wait there is bounded.

Each actor finds the model in the cheapest way its node allows (:func:`_model_on_node`): the
driver's file at the same path with the same sha256 (same machine, shared cache); else that
node's own asset cache, or a fetch where the node's sources allow it (set by the node's own
``$KOKORO_CLI_*``: :func:`_resolver_from_node_env`), when the driver runs the published
model; else the bytes, put once into Ray's object store by the driver (except on the Ray it
starts on its own machine) and pulled only by nodes that have neither. Voices never travel:
each piece carries its style row.

Ray is optional (``pip install 'kokoro-audiobook[ray]'``) and imported only in this module.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from engine.assets import AssetResolver, sha256_file
from engine.errors import AssetError, BackendError, SettingError
from engine.hearing import Hearing, infer_heard
from engine.ray_connect import RAY_EXTRA, connect, import_ray, prepare_serializers
from engine.ray_dispatch import gcs_address, head_answers, ordered
from engine.synth import runtime_model
from kokoro_common import made_once

__all__ = ["RAY_EXTRA", "RayExecutor", "RayPool", "import_ray"]

log = logging.getLogger(__name__)

ACTOR_MEMORY = 1_200_000_000  # one actor on a 500-token piece, with headroom (as engine.pool)
ACTOR_RESTARTS = 8  # per actor over the whole run: lost processes or nodes
TASK_RETRIES = 3  # per piece: a piece that kills its actor three times is reported
READY_TIMEOUT_S = 300.0  # for the first actor: a model load, or a fetch on a bare node

Job = tuple  # padded ids, style, speed[, Hearing or None] (as engine.pool)


class RayPool:
    """``workers`` Ray actors, each with the ONNX model at ``model_path`` loaded with
    ``threads_per_worker`` onnxruntime threads (one CPU of the cluster per thread).

    The constructor returns once one actor has loaded the model (a bad model fails here, not
    mid-book); the others join as they become ready, so actors waiting for a node to free up
    (or to be added) never hold the run back. ``resolver`` tells whether the model is the
    published one, which a node may then take from its own cache, where it derives the file
    that ``backend`` (``onnx``, ``onnx-float`` or ``onnx-int8``) runs. ``ship=False`` keeps the
    model out of the object store, for a cluster whose every node sees ``model_path`` (one
    machine).
    ``ray.init`` must have run.
    """

    def __init__(self, model_path: Path, workers: int, threads_per_worker: int = 1, *,
                 resolver: AssetResolver | None = None, backend: str = "onnx",
                 ship: bool = True) -> None:
        if workers < 1 or threads_per_worker < 1:
            raise ValueError("workers and threads_per_worker must be at least 1")
        ray = import_ray()
        self.model_path = Path(model_path)
        self.workers = workers
        self.threads_per_worker = threads_per_worker
        published = resolver is not None and resolver.explicit_model is None
        # The bytes go into the object store once and are pulled only by nodes without a
        # copy. The reference is handed over serialized ("out of band"), which pins the
        # object until this driver's job ends: a restarted actor can still pull it.
        shipped = ray.cloudpickle.dumps(ray.put(self.model_path.read_bytes())) if ship else b""
        self._actor = ray.remote(KokoroSynthActor).options(
            num_cpus=threads_per_worker, memory=ACTOR_MEMORY, max_restarts=ACTOR_RESTARTS,
            max_task_retries=TASK_RETRIES)
        self._args = (str(self.model_path), sha256_file(self.model_path), backend if published
                      else None, shipped, threads_per_worker)
        self.actors: list = []
        self._joining: dict = {}  # ready() ref → actor
        self._ready: list = []
        self._node: dict = {}  # ready actor → the id of the node it loaded on
        self._replacements = ACTOR_RESTARTS * workers  # for actors lost with their node
        self._gcs = gcs_address(ray)  # the head, watched while pieces run
        self._lock = threading.Lock()
        self._next = 0
        for _ in range(workers):
            self._spawn()
        try:
            done, _ = ray.wait(list(self._joining), num_returns=1, timeout=READY_TIMEOUT_S)
            if not done:
                raise BackendError(f"no Ray actor started in {READY_TIMEOUT_S:.0f} s: does a "
                                   "node have a free CPU and 1.2 GB of memory for one?")
            self._admit(done, strict=True)
        except ray.exceptions.RayError as exc:
            self.terminate()
            raise _lost(exc) from None
        except BaseException:
            self.terminate()
            raise

    def _admit(self, done: Iterable, strict: bool = False) -> list:
        """Move actors whose ``ready()`` finished into the pool and return them. A load
        error is raised when ``strict`` (the first actor), else that actor is dropped."""
        admitted = []
        for ref in done:
            actor = self._joining.pop(ref, None)
            if actor is None:
                continue
            try:
                self._node[actor] = _get(ref)[3]
            except BackendError as exc:
                if strict:
                    raise
                log.warning("a Ray actor failed to start and is left out: %s", exc)
                import_ray().kill(actor, no_restart=True)
                continue
            self._ready.append(actor)
            admitted.append(actor)
        return admitted

    def _spawn(self) -> None:
        """Ask Ray for one more actor; it joins the pool once it has loaded the model."""
        actor = self._actor.remote(*self._args)
        self.actors.append(actor)
        self._joining[actor.ready.remote()] = actor

    def _poll_joining(self) -> list:
        """Actors that became ready since the last look (without waiting)."""
        if not self._joining:
            return []
        done, _ = import_ray().wait(list(self._joining), num_returns=len(self._joining),
                                    timeout=0)
        return self._admit(done)

    def poll_joining(self) -> list:
        """As :meth:`_poll_joining`, under the pool's lock (for :mod:`engine.ray_dispatch`)."""
        with self._lock:
            return self._poll_joining()

    def ready_actors(self) -> list:
        """The actors that have loaded the model and are not lost."""
        with self._lock:
            return list(self._ready)

    def joining_refs(self) -> list:
        """The ``ready()`` refs of the actors still loading (or waiting for a node)."""
        with self._lock:
            return list(self._joining)

    def actors_on_lost_nodes(self) -> list:
        """Ready actors whose node Ray no longer lists as alive; BackendError when the head
        (its GCS) no longer takes connections, rather than Ray's own exit a minute later."""
        if self._gcs and not head_answers(self._gcs):
            raise BackendError(f"lost the Ray cluster's head ({self._gcs} does not answer): "
                               "run the same command again to resume, on Ray or locally")
        try:
            alive = {n["NodeID"] for n in import_ray().nodes() if n.get("Alive")}
        except Exception as exc:  # noqa: BLE001 (Ray's kinds: the head is gone)
            raise _lost_head(exc) from None
        with self._lock:
            return [a for a in self._ready if self._node.get(a) not in alive]

    def drop(self, actor: Any) -> None:
        """Kill ``actor`` for good and leave it out; ask for a replacement while the budget
        lasts (it joins if some node has room)."""
        with self._lock:
            if actor not in self._ready:
                return
            self._ready.remove(actor)
            self._node.pop(actor, None)
            try:
                import_ray().kill(actor, no_restart=True)
            except Exception as exc:  # noqa: BLE001 (its node is gone: so is it)
                log.debug("could not kill a lost Ray actor: %s", exc)
            if self._replacements > 0:
                self._replacements -= 1
                self._spawn()

    def get(self, ref: Any) -> Any:
        """A finished piece's result (Ray's errors as BackendError)."""
        return _get(ref)

    def submit(self, padded_ids: np.ndarray, style: np.ndarray, speed: float,
               hearing: Hearing | None = None, *, timed: bool = False) -> Future:
        """Queue one piece on the next ready actor; the future's result is its samples (with
        ``timed``: the samples and the token durations, or None where the model has none)."""
        with self._lock:
            self._poll_joining()
            if not self._ready:
                raise BackendError("every Ray actor of this run was lost with its node")
            actor = self._ready[self._next % len(self._ready)]
            self._next += 1
        ref = actor.infer.remote(padded_ids, style, speed, hearing)
        future: Future = Future()

        def finish(_: object) -> None:
            try:
                spoken = _get(ref)
                future.set_result(spoken if timed else spoken[0])
            except BaseException as exc:  # noqa: BLE001 (handed to the future's reader)
                future.set_exception(exc)

        ref.future().add_done_callback(finish)
        return future

    def map_ordered(self, jobs: Iterable[Job], window: int | None = None, *,
                    timed: bool = False) -> Iterator:
        """Samples for each job, in input order (with ``timed``: samples and token durations
        or None). Each actor holds one piece at a time and gets the next as soon as it is
        free, so long and short pieces balance out; up to ``window`` results (default: two
        per actor) wait for the caller. The pieces of an actor lost with its node go to the
        others (:mod:`engine.ray_dispatch`). An actor's own failure, or Ray's, is raised as
        BackendError at that job's position; the jobs after it are dropped."""
        ray = import_ray()
        try:
            yield from ordered(self, jobs, window or 2 * self.workers, timed, TASK_RETRIES)
        except ray.exceptions.RayError as exc:
            raise _lost(exc) from None

    def close(self) -> None:
        """End the actors (pieces they hold are dropped: the caller has left map_ordered)."""
        self.terminate()

    def terminate(self) -> None:
        """Kill the actors now, without restarts."""
        try:
            ray = import_ray()
            for actor in getattr(self, "actors", ()):
                ray.kill(actor, no_restart=True)
        except Exception as exc:  # noqa: BLE001 (a cluster already gone has no actors left)
            log.debug("could not kill the Ray actors: %s", exc)
        self.actors = []

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.terminate()


def _get(ref: Any) -> Any:
    """``ray.get`` with Ray's errors as BackendError: the actor's own message when it raised,
    else what Ray says about a lost actor or node."""
    ray = import_ray()
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if exc.cause is not None else exc
        raise BackendError(str(cause).strip().splitlines()[-1]) from None
    except ray.exceptions.RayError as exc:
        raise _lost(exc) from None


def _lost_head(exc: BaseException) -> BackendError:
    """The cluster's head (its GCS) gone, in one line."""
    text = str(exc).strip().splitlines()
    return BackendError(f"lost the Ray cluster's head ({type(exc).__name__}"
                        f"{': ' + text[0] if text else ''}): run the same command again to "
                        "resume, on Ray or locally")


def _lost(exc: BaseException) -> BackendError:
    """Ray's own failure (a lost actor, node or object) as one line."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return BackendError(f"Ray lost a synthesis actor or its work for good "
                        f"({type(exc).__name__}: {first})")


class RayExecutor:
    """One ``convert`` command's Ray cluster: joined at ``address`` (``HOST:PORT`` or
    ``ray://HOST:PORT``; ``auto`` is ``$RAY_ADDRESS`` or the cluster ``ray start`` began on
    this machine), or a new Ray instance on this machine when None (shut down by
    :meth:`close`). A process already connected to Ray keeps its connection. :meth:`pool`
    is the factory the job runner calls per book: it lends every book the same actors.

    An address that does not answer, or a Ray that is not installed, raises BackendError
    before anything else happens; a malformed address is a SettingError.
    """

    def __init__(self, address: str | None = None, *, resolver: AssetResolver | None = None,
                 backend: str = "onnx", num_cpus: int | None = None) -> None:
        ray = import_ray()
        self.address = address
        self.resolver = resolver
        self.backend = backend
        self._pool: RayPool | None = None
        self._pool_lock = threading.Lock()
        self._owns_connection = not ray.is_initialized()
        self._local = self._owns_connection and address is None
        if self._owns_connection:
            connect(ray, address, num_cpus)
        else:
            prepare_serializers(ray)

    def capacity(self) -> int:
        """Actors the cluster can hold now: per alive node, its CPUs or its memory at
        about 1.2 GB an actor, whichever is fewer; at least 1."""
        total = 0
        try:
            nodes = import_ray().nodes()
        except Exception as exc:  # noqa: BLE001 (Ray raises its own kinds)
            raise BackendError(f"cannot list the Ray cluster's nodes: {exc}") from None
        for node in nodes:
            if node.get("Alive"):
                res = node.get("Resources", {})
                total += int(min(res.get("CPU", 0), res.get("memory", 0) // ACTOR_MEMORY))
        return max(1, total)

    def pool(self, model_path: Path, workers: int) -> _Lease:
        """The shared pool for ``model_path`` with ``workers`` actors (started on first use),
        lent for one book: closing the loan leaves the actors to the next book."""
        with self._pool_lock:
            if self._pool is not None and (self._pool.model_path != Path(model_path)
                                           or self._pool.workers != workers):
                self._pool.terminate()
                self._pool = None
            if self._pool is None:
                self._pool = self._start(Path(model_path), workers)
            return _Lease(self._pool)

    def _start(self, model_path: Path, workers: int) -> RayPool:
        """A new pool (often in a render's background thread): any failure is BackendError,
        in one line, so the command reports it rather than a traceback."""
        try:  # a Ray started here is this machine alone: every actor sees the file
            return RayPool(model_path, workers, resolver=self.resolver, backend=self.backend,
                           ship=not self._local)
        except (AssetError, BackendError, SettingError):
            raise
        except Exception as exc:  # noqa: BLE001 (Ray's kinds, or a bug of Ray's: in words)
            log.debug("the Ray actors failed to start", exc_info=True)
            text = str(exc).strip().splitlines()
            raise BackendError(f"the Ray actors failed to start: {type(exc).__name__}"
                               f"{': ' + text[0] if text else ''}") from None

    def close(self) -> None:
        """End the actors and leave the cluster (shutting down the instance started here).
        Leaving ends them too (they belong to this driver's job), and without the warnings
        Ray prints for pieces of actors killed one by one."""
        if self._owns_connection:
            self._owns_connection = False
            try:
                import_ray().shutdown()
            except Exception as exc:  # noqa: BLE001 (the run's work is done and kept)
                log.warning("leaving the Ray cluster failed: %s", exc)
        elif self._pool is not None:
            self._pool.terminate()
        self._pool = None

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class _Lease:
    """A book's use of the shared pool: everything but the ending, which is the executor's."""

    def __init__(self, pool: RayPool) -> None:
        self.pool = pool
        self.workers = pool.workers
        self.map_ordered = pool.map_ordered
        self.submit = pool.submit

    def close(self) -> None:
        """Nothing to end: at most one piece per actor, left by a stopped book, runs out."""

    def terminate(self) -> None:
        """As :meth:`close`: the actors stay for the next book."""


class KokoroSynthActor:
    """What runs in each Ray actor: one OnnxBackend. Load errors are kept and raised by
    ``ready`` and ``infer`` as BackendError, so the driver reports them in words."""

    def __init__(self, path: str, sha256: str, published: str | None, shipped: bytes,
                 threads: int) -> None:  # shipped: b"" when the driver shipped nothing
        self.backend = None
        self.error: str | None = None
        self.source = ""
        try:
            from engine.backends import OnnxBackend

            model, self.source = _model_on_node(Path(path), sha256, published, shipped)
            self.backend = OnnxBackend(model, threads=threads).load()
        except Exception as exc:  # noqa: BLE001 (kept for ready(), in words)
            self.error = str(exc) if isinstance(exc, (BackendError, AssetError)) else \
                f"{type(exc).__name__}: {exc}"

    def ready(self) -> tuple[str, int, str, str]:
        """(host, pid, where the model came from, Ray node id); raises the load error, if
        any."""
        if self.error is not None:
            raise BackendError(f"Ray actor on {socket.gethostname()}: {self.error}")
        node = import_ray().get_runtime_context().get_node_id()
        return socket.gethostname(), os.getpid(), self.source, node

    def infer(self, padded_ids: np.ndarray, style: np.ndarray, speed: float,
              hearing: Hearing | None = None) -> tuple:
        """(samples, token durations), and with ``hearing`` what Whisper heard in them (the
        listening check runs here, on the node that holds the audio)."""
        self.ready()
        try:
            return infer_heard(self.backend, padded_ids, style, speed, hearing)
        except (BackendError, AssetError):
            raise
        except Exception as exc:  # anything else may not pickle back: send its message
            raise BackendError(f"actor {os.getpid()}: {type(exc).__name__}: {exc}") from None


def _model_on_node(path: Path, sha256: str, published: str | None,
                   shipped: bytes) -> tuple[Path, str]:
    """The model file on this node, and how it was found (see the module docstring).
    ``published`` is the backend whose file the published model becomes, or None when the
    driver runs a model of its own."""
    if _holds(path, sha256):
        return path, "driver's path"
    if published:
        try:
            local = runtime_model(_resolver_from_node_env(), published)
            if _holds(local, sha256):
                return local, "node's cache"
        except (AssetError, BackendError, OSError) as exc:
            log.info("no model from this node's cache (%s): using the shipped copy", exc)
    dest = Path(tempfile.gettempdir()) / "kokoro-ray" / f"{sha256}.onnx"
    if not shipped and not _holds(dest, sha256):
        raise BackendError(f"{path} is not on this node and the driver shipped no copy")
    if not _holds(dest, sha256):
        dest.unlink(missing_ok=True)
        ray = import_ray()
        data = ray.get(ray.cloudpickle.loads(shipped))
        made_once(dest, lambda tmp: tmp.write_bytes(data) > 0)
        if not _holds(dest, sha256):
            raise BackendError(f"the shipped model at {dest} does not match its sha256")
    return dest, "object store"


def _resolver_from_node_env() -> AssetResolver:
    """The asset resolver of the Ray node this runs on, from the node's own environment.

    The one place in :mod:`engine` that reads ``$KOKORO_CLI_*``: an actor runs on a machine
    the command line never saw, whose model, cache and sources are that machine's to set. It
    reads ``$KOKORO_CLI_MODEL``, ``$KOKORO_CLI_CACHE`` and ``$KOKORO_CLI_SOURCES`` as
    ``kokoro_cli.assets_env.resolver_settings`` does (actors need no voices or torch weights).
    """

    def path(name: str) -> Path | None:
        value = os.environ.get(f"KOKORO_CLI_{name}")
        return Path(value).expanduser() if value else None

    raw = os.environ.get("KOKORO_CLI_SOURCES", "")
    sources = tuple(s.strip() for s in raw.split(",") if s.strip())
    return AssetResolver(model=path("MODEL"), cache_dir=path("CACHE"),
                         sources=() if sources in (("none",), ("off",)) else sources or None)


def _holds(path: Path, sha256: str) -> bool:
    try:
        return path.is_file() and sha256_file(path) == sha256
    except OSError:
        return False
