"""Reading a file the user named (a dictionary, a cover, a config): a regular file only, since
a FIFO or /dev/zero never ends, and at most ``limit`` bytes, counted while reading because a file
can grow after it was checked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = ["read_bounded"]


def read_bounded(path: Path, limit: int, fail: Callable[[str], Exception]) -> bytes:
    """The bytes of ``path``; otherwise raises ``fail(why)``, ``why`` being "no such file",
    "not a regular file", "over N MB" or the system's reason."""
    try:
        if not path.is_file():
            raise fail("not a regular file" if path.exists() else "no such file")
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise fail(exc.strerror or str(exc)) from exc
    if len(data) > limit:
        raise fail(f"over {limit >> 20} MB")
    return data
