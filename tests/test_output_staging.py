"""Putting outputs in place: a failed check leaves the earlier output as it was, every file of
an output is renamed only when all were written, and the temp files of a killed run are cleared
by the next write to the same paths (and nothing else is). Real ffmpeg on a few seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kokoro_cli.output.encode import OutputReport, strict_qc, write_book
from kokoro_cli.output.formats import OutputOptions
from kokoro_cli.output.loudness import QCError
from kokoro_cli.output.metadata import BookMeta
from kokoro_cli.output.plan import ChapterAudio, output_paths
from kokoro_cli.output.staging import remove_stale_temps, staged, temp_pattern
from test_mux import SR, needs_ffmpeg

META = BookMeta(title="Staged")
REPO = Path(__file__).resolve().parents[1]


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


# --- what a killed run leaves -----------------------------------------------------------------

KILLED_WRITE = """
import os, signal, sys
from pathlib import Path
from kokoro_cli.output.encode import write_book
from kokoro_cli.output.formats import OutputOptions
from kokoro_cli.output.metadata import BookMeta
from kokoro_cli.output.plan import ChapterAudio

def killed(report):  # every file is written, none renamed yet: the worst moment to die
    os.kill(os.getpid(), signal.SIGKILL)

chapters = [ChapterAudio(f"Chapter {i}", Path(p), int(n))
            for i, (p, n) in enumerate(zip(sys.argv[3::2], sys.argv[4::2]), 1)]
options = OutputOptions(loudness="off", split_chapters=sys.argv[2] == "split")
write_book(chapters, Path(sys.argv[1]), BookMeta(title="Staged"), options, check=killed)
"""


def kill_a_write(out: Path, book: list[ChapterAudio], split: bool) -> None:
    args = [a for c in book for a in (str(c.path), str(c.samples))]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(out), "split" if split else "one",
                           *args], env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == -9, done.stderr


@needs_ffmpeg
@pytest.mark.parametrize("split", [False, True])
def test_temp_files_of_a_killed_write_are_removed_by_the_next(tmp_path: Path, split: bool) -> None:
    book = tone_book(tmp_path, (0.05, 0.05), seconds=1.0)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder if split else folder / "book.m4b"
    kill_a_write(out, book, split)
    paths = output_paths(book, out, META, OutputOptions(split_chapters=split))
    left = temps_in(folder)
    assert len(left) == len(paths)  # the killed run could not clean up
    assert all(any(temp_pattern(p).fullmatch(name) for p in paths) for name in left)
    others = [".other.m4b.abcdefgh.part.m4b", ".book.m4b.abcdefgh.part.m4b.keep", "book.m4b.part",
              ".book.m4b.abc.part.m4b", "01 - Chapter 1.m4b.part-0a1b2c3d.m4b"]  # fmt: skip
    for name in others:
        (folder / name).write_bytes(b"not ours")
    report = write_book(book, out, META, OutputOptions(loudness="off", split_chapters=split))
    assert list(report.files) == paths
    assert sorted(p.name for p in folder.iterdir()) == sorted([*others, *(p.name for p in paths)])


# --- the pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        (".book.m4b.k2j4_x9a.part.m4b", True),  # kokoro_common.atomic's name
        (".book.m4b.part-0a1b2c3d.m4b", True),  # the name earlier versions gave
        (".book.m4b.K2J4X9AB.part.m4b", False),
        (".book.m4b.k2j4x9a.part.m4b", False),  # seven characters
        (".book.m4b.k2j4_x9a.part.mp3", False),
        (".book.m4b.part-0a1b2c3d.m4b.x", False),
        (".book.m4b.part-0a1b2c3z.m4b", False),
        ("book.m4b.k2j4_x9a.part.m4b", False),
        (".xbook.m4b.k2j4_x9a.part.m4b", False),
        (".book.m4b", False),
        ("book.m4b", False),
    ],
)
def test_temp_pattern(name: str, ours: bool) -> None:
    assert bool(temp_pattern(Path("/books/book.m4b")).fullmatch(name)) is ours


def test_temp_pattern_escapes_the_name() -> None:
    pattern = temp_pattern(Path("A (Part 1) [x].m4b"))
    assert pattern.fullmatch(".A (Part 1) [x].m4b.abcdefgh.part.m4b")
    assert not pattern.fullmatch(".A (Part 1) x.m4b.abcdefgh.part.m4b")


def test_remove_stale_temps_only_for_the_given_paths(tmp_path: Path) -> None:
    names = [".a.mp3.abcdefgh.part.mp3", ".b.mp3.abcdefgh.part.mp3", ".a.mp3.part-01234567.mp3"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / ".a.mp3.zzzzzzzz.part.mp3").mkdir()  # not a file: never ours
    removed = remove_stale_temps([tmp_path / "a.mp3", tmp_path / "missing" / "c.mp3"])
    assert sorted(p.name for p in removed) == [".a.mp3.abcdefgh.part.mp3", ".a.mp3.part-01234567.mp3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.mp3.zzzzzzzz.part.mp3",
                                                          ".b.mp3.abcdefgh.part.mp3"]


def test_staged_renames_all_or_nothing(tmp_path: Path) -> None:
    paths = [tmp_path / "one.flac", tmp_path / "two.flac"]
    paths[0].write_bytes(b"old one")
    with pytest.raises(RuntimeError):
        with staged(paths) as temps:
            assert [t.suffix for t in temps] == [".flac", ".flac"]
            assert all(temp_pattern(p).fullmatch(t.name) for p, t in zip(paths, temps))
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
