"""Stopping a run cleanly: SIGINT and SIGTERM set a flag, and the renderer stops after the
piece in flight, so everything finished so far is kept for the next run."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from kokoro_cli.jobs.job import Interrupted

__all__ = ["StopFlag", "StopRequest", "stop_on_signals"]


class StopFlag:
    """Set from a signal handler; the runner stops after the piece in flight."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Interrupted("stopped after the piece in flight; run the same command again to resume")


class StopRequest:
    """A signal handler for a loop around runs (``watch``): it records that SIGINT or SIGTERM
    came. A run inside the loop passes the signal on to it as well as stopping itself, so the
    loop ends after the run even when the run had nothing left to stop."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, signum: int, frame: object) -> None:  # noqa: ARG002 (handler signature)
        self.event.set()


@contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """SIGINT and SIGTERM ask the run to stop after the piece in flight; a second SIGINT
    interrupts at once."""
    stop = StopFlag()
    previous = {}

    def handler(signum, frame):  # noqa: ARG001 (signal handler signature)
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        if isinstance(previous.get(signum), StopRequest):
            previous[signum](signum, frame)

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
