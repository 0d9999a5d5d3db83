"""Fault injection (#26): the real ``kokoro-cli convert --feed`` killed with SIGKILL, or starved
of disk, in each phase of a conversion (planning, synthesis, loudness, the mux, the feed
update), then run again.

After every fault: the earlier output and feed are as they were, byte for byte (nothing at the
target path is half written); the job state loads; and the same command, run again, ends with
exit 0 without making any finished piece again, to the same decoded audio as an uninterrupted
run and a feed that lists it. A full disk is one line naming it and exit 5.

One small document is converted, then edited (three pieces, then two more), so each faulted
run is about to replace a good output. The phase is observed, never guessed at with a timer:
a JSON progress event, a file the phase makes (the job's owner note, the loudness meter's
scratch folder, the mux's temp file beside the output) or the child process it runs (ffprobe
reading the new episode for the feed). A full disk is a small tmpfs mounted over the folder
in a mount namespace of the run's own (``unshare -rm``).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

from kokoro_cli.jobs.job import list_jobs
from kokoro_cli.jobs.manifest import Manifest
from kokoro_cli.output.ffmpeg import find_ffmpeg
from tests.conftest import can_mount_tmpfs, child_pids, cli_script

V1 = "# Tide Notes\n\nThe boats came in before noon.\n\nMara counted the crates twice.\n"
V2 = V1 + "\nThe lamps were lit at dusk.\n\nA gull stood on the harbour wall.\n"
BASE_URL = "https://example.com/pod/"
PAGE = 4096


# --- a folder with a document, its output and feed, and its work area -------------------------


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "TMPDIR": str(root / "tmp"),
            "KOKORO_CLI_FEED_BASE_URL": BASE_URL}


def _convert(root: Path, progress: str = "plain", **where: str) -> list[str]:
    """The command, run in ``root``: note.md to out/note.m4b, updating out/feed.xml."""
    return [*cli_script(), "convert", "note.md", "-o", "out/note.m4b", "--feed",
            "--work-dir", where.get("work", "work"), "--progress", progress, "--qc", "off"]


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_convert(root), cwd=root, capture_output=True, text=True,
                          timeout=300, env=_env(root))


def _decoded(path: Path) -> np.ndarray:
    pcm = subprocess.run([find_ffmpeg(), "-v", "error", "-i", str(path), "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(pcm, dtype="<i2")


@dataclass(frozen=True)
class Base:
    """V1 converted (``root``: note.md holding V2 now, out/, work/), the audio an
    uninterrupted conversion of V2 gives, and the room its first new piece takes in the
    piece cache (bytes, whole pages)."""

    root: Path
    reference: np.ndarray
    first_piece: int


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Base:
    root = tmp_path_factory.mktemp("faults")
    for name in ("out", "tmp"):
        (root / name).mkdir()
    (root / "note.md").write_text(V1)
    first = _run(root)
    assert first.returncode == 0, first.stderr
    (root / "note.md").write_text(V2)
    clean = root.parent / (root.name + "-clean")
    shutil.copytree(root, clean)
    done = _run(clean)
    assert done.returncode == 0, done.stderr
    assert "5 pieces: 2 synthesized, 3 reused" in done.stderr
    return Base(root, _decoded(clean / "out" / "note.m4b"), _first_piece(root, clean))


def _first_piece(before: Path, after: Path) -> int:
    """The pages the first piece made in ``after``'s cache and not in ``before``'s take."""
    old = {p.relative_to(before) for p in (before / "work" / "chunks").rglob("*.s16")}
    new = [p for p in (after / "work" / "chunks").rglob("*.s16") if p.relative_to(after) not in old]
    first = min(new, key=lambda p: p.stat().st_mtime_ns)
    return _pages(first) + _pages(first.with_suffix(".t32"))


def _pages(path: Path) -> int:
    return math.ceil(path.stat().st_size / PAGE) * PAGE if path.is_file() else 0


@pytest.fixture()
def scene(base, tmp_path) -> Path:
    """A copy of the base folder for one fault (file times kept, as the feed state wants)."""
    root = tmp_path / "scene"
    shutil.copytree(base.root, root)
    return root


# --- watching a run and killing it in a phase -------------------------------------------------


class Run:
    """A started command whose stdout and stderr lines are collected as they come."""

    def __init__(self, command: list[str], root: Path) -> None:
        self.root = root
        self.proc = subprocess.Popen(command, cwd=root, env=_env(root), text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                         for stream, into in ((self.proc.stdout, self.stdout),
                                              (self.proc.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def events(self, name: str) -> list[str]:
        return [line for line in list(self.stderr) if f'"event": "{name}"' in line]

    def kill_when(self, ready: Callable[[Run], bool], timeout: float = 240) -> None:
        """SIGKILL the command the moment ``ready`` sees its phase (polled every 2 ms), then
        wait for the children it left (an ffmpeg finishing its file) to end."""
        deadline = time.monotonic() + timeout
        try:
            while not ready(self):
                assert self.proc.poll() is None, "the run ended before the phase:\n" + \
                    "\n".join(self.stderr)
                assert time.monotonic() < deadline, "the phase was never seen"
                time.sleep(0.002)
            orphans = child_pids(self.proc.pid)
        finally:
            self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=30) == -signal.SIGKILL
        for reader in self._readers:
            reader.join(timeout=30)
        _wait_gone(orphans)


def _wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def _planning(run: Run) -> bool:
    """The job is locked (its owner note names this run) and no piece is made yet: G2P loads
    and the document is planned."""
    pid = str(run.proc.pid)
    mine = any(_text(p) == pid for p in (run.root / "work" / "jobs").glob("*/owner"))
    if mine:
        assert not run.events("chunk_done"), "killed after planning, not in it"
    return mine


def _synthesizing(run: Run) -> bool:
    """One new piece is made and in the cache; the next is being spoken."""
    return any('"reused": false' in line for line in run.events("chunk_done"))


def _measuring(run: Run) -> bool:
    """The loudness meter's scratch folder exists: the whole book is being measured."""
    return any((run.root / "tmp").glob(f"kokoro-measure-{run.proc.pid}-*"))


def _muxing(run: Run) -> bool:
    """ffmpeg is writing the output's temp file beside it."""
    return any((run.root / "out").glob(".note.m4b.*.part.m4b"))


def _updating_feed(run: Run) -> bool:
    """The output is in place (its path printed) and ffprobe reads it for the feed."""
    if "out/note.m4b" not in run.stdout:
        return False
    return any(_text(Path(f"/proc/{pid}/comm")) == "ffprobe" for pid in child_pids(run.proc.pid))


def _text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


# --- a full disk --------------------------------------------------------------------------------

STARVE = ('d="$1"; size="$2"; shift 2; mkdir "$d.stash" "$d.after" && cp -a "$d/." "$d.stash/" && '
          'mount -t tmpfs -o "size=$size" tmpfs "$d" && cp -a "$d.stash/." "$d/" || exit 99; '
          '"$@"; rc=$?; cp -a "$d/." "$d.after/"; exit $rc')


def _starved(root: Path, folder: str, room: int) -> subprocess.CompletedProcess[str]:
    """The command with ``folder`` on a tmpfs holding what it holds now plus ``room`` bytes;
    afterwards the folder holds what the run left on that small disk."""
    used = sum(_pages(p) for p in (root / folder).rglob("*"))
    done = subprocess.run(["unshare", "-rm", "sh", "-c", STARVE, "sh", folder,
                           str(used + room), *_convert(root)],
                          cwd=root, capture_output=True, text=True, timeout=300, env=_env(root))
    assert done.returncode != 99, done.stderr
    shutil.rmtree(root / folder)
    shutil.rmtree(root / f"{folder}.stash")
    (root / f"{folder}.after").rename(root / folder)
    return done


def _disk_full(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 5, done.stderr
    line, = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: ") and ("the disk is full" in line
                                           or "No space left on device" in line), done.stderr
    assert re.search(r"the disk is full|cannot write \S+", line), "no file named: " + line
    assert "Traceback" not in done.stderr


# --- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """A fault in one phase, and what the run after it still has to make."""

    phase: str
    fault: str  # "kill" (SIGKILL when ``seen``) or "disk full" (``folder`` on a tmpfs)
    made_again: Optional[int]  # pieces the next run synthesizes; None: the output is current
    seen: Optional[Callable[[Run], bool]] = None
    folder: str = ""
    room: Callable[[Base], int] = lambda base: 0  # bytes free on the small disk

    def __str__(self) -> str:
        named = f"{self.phase}-{self.fault}" + (f"-{self.folder}" if self.folder else "")
        return named.replace(" ", "-").replace("/", "-")


FAULTS = [
    Fault("plan", "kill", 2, seen=_planning),
    Fault("synthesize", "kill", 1, seen=_synthesizing),
    Fault("loudness", "kill", 0, seen=_measuring),
    Fault("mux", "kill", 0, seen=_muxing),
    Fault("feed write", "kill", None, seen=_updating_feed),
    # the piece cache has room for the first new piece, not for the second
    Fault("synthesize", "disk full", 1, folder="work/chunks",
          room=lambda base: base.first_piece + PAGE),
    # the work area has room for the job's notes, not for its chapter's audio
    Fault("synthesize", "disk full", 2, folder="work", room=lambda base: 4 * PAGE),
    # room for the output's lock, not for the new output (about 70 KB) beside the old one
    Fault("mux", "disk full", 0, folder="out", room=lambda base: 4 * PAGE),
]

needs_tmpfs = pytest.mark.skipif(not can_mount_tmpfs(),
                                 reason="needs a user namespace to mount a tmpfs")


@pytest.mark.slow
@pytest.mark.parametrize("fault", [
    pytest.param(f, marks=needs_tmpfs) if f.fault == "disk full" else f for f in FAULTS],
    ids=str)
def test_a_fault_loses_nothing_and_the_same_command_resumes(fault, base, scene):
    out = scene / "out"
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    if fault.fault == "kill":
        Run(_convert(scene, "json"), scene).kill_when(fault.seen)
    else:
        _disk_full(_starved(scene, fault.folder, fault.room(base)))
    if fault.phase == "feed write":  # after the output was put in place
        _new_output_and_a_whole_feed(out, before, base.reference)
    else:
        _nothing_lost(out, before)
    _job_state_loads(scene / "work")

    again = _run(scene)
    assert again.returncode == 0, again.stderr
    if fault.made_again is None:
        assert "out/note.m4b is up to date" in again.stderr
    else:
        assert f"5 pieces: {fault.made_again} synthesized, {5 - fault.made_again} reused" \
            in again.stderr, again.stderr
    _complete(scene, base.reference)


def _nothing_lost(out: Path, before: dict[str, bytes]) -> None:
    """The earlier output and feed are as they were; no other file appeared or went."""
    now = {p.name for p in out.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert now == {n for n in before if not n.startswith(".")}
    assert (out / "note.m4b").read_bytes() == before["note.m4b"]
    assert (out / "feed.xml").read_bytes() == before["feed.xml"]


def _new_output_and_a_whole_feed(out: Path, before: dict[str, bytes],
                                 reference: np.ndarray) -> None:
    """Killed while the feed was brought up to date: the new output is whole and the feed
    is the earlier one or the new one listing it, well formed either way."""
    assert np.array_equal(_decoded(out / "note.m4b"), reference)
    feed = (out / "feed.xml").read_bytes()
    lengths = _episodes(feed)
    assert feed == before["feed.xml"] or lengths == [(out / "note.m4b").stat().st_size]


def _job_state_loads(work: Path) -> None:
    """Every job folder lists, and every manifest there is one this version trusts."""
    jobs = list_jobs(work)
    assert len(jobs) >= 2  # V1's, and V2's unless killed before its folder was made
    for info in jobs:
        manifest = info.path / "manifest.json"
        if manifest.exists():
            assert Manifest.from_json(manifest.read_bytes()) is not None, manifest


def _complete(root: Path, reference: np.ndarray) -> None:
    """The output is an uninterrupted run's audio, the feed lists it, and nothing half
    written is left beside it or in the job."""
    out = root / "out"
    assert np.array_equal(_decoded(out / "note.m4b"), reference)
    lengths = _episodes((out / "feed.xml").read_bytes())
    assert lengths == [(out / "note.m4b").stat().st_size]
    assert not [p.name for p in out.iterdir() if ".part" in p.name or p.suffix == ".lock"]
    for info in list_jobs(root / "work"):
        assert not list((info.path / "chapters").glob(".*")), "half-written job files"


def _episodes(feed: bytes) -> list[int]:
    """The enclosure lengths of a feed that must parse as XML."""
    channel = ElementTree.fromstring(feed).find("channel")
    assert channel is not None
    return [int(item.find("enclosure").get("length")) for item in channel.iter("item")]
