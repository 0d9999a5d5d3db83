"""The FFMETADATA builder as literal text, and the real ffmpeg on a few seconds of audio."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kokoro_cli.output import ffmpeg as ffmpeg_mod
from kokoro_cli.output.encode import write_m4b
from kokoro_cli.output.ffmpeg import (
    FfmpegError,
    find_ffmpeg,
    probe_chapters,
    probe_format,
    probe_streams,
    run_ffmpeg,
)
from kokoro_cli.output.metadata import (
    BookMeta,
    ChapterMark,
    concat_list,
    escape_ffmetadata,
    ffmetadata,
    parse_ffmetadata,
    samples_to_ms,
)
from kokoro_cli.output.plan import ChapterAudio, chapter_marks

SR = 24000

# --- pure builders ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain title", "plain title"),
        ("a=b", "a\\=b"),
        ("a;b", "a\\;b"),
        ("#1", "\\#1"),
        ("back\\slash", "back\\\\slash"),
        ("one\ntwo", "one\\\ntwo"),
        ("one\r\ntwo", "one\\\ntwo"),
        ("one\rtwo", "one\\\ntwo"),
        ("trailing\\", "trailing"),
        ("nul\0byte", "nulbyte"),
        ("say \"hi\" 'there'", "say \"hi\" 'there'"),
        ("日本語", "日本語"),
        ("Ελληνικά", "Ελληνικά"),
        ("[CHAPTER]", "[CHAPTER]"),
    ],
)
def test_escape_ffmetadata(raw: str, escaped: str) -> None:
    assert escape_ffmetadata(raw) == escaped


@pytest.mark.parametrize(
    ("samples", "ms"),
    [(0, 0), (11, 0), (12, 1), (24000, 1000), (23988, 1000), (36000, 1500), (100800, 4200)],
)
def test_samples_to_ms_rounds_half_up(samples: int, ms: int) -> None:
    assert samples_to_ms(samples, SR) == ms


def test_chapter_marks_are_cumulative() -> None:
    lengths = [("a", 24000), ("b", 60000), ("c", 16800)]
    audio = [ChapterAudio(t, Path(f"{t}.wav"), n) for t, n in lengths]
    assert chapter_marks(audio) == [
        ChapterMark("a", 0, 24000),
        ChapterMark("b", 24000, 84000),
        ChapterMark("c", 84000, 100800),
    ]
    assert chapter_marks([]) == []


@pytest.mark.parametrize(("start", "end"), [(-1, 0), (10, 9)])
def test_chapter_mark_rejects_bad_ranges(start: int, end: int) -> None:
    with pytest.raises(ValueError):
        ChapterMark("x", start, end)


HOSTILE_META = BookMeta(
    title='A "Tale" = of; #2 \\ Cities',
    authors=("Ann = B", "Cé; D"),
    narrator="af_heart",
    year="2024",
    language="en-us",
)
HOSTILE_MARKS = [
    ChapterMark('Ch 1: "Hello" \'you\'', 0, 24000),
    ChapterMark("a=b;c#d\\e", 24000, 84000),
    ChapterMark("日本語\nΕλληνικά", 84000, 100812),
]
HOSTILE_TEXT = """\
;FFMETADATA1
title=A "Tale" \\= of\\; \\#2 \\\\ Cities
album=A "Tale" \\= of\\; \\#2 \\\\ Cities
artist=Ann \\= B, Cé\\; D
album_artist=Ann \\= B, Cé\\; D
composer=af_heart
genre=Audiobook
date=2024
language=en-us
[CHAPTER]
TIMEBASE=1/1000
START=0
END=1000
title=Ch 1: "Hello" 'you'
[CHAPTER]
TIMEBASE=1/1000
START=1000
END=3500
title=a\\=b\\;c\\#d\\\\e
[CHAPTER]
TIMEBASE=1/1000
START=3500
END=4201
title=日本語\\
Ελληνικά
"""


def test_ffmetadata_literal_text() -> None:
    assert ffmetadata(HOSTILE_META, HOSTILE_MARKS, sample_rate=SR) == HOSTILE_TEXT


def test_ffmetadata_minimal_book_has_no_empty_tags() -> None:
    text = ffmetadata(BookMeta(title="T"), [ChapterMark("", 0, 12000)], sample_rate=SR)
    assert text == (
        ";FFMETADATA1\ntitle=T\nalbum=T\ngenre=Audiobook\n"
        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=500\ntitle=\n"
    )


def test_parse_ffmetadata_inverts_the_builder() -> None:
    tags, chapters = parse_ffmetadata(HOSTILE_TEXT)
    assert tags["title"] == HOSTILE_META.title
    assert tags["artist"] == "Ann = B, Cé; D"
    assert [c["title"] for c in chapters] == [m.title for m in HOSTILE_MARKS]
    spans = [(c["START"], c["END"]) for c in chapters]
    assert spans == [("0", "1000"), ("1000", "3500"), ("3500", "4201")]


def test_parse_ffmetadata_skips_comments_and_other_sections() -> None:
    text = ";FFMETADATA1\n# note\na=1\n[STREAM]\nb=2\n[CHAPTER]\nSTART=0\n\n;x\ntitle=\\;y\n"
    assert parse_ffmetadata(text) == ({"a": "1"}, [{"START": "0", "title": ";y"}])


def test_concat_list_quotes_paths() -> None:
    text = concat_list([Path("/books/it's here/ch 1.wav"), Path("/b/[x] \\ y.wav")])
    assert text == (
        "ffconcat version 1.0\n"
        "file '/books/it'\\''s here/ch 1.wav'\n"
        "file '/b/[x] \\ y.wav'\n"
    )


def test_book_meta_validates_cover() -> None:
    with pytest.raises(ValueError, match="unsupported image type"):
        BookMeta(title="T", cover=b"not an image", cover_type="text/plain")
    assert BookMeta(title="T", cover=tiny_png(), cover_type="image/jpeg").cover_mime == "image/png"
    with pytest.raises(ValueError, match="tuple"):
        BookMeta(title="T", authors="Ann")  # type: ignore[arg-type]


# --- real ffmpeg ------------------------------------------------------------------------------


def tiny_png(width: int = 4, height: int = 4) -> bytes:
    """A solid-colour RGB PNG, built by hand so the test needs no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xc0\x40\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def have_ffmpeg() -> bool:
    try:
        find_ffmpeg()
    except FfmpegError:
        return False
    return True


needs_ffmpeg = pytest.mark.skipif(not have_ffmpeg(), reason="no ffmpeg")

LENGTHS = (1.0, 2.5, 0.7)
TITLES = ('Ch 1: "Quotes" = \'x\'; #1', "Back\\slash\nnew line", "日本語 — Ελληνικά")


def make_chapters(folder: Path) -> list[ChapterAudio]:
    """Three WAVs (tone, silence, tone) at 24 kHz; the second has a hostile file name."""
    chapters = []
    names = ("one.wav", "it's [two] \\ 2.wav", "three.wav")
    for i, (seconds, title, name) in enumerate(zip(LENGTHS, TITLES, names)):
        n = round(seconds * SR)
        tone = 0.2 * np.sin(2 * np.pi * 330 * (i + 1) * np.arange(n) / SR)
        audio = np.zeros(n) if i == 1 else tone
        sf.write(folder / name, audio.astype(np.float32), SR, subtype="FLOAT")
        chapters.append(ChapterAudio(title, folder / name, n))
    return chapters


META = BookMeta(
    title='The "M4B" = Test; #1',
    authors=("Ann Author", "Bo Writer"),
    narrator="af_heart",
    year="2025",
    language="en",
    cover=tiny_png(),
    cover_type="image/png",
)


@pytest.fixture(scope="module")
def m4b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mux")
    out = folder / "out" / "book.m4b"
    assert write_m4b(make_chapters(folder), out, META) == out
    return out


@needs_ffmpeg
def test_m4b_chapters_match_the_wav_boundaries(m4b: Path) -> None:
    chapters = probe_chapters(m4b)
    assert [c["tags"]["title"] for c in chapters] == list(TITLES)
    boundaries = np.cumsum((0.0, *LENGTHS))
    for chapter, start, end in zip(chapters, boundaries, boundaries[1:]):
        assert abs(float(chapter["start_time"]) - start) < 0.05
        assert abs(float(chapter["end_time"]) - end) < 0.05
    duration = float(probe_format(m4b)["duration"])
    assert abs(duration - sum(LENGTHS)) < 0.05
    assert abs(float(chapters[-1]["end_time"]) - duration) < 0.05


@needs_ffmpeg
def test_m4b_tags_streams_and_cover(m4b: Path) -> None:
    tags = probe_format(m4b)["tags"]
    assert tags["title"] == META.title
    assert tags["album"] == META.title
    assert tags["artist"] == "Ann Author, Bo Writer"
    assert tags["album_artist"] == "Ann Author, Bo Writer"
    assert tags["composer"] == "af_heart"
    assert tags["genre"] == "Audiobook"
    assert tags["date"] == "2025"
    assert tags["media_type"] == "2"
    streams = probe_streams(m4b)
    audio = [s for s in streams if s["codec_type"] == "audio"]
    shapes = [(s["codec_name"], int(s["sample_rate"]), s["channels"]) for s in audio]
    assert shapes == [("aac", SR, 1)]
    assert audio[0]["tags"]["language"] == "eng"
    pictures = [s for s in streams if s.get("disposition", {}).get("attached_pic")]
    assert [s["codec_name"] for s in pictures] == ["png"]
    assert sorted(p.name for p in m4b.parent.iterdir()) == ["book.m4b"]  # no temp left


@needs_ffmpeg
def test_m4b_reads_as_an_audiobook_in_mutagen(m4b: Path) -> None:
    mp4 = pytest.importorskip("mutagen.mp4")
    tags = mp4.MP4(m4b).tags
    assert tags["stik"] == [2]
    assert bytes(tags["covr"][0]) == META.cover
    assert tags["©wrt"] == ["af_heart"]


@needs_ffmpeg
def test_probe_falls_back_to_ffmpeg_without_ffprobe(
    m4b: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = probe_chapters(m4b)
    monkeypatch.setattr(ffmpeg_mod, "find_ffprobe", lambda: None)
    chapters = probe_chapters(m4b)
    assert [c["tags"]["title"] for c in chapters] == list(TITLES)
    for got, want in zip(chapters, expected):
        assert abs(float(got["start_time"]) - float(want["start_time"])) < 0.002
    fmt = probe_format(m4b)
    assert fmt["tags"]["title"] == META.title
    assert abs(float(fmt["duration"]) - sum(LENGTHS)) < 0.05


@needs_ffmpeg
@pytest.mark.parametrize("broken", ["missing", "not_wav"])
def test_failed_mux_leaves_output_untouched(tmp_path: Path, broken: str) -> None:
    chapters = make_chapters(tmp_path)
    bad = tmp_path / "bad.wav"
    if broken == "not_wav":  # exists, so only ffmpeg finds out, half-way through the output
        bad.write_text("not a wav file")
    chapters[1] = ChapterAudio("bad", bad, 100)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "book.m4b"
    out.write_bytes(b"previous good book")
    with pytest.raises(FfmpegError) as failure:
        write_m4b(chapters, out, META)
    assert str(bad) in str(failure.value)
    assert out.read_bytes() == b"previous good book"
    assert sorted(p.name for p in out_dir.iterdir()) == ["book.m4b"]


@needs_ffmpeg
def test_run_ffmpeg_error_carries_last_stderr_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing.wav"
    with pytest.raises(FfmpegError, match="No such file or directory$") as failure:
        run_ffmpeg(["-i", str(missing), "-f", "null", "-"])
    assert str(missing) in failure.value.command
    assert "missing.wav" in failure.value.stderr


def test_find_ffmpeg_honours_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KOKORO_CLI_FFMPEG", str(tmp_path / "no-ffmpeg"))
    find_ffmpeg.cache_clear()
    try:
        assert find_ffmpeg() == str(tmp_path / "no-ffmpeg")
        with pytest.raises(FfmpegError, match="cannot run"):
            run_ffmpeg(["-version"])
    finally:
        find_ffmpeg.cache_clear()
