"""Two runs writing one output at once (#26 item 2): the second one to reach the output stops
at once with one line and exit 6 (as for a busy job) and touches nothing of the first one's,
whose live temp files are no longer taken for a killed run's; a killed writer's lock never
blocks. The lock on its own, write_book in two real processes, and the installed command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import soundfile as sf

from kokoro_cli.errors import OutputError, exit_code_for
from kokoro_cli.output import probe_format
from kokoro_cli.output.encode import write_book
from kokoro_cli.output.formats import OutputOptions
from kokoro_cli.output.metadata import BookMeta
from kokoro_cli.output.staging import OutputBusyError, claim_path, claimed
from kokoro_common import ExitCode
from test_mux import needs_ffmpeg
from test_output_staging import temps_in, tone_book

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}


# --- the lock ---------------------------------------------------------------------------------


def test_a_held_output_is_refused_at_once_and_free_again_after(tmp_path):
    out = tmp_path / "book.m4b"
    with claimed(out):
        assert claim_path(out).read_text() == str(os.getpid())
        with pytest.raises(OutputBusyError) as caught:
            with claimed(out):
                pytest.fail("two holders")
        assert str(caught.value) == (f"another run (pid {os.getpid()}) is writing {out}; wait "
                                     "for it to finish, or write to another file")
        assert exit_code_for(caught.value) == ExitCode.BUSY
        with claimed(tmp_path / "other.m4b"):  # another output is another lock
            pass
    assert list(tmp_path.iterdir()) == []  # the lock file goes with the lock
    with claimed(out):
        pass
    with claimed(tmp_path, folder=True):
        assert claim_path(tmp_path, folder=True) == tmp_path / ".kokoro.lock"
    assert list(tmp_path.iterdir()) == []


HOLD = """
import sys, time
from pathlib import Path
from kokoro_cli.output.staging import claimed
with claimed(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_killed_holders_lock_does_not_block(tmp_path):
    out = tmp_path / "book.m4b"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE,
                              text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputBusyError, match=f"pid {holder.pid}"):
            with claimed(out):
                pass
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert claim_path(out).exists()  # SIGKILL: left behind, but no longer locked
        with claimed(out):
            pass
        assert not claim_path(out).exists()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_many_threads_racing_for_one_output_never_hold_it_together(tmp_path):
    """Holders remove the lock file as they let go; a run that opened the old one must not
    hold it while another holds the new one."""
    out, inside, most, errors = tmp_path / "book.m4b", [0], [0], []
    guard = threading.Lock()

    def race() -> None:
        for _ in range(300):
            try:
                with claimed(out):
                    with guard:
                        inside[0] += 1
                        most[0] = max(most[0], inside[0])
                    with guard:
                        inside[0] -= 1
            except OutputBusyError:
                pass
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and most[0] == 1
    assert list(tmp_path.iterdir()) == []


def test_a_folder_at_the_lock_path_is_one_output_error(tmp_path):
    out = tmp_path / "book.m4b"
    claim_path(out).mkdir()
    with pytest.raises(OutputError, match=f"^cannot write {out}: cannot make its lock "):
        with claimed(out):
            pass
    assert claim_path(out).is_dir()


# --- write_book in two processes ----------------------------------------------------------------

PAUSED_WRITE = """
import sys, time
from pathlib import Path
from kokoro_cli.output.encode import write_book
from kokoro_cli.output.formats import OutputOptions
from kokoro_cli.output.metadata import BookMeta
from kokoro_cli.output.plan import ChapterAudio

go = Path(sys.argv[2])

def wait(report):  # every file written, none renamed: the other run arrives now
    print("written", flush=True)
    while not go.exists():
        time.sleep(0.05)

chapters = [ChapterAudio(f"Chapter {i}", Path(p), int(n))
            for i, (p, n) in enumerate(zip(sys.argv[4::2], sys.argv[5::2]), 1)]
options = OutputOptions(loudness="off", split_chapters=sys.argv[3] == "split")
write_book(chapters, Path(sys.argv[1]), BookMeta(title="First"), options, check=wait)
print("done", flush=True)
"""


@needs_ffmpeg
@pytest.mark.parametrize("split", [False, True])
def test_a_second_write_while_the_first_is_live_stops_and_leaves_the_first_whole(
    tmp_path: Path, split: bool
) -> None:
    """Before, the second write removed the first one's live temp files as a killed run's
    (the first then failed on its missing .part) or renamed its own over the first's."""
    book = tone_book(tmp_path, (0.05, 0.05), seconds=1.0)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder if split else folder / "book.m4b"
    go = tmp_path / "go"
    args = [a for c in book for a in (str(c.path), str(c.samples))]
    first = subprocess.Popen([sys.executable, "-c", PAUSED_WRITE, str(out), str(go),
                              "split" if split else "one", *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        assert first.stdout.readline().strip() == "written", first.stderr.read()
        live = temps_in(folder)
        assert live
        options = OutputOptions(loudness="off", split_chapters=split)
        with pytest.raises(OutputBusyError, match=f"another run .pid {first.pid}. is writing"):
            write_book(book, out, BookMeta(title="Second"), options)
        assert temps_in(folder) == live  # the first run's temp files are untouched
        go.touch()
        assert first.wait(timeout=60) == 0, first.stderr.read()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    files = sorted(folder.iterdir())
    assert [f.name for f in files if f.name.startswith(".")] == []  # no temp, no lock
    assert all(probe_format(f)["tags"]["album" if split else "title"] == "First" for f in files)


# --- the command ------------------------------------------------------------------------------


def _command() -> list[str]:
    exe = Path(sys.executable).with_name("kokoro-cli")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "kokoro_cli"]


def _convert(doc: Path, out: Path, work: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*_command(), "convert", str(doc), "-o", str(out), "--force", "--qc", "off",
         "--progress", "none", "--work-dir", str(work)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def _docs(tmp_path: Path) -> tuple[Path, Path]:
    one, two = tmp_path / "one.md", tmp_path / "two.md"
    one.write_text("# One\n\nThe first report is short.\n")
    two.write_text("# Two\n\nThe second report is a little longer than the first one.\n")
    return one, two


@needs_ffmpeg
def test_the_command_stops_with_exit_6_while_another_run_writes_its_output(tmp_path):
    """Another run holds the output (as it does while muxing): one line, exit 6, the output
    there is left as it was; the same command afterwards writes it."""
    doc, _ = _docs(tmp_path)
    out = tmp_path / "x.wav"
    out.write_bytes(b"the other run's finished output")
    with claimed(out):
        run = _convert(doc, out, tmp_path / "work")
        stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == ExitCode.BUSY, stderr
    assert stderr.strip().splitlines() == [
        f"error: another run (pid {os.getpid()}) is writing {out}; wait for it to finish, or "
        "write to another file"]
    assert stdout == "" and out.read_bytes() == b"the other run's finished output"
    again = _convert(doc, out, tmp_path / "work")
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr
    assert float(probe_format(out)["duration"]) > 0.5


@needs_ffmpeg
def test_two_commands_writing_one_output_at_once_never_break_it(tmp_path):
    """Two real runs on different inputs, one ``-o``, started together: both succeed (one
    after the other) leaving one whole file, or one stops with one line and exit 6 and the
    other's output is whole. Never a half file, a lost temp file or a traceback."""
    one, two = _docs(tmp_path)
    out = tmp_path / "x.wav"
    runs = [_convert(one, out, tmp_path / "work"), _convert(two, out, tmp_path / "work")]
    outputs = [run.communicate(timeout=300) for run in runs]
    results = [(run.returncode, stdout, stderr) for run, (stdout, stderr) in zip(runs, outputs)]
    codes = sorted(code for code, _, _ in results)
    assert codes in ([0, 0], [0, ExitCode.BUSY]), results
    for code, stdout, stderr in results:
        assert "Traceback" not in stderr
        if code == ExitCode.BUSY:
            assert len(stderr.strip().splitlines()) == 1 and "is writing" in stderr, stderr
        else:
            assert stdout.strip() == str(out), stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    audio, rate = sf.read(out)  # whole: every frame its header promises is there
    assert audio.size / rate > 0.5
    assert abs(float(probe_format(out)["duration"]) - audio.size / rate) < 0.01
