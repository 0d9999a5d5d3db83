"""convert's output options end to end: formats, chapters, streaming, splitting, loudness QC."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DOC = "# First\n\nThe keeper climbed the stairs.\n\n# Second\n\nThe lamp turned all night.\n"


def _kokoro(*args: str, **kwargs) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("kokoro-cli")
    return subprocess.run([str(exe), *args], capture_output=True, timeout=600, **kwargs)


@pytest.fixture()
def doc(tmp_path) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(DOC)
    return path


@pytest.mark.slow
def test_mp3_has_id3_chapters_and_meets_the_loudness_preset(resolver, doc, tmp_path):
    from mutagen.id3 import ID3

    from kokoro_cli.output import measure_file

    out, qc = tmp_path / "doc.mp3", tmp_path / "qc.json"
    proc = _kokoro("convert", str(doc), "-o", str(out), "--work-dir", str(tmp_path / "w"),
                   "--qc", "strict", "--qc-json", str(qc), text=True)
    assert proc.returncode == 0, proc.stderr
    assert "loudness QC (audiobook" in proc.stderr and "passed" in proc.stderr
    chapters = sorted(ID3(out).getall("CHAP"), key=lambda f: f.start_time)
    assert [f.sub_frames["TIT2"].text[0] for f in chapters] == ["First", "Second"]
    assert chapters[0].start_time == 0 and chapters[0].end_time == chapters[1].start_time
    report = json.loads(qc.read_text())
    assert report["passed"] and report["preset"] == "audiobook"
    assert abs(measure_file(out).book.integrated_lufs - (-18.0)) <= 1.0


@pytest.mark.slow
def test_stdout_stream_and_split_chapters(resolver, doc, tmp_path):
    work = str(tmp_path / "w")
    piped = _kokoro("convert", str(doc), "-o", "-", "--work-dir", work, "--quiet")
    assert piped.returncode == 0 and piped.stdout[:4] == b"RIFF"
    assert _kokoro("convert", str(doc), "-o", "-", "--format", "m4b", "--work-dir", work).returncode == 2
    folder = tmp_path / "split"
    split = _kokoro("convert", str(doc), "-o", str(folder), "--split-chapters", "--format",
                    "flac", "--work-dir", work, "--progress", "none", text=True)
    assert split.returncode == 0, split.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["01 - First.flac", "02 - Second.flac"]
    assert "0 synthesized" in _kokoro("convert", str(doc), "-o", str(tmp_path / "d.opus"),
                                      "--work-dir", work, text=True).stderr  # re-mux only


def test_output_flags_are_checked_before_any_work(doc, tmp_path):
    for args, message in ((["-o", str(tmp_path / "x.mp3"), "--format", "flac"], "does not end in .flac"),
                          (["--loudness", "loud"], "loudness 'loud'"),
                          (["--format", "mp3", "--bitrate", "fast"], "bit rate"),
                          (["--cover", str(doc)], "not a JPEG or PNG")):
        proc = _kokoro("convert", str(doc), *args, text=True)
        assert proc.returncode in (2, 3) and message in proc.stderr, (args, proc.stderr)
