"""Putting outputs in place: a failed check leaves the earlier output as it was, and every file
of an output is renamed only when all were written. Real ffmpeg on a few seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kokoro_cli.output.encode import OutputReport, strict_qc, write_book
from kokoro_cli.output.formats import OutputOptions
from kokoro_cli.output.loudness import QCError
from kokoro_cli.output.metadata import BookMeta
from kokoro_cli.output.plan import ChapterAudio, output_paths
from kokoro_cli.output.staging import staged
from test_mux import SR, needs_ffmpeg

META = BookMeta(title="Staged")


def tone_book(folder: Path, levels: tuple[float, ...], seconds: float = 4.0) -> list[ChapterAudio]:
    """One chapter of speech-like bursts per level (amplitude), 16-bit at 24 kHz."""
    t = np.arange(round(seconds * SR)) / SR
    bursts = ((t % 0.5) < 0.32) * np.sin(2 * np.pi * 220 * t)
    book = []
    for i, level in enumerate(levels, 1):
        path = folder / f"c{i}.wav"
        sf.write(path, (level * bursts).astype(np.float32), SR, subtype="PCM_16")
        book.append(ChapterAudio(f"Chapter {i}", path, t.size))
    return book


def temps_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name)


# --- the check runs before anything is replaced (--qc strict) ---------------------------------


@needs_ffmpeg
@pytest.mark.parametrize("split", [False, True])
def test_a_failed_strict_check_leaves_the_old_output_byte_identical(
    tmp_path: Path, split: bool
) -> None:
    """Two chapters 20 dB apart: one gain cannot bring both within the preset's ±2 LU."""
    book = tone_book(tmp_path, (0.01, 0.1))
    folder = tmp_path / "out"
    folder.mkdir()
    options = OutputOptions(format="flac", split_chapters=split)
    out = folder if split else folder / "book.flac"
    paths = output_paths(book, out, META, options)
    for path in paths:
        path.write_bytes(b"the earlier output of " + path.name.encode())
    seen: list[OutputReport] = []

    def check(report: OutputReport) -> None:
        seen.append(report)
        strict_qc(report)

    with pytest.raises(QCError, match="out of the audiobook spec: .*chapter 1"):
        write_book(book, out, META, options, check=check)
    assert [r.files for r in seen] == [tuple(paths)]  # the final names, not the temp names
    for path in paths:
        assert path.read_bytes() == b"the earlier output of " + path.name.encode()
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in paths)


@needs_ffmpeg
def test_a_passing_check_sees_the_report_and_the_output_is_replaced(tmp_path: Path) -> None:
    book = tone_book(tmp_path, (0.05, 0.05))
    out = tmp_path / "book.m4b"
    out.write_bytes(b"earlier")
    seen: list[OutputReport] = []
    report = write_book(book, out, META, OutputOptions(), check=seen.append)
    assert seen == [report] and report.qc is not None and report.qc.passed
    assert out.read_bytes()[4:8] == b"ftyp" and oct(out.stat().st_mode & 0o777) == "0o644"
    assert temps_in(tmp_path) == []


# --- the pieces -------------------------------------------------------------------------------


def test_staged_renames_all_or_nothing(tmp_path: Path) -> None:
    paths = [tmp_path / "one.flac", tmp_path / "two.flac"]
    paths[0].write_bytes(b"old one")
    with pytest.raises(RuntimeError):
        with staged(paths) as temps:
            assert [t.suffix for t in temps] == [".flac", ".flac"]
            for temp in temps:
                temp.write_bytes(b"new")
            raise RuntimeError("the second file failed")
    assert paths[0].read_bytes() == b"old one" and not paths[1].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.flac"]
    with staged(paths) as temps:
        for temp in temps:
            temp.write_bytes(b"new")
    assert [p.read_bytes() for p in paths] == [b"new", b"new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.flac", "two.flac"]
