"""Muxing chapter WAVs into one audiobook file with chapters, tags and cover art.

The chapter audio is never loaded here: ffmpeg's concat demuxer reads the WAVs from disk,
the chapter list and tags go in through an FFMETADATA file, and the result is written to a
temp file beside the output and renamed into place only when ffmpeg succeeded.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kokoro_cli.ffmpeg import FfmpegError, ffmetadata, probe, run_ffmpeg

__all__ = [
    "BookMeta",
    "ChapterAudio",
    "ChapterMark",
    "chapter_marks",
    "concat_list",
    "probe_chapters",
    "probe_format",
    "probe_streams",
    "write_m4b",
]


@dataclass(frozen=True)
class OutputFormat:
    """How one output kind is encoded: muxer, audio encoder, and fixed extra arguments."""

    muxer: str
    audio_codec: str
    extra_args: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()


# Codec choices. "ipod" is ffmpeg's M4A/M4B flavour of MP4 (brand "M4A "), which writes both a
# QuickTime chapter track and Nero chapters; stik=2 ("media_type") marks it as an audiobook.
FORMATS: dict[str, OutputFormat] = {
    "m4b": OutputFormat(
        muxer="ipod",
        audio_codec="aac",
        extra_args=("-movflags", "+faststart"),
        tags=(("media_type", "2"),),
    ),
}
# Cover art: MIME type -> (file suffix ffmpeg's image2 demuxer knows, video codec). MP4 covers
# must be PNG or JPEG, so the others are re-encoded to PNG.
COVER_CODECS: dict[str, tuple[str, str]] = {
    "image/png": ("png", "copy"),
    "image/jpeg": ("jpg", "copy"),
    "image/gif": ("gif", "png"),
    "image/webp": ("webp", "png"),
}
_COVER_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
)
_CANNOT_OPEN = re.compile(r"Impossible to open '(.*)'")
# MP4 keeps the language per track, as an ISO 639-2/T code; these are Kokoro's languages.
ISO639_2: dict[str, str] = {
    "en": "eng", "es": "spa", "fr": "fra", "hi": "hin", "it": "ita", "ja": "jpn",
    "pt": "por", "zh": "zho", "de": "deu",
}  # fmt: skip


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
class ChapterAudio:
    """One chapter's audio: a WAV file at the book's sample rate, ``samples`` long."""

    title: str
    path: Path
    samples: int

    def __post_init__(self) -> None:
        if self.samples < 0:
            raise ValueError(f"ChapterAudio.samples must be >= 0, got {self.samples}")


@dataclass(frozen=True)
class ChapterMark:
    """A chapter's place in the whole book, in samples: ``start`` inclusive, ``end`` exclusive."""

    title: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"ChapterMark needs 0 <= start <= end, got {self.start}..{self.end}")


def chapter_marks(chapters: Sequence[ChapterAudio]) -> list[ChapterMark]:
    """Chapter marks for audio played back to back: each starts where the one before ended."""
    marks: list[ChapterMark] = []
    position = 0
    for chapter in chapters:
        marks.append(ChapterMark(chapter.title, position, position + chapter.samples))
        position += chapter.samples
    return marks


def write_m4b(
    chapters: Sequence[ChapterAudio],
    out: Path,
    meta: BookMeta,
    *,
    sample_rate: int = 24000,
    bitrate: str = "64k",
) -> Path:
    """Concatenate the chapter WAVs into an AAC M4B at ``out``, with chapters, tags and cover.

    ``out`` is replaced only when ffmpeg succeeded; on failure it is left as it was and the
    temp file is removed. Raises FfmpegError.
    """
    out = Path(out)
    _check_inputs(chapters)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kokoro-mux-") as tmp:
        inputs = _input_args(Path(tmp), chapters, meta, sample_rate)
        outputs = _output_args(FORMATS["m4b"], meta, sample_rate, bitrate)
        try:
            _write_atomically(out, lambda part: run_ffmpeg([*inputs, *outputs, str(part)]))
        except FfmpegError as exc:
            raise _explain(exc) from exc
    return out


def _explain(exc: FfmpegError) -> FfmpegError:
    """Name the chapter file when the concat demuxer could not open it: ffmpeg's last line
    then only names our temp list file."""
    found = _CANNOT_OPEN.search(exc.stderr)
    if not found:
        return exc
    message = f"ffmpeg could not read chapter audio {found.group(1)}: {exc}"
    return FfmpegError(message, command=exc.command, stderr=exc.stderr)


def _check_inputs(chapters: Sequence[ChapterAudio]) -> None:
    if not chapters:
        raise FfmpegError("nothing to mux: the book has no chapter audio")
    for chapter in chapters:
        if "\n" in str(chapter.path) or "\r" in str(chapter.path):
            raise FfmpegError(f"chapter audio path has a line break: {chapter.path!r}")
        if not Path(chapter.path).is_file():
            raise FfmpegError(f"chapter audio not found: {chapter.path}")


def _input_args(
    tmp: Path, chapters: Sequence[ChapterAudio], meta: BookMeta, sample_rate: int
) -> list[str]:
    """Writes the concat list, FFMETADATA and cover into ``tmp``; returns ffmpeg's input args.

    Input 0 is the audio, 1 the metadata, 2 the cover (when there is one).
    """
    concat = tmp / "chapters.ffconcat"
    concat.write_text(concat_list([c.path for c in chapters]), encoding="utf-8")
    metadata = tmp / "metadata.txt"
    text = ffmetadata(meta, chapter_marks(chapters), sample_rate=sample_rate)
    metadata.write_text(text, encoding="utf-8")
    # -xerror: a chapter file that fails to open mid-way must fail the run, not end the book.
    args = ["-xerror", "-f", "concat", "-safe", "0", "-i", str(concat)]
    args += ["-f", "ffmetadata", "-i", str(metadata)]
    if meta.cover is not None:
        suffix, _ = COVER_CODECS[meta.cover_mime or ""]
        cover = tmp / f"cover.{suffix}"
        cover.write_bytes(meta.cover)
        args += ["-i", str(cover)]
    return args


def _output_args(fmt: OutputFormat, meta: BookMeta, sample_rate: int, bitrate: str) -> list[str]:
    args = ["-map", "0:a:0", "-map_metadata", "1", "-map_chapters", "1"]
    args += ["-c:a", fmt.audio_codec, "-b:a", bitrate, "-ar", str(sample_rate), "-ac", "1"]
    if meta.cover is not None:
        _, codec = COVER_CODECS[meta.cover_mime or ""]
        args += ["-map", "2:v:0", "-c:v", codec, "-disposition:v:0", "attached_pic"]
    language = _iso639_2(meta.language)
    if language:
        args += ["-metadata:s:a:0", f"language={language}"]
    for key, value in fmt.tags:
        args += ["-metadata", f"{key}={value}"]
    return [*args, *fmt.extra_args, "-f", fmt.muxer]


def _iso639_2(language: str | None) -> str | None:
    """'en-us' / 'en' / 'eng' -> 'eng'; None for anything not recognised."""
    if not language:
        return None
    base = language.lower().replace("_", "-").split("-")[0]
    if len(base) == 3 and base.isalpha() and base.isascii():
        return base
    return ISO639_2.get(base)


def concat_list(paths: Sequence[Path]) -> str:
    """An ffconcat script playing ``paths`` (made absolute) in order, each single-quoted."""
    lines = ["ffconcat version 1.0"]
    for path in paths:
        quoted = str(Path(path).resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    return "\n".join(lines) + "\n"


def _write_atomically(out: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(part)`` for a temp path beside ``out``, then rename it onto ``out``."""
    part = out.with_name(f".{out.name}.part-{secrets.token_hex(4)}{out.suffix}")
    try:
        write(part)
        os.replace(part, out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def probe_chapters(path: Path) -> list[dict]:
    """The chapters of a media file, as ffprobe reports them (``start_time``, ``tags``...)."""
    return probe(path).get("chapters", [])


def probe_format(path: Path) -> dict:
    """The format section of ffprobe's report (``duration``, ``tags``...)."""
    return probe(path).get("format", {})


def probe_streams(path: Path) -> list[dict]:
    """The streams of a media file as ffprobe reports them (empty without ffprobe)."""
    return probe(path).get("streams", [])
