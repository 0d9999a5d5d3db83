"""Atomic files: write beside the target under a temporary name, fsync, rename into place."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["NotAFileError", "atomic_path", "atomic_writer", "check_replaceable", "made_once",
           "write_atomic"]


class NotAFileError(OSError):
    """The destination exists and is not a regular file (a device, a pipe, a folder): renaming
    over it would replace something that is not ours (as root, even /dev/null)."""


@contextmanager
def atomic_path(dest: Path, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``dest``; renamed onto ``dest`` only if the block succeeds
    (after an fsync, with ordinary 0644 permissions). The block may check what it wrote and
    raise: the temporary file is then removed and ``dest`` is left as it was."""
    check_replaceable(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=f".part{suffix}", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def check_replaceable(dest: Path) -> None:
    """Raise NotAFileError unless ``dest`` is absent, a regular file or a link."""
    if dest.is_symlink() or not dest.exists() or dest.is_file():
        return  # a link is replaced itself, never written through
    raise NotAFileError(f"{dest} exists and is not a regular file; not replacing it")


@contextmanager
def atomic_writer(dest: Path) -> Iterator[BinaryIO]:
    """A binary file object whose content replaces ``dest`` only when the block succeeds."""
    with atomic_path(dest) as tmp, open(tmp, "wb") as f:
        yield f


def write_atomic(dest: Path, data: bytes) -> None:
    """Replace ``dest`` with ``data`` atomically. A write that fails (a full disk) raises an
    OSError naming ``dest``: the write and close of a file descriptor name no file."""
    try:
        with atomic_writer(dest) as f:
            f.write(data)
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(dest)) from exc


def made_once(dest: Path, make: Callable[[Path], bool]) -> bool:
    """Make a derived file on first use: ``make(tmp)`` writes it to a temporary path that is
    renamed onto ``dest`` (or returns False to make nothing). Concurrent first uses wait on a
    lock beside ``dest``, so the work is done once. Returns whether ``dest`` exists."""
    from filelock import FileLock

    if dest.is_file():
        return True
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest.parent / ".derive.lock")):
        if dest.is_file():
            return True
        try:
            with atomic_path(dest) as tmp:
                if not make(tmp):
                    raise _NothingMade
        except _NothingMade:
            return False
    return True


class _NothingMade(Exception):
    """``make`` declined: the temporary file is dropped and ``dest`` left absent."""
