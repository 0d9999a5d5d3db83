"""``watch`` reads only what is in its inbox (#26 item 3): a link resolving outside it, a named
pipe and a device are skipped with one warning each, never read aloud; links that stay inside
are read. The scan on real links and pipes, the warn-once bookkeeping, the real watch loop
(watchfiles, many scans), and the installed command in a subprocess."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from kokoro_cli.watching import Refusals, documents, scan, watch_folder
from tests.conftest import cli_script


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """An inbox with a document, and a secret outside it that links point to."""
    (tmp_path / "secret.txt").write_text("root:x:0:0\n")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "report.md").write_text("# Report\n")
    return folder


def test_links_out_of_the_inbox_pipes_and_devices_are_refused_and_inside_links_read(inbox):
    secret = inbox.parent / "secret.txt"
    (inbox / "out.txt").symlink_to(secret)                       # absolute, outside
    (inbox / "rel.md").symlink_to(Path("..") / "secret.txt")     # relative, outside
    (inbox / "hop.txt").symlink_to(inbox / "out.txt")            # inside link to an outside one
    (inbox / "etc.txt").symlink_to("/etc/passwd")
    (inbox / "null.txt").symlink_to("/dev/null")
    (inbox / "gone.txt").symlink_to(inbox.parent / "missing.txt")  # dangling, outside
    (inbox / "same.md").symlink_to(inbox / "report.md")          # inside: read
    (inbox / "sub").mkdir()
    (inbox / "sub" / "deep.md").write_text("# Deep\n")
    (inbox / "deep.md").symlink_to(Path("sub") / "deep.md")      # inside, relative: read
    (inbox / "lost.md").symlink_to(inbox / "nowhere.md")         # dangling inside: skipped
    os.mkfifo(inbox / "pipe.txt")
    (inbox / "folder.md").mkdir()                                # silently skipped

    seen = scan(inbox)
    assert sorted(p.name for p in seen.documents) == ["deep.md", "report.md", "same.md"]
    reasons = {p.name: r for p, r in seen.refused.items()}
    assert sorted(reasons) == ["etc.txt", "gone.txt", "hop.txt", "null.txt", "out.txt",
                               "pipe.txt", "rel.md"]
    assert reasons["out.txt"] == f"it links to {secret.resolve()}, outside the watched folder"
    assert reasons["rel.md"] == reasons["hop.txt"] == reasons["out.txt"]
    assert reasons["etc.txt"] == "it links to /etc/passwd, outside the watched folder"
    assert reasons["pipe.txt"] == "it is a named pipe, not a regular file"
    assert documents(inbox) == seen.documents


def test_a_link_to_a_pipe_inside_is_refused_as_a_pipe(inbox):
    os.mkfifo(inbox / ".fifo")  # hidden: never a document itself
    (inbox / "talk.txt").symlink_to(inbox / ".fifo")
    assert scan(inbox).refused == {inbox / "talk.txt": "it is a named pipe, not a regular file"}


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_node_in_the_inbox_is_refused(inbox):
    os.mknod(inbox / "zero.txt", stat.S_IFCHR | 0o600, os.makedev(1, 5))
    assert scan(inbox).refused == {inbox / "zero.txt": "it is a character device, not a "
                                                       "regular file"}


def test_a_watched_folder_reached_through_a_link_still_reads_its_own_files(tmp_path, inbox):
    alias = tmp_path / "alias"
    alias.symlink_to(inbox)
    (inbox / "same.md").symlink_to(inbox / "report.md")
    seen = scan(alias)
    assert sorted(p.name for p in seen.documents) == ["report.md", "same.md"]
    assert seen.refused == {}


def test_each_refusal_is_warned_about_once_until_it_changes():
    a, b = Path("in/a.txt"), Path("in/b.md")
    refusals = Refusals()
    assert refusals.new({a: "it links to /etc/passwd, outside the watched folder"}) == [
        "in/a.txt: skipped: it links to /etc/passwd, outside the watched folder"]
    assert refusals.new({a: "it links to /etc/passwd, outside the watched folder"}) == []
    assert refusals.new({a: "it links to /etc/passwd, outside the watched folder",
                         b: "it is a named pipe, not a regular file"}) == [
        "in/b.md: skipped: it is a named pipe, not a regular file"]
    assert refusals.new({a: "it links to /etc/shadow, outside the watched folder"}) == [
        "in/a.txt: skipped: it links to /etc/shadow, outside the watched folder"]
    assert refusals.new({}) == []
    assert refusals.new({b: "it is a named pipe, not a regular file"}) == [  # put back
        "in/b.md: skipped: it is a named pipe, not a regular file"]


def test_the_watch_loop_reads_only_the_inbox_and_warns_once_per_file(inbox):
    """The real loop (watchfiles, a scan every 50 ms for a second): the document is handed on
    once, the link out and the pipe are never handed on (a reader would block on the pipe)
    and are warned about once each, however many scans see them."""
    (inbox / "x.txt").symlink_to("/etc/passwd")
    os.mkfifo(inbox / "pipe.md")
    handled: list[Path] = []
    warnings: list[str] = []
    stop = threading.Event()

    def handle(path: Path) -> bool:
        handled.append(path)
        return True

    loop = threading.Thread(target=watch_folder, args=(inbox, handle, stop),
                            kwargs={"settle": 0.0, "warn": warnings.append}, daemon=True)
    loop.start()
    deadline = time.monotonic() + 30
    while not handled and time.monotonic() < deadline:
        time.sleep(0.05)
    (inbox / "later.txt").symlink_to(inbox.parent / "secret.txt")  # a new one mid-watch
    time.sleep(1.0)
    stop.set()
    loop.join(timeout=10)
    assert not loop.is_alive()
    assert handled == [inbox / "report.md"]
    assert warnings == [
        f"{inbox / 'pipe.md'}: skipped: it is a named pipe, not a regular file",
        f"{inbox / 'x.txt'}: skipped: it links to /etc/passwd, outside the watched folder",
        f"{inbox / 'later.txt'}: skipped: it links to {(inbox.parent / 'secret.txt').resolve()}, "
        "outside the watched folder",
    ]


def test_the_watch_command_warns_about_a_link_out_and_never_narrates_it(tmp_path, inbox):
    """The installed command: ``ln -s /etc/passwd in/x.txt`` gives one warning line on stderr
    and no output; SIGTERM ends the watch with exit 0 and no traceback."""
    (inbox / "report.md").unlink()
    (inbox / "x.txt").symlink_to("/etc/passwd")
    out = tmp_path / "out"
    out.mkdir()
    log = tmp_path / "watch.log"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(
            [*cli_script(), "watch", str(inbox), "--out-dir", str(out), "--settle", "0",
             "--progress", "plain", "--work-dir", str(tmp_path / "work")],
            stdout=subprocess.DEVNULL, stderr=stderr, env={**os.environ, "NO_COLOR": "1"})
    try:
        deadline = time.monotonic() + 120
        while "warning:" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        time.sleep(1.0)  # several more scans: still one warning
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    warnings = [line for line in text.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {inbox / 'x.txt'}: skipped: it links to /etc/passwd, "
                        "outside the watched folder"], text
    assert "Traceback" not in text and "converting" not in text
    assert list(out.iterdir()) == []
