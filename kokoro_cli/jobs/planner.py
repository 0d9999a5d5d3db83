"""Planning chapters in a background thread while earlier ones are spoken.

:class:`ChapterWork` says what rendering a planned chapter takes (nothing when its WAV in the
job is finished, else the pieces missing from the cache); :class:`Planner` produces them in a
thread so G2P never holds the model up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from preprocess import ChapterPlan, Chunk

__all__ = ["ChapterWork", "Planner"]


@dataclass(frozen=True)
class ChapterWork:
    """A planned chapter and what rendering it takes: nothing when ``finished`` (its WAV in the
    job matches ``fingerprint``), else the pieces flagged in ``missing``."""

    plan: ChapterPlan
    fingerprint: str
    finished: int | None  # samples of the finished chapter WAV
    missing: tuple[bool, ...]

    def to_make(self) -> Iterator[Chunk]:
        if self.finished is None:
            yield from (c for c, miss in zip(self.plan.chunks, self.missing) if miss)


class Planner:
    """Plans chapters in a background thread while earlier ones are synthesized, so G2P never
    holds the model up. Iterate it as often as needed: each pass sees the same chapters, in
    order, waiting for the ones not planned yet. An error while planning is raised, in the
    reading thread, at the chapter where it happened."""

    def __init__(self, works: Iterator[ChapterWork]) -> None:
        self._works = works
        self._done: list[ChapterWork] = []
        self._finished = False
        self._error: BaseException | None = None
        self._cancelled = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="planner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for work in self._works:
                with self._changed:
                    if self._cancelled:
                        return
                    self._done.append(work)
                    self._changed.notify_all()
        except BaseException as exc:  # handed to the reader; the thread itself ends quietly
            self._error = exc
        finally:
            with self._changed:
                self._finished = True
                self._changed.notify_all()

    def __iter__(self) -> Iterator[ChapterWork]:
        index = 0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: index < len(self._done) or self._finished)
                if index >= len(self._done):
                    if self._error is not None:
                        raise self._error
                    return
                work = self._done[index]
            yield work
            index += 1

    @property
    def complete(self) -> bool:
        """Every chapter is planned (without waiting)."""
        with self._changed:
            return self._finished and self._error is None

    def all(self) -> list[ChapterWork]:
        """Every chapter, once planning is complete."""
        return list(self)

    def cancel(self) -> None:
        """Stop planning after the chapter in hand (without waiting for it)."""
        with self._changed:
            self._cancelled = True

    def close(self) -> None:
        """Cancel and wait for the chapter in hand: a process must not exit while the thread
        is inside G2P's native code."""
        self.cancel()
        self._thread.join()
