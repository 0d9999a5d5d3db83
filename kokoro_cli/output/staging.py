"""Putting an output of several files in place all at once, and clearing what a killed run left.

Each file is a :func:`kokoro_common.atomic.atomic_path` (a temp name beside it, fsynced, then
renamed): :func:`staged` holds them all open so that none is renamed until every one was
written. A run killed outright (SIGKILL, power loss) cannot remove its temp files;
:func:`remove_stale_temps` clears them on the next write to the same paths.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from kokoro_common.atomic import atomic_path

__all__ = ["remove_stale_temps", "staged", "temp_pattern"]

log = logging.getLogger(__name__)

# atomic_path names its temp file with tempfile.mkstemp: prefix ".NAME.", eight characters of
# tempfile's alphabet, suffix ".part" + the extension staged() passes. Versions before it wrote
# ".NAME.part-" + eight hex digits + the extension; both are ours.
_RANDOM = "[a-z0-9_]{8}"
_LEGACY_RANDOM = "[0-9a-f]{8}"


@contextmanager
def staged(paths: Sequence[Path]) -> Iterator[list[Path]]:
    """Temp paths beside ``paths`` (same extension, so tools that look at it still work); all
    are fsynced and renamed into place only if the block succeeds, else all removed. Raises
    :class:`kokoro_common.atomic.NotAFileError` before any work when a path is not a file."""
    with ExitStack() as stack:
        yield [stack.enter_context(atomic_path(path, suffix=path.suffix)) for path in paths]


def temp_pattern(dest: Path) -> re.Pattern[str]:
    """The names :func:`staged` (and earlier versions) give temp files for ``dest``."""
    name, ext = re.escape(dest.name), re.escape(dest.suffix)
    return re.compile(rf"\.{name}\.(?:{_RANDOM}\.part{ext}|part-{_LEGACY_RANDOM}{ext})")


def remove_stale_temps(paths: Sequence[Path]) -> list[Path]:
    """Remove the temp files that an interrupted write of ``paths`` left beside them: regular
    files whose names match :func:`temp_pattern` of one of ``paths``, nothing else. Returns
    what was removed. (Two runs writing the same paths at once are kept apart by the job lock.)
    """
    removed: list[Path] = []
    by_folder: dict[Path, list[re.Pattern[str]]] = {}
    for path in paths:
        by_folder.setdefault(path.parent, []).append(temp_pattern(path))
    for folder, patterns in by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and any(
                p.fullmatch(entry.name) for p in patterns
            ):
                Path(entry.path).unlink(missing_ok=True)
                removed.append(Path(entry.path))
    if removed:
        log.info("removed %d temp file(s) an interrupted run left: %s", len(removed),
                 ", ".join(p.name for p in removed))  # fmt: skip
    return removed
