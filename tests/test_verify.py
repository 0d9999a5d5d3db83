"""convert --verify end to end: the real model, the real Whisper base (from its PyPI wheels),
real ffmpeg, one short chapter. A clean chapter passes; pieces whose cached audio is replaced
by silence, by another piece's audio, or cut in half are caught, rendered again and pass; a
piece the model cannot say is reported, and --verify strict exits 7 keeping the earlier output
and publishing nothing with --feed.

The runs go through CliRunner in this process, so Whisper loads once for the module."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_cli.errors import ExitCode
from kokoro_cli.jobs.cache import ChunkCache

pytest.importorskip("faster_whisper", reason="pip install 'kokoro-audiobook[verify]'")

PARAGRAPHS = ("The harbour was quiet in the early morning light.",
              "Three ships waited at the pier for the tide to turn.",
              "Nobody on the quay said a word about the weather.")
ADDED = "The gulls cried over the water all day long."
UNSAYABLE = "Zorvath klimpt quexalor brindisk vumtrax plorrk snevvit."
runner = CliRunner()


FEED = {"KOKORO_CLI_FEED_BASE_URL": "https://example.org/audio/"}  # for --feed


def _convert(folder: Path, *extra: str):
    return runner.invoke(app, ["convert", str(folder / "book.md"), "-o", str(folder / "out.wav"),
                               "--work-dir", str(folder / "work"), "--qc-json",
                               str(folder / "qc.json"), "--loudness", "off", "--quiet",
                               *extra], env=FEED)


def _verification(folder: Path) -> dict:
    return json.loads((folder / "qc.json").read_text("utf-8"))["verification"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory, resolver) -> Path:
    """A chapter converted with --verify: its folder (book, output, work area, QC JSON)."""
    folder = tmp_path_factory.mktemp("verify-clean")
    (folder / "book.md").write_text("# Harbour\n\n" + "\n\n".join(PARAGRAPHS) + "\n", "utf-8")
    result = _convert(folder, "--verify")
    assert result.exit_code == 0, result.output
    return folder


def _copy(clean: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(clean, folder)
    return folder


def test_a_clean_chapter_passes(clean):
    report = _verification(clean)
    assert report["passed"] and report["pieces_failing"] == 0
    chapter, = report["chapters"]
    assert chapter["checked"] == len(PARAGRAPHS) + 1  # the heading is a piece too
    assert chapter["worst"] <= 0.34 and chapter["rerendered"] == 0


def test_damaged_pieces_are_caught_rendered_again_and_pass(clean, tmp_path):
    folder = _copy(clean, tmp_path)
    cache = ChunkCache(folder / "work" / "chunks")
    # Made in reading order by one process: the heading, then the three paragraphs.
    entries = sorted((folder / "work" / "chunks").rglob("*.s16"),
                     key=lambda p: p.stat().st_mtime_ns)
    heading, first, second, third = (p.stem for p in entries)
    audio = {key: cache.get(key) for key in (first, second, third)}
    cache.put(first, np.zeros_like(audio[first]))  # silence
    cache.put(second, audio[third])  # another piece's audio
    cache.put(third, audio[third][: audio[third].size // 2])  # cut in half
    heading_check = next(cache.sidecar(heading, "").parent.glob(f"{heading}.v*.json"))
    heard_at = heading_check.stat().st_mtime_ns
    book = folder / "book.md"
    book.write_text(book.read_text("utf-8") + f"\n{ADDED}\n", "utf-8")  # the chapter changed

    result = _convert(folder, "--verify", "--feed")

    assert result.exit_code == 0, result.output
    assert (folder / "feed.xml").is_file()  # a passing episode is published
    report = _verification(folder)
    chapter, = report["chapters"]
    assert report["passed"] and chapter["checked"] == len(PARAGRAPHS) + 2
    assert chapter["rerendered"] == 3
    # Each damaged entry now holds a good take; the heading's audio was heard before and kept.
    for key in (first, second, third):
        assert cache.get(key).size > 0.7 * audio[key].size
    assert heading_check.stat().st_mtime_ns == heard_at


def test_a_piece_that_cannot_pass_fails_strict_and_keeps_the_output(clean, tmp_path):
    folder = _copy(clean, tmp_path)
    before = (folder / "out.wav").read_bytes()
    book = folder / "book.md"
    book.write_text(book.read_text("utf-8") + f"\n{UNSAYABLE}\n", "utf-8")

    result = _convert(folder, "--verify", "strict", "--verify-tries", "1", "--feed")

    assert result.exit_code == ExitCode.VERIFY == 7
    assert "still fail the listening check" in result.output
    assert (folder / "out.wav").read_bytes() == before  # the earlier output stays
    assert not (folder / "feed.xml").exists()  # and nothing is published
    report = _verification(folder)
    failing, = report["chapters"][0]["failing"]
    assert failing["text"] == UNSAYABLE and failing["score"] > 0.34 and failing["at_s"] > 5
    assert not report["passed"] and report["mode"] == "strict"
    key = next((folder / "work" / "jobs").iterdir()).name
    shown = runner.invoke(app, ["jobs", "show", key, "--work-dir", str(folder / "work")])
    assert shown.exit_code == 0 and "1 FAILING" in shown.output and "Zorvath" in shown.output
