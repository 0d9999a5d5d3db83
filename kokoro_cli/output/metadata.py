"""Pure builders of what goes into an output file besides the audio: tags, chapters, cover.

FFMETADATA text (built, escaped and parsed back), ID3 tags with CHAP/CTOC/APIC, Vorbis chapter
comments, the FLAC picture block, WAV headers and ffconcat lists. Nothing here runs ffmpeg or
touches a file, so each is tested against literal text or bytes.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kokoro_cli.output.formats import COVER_CODECS, ID3_FRAMES, iso639_2

__all__ = [
    "BookMeta",
    "ChapterMark",
    "book_tags",
    "concat_list",
    "escape_ffmetadata",
    "ffmetadata",
    "flac_picture",
    "id3_chapters_in_order",
    "id3_length",
    "id3_tag",
    "parse_ffmetadata",
    "samples_to_ms",
    "vorbis_chapters",
    "wav_header",
]

# FFMETADATA's special characters; each is written with a backslash before it.
_SPECIAL = re.compile(r"([=;#\\\n])")
_COVER_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
)


@dataclass(frozen=True)
class BookMeta:
    """Book-level tags and optional cover art (PNG, JPEG, GIF or WebP bytes)."""

    title: str
    authors: tuple[str, ...] = ()
    narrator: str | None = None
    year: str | None = None
    genre: str = "Audiobook"
    language: str | None = None
    cover: bytes | None = None
    cover_type: str | None = None  # "image/png" / "image/jpeg"; sniffed from the bytes first

    def __post_init__(self) -> None:
        if isinstance(self.authors, str):
            raise ValueError("BookMeta.authors must be a tuple of names, not a string")
        if self.cover is not None and self.cover_mime not in COVER_CODECS:
            raise ValueError(
                f"cover: unsupported image type {self.cover_mime!r}; use PNG, JPEG, GIF or WebP"
            )

    @property
    def cover_mime(self) -> str | None:
        """The cover's type as its bytes say, else as declared; None without a cover."""
        if self.cover is None:
            return None
        for magic, mime in _COVER_MAGIC:
            if self.cover.startswith(magic):
                return mime
        if self.cover[:4] == b"RIFF" and self.cover[8:12] == b"WEBP":
            return "image/webp"
        return self.cover_type


@dataclass(frozen=True)
class ChapterMark:
    """A chapter's place in the whole book, in samples: ``start`` inclusive, ``end`` exclusive."""

    title: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"ChapterMark needs 0 <= start <= end, got {self.start}..{self.end}")


def samples_to_ms(samples: int, sample_rate: int) -> int:
    """``samples`` in whole milliseconds, rounded half up, in integer arithmetic."""
    return (2000 * samples + sample_rate) // (2 * sample_rate)


def book_tags(meta: BookMeta) -> list[tuple[str, str]]:
    """The container tags for ``meta``, in writing order; empty values are left out."""
    authors = ", ".join(a for a in meta.authors if a)
    tags = [
        ("title", meta.title),
        ("album", meta.title),
        ("artist", authors),
        ("album_artist", authors),
        ("composer", meta.narrator or ""),
        ("genre", meta.genre),
        ("date", meta.year or ""),
        ("language", meta.language or ""),
    ]
    return [(key, value) for key, value in tags if value]


# --- FFMETADATA -------------------------------------------------------------------------------


def escape_ffmetadata(value: str) -> str:
    """``value`` escaped for an FFMETADATA line.

    Line breaks become ``\\n`` and NULs are dropped (ffmpeg's reader ends a line at CR and at
    NUL); trailing backslashes are dropped because ffmpeg's reader takes an escaped backslash at
    the end of a line for a line continuation and would swallow the next line.
    """
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "")
    return _SPECIAL.sub(r"\\\1", value.rstrip("\\"))


def ffmetadata(
    meta: BookMeta,
    chapters: Sequence[ChapterMark],
    *,
    sample_rate: int = 24000,
    tags: Sequence[tuple[str, str]] | None = None,
) -> str:
    """The FFMETADATA1 text for a book: its tags, then one ``[CHAPTER]`` per mark.

    ``tags`` replaces :func:`book_tags` of ``meta`` (a part or chapter file has its own title
    and track number). Chapter times are in milliseconds (``TIMEBASE=1/1000``) from the marks'
    sample positions, so books of any length fit.
    """
    pairs = book_tags(meta) if tags is None else tags
    lines = [";FFMETADATA1"]
    lines += [f"{key}={escape_ffmetadata(value)}" for key, value in pairs]
    for mark in chapters:
        lines += [
            "[CHAPTER]",
            "TIMEBASE=1/1000",
            f"START={samples_to_ms(mark.start, sample_rate)}",
            f"END={samples_to_ms(mark.end, sample_rate)}",
            f"title={escape_ffmetadata(mark.title)}",
        ]
    return "\n".join(lines) + "\n"


def parse_ffmetadata(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The global tags and the ``[CHAPTER]`` sections of FFMETADATA text, unescaped.

    Other sections (``[STREAM]``) are skipped. The inverse of :func:`ffmetadata`.
    """
    tags: dict[str, str] = {}
    chapters: list[dict[str, str]] = []
    section: dict[str, str] = tags
    for key, value in _entries(text):
        if value is not None:
            section[key] = value
        elif key == "[CHAPTER]":
            chapters.append({})
            section = chapters[-1]
        elif key:
            section = {}
    return tags, chapters


def _entries(text: str) -> Iterator[tuple[str, str | None]]:
    """(key, value) per logical line; value is None on lines without ``=`` (section heads)."""
    key: str | None = None
    buf: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == ";" or ch == "#":
            if key is None and not buf:  # a comment: skip to the end of the line
                for ch in chars:
                    if ch == "\n":
                        break
                continue
        if ch == "\\":
            buf.append(next(chars, ""))
        elif ch == "=" and key is None:
            key, buf = "".join(buf), []
        elif ch in "\r\n":
            yield (key, "".join(buf)) if key is not None else ("".join(buf), None)
            key, buf = None, []
        else:
            buf.append(ch)
    if key is not None or buf:
        yield (key, "".join(buf)) if key is not None else ("".join(buf), None)


# --- ID3 (MP3) --------------------------------------------------------------------------------


def id3_tag(
    tags: Sequence[tuple[str, str]],
    marks: Sequence[ChapterMark],
    *,
    sample_rate: int,
    cover: bytes | None = None,
    cover_mime: str | None = None,
    toc_title: str | None = None,
):
    """A mutagen ``ID3`` with the text frames for ``tags``, one CHAP per mark (times in ms),
    a top-level ordered CTOC listing them, and the cover as the front-cover APIC.

    Save it with ``v2_version=3`` and pass the bytes through :func:`id3_chapters_in_order`:
    mutagen orders frames by size, not by time.
    """
    from mutagen import id3

    tag = id3.ID3()
    for key, value in tags:
        if key in ID3_FRAMES:
            value = iso639_2(value) or value if key == "language" else value
            tag.add(getattr(id3, ID3_FRAMES[key])(encoding=3, text=[value]))
    ids = [f"ch{i}" for i in range(len(marks))]
    for element, mark in zip(ids, marks):
        start, end = samples_to_ms(mark.start, sample_rate), samples_to_ms(mark.end, sample_rate)
        title = id3.TIT2(encoding=3, text=[mark.title])
        tag.add(id3.CHAP(element_id=element, start_time=start, end_time=end, sub_frames=[title]))
    if ids:
        flags = id3.CTOCFlags.TOP_LEVEL | id3.CTOCFlags.ORDERED
        toc = [id3.TIT2(encoding=3, text=[toc_title])] if toc_title else []
        tag.add(id3.CTOC(element_id="toc", flags=flags, child_element_ids=ids, sub_frames=toc))
    if cover is not None:
        front = id3.PictureType.COVER_FRONT
        mime = cover_mime or "image/png"
        tag.add(id3.APIC(encoding=3, mime=mime, type=front, desc="Cover", data=cover))
    return tag


_ID3_UNSYNC_OR_EXTENDED = 0xC0  # header flags that change how frames are laid out


def id3_chapters_in_order(tag: bytes) -> bytes:
    """An ID3v2.3 tag (and whatever follows it) with its CHAP frames in time order.

    mutagen writes frames sorted by size, so a book's chapters land in the file in no useful
    order, and ffmpeg lists them in file order. The CHAP frames are put back into the slots they
    held, sorted by (start, end, element id); every other byte stays, so the tag keeps its
    length. A tag this cannot read safely (not v2.3, unsynchronised) is returned unchanged.
    """
    end = id3_length(tag)
    if not end or tag[3] != 3 or tag[5] & _ID3_UNSYNC_OR_EXTENDED:
        return tag
    frames, pos = [], 10
    while pos + 10 <= end and tag[pos] != 0:
        size = struct.unpack(">I", tag[pos + 4 : pos + 8])[0]
        frames.append(tag[pos : pos + 10 + size])
        pos += 10 + size
    if pos > end:
        return tag
    chapters = iter(sorted((f for f in frames if f[:4] == b"CHAP"), key=_chap_key))
    ordered = [next(chapters) if f[:4] == b"CHAP" else f for f in frames]
    return tag[:10] + b"".join(ordered) + tag[pos:]


def id3_length(header: bytes) -> int:
    """The length of the ID3v2 tag that ``header`` (a file's first 10 bytes) starts, its
    header included; 0 when there is none."""
    if len(header) < 10 or header[:3] != b"ID3":
        return 0
    return 10 + _syncsafe(header[6:10])


def _syncsafe(four: bytes) -> int:
    return (four[0] << 21) | (four[1] << 14) | (four[2] << 7) | four[3]


def _chap_key(frame: bytes) -> tuple[int, int, int, bytes]:
    """A CHAP frame's (start ms, end ms, element id), the id compared as "ch2" < "ch10"."""
    body = frame[10:]
    cut = body.find(b"\0")
    start, end = struct.unpack(">II", body[cut + 1 : cut + 9])
    return start, end, cut, body[:cut]


# --- Vorbis comments (FLAC, Opus), WAV, ffconcat ----------------------------------------------


def vorbis_chapters(marks: Sequence[ChapterMark], sample_rate: int) -> list[tuple[str, str]]:
    """Chapters as Vorbis comments (the Xiph chapter extension): ``CHAPTER001=HH:MM:SS.mmm``
    and ``CHAPTER001NAME=title``, numbered from 001; hours grow past 99 when they must."""
    tags: list[tuple[str, str]] = []
    for number, mark in enumerate(marks, 1):
        ms = samples_to_ms(mark.start, sample_rate)
        hours, rest = divmod(ms, 3_600_000)
        minutes, rest = divmod(rest, 60_000)
        stamp = f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
        tags += [(f"CHAPTER{number:03d}", stamp), (f"CHAPTER{number:03d}NAME", mark.title)]
    return tags


def flac_picture(data: bytes, mime: str) -> bytes:
    """A FLAC PICTURE block body (front cover), as Ogg's METADATA_BLOCK_PICTURE carries it."""
    from mutagen.flac import Picture

    picture = Picture()
    picture.type = 3  # front cover
    picture.mime = mime
    picture.data = data
    return picture.write()


def wav_header(frames: int, sample_rate: int, *, channels: int = 1, bits: int = 16) -> bytes:
    """The header of a PCM WAV of ``frames`` frames: RIFF, or RF64 (with a ds64 chunk) when
    the data passes what RIFF's 32-bit sizes can say."""
    block = channels * bits // 8
    data = frames * block
    fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, sample_rate * block, block, bits)
    fmt_chunk = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if 36 + data <= 0xFFFFFFFF:
        riff, size = struct.pack("<I", 36 + data), struct.pack("<I", data)
        return b"RIFF" + riff + b"WAVE" + fmt_chunk + b"data" + size
    ds64 = struct.pack("<QQQI", 72 + data, data, frames, 0)
    unknown = struct.pack("<I", 0xFFFFFFFF)  # RF64: the real sizes are in ds64
    ds64_chunk = b"ds64" + struct.pack("<I", len(ds64)) + ds64
    return b"RF64" + unknown + b"WAVE" + ds64_chunk + fmt_chunk + b"data" + unknown


def concat_list(paths: Sequence[Path]) -> str:
    """An ffconcat script playing ``paths`` (made absolute) in order, each single-quoted."""
    lines = ["ffconcat version 1.0"]
    for path in paths:
        quoted = str(Path(path).resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    return "\n".join(lines) + "\n"
