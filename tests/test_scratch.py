"""Scratch folders a killed run leaves in the temp area are swept away by the next run (#26 item
12): the mux's and the meters' folders and espeak-ng's library copies are named after their
process, and only folders whose process is gone (and that are this user's) are removed. Real
folders, real processes killed with SIGKILL, the real espeak-ng load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kokoro_common.scratch import sweep_scratch


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_only_folders_of_processes_that_are_gone_are_swept(tmp_path):
    dead, live = _dead_pid(), os.getpid()
    stale = tmp_path / f"kokoro-mux-{dead}-k2x9a1qz"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "graph.txt").write_text("x")
    kept = [
        tmp_path / f"kokoro-measure-{live}-abcdefgh",  # this process
        tmp_path / "kokoro-espeak-1-abcdefgh",           # init: alive
        tmp_path / "kokoro-mux-abcdefgh",                # an older version's name: no owner
        tmp_path / f"kokoro-mux-{dead}-short",           # not our name
        tmp_path / f"mine-{dead}-abcdefgh",
    ]
    for folder in kept:
        folder.mkdir()
    as_file = tmp_path / f"kokoro-clip-{dead}-abcdefgh"
    as_file.write_text("not a folder")
    target = tmp_path / "target"
    target.mkdir()
    (target / "keep.txt").write_text("kept")
    link = tmp_path / f"kokoro-mux-{dead}-linklink"
    link.symlink_to(target)

    assert sweep_scratch(tmp_path) == [stale]
    assert not stale.exists()
    assert all(folder.is_dir() for folder in kept)
    assert as_file.is_file() and link.is_symlink() and (target / "keep.txt").is_file()
    assert sweep_scratch(tmp_path / "missing") == []


HOLD = """
import sys, time
from kokoro_common.scratch import scratch_dir
with scratch_dir(sys.argv[1]) as folder:
    (folder / "chapters.ffconcat").write_text("ffconcat version 1.0\\n")
    print(folder, flush=True)
    time.sleep(120)
"""
ESPEAK = """
import time
from engine.g2p import EspeakG2P
print(EspeakG2P("es")("hola"), flush=True)
time.sleep(120)
"""
MAKE = """
from kokoro_common.scratch import make_scratch
print(make_scratch("mux"))
"""


def _start(code: str, tmp: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "TMPDIR": str(tmp)})


def test_a_folder_of_a_killed_run_is_swept_by_the_next_and_a_live_ones_kept(tmp_path):
    killed, living = _start(HOLD, tmp_path, "mux"), _start(HOLD, tmp_path, "measure")
    try:
        left = Path(killed.stdout.readline().strip())
        alive = Path(living.stdout.readline().strip())
        assert left.name.startswith(f"kokoro-mux-{killed.pid}-")
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert left.is_dir()  # SIGKILL: nothing could remove it
        made = subprocess.run([sys.executable, "-c", MAKE], capture_output=True, text=True,
                              env={**os.environ, "TMPDIR": str(tmp_path)}, check=True)
        assert not left.exists()
        assert alive.is_dir() and (alive / "chapters.ffconcat").is_file()
        assert Path(made.stdout.strip()).is_dir()  # the new run's own folder
    finally:
        for proc in (killed, living):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_espeaks_library_copy_of_a_killed_run_is_a_scratch_folder_and_swept(tmp_path):
    espeak = _start(ESPEAK, tmp_path)
    try:
        assert espeak.stdout.readline().strip()  # phonemes: espeak-ng is loaded
        folders = sorted(tmp_path.iterdir())
        assert folders and all(f.name.startswith(f"kokoro-espeak-{espeak.pid}-")
                               for f in folders), folders  # no anonymous tmpXXXX folder
        assert any(p.name.startswith("libespeak-ng") for f in folders for p in f.iterdir())
        espeak.send_signal(signal.SIGKILL)
        espeak.wait()
        assert all(f.is_dir() for f in folders)
        subprocess.run([sys.executable, "-c", MAKE], env={**os.environ, "TMPDIR": str(tmp_path)},
                       capture_output=True, check=True)
        assert not any(f.exists() for f in folders)
    finally:
        if espeak.poll() is None:
            espeak.kill()
            espeak.wait()


@pytest.mark.parametrize("kind", ["mux", "espeak"])
def test_a_run_that_ends_well_leaves_no_scratch_folder(tmp_path, kind):
    code = (HOLD.replace("time.sleep(120)", "pass") if kind == "mux"
            else ESPEAK.replace("time.sleep(120)", "import gc; gc.collect()"))
    done = subprocess.run([sys.executable, "-c", code, kind], capture_output=True, text=True,
                          env={**os.environ, "TMPDIR": str(tmp_path)}, check=True)
    assert done.stdout.strip()
    assert list(tmp_path.iterdir()) == []
