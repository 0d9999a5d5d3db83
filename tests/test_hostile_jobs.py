"""Job state replaced by something that is not ours (#26 item 10): a folder at the job's lock
path is one line and exit 5 (an unwritable work area, as the other job-state errors), never
``[Errno 21]``; nothing of the job or the output is removed. A folder at the owner note's path
or with a temp file's name does not stop a run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_cli.errors import exit_code_for
from kokoro_cli.jobs.job import Job, JobStateError, list_jobs
from kokoro_cli.jobs.manifest import JobIdentity
from kokoro_common import ExitCode

IDENTITY = JobIdentity("in", "model", "onnx", "af_heart", 1.0, "a", "1", "", "chunks")


def test_a_folder_at_the_lock_path_is_a_job_state_error_and_stays(tmp_path):
    job = Job(tmp_path, IDENTITY, "t")
    with job.locked():
        job.record_chapter(1, "One", "fp", 10)
    (job.dir / "lock").unlink()
    (job.dir / "lock").mkdir()
    (job.dir / "lock" / "theirs.txt").write_text("kept")
    with pytest.raises(JobStateError) as caught:
        with job.locked():
            pytest.fail("locked without a lock")
    assert str(caught.value) == (f"the job lock {job.dir / 'lock'} is a folder, not a lock file; "
                                 "remove that folder and run again")
    assert exit_code_for(caught.value) == ExitCode.OUTPUT
    assert (job.dir / "lock" / "theirs.txt").read_text() == "kept"
    assert job.manifest_path.is_file()  # the job's state is left as it was


def test_folders_at_the_owner_and_temp_file_names_do_not_stop_a_run(tmp_path):
    job = Job(tmp_path, IDENTITY, "t")
    (job.dir / "owner").mkdir(parents=True)
    (job.dir / "chapters" / ".0001.wav.abcdefgh.part.wav").mkdir(parents=True)
    stale = job.dir / "chapters" / ".0002.wav.abcdefgh.part.wav"
    stale.write_bytes(b"half")
    with job.locked():
        job.record_chapter(1, "One", "fp", 10)
    assert not stale.exists()  # a killed run's temp file is still cleared
    assert (job.dir / "chapters" / ".0001.wav.abcdefgh.part.wav").is_dir()
    assert (job.dir / "owner").is_dir()


def test_jobs_remove_with_a_folder_at_the_lock_path_is_one_line(tmp_path):
    job = Job(tmp_path, IDENTITY, "book.txt")
    with job.locked():
        job.record_chapter(1, "One", "fp", 0)
    (job.dir / "lock").unlink()
    (job.dir / "lock").mkdir()
    done = CliRunner().invoke(app, ["jobs", "remove", IDENTITY.key, "--work-dir", str(tmp_path)])
    assert done.exit_code == ExitCode.OUTPUT
    assert done.output.strip().splitlines() == [
        f"error: the job lock {job.dir / 'lock'} is a folder, not a lock file; remove that "
        "folder and run again"]
    assert job.dir.is_dir()


def _cli(*args: str, work: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("kokoro-cli")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "kokoro_cli"]
    return subprocess.run([*command, *args, "--work-dir", str(work), "--progress", "none"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_COLOR": "1"})


def test_the_installed_command_says_one_line_and_exits_5_and_keeps_the_output(tmp_path):
    """The real command: a finished conversion, its lock replaced by a folder, run again."""
    doc, out, work = tmp_path / "note.md", tmp_path / "note.wav", tmp_path / "work"
    doc.write_text("# Note\n\nThe build is green.\n")
    first = _cli("convert", str(doc), "-o", str(out), "--qc", "off", work=work)
    assert first.returncode == 0, first.stderr
    before = out.read_bytes()
    info, = list_jobs(work)
    (info.path / "lock").unlink()
    (info.path / "lock").mkdir()
    again = _cli("convert", str(doc), "-o", str(out), "--qc", "off", work=work)
    assert again.returncode == 5
    assert again.stderr.strip().splitlines() == [
        f"error: the job lock {info.path / 'lock'} is a folder, not a lock file; remove that "
        "folder and run again"]
    assert "Errno" not in again.stderr
    assert out.read_bytes() == before
    assert (info.path / "manifest.json").is_file() and (info.path / "lock").is_dir()
