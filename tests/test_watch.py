"""``watch``: when a file counts as settled (a table on a fake clock), which files are
documents, and the real command in a subprocess: drop a file, edit it, stop it with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import feedparser
import pytest
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_cli.watching import Settler, Signature, documents
from tests.conftest import cli_script

runner = CliRunner()
A, B = Path("a.md"), Path("b.md")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_file_is_ready_once_it_stopped_changing_for_the_settle_time():
    clock = Clock()
    settler = Settler(2.0, clock)
    assert settler.ready({A: Signature(10, 1)}) == []  # first seen
    clock.now = 1.0
    assert settler.ready({A: Signature(20, 2)}) == []  # still being written
    clock.now = 2.5
    assert settler.ready({A: Signature(20, 2)}) == []  # same for 1.5 s only
    clock.now = 3.0
    assert settler.ready({A: Signature(20, 2)}) == [A]
    settler.done(A, Signature(20, 2))
    clock.now = 10.0
    assert settler.ready({A: Signature(20, 2)}) == []  # handled, unchanged
    assert settler.ready({A: Signature(30, 3), B: Signature(1, 1)}) == []
    clock.now = 12.0
    assert settler.ready({A: Signature(30, 3), B: Signature(1, 1)}) == [A, B]


def test_a_deleted_file_put_back_is_new_again():
    clock = Clock()
    settler = Settler(0.0, clock)
    settler.ready({A: Signature(1, 1)})
    settler.done(A, Signature(1, 1))
    assert settler.ready({}) == []
    settler.ready({A: Signature(1, 1)})
    assert settler.ready({A: Signature(1, 1)}) == [A]


def test_documents_are_the_readable_kinds_without_temporary_files(tmp_path):
    for name in ("report.md", "notes.txt", "book.epub", "audio.mp3", ".hidden.md", "draft.md~",
                 "report.md.swp", "noext"):
        (tmp_path / name).write_text("x")
    (tmp_path / "folder.md").mkdir()
    assert sorted(p.name for p in documents(tmp_path)) == ["book.epub", "notes.txt", "report.md"]


def test_watch_needs_folders_and_keep_goes_with_feed(tmp_path):
    done = runner.invoke(app, ["watch", str(tmp_path / "missing"), "--out-dir", str(tmp_path)])
    assert done.exit_code == 2
    done = runner.invoke(app, ["watch", str(tmp_path), "--out-dir", str(tmp_path), "--keep", "3"])
    assert done.exit_code == 2 and "--feed" in done.output


def _start(log: Path, *args: str) -> subprocess.Popen:
    """The installed command with ``args``, its stderr going to ``log``, no colours."""
    with open(log, "w") as stderr:
        return subprocess.Popen([*cli_script(), *args], stdout=subprocess.DEVNULL, stderr=stderr,
                                env={**os.environ, "NO_COLOR": "1"})


def _wait_for(predicate, what: str, proc: subprocess.Popen, log: Path, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"watch exited {proc.returncode} before {what}:\n{log.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()}")


def _summaries(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if " pieces: " in line]


@pytest.mark.slow
def test_watch_narrates_new_and_edited_files_and_stops_cleanly_on_sigterm(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    out.mkdir()
    assert runner.invoke(app, ["feed", str(out), "--base-url", "https://host/a/",
                               "--work-dir", str(tmp_path / "work")]).exit_code == 0
    log = tmp_path / "watch.log"
    proc = _start(log, "watch", str(inbox), "--out-dir", str(out), "--feed", "--settle", "0.3",
                  "--format", "mp3", "--progress", "plain", "--work-dir", str(tmp_path / "work"),
                  "--backend", "onnx")
    try:
        report = inbox / "report.md"
        report.write_text("# Report\n\nThe build is green.\n")
        _wait_for(lambda: len(_summaries(log)) == 1 and (out / "Report.mp3").exists(),
                  "the first conversion", proc, log)
        assert "2 synthesized, 0 reused" in _summaries(log)[0]
        _wait_for(lambda: "feed " in log.read_text(), "the feed update", proc, log)
        assert len(feedparser.parse((out / "feed.xml").read_bytes()).entries) == 1

        report.write_text("# Report\n\nThe build is green.\n\nOne test was slow today.\n")
        _wait_for(lambda: len(_summaries(log)) == 2, "the re-render", proc, log)
        assert "1 synthesized, 2 reused" in _summaries(log)[1]

        report.write_text("# Report\n\nThe build is red.\n\nOne test was slow today.\n")
        _wait_for(lambda: log.read_text().count("report.md: converting") == 3,
                  "the third conversion to start", proc, log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert log.read_text().rstrip().endswith("stopped")
    assert "Traceback" not in log.read_text()
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert leftovers in ([], [".kokoro-feed.json"])  # no half-written temporary files
    from kokoro_cli.output import probe_format

    assert float(probe_format(out / "Report.mp3")["duration"]) > 1.0


@pytest.mark.slow
def test_watch_lang_reads_a_text_file_in_that_language(tmp_path):
    """``watch --lang fr``, for real: a plain text file (no language of its own) is read as
    French: the French default voice, the French normalizer ("21" as "vingt et un") and G2P,
    and the output's audio is tagged French."""
    import dataclasses

    from engine import VoiceG2P, token_count
    from kokoro_cli.jobs.cache import ChunkCache
    from kokoro_cli.jobs.job import list_jobs
    from kokoro_cli.jobs.manifest import Manifest
    from kokoro_cli.output import probe_format, probe_streams
    from preprocess import Normalizer, parse_text, plan

    inbox, out, work = tmp_path / "in", tmp_path / "out", tmp_path / "work"
    inbox.mkdir()
    out.mkdir()
    log = tmp_path / "watch.log"
    proc = _start(log, "watch", str(inbox), "--out-dir", str(out), "--lang", "fr", "--settle",
                  "0.3", "--format", "m4b", "--progress", "plain", "--work-dir", str(work))
    try:
        text = "Il a 21 ans."
        (inbox / "note.txt").write_text(text + "\n", "utf-8")
        _wait_for(lambda: _summaries(log) and (out / "note.m4b").exists(), "the conversion",
                  proc, log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in log.read_text() and "warning" not in log.read_text()
    audio = [s for s in probe_streams(out / "note.m4b") if s["codec_type"] == "audio"]
    assert audio[0]["tags"]["language"] in ("fra", "fre")
    assert probe_format(out / "note.m4b")["tags"]["composer"] == "ff_siwis"

    job, = list_jobs(work)
    identity = Manifest.from_json((job.path / "manifest.json").read_bytes()).identity
    assert (identity.language, identity.voice) == ("f", "ff_siwis")  # Kokoro's code for French
    assert Normalizer(language="fr")(text) == "Il a vingt et un ans."
    french = dataclasses.replace(parse_text(text, name="note"), language="fr")
    piece, = [c for p in plan(french, VoiceG2P("f"), token_count) for c in p.chunks]
    assert piece.text == "Il a vingt et un ans."
    # the piece the watch synthesized is this French reading, by the French voice
    assert ChunkCache.key(identity.model_sha256, "ff_siwis", 1.0, piece.phonemes) \
        in ChunkCache(work / "chunks")


@pytest.mark.slow
def test_watch_loads_the_model_once_and_keeps_same_title_documents_apart(tmp_path):
    inbox, out, log = tmp_path / "in", tmp_path / "out", tmp_path / "detail.log"
    inbox.mkdir()
    out.mkdir()
    stderr_log = tmp_path / "watch.log"
    proc = _start(stderr_log, "--log-file", str(log), "watch", str(inbox), "--out-dir", str(out),
                  "--settle", "0.3", "--format", "wav", "--qc", "off", "--progress", "plain",
                  "--work-dir", str(tmp_path / "work"))
    try:
        for n, (name, title) in enumerate((("a", "Report"), ("b", "Report"), ("c", "Notes")), 1):
            (inbox / f"{name}.md").write_text(f"---\ntitle: {title}\n---\n\nDocument {name}.\n")
            _wait_for(lambda: len(_summaries(stderr_log)) == n, f"document {name}", proc,
                      stderr_log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, stderr_log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sorted(p.name for p in out.iterdir()) == ["Notes.wav", "Report (2).wav", "Report.wav"]
    assert log.read_text().count("loading the model") == 1, log.read_text()


@pytest.mark.slow
def test_watch_verify_strict_publishes_only_the_episodes_that_pass(tmp_path):
    """``watch --feed --verify strict``: a document whose piece the model cannot say fails the
    listening check; it is reported, kept out of the feed, and the watch goes on."""
    pytest.importorskip("faster_whisper", reason="pip install 'kokoro-audiobook[verify]'")
    inbox, out, log = tmp_path / "in", tmp_path / "out", tmp_path / "watch.log"
    inbox.mkdir()
    out.mkdir()
    assert runner.invoke(app, ["feed", str(out), "--base-url", "https://host/a/",
                               "--work-dir", str(tmp_path / "work")]).exit_code == 0
    proc = _start(log, "watch", str(inbox), "--out-dir", str(out), "--feed", "--settle", "0.3",
                  "--format", "mp3", "--progress", "plain", "--work-dir", str(tmp_path / "work"),
                  "--verify", "strict", "--verify-tries", "1", "--loudness", "off")
    try:
        (inbox / "bad.md").write_text("# Bad\n\nZorvath klimpt quexalor brindisk vumtrax plorrk "
                                     "snevvit.\n")
        _wait_for(lambda: "still fail the listening check" in log.read_text(),
                  "the failing document", proc, log)
        (inbox / "good.md").write_text("# Good\n\nThe harbour was quiet this morning.\n")
        _wait_for(lambda: "feed " in log.read_text(), "the passing document's episode", proc,
                  log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in log.read_text()
    entries = feedparser.parse((out / "feed.xml").read_bytes()).entries
    assert [e.title for e in entries] == ["Good"]
    assert not (out / "Bad.mp3").exists()
