"""Watching a folder for documents: each new or changed one is handed on, one at a time, once
it has stopped changing.

watchfiles wakes the loop when something in the folder changes (and every ``tick`` while a
file waits to settle); what to do is decided from a scan of the folder, not from the events, so
a change that arrives while a document is being converted is never lost. A document is ready
when its size and mtime have stayed the same for ``settle`` seconds, so a file still being
copied in is not read half-written. SIGTERM and SIGINT set the stop event; a conversion in
flight handles them itself (stopping after its piece in flight) and the loop ends after it.

The inbox is read as ``convert`` reads a chapter folder: a link that resolves outside it (to
``/etc/passwd``, another user's file) and anything that is not a regular file (a named pipe
would block the reader forever, a device is no document) are skipped, each with one warning.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from preprocess import FORMATS

__all__ = ["DOCUMENT_SUFFIXES", "Refusals", "Scan", "Settler", "Signature", "documents", "scan",
           "stop_on_signals", "watch_folder"]

log = logging.getLogger(__name__)

# What the parsers read, by extension (a file without one is not taken for a document here).
DOCUMENT_SUFFIXES = tuple(s for suffixes in FORMATS.values() for s in suffixes if s)
# Editors' and copiers' temporary names: never documents of their own.
_TEMPORARY = (".swp", ".tmp", ".part", ".crdownload", "~")


@dataclass(frozen=True)
class Signature:
    """What says a file changed: its size and modification time."""

    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Scan:
    """One look at the inbox: the documents to read, with their signatures, and the
    document-named entries refused, each with the reason."""

    documents: dict[Path, Signature]
    refused: dict[Path, str]


def scan(folder: Path) -> Scan:
    """The documents directly in ``folder`` (by extension; hidden and temporary files left
    out), and those refused: links resolving outside ``folder``, pipes, devices and sockets.
    A file that vanishes while being looked at, a dangling link inside the folder and a folder
    with a document's name are left out silently."""
    root = folder.resolve()
    found, refused = {}, {}
    for path in folder.iterdir():
        name = path.name
        if name.startswith(".") or name.endswith(_TEMPORARY) \
                or path.suffix.lower() not in DOCUMENT_SUFFIXES:
            continue
        try:
            reason, signature = _look_at(path, root)
        except OSError:
            continue
        if reason is not None:
            refused[path] = reason
        elif signature is not None:
            found[path] = signature
    return Scan(found, refused)


def documents(folder: Path) -> dict[Path, Signature]:
    """The documents of :func:`scan` (what is refused left out)."""
    return scan(folder).documents


def _look_at(path: Path, root: Path) -> tuple[str | None, Signature | None]:
    """Why ``path`` is refused (or None), and its signature when it is a document."""
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if not target.is_relative_to(root):
            return f"it links to {target}, outside the watched folder", None
    info = path.stat()  # follows a link that stays inside
    if stat.S_ISREG(info.st_mode):
        return None, Signature(info.st_size, info.st_mtime_ns)
    kind = _NOT_FILES.get(stat.S_IFMT(info.st_mode))
    return (f"it is {kind}, not a regular file" if kind else None), None


# Entries that are no document and are refused with a warning (a folder is skipped silently).
_NOT_FILES = {stat.S_IFIFO: "a named pipe", stat.S_IFCHR: "a character device",
              stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


@dataclass
class Refusals:
    """Which refused entries were already warned about, so that each is warned about once
    while it stays as it is (not at every scan); one that comes back, or is refused for
    another reason, is warned about again."""

    warned: dict[Path, str] = field(default_factory=dict)

    def new(self, refused: Mapping[Path, str]) -> list[str]:
        """The warnings to give now for ``refused``, in name order."""
        self.warned = {p: r for p, r in self.warned.items() if refused.get(p) == r}
        fresh = sorted((p, r) for p, r in refused.items() if p not in self.warned)
        self.warned.update(fresh)
        return [f"{path}: skipped: {reason}" for path, reason in fresh]


@dataclass
class Settler:
    """Which documents are new or changed since they were last handled, and have kept the
    same signature for ``settle`` seconds."""

    settle: float
    clock: Callable[[], float] = time.monotonic
    handled: dict[Path, Signature] = field(default_factory=dict)
    pending: dict[Path, tuple[Signature, float]] = field(default_factory=dict)

    def ready(self, seen: Mapping[Path, Signature]) -> list[Path]:
        """The documents of ``seen`` to handle now, in name order."""
        now = self.clock()
        for gone in set(self.handled) - set(seen):  # deleted: a file put back is new again
            del self.handled[gone]
        for gone in set(self.pending) - set(seen):
            del self.pending[gone]
        ready = []
        for path, sig in sorted(seen.items()):
            if self.handled.get(path) == sig:
                continue
            waiting = self.pending.get(path)
            if waiting is None or waiting[0] != sig:
                self.pending[path] = (sig, now)
            elif now - waiting[1] >= self.settle:
                ready.append(path)
        return ready

    def done(self, path: Path, sig: Signature) -> None:
        """``path`` was handled as it was at ``sig`` (a later change makes it pending again)."""
        self.handled[path] = sig
        self.pending.pop(path, None)

    @property
    def waiting(self) -> bool:
        return bool(self.pending)


def watch_folder(folder: Path, handle: Callable[[Path], bool], stop: threading.Event, *,
                 settle: float = 2.0, warn: Callable[[str], None] = log.warning) -> None:
    """Hand each new or changed document of ``folder`` to ``handle`` once it has settled, one
    at a time, until ``stop`` is set or ``handle`` returns False (it was interrupted). Each
    entry refused (see :func:`scan`) is passed to ``warn`` once."""
    from watchfiles import watch

    settler, refusals = Settler(settle), Refusals()
    tick_ms = max(50, int(min(settle, 1.0) * 500))
    for _changes in _wakeups(watch, folder, stop, tick_ms):
        seen = scan(folder)
        for warning in refusals.new(seen.refused):
            warn(warning)
        for path in settler.ready(seen.documents):
            if stop.is_set():
                return
            sig = settler.pending[path][0]
            if not handle(path):
                stop.set()
                return
            settler.done(path, sig)


def _wakeups(watch, folder: Path, stop: threading.Event, tick_ms: int) -> Iterator[object]:
    """Once at the start (documents already there), then at every change or tick."""
    yield ()
    yield from watch(folder, stop_event=stop, rust_timeout=tick_ms, yield_on_timeout=True,
                     debounce=200, recursive=False, raise_interrupt=False)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM and SIGINT set the returned event (the watch ends after what is in flight). A
    conversion's own handlers pass the signals on to this one (``StopRequest``)."""
    from kokoro_cli.jobs.signals import StopRequest

    request = StopRequest()
    previous = {s: signal.signal(s, request) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield request.event
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
