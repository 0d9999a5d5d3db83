"""Feeding a :class:`engine.ray_pool.RayPool`'s actors one stream of pieces, results in input
order, through the loss of actors and of whole nodes.

Ray restarts an actor whose process dies and runs its piece again; that is enough while the
actor's node lives. When the node itself is lost, Ray restarts its actors elsewhere only where
a CPU is free, which on a cluster sized for its actors it never is, and their pieces would
wait forever. So the driver watches: every :data:`WATCH_S` it asks Ray which nodes are alive,
and an actor on a lost node (or one Ray reports dead) is dropped, a replacement is asked for
(it joins if a node has room, now or later), and its pieces go to the actors that remain. A
piece is placed at most ``TASK_RETRIES + 1`` times; a wait with no piece done and no actor
ready for :data:`STALL_S` ends the run with BackendError, so nothing waits forever.

The head is watched too (:func:`head_answers` on its GCS port, each :data:`WATCH_S`): when it
stops taking connections the run ends at once with BackendError, where Ray's own driver would
exit with status 1 and no word after a minute of retries.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import BackendError
from engine.ray_connect import CONNECT_TIMEOUT_S, import_ray

__all__ = ["STALL_S", "WATCH_S", "gcs_address", "head_answers", "ordered"]

log = logging.getLogger(__name__)

WATCH_S = 1.0  # how often the driver asks Ray which nodes are alive, while it waits
STALL_S = 300.0  # no piece done and no actor ready for this long: the cluster cannot go on


@dataclass
class _Slot:
    """One piece: its job, where it runs now, and how often it was placed."""

    job: tuple
    ref: Any = None
    actor: Any = None
    tries: int = 0
    done: bool = False


def ordered(pool: Any, jobs: Iterable[tuple], window: int, timed: bool,
            retries: int) -> Iterator:
    """Samples (with ``timed``: samples and token durations) for each job, in input order;
    each actor holds one piece at a time, up to ``window`` pieces are in flight or waiting for
    the caller. ``pool`` is the RayPool (its ready actors, joining actors and node map)."""
    if window < 1:
        raise ValueError("window must be at least 1")
    yield from _Dispatch(pool, window, retries).run(iter(jobs), timed)


class _Dispatch:
    """The state of one :func:`ordered` stream."""

    def __init__(self, pool: Any, window: int, retries: int) -> None:
        self.ray = import_ray()
        self.pool, self.window, self.retries = pool, window, retries
        self.pending: deque[_Slot] = deque()  # input order, until handed to the caller
        self.running: dict[Any, _Slot] = {}  # ref → slot, until its piece is done
        self.homeless: deque[_Slot] = deque()  # lost their actor: the next free one takes them
        self.idle: list = list(pool.ready_actors())
        self.checked = self.progress = time.monotonic()

    def run(self, source: Iterator[tuple], timed: bool) -> Iterator:
        exhausted = False
        while True:
            self.idle += self.pool.poll_joining()
            while self.idle and self.homeless:
                self._place(self.homeless.popleft())
            while self.idle and not exhausted and len(self.pending) < self.window:
                job = next(source, None)
                if job is None:
                    exhausted = True
                    break
                slot = _Slot(job)
                self.pending.append(slot)
                self._place(slot)
            if not self.pending:
                return
            if self.pending[0].done:  # hand it over (the actors are all fed)
                spoken = self.pool.get(self.pending.popleft().ref)
                yield spoken if timed else spoken[0]
                continue
            self._wait()

    def _place(self, slot: _Slot) -> None:
        if slot.tries > self.retries:
            raise BackendError(f"a piece lost its Ray actor {slot.tries} times (lost nodes or "
                               "processes): the cluster is failing")
        slot.actor = self.idle.pop(0)
        slot.ref = slot.actor.infer.remote(*slot.job)
        slot.tries += 1
        self.running[slot.ref] = slot

    def _wait(self) -> None:
        """Wait (at most WATCH_S) for a piece or a joining actor; then watch the nodes."""
        refs = [*self.running, *self.pool.joining_refs()]
        if refs:
            done, _ = self.ray.wait(refs, num_returns=1, timeout=WATCH_S)
        else:  # every actor lost and no replacement asked for: only the stall bound is left
            done = []
            time.sleep(WATCH_S)
        now = time.monotonic()
        for ref in done:
            slot = self.running.pop(ref, None)
            if slot is None:  # an actor joined: taken at the top of the loop
                self.progress = now
            elif self._actor_died(ref):
                self.running[ref] = slot  # still its actor's until _lose moves it
                self._lose(slot.actor, "Ray reports it dead")
            else:
                slot.done = True
                self.idle.append(slot.actor)
                self.progress = now
        if now - self.checked >= WATCH_S:
            self.checked = now
            for actor in self.pool.actors_on_lost_nodes():
                self._lose(actor, "its node was lost")
        if now - self.progress > STALL_S:
            raise BackendError(f"no piece done and no Ray actor ready in {STALL_S:.0f} s: the "
                               "cluster lost its nodes, or has no free CPU and 1.2 GB of "
                               "memory for an actor")

    def _actor_died(self, ref: Any) -> bool:
        """Whether ``ref`` (done) failed because its actor is gone (not the piece's own
        error, which the caller gets at that piece's position)."""
        try:
            self.ray.get(ref, timeout=0)
        except self.ray.exceptions.RayActorError:
            return True
        except Exception:  # noqa: BLE001 (the piece's own error: raised at hand-over)
            return False
        return False

    def _lose(self, actor: Any, why: str) -> None:
        """Drop ``actor`` from the run and give its pieces to the actors that remain."""
        log.warning("a Ray actor is lost (%s): its pieces go to the others", why)
        self.pool.drop(actor)
        self.idle = [a for a in self.idle if a != actor]
        for ref, slot in list(self.running.items()):
            if slot.actor == actor:
                del self.running[ref]
                self.homeless.append(slot)
        self.progress = time.monotonic()  # the stall bound starts again from the loss


def gcs_address(ray: Any) -> str | None:
    """The head's GCS address, to watch; None over Ray Client (the head may not be reachable
    from here: the client's server watches it)."""
    try:
        if ray.util.client.ray.is_connected():
            return None
        return ray.get_runtime_context().gcs_address
    except Exception as exc:  # noqa: BLE001 (another Ray: no watch)
        log.debug("not watching the Ray head: %s", exc)
        return None


def head_answers(address: str) -> bool:
    """Whether ``HOST:PORT`` takes a TCP connection within CONNECT_TIMEOUT_S."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)),
                                      timeout=CONNECT_TIMEOUT_S):
            pass
    except (OSError, ValueError):
        return False
    return True
