"""Scratch folders in the system's temp area that a killed run does not leave behind.

A run's scratch folders (the mux's lists and graphs, the meters', espeak-ng's library copy)
are removed when the work ends, but a process killed outright (SIGKILL, the OOM killer) cannot
remove them. Each is named ``kokoro-<kind>-<pid>-<random>`` after the process that made it;
the first scratch folder a process makes sweeps away the folders whose process is gone. A live
process's folders, and other users', are never touched. (Processes in another PID namespace
that share this temp folder would look dead: give such containers a ``$TMPDIR`` of their own.)
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["make_scratch", "scratch_dir", "sweep_scratch"]

log = logging.getLogger(__name__)

# "kokoro-mux-4242-k2x9a1qz": a kind, the owner's pid, tempfile's eight random characters.
_NAME = re.compile(r"kokoro-([a-z]+)-([0-9]+)-[a-z0-9_]{8}")
_swept = False
_sweeping = threading.Lock()


@contextmanager
def scratch_dir(kind: str) -> Iterator[Path]:
    """A new scratch folder for ``kind`` ("mux", "measure"...), removed with what it holds
    when the block ends."""
    folder = make_scratch(kind)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def make_scratch(kind: str) -> Path:
    """A new scratch folder for ``kind``, for a caller that removes it itself (the first one
    of a process sweeps away what dead processes left)."""
    global _swept
    with _sweeping:
        if not _swept:
            _swept = True
            sweep_scratch()
    return Path(tempfile.mkdtemp(prefix=f"kokoro-{kind}-{os.getpid()}-"))


def sweep_scratch(root: Path | None = None) -> list[Path]:
    """Remove the scratch folders in ``root`` (the temp area) whose owner process is gone and
    that belong to this user; returns them."""
    root = Path(tempfile.gettempdir()) if root is None else root
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    removed = []
    for entry in entries:
        named = _NAME.fullmatch(entry.name)
        if named is None or _alive(int(named.group(2))):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or \
                    entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    if removed:
        log.info("removed %d scratch folder(s) that killed runs left in %s", len(removed), root)
    return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's counts: it may not be signalled)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
