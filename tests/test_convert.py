"""Each sample becomes an M4B whose chapters (read back with ffprobe) are the document's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contextlib import nullcontext

from engine import Engine
from kokoro_cli.output import probe_chapters, probe_format
from kokoro_cli.jobs.render import Progress, RenderOptions
from kokoro_cli.jobs.run import ConvertRequest, run_convert
from preprocess import parse_file
from tests.conftest import SAMPLES

EXPECTED = {
    "report.md": ("Weekly Engineering Report", ["Summary", "Release Notes", "Next Steps"]),
    "lighthouse.epub": ("The Lighthouse Keeper's Daughter", ["The Storm", "The Signal", "Morning"]),
    "story.txt": ("The Clockmaker of Vell", ["Chapter I. The Silent Tower",
                                             "Chapter II. The Apprentice",
                                             "Chapter III. The First Hour"]),
}


def _check_chapters(m4b: Path, titles: list[str]) -> None:
    chapters = probe_chapters(m4b)
    duration = float(probe_format(m4b)["duration"])
    assert [c["tags"]["title"] for c in chapters] == titles
    assert float(chapters[0]["start_time"]) == 0.0
    for before, after in zip(chapters, chapters[1:]):
        assert abs(float(before["end_time"]) - float(after["start_time"])) < 0.05
    assert abs(float(chapters[-1]["end_time"]) - duration) < 0.1
    # a minute or two of narration per sample, give or take
    assert 30 < duration < 240


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lighthouse.epub", "story.txt"])
def test_sample_converts_to_m4b_with_its_chapters(name, resolver, tmp_path):
    title, titles = EXPECTED[name]
    document = parse_file(SAMPLES / name)
    out = tmp_path / "out" / "book.m4b"
    out.parent.mkdir()
    request = ConvertRequest(document, document, out, RenderOptions(voice="af_heart"),
                             work_root=tmp_path / "work")
    result = run_convert(request, Engine(resolver), lambda: nullcontext(Progress()))
    _check_chapters(result.output, titles)
    tags = probe_format(result.output)["tags"]
    assert tags["title"] == title
    assert result.real_time_factor > 0  # measured; speed figures are bench/speed.py's
    assert [p.name for p in out.parent.iterdir()] == ["book.m4b"]  # no temporary files left


@pytest.mark.slow
def test_installed_script_converts_the_markdown_sample(resolver, tmp_path):
    exe = Path(sys.executable).with_name("kokoro-cli")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "kokoro_cli"]
    out = tmp_path / "report.m4b"
    proc = subprocess.run(cmd + ["convert", str(SAMPLES / "report.md"), "-o", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    assert "\x1b[" not in proc.stderr  # not a terminal: plain lines, no bars or colour
    title, titles = EXPECTED["report.md"]
    _check_chapters(out, titles)
    tags = probe_format(out)["tags"]
    assert (tags["title"], tags["artist"]) == (title, "Platform Team")
