"""Atomic files: write beside the target under a temporary name, fsync, rename into place."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_path(dest: Path, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``dest``; renamed onto ``dest`` only if the block succeeds."""
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


@contextmanager
def atomic_writer(dest: Path) -> Iterator[BinaryIO]:
    """A binary file object whose content replaces ``dest`` only when the block succeeds."""
    with atomic_path(dest) as tmp, open(tmp, "wb") as f:
        yield f


def write_atomic(dest: Path, data: bytes) -> None:
    with atomic_writer(dest) as f:
        f.write(data)
