"""Putting an output of several files in place all at once.

Each file is a :func:`kokoro_common.atomic.atomic_path` (a temp name beside it, fsynced, then
renamed): :func:`staged` holds them all open so that none is renamed until every one was
written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from kokoro_common.atomic import atomic_path

__all__ = ["staged"]


@contextmanager
def staged(paths: Sequence[Path]) -> Iterator[list[Path]]:
    """Temp paths beside ``paths`` (same extension, so tools that look at it still work); all
    are fsynced and renamed into place only if the block succeeds, else all removed. Raises
    :class:`kokoro_common.atomic.NotAFileError` before any work when a path is not a file."""
    with ExitStack() as stack:
        yield [stack.enter_context(atomic_path(path, suffix=path.suffix)) for path in paths]

