"""Resumable jobs: one folder per (input content, audio settings), a manifest, chapter WAVs.

Killing a run at any instant loses at most the piece in flight: pieces live in the shared
chunk cache the moment they are made, chapter WAVs and the manifest are written atomically,
and the next run with the same input and settings opens the same folder and goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kokoro_cli.jobs.manifest import (ChapterRecord, FileRecord, JobIdentity, Manifest,
                                      OutputRecord)
from kokoro_common import ExitCode, KokoroError, write_atomic

if TYPE_CHECKING:
    from filelock import BaseFileLock

    from kokoro_cli.jobs.timing import ChapterTiming

__all__ = ["Interrupted", "Job", "JobError", "JobInfo", "JobStateError", "default_work_root",
           "list_jobs", "remove_job"]

log = logging.getLogger(__name__)

class JobError(KokoroError):
    """The job folder cannot be used (locked by another run, unwritable)."""

    exit_code = ExitCode.BUSY


class JobStateError(KokoroError):
    """The work area cannot be written (a file where a folder should be, no permission, a
    full disk): an output problem, not a busy job."""

    exit_code = ExitCode.OUTPUT


class Interrupted(KokoroError):
    """The run was asked to stop (SIGINT/SIGTERM) and stopped after the piece in flight."""

    exit_code = ExitCode.INTERRUPTED


def default_work_root() -> Path:
    """The work area: ``jobs/<key>/`` folders and the shared ``chunks/`` cache."""
    if os.environ.get("KOKORO_CLI_WORK_DIR"):
        return Path(os.environ["KOKORO_CLI_WORK_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("kokoro-audiobook")) / "work"


class Job:
    """A job folder. Use ``with job.locked():`` around all work on it."""

    def __init__(self, root: Path, identity: JobIdentity, label: str) -> None:
        self.identity = identity
        self.dir = root / "jobs" / identity.key
        self.label = label
        self.manifest = Manifest(identity, label)
        self._verified: dict[str, tuple[int, int, str]] = {}  # path -> size, mtime, digest

    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    def chapter_wav(self, index: int) -> Path:
        return self.dir / "chapters" / f"{index:04d}.wav"

    @contextmanager
    def locked(self) -> Iterator[Job]:
        """Hold the job's lock. The OS drops it when the holder dies, even by SIGKILL, so a
        stale lock never blocks; a live holder makes this raise JobError at once, and a lock
        that cannot be opened (a folder at its path, no permission) JobStateError."""
        try:
            self.dir.joinpath("chapters").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JobStateError(f"cannot create the job folder {self.dir}: "
                                f"{exc.strerror or exc}") from None
        lock = _try_lock(self.dir / "lock")
        if lock is None:
            raise JobError(f"another run (pid {self._owner()}) is converting this job; "
                           "wait for it to finish or stop it")
        try:
            self._write_owner()
            self._remove_partial_files()
            self.manifest = self._load()
            yield self
        finally:
            lock.release()

    def _write_owner(self) -> None:
        """Note our pid for the message a second run gives. Only a note: a run that cannot
        write it (a folder at its path) goes on, and the busy message then says "pid ?"."""
        try:
            (self.dir / "owner").write_text(str(os.getpid()))
        except OSError as exc:
            log.info("cannot note the job's owner in %s: %s", self.dir / "owner", exc)

    def _remove_partial_files(self) -> None:
        """Half-written files of a run that was killed; only the lock holder writes here. Only
        files: a folder with such a name is not ours to delete."""
        for leftover in (*self.dir.glob(".*.part*"), *self.dir.glob("chapters/.*.part*")):
            if leftover.is_symlink() or leftover.is_file():
                leftover.unlink(missing_ok=True)

    def _owner(self) -> str:
        try:
            return (self.dir / "owner").read_text().strip() or "?"
        except OSError:
            return "?"

    def _load(self) -> Manifest:
        fresh = Manifest(self.identity, self.label)
        try:
            text = self.manifest_path.read_bytes()
        except FileNotFoundError:
            return fresh
        except OSError as exc:
            log.warning("job manifest %s is unreadable (%s); rebuilding it", self.manifest_path, exc)
            return fresh
        found = Manifest.from_json(text)
        if found is None or found.identity != self.identity:
            log.warning("job manifest %s does not match this job; rebuilding it", self.manifest_path)
            return fresh
        return found

    def _save(self, manifest: Manifest) -> None:
        self.manifest = dataclasses.replace(manifest, updated=time.time())
        write_atomic(self.manifest_path, self.manifest.to_json().encode("utf-8"))

    def timing_path(self, index: int) -> Path:
        return self.dir / "chapters" / f"{index:04d}.timing.json"

    def finished_chapter(self, index: int, fingerprint: str, *, timed: bool = False) -> int | None:
        """Samples of a chapter WAV finished earlier with this fingerprint, else None. The WAV
        must still hold exactly what was recorded (size and digest): a damaged or edited file
        is made again from the piece cache, never trusted. With ``timed`` the chapter's timing
        must be there and intact too (a chapter finished before timing was kept is then made
        again from the cache, which costs no synthesis)."""
        record = self.manifest.chapters.get(index)
        wav = self.chapter_wav(index)
        if record is None or record.fingerprint != fingerprint or not wav.is_file():
            return None
        # 16-bit mono: a complete file is exactly the header plus two bytes per sample.
        if wav.stat().st_size != 44 + 2 * record.samples:
            return None
        if record.digest != self._digest(wav):
            log.warning("chapter audio %s does not match the job manifest; making it again", wav)
            return None
        if timed and self.chapter_timing(index) is None:
            return None
        return record.samples

    def chapter_timing(self, index: int) -> ChapterTiming | None:
        """The recorded timing of a finished chapter, or None (absent, damaged, or not the one
        the manifest recorded)."""
        record = self.manifest.chapters.get(index)
        path = self.timing_path(index)
        if record is None or record.timing is None or not path.is_file():
            return None
        if self._digest(path) != record.timing:
            return None
        from kokoro_cli.jobs.timing import ChapterTiming

        timing = ChapterTiming.from_json(path.read_bytes())
        return timing if timing is not None and timing.samples == record.samples else None

    def record_chapter(self, index: int, title: str, fingerprint: str, samples: int,
                       timing: ChapterTiming | None = None) -> None:
        """Record a finished chapter WAV, writing its timing (when given) beside it first."""
        wav = self.chapter_wav(index)
        digest = self._digest(wav) if wav.is_file() else None
        timing_digest = None
        if timing is not None:
            write_atomic(self.timing_path(index), timing.to_json().encode("utf-8"))
            timing_digest = self._digest(self.timing_path(index))
        self._save(self.manifest.with_chapter(index, ChapterRecord(
            title, fingerprint, samples, digest, timing_digest)))

    def _digest(self, path: Path) -> str:
        """blake2b of a file, hashed once per run while its size and mtime stay the same."""
        stat = path.stat()
        known = self._verified.get(str(path))
        if known and known[:2] == (stat.st_size, stat.st_mtime_ns):
            return known[2]
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=16)).hexdigest()
        self._verified[str(path)] = (stat.st_size, stat.st_mtime_ns, digest)
        return digest

    def output_is_current(self, path: Path, fingerprint: str) -> bool:
        """True when the files this job last wrote for ``path`` (one file, or one per chapter
        or part) were written with this fingerprint and are all still there, untouched."""
        record = self.manifest.outputs.get(str(path.resolve()))
        return record is not None and record.current(fingerprint)

    def record_output(self, path: Path, fingerprint: str, files: tuple[Path, ...]) -> None:
        record = OutputRecord(fingerprint, tuple(FileRecord.of(f) for f in files or (path,)))
        self._save(self.manifest.with_output(str(path.resolve()), record))


def _try_lock(path: Path) -> BaseFileLock | None:
    """The lock file at ``path``, held; None when a live run holds it. Raises JobStateError
    when it cannot be opened as a lock: a folder (or a device) put at its path, no
    permission. Nothing at the path is removed: it is not ours."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(path), timeout=0, is_singleton=False)
    try:
        lock.acquire()
    except Timeout:
        return None
    except OSError as exc:
        if path.is_dir():
            why = "is a folder, not a lock file; remove that folder and run again"
        else:
            why = f"cannot be opened: {exc.strerror or exc}"
        raise JobStateError(f"the job lock {path} {why}") from None
    return lock


@dataclass(frozen=True)
class JobInfo:
    """A job folder as ``kokoro-cli jobs`` lists it."""

    key: str
    path: Path
    label: str
    state: str  # "done", "partial", "empty", "unreadable"
    chapters_done: int
    size_bytes: int
    updated: float


def list_jobs(root: Path) -> list[JobInfo]:
    """The job folders in the work area ``root``, most recently updated first."""
    jobs = root / "jobs"
    if not jobs.is_dir():
        return []
    return sorted((_info(d) for d in jobs.iterdir() if d.is_dir()), key=lambda j: -j.updated)


def _info(folder: Path) -> JobInfo:
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    try:
        manifest = Manifest.from_json((folder / "manifest.json").read_bytes())
    except OSError:
        manifest = None
    if manifest is None:  # not JSON, or JSON of the wrong shape: listed, never trusted
        return JobInfo(folder.name, folder, "?", "unreadable", 0, size, folder.stat().st_mtime)
    done = len(manifest.chapters)
    state = "done" if manifest.outputs else ("partial" if done else "empty")
    label = "".join(ch if ch.isprintable() else "?" for ch in manifest.label)
    return JobInfo(folder.name, folder, label, state, done, size,
                   manifest.updated if manifest.updated is not None else manifest.created)


def remove_job(info: JobInfo) -> None:
    """Delete a job folder, unless a live run holds its lock (JobError) or the lock cannot
    be opened (JobStateError)."""
    lock = _try_lock(info.path / "lock")
    if lock is None:
        raise JobError(f"job {info.key} is in use by a running conversion")
    try:
        shutil.rmtree(info.path)
    finally:
        lock.release()
