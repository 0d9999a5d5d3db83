"""Putting an output of several files in place all at once, and clearing what a killed run left.

Each file is a :func:`kokoro_common.atomic.atomic_path` (a temp name beside it, fsynced, then
renamed): :func:`staged` holds them all open so that none is renamed until every one was
written. A run killed outright (SIGKILL, power loss) cannot remove its temp files;
:func:`remove_stale_temps` clears them on the next write to the same paths.

Two runs writing one output at once (different inputs, one ``-o``) are kept apart by
:func:`claimed`, a lock beside the output held from before the stale temps are cleared until
the files are renamed: the second run stops at once with :class:`OutputBusyError` (exit 6, as
for a busy job) instead of removing the first one's live temp files or renaming its own over
the first one's result. Under the claim, every temp file of the output is provably a dead
run's: each writer holds the claim while its temps exist.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from kokoro_cli.errors import OutputError
from kokoro_common import ExitCode, KokoroError
from kokoro_common.atomic import atomic_path

__all__ = ["OutputBusyError", "claim_path", "claimed", "remove_stale_temps", "staged",
           "temp_pattern"]

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


class OutputBusyError(KokoroError):
    """Another live run is writing the same output: nothing of it was touched."""

    exit_code = ExitCode.BUSY


def claim_path(out: Path, *, folder: bool = False) -> Path:
    """The lock file of the output ``out``: ``.NAME.lock`` beside a file, or ``.kokoro.lock``
    inside a folder of files (``--split-chapters``)."""
    return out / ".kokoro.lock" if folder else out.with_name(f".{out.name}.lock")


@contextmanager
def claimed(out: Path, *, folder: bool = False) -> Iterator[None]:
    """Hold the output ``out``'s lock for the block: clear its stale temps and rename its
    files under it. Raises OutputBusyError at once when a live run holds it. The OS drops the
    lock when its holder dies, even by SIGKILL; the lock file is removed when the block ends
    (a killed run's stays, empty, until the next write of the same output)."""
    lock = claim_path(out, folder=folder)
    fd = _lock(lock, out)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        # Removed while still held: a run that opened it meanwhile finds it gone once it gets
        # the lock, and takes a new one (see _lock), so two runs never hold "the" lock at once.
        lock.unlink(missing_ok=True)
        os.close(fd)


def _lock(lock: Path, out: Path) -> int:
    """An open file descriptor of ``lock``, exclusively locked."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot write {out}: cannot make its lock {lock}: "
                              f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            who = f"another run (pid {owner})" if owner.isdigit() else "another run"
            raise OutputBusyError(f"{who} is writing {out}; wait for it to finish, or write to "
                                  "another file") from None
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, lock):
            return fd
        os.close(fd)  # its holder removed it between our open and our lock: take the new one


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def temp_pattern(dest: Path) -> re.Pattern[str]:
    """The names :func:`staged` (and earlier versions) give temp files for ``dest``."""
    name, ext = re.escape(dest.name), re.escape(dest.suffix)
    return re.compile(rf"\.{name}\.(?:{_RANDOM}\.part{ext}|part-{_LEGACY_RANDOM}{ext})")


def remove_stale_temps(paths: Sequence[Path]) -> list[Path]:
    """Remove the temp files that an interrupted write of ``paths`` left beside them: regular
    files whose names match :func:`temp_pattern` of one of ``paths``, nothing else. Returns
    what was removed. Call it holding the output's :func:`claimed` lock: a live writer's temp
    files are then never among them."""
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
