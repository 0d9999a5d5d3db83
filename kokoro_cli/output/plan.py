"""Planning an output before ffmpeg runs: which files, which chapters in each, their names,
lengths, tags and marks, and the ffmpeg arguments that encode one file.

All of it is pure: the same chapters and options always plan the same files and commands, so
:mod:`kokoro_cli.output.encode` only runs what is planned here.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kokoro_cli.output.formats import COVER_CODECS, OutputFormat, OutputOptions, iso639_2
from kokoro_cli.output.loudness import GainPlan
from kokoro_cli.output.metadata import (
    BookMeta,
    ChapterMark,
    book_tags,
    flac_picture,
    vorbis_chapters,
)

__all__ = [
    "MAX_NAME_BYTES",
    "ChapterAudio",
    "Encoding",
    "Part",
    "chapter_marks",
    "concat_input",
    "filter_chain",
    "output_args",
    "output_paths",
    "part_marks",
    "part_tags",
    "plan_parts",
    "rescale",
    "safe_filename",
    "track_name",
]

# Characters no common file system takes in a name (Windows' set covers the others), and the
# C0 and C1 control characters.
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"/\\|?*]+')
_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                   *(f"LPT{i}" for i in range(1, 10))}  # fmt: skip
# File systems take 255 bytes per name. Around a safe name go at most a track number or a
# " (Part 12)", the extension, and the temp name's dot, random part and ".part.EXT" (about 40
# bytes in all): 150 leaves room for every one of them.
MAX_NAME_BYTES = 150
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class ChapterAudio:
    """One chapter's audio: a WAV file at the book's sample rate, ``samples`` long."""

    title: str
    path: Path
    samples: int

    def __post_init__(self) -> None:
        if self.samples < 0:
            raise ValueError(f"ChapterAudio.samples must be >= 0, got {self.samples}")


def chapter_marks(chapters: Sequence[ChapterAudio]) -> list[ChapterMark]:
    """Chapter marks for audio played back to back: each starts where the one before ended."""
    marks: list[ChapterMark] = []
    position = 0
    for chapter in chapters:
        marks.append(ChapterMark(chapter.title, position, position + chapter.samples))
        position += chapter.samples
    return marks


def safe_filename(title: str, *, max_bytes: int = MAX_NAME_BYTES) -> str:
    """``title`` as a file name any common file system takes: characters that Windows, macOS or
    Linux reject become spaces, runs of space collapse, leading and trailing dots and spaces go,
    reserved device names get a ``_``, and the UTF-8 length is cut to ``max_bytes``. May be
    empty. The one name-maker for book files and chapter tracks alike."""
    name = _UNSAFE_NAME.sub(" ", unicodedata.normalize("NFC", title))
    name = " ".join(name.split())
    encoded = name.encode("utf-8")[:max_bytes]
    name = encoded.decode("utf-8", "ignore").strip(" .")
    if name.split(".")[0].upper() in _RESERVED_NAMES:
        name = f"_{name}"
    return name


# --- the files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One output file: its chapters, its title tag, its track number and where it goes."""

    chapters: tuple[ChapterAudio, ...]
    title: str
    track: tuple[int, int] | None = None
    path: Path | None = None


def plan_parts(
    chapters: Sequence[ChapterAudio],
    out: Path,
    meta: BookMeta,
    options: OutputOptions,
    sample_rate: int,
) -> list[Part]:
    """The files of an output at ``out``: one per chapter when split (``out`` is the folder),
    else parts of at most ``options.max_part_hours`` cut at chapter boundaries, else one."""
    if options.split_chapters:
        total, ext = len(chapters), options.codec.extension
        return [
            Part((c,), c.title or f"Chapter {i}", (i, total), out / track_name(i, total, c, ext))
            for i, c in enumerate(chapters, 1)
        ]
    if options.max_part_hours is None:
        return [Part(tuple(chapters), meta.title, None, out)]
    limit = round(options.max_part_hours * SECONDS_PER_HOUR * sample_rate)
    limit -= 2 * options.effective_room_tone_ms * sample_rate // 1000
    groups = group_by_length(chapters, limit)
    if len(groups) == 1:
        return [Part(tuple(chapters), meta.title, None, out)]
    return [
        Part(group, f"{meta.title} (Part {i})", (i, len(groups)),
             out.with_name(f"{out.stem} (Part {i}){out.suffix}"))
        for i, group in enumerate(groups, 1)
    ]  # fmt: skip


def output_paths(
    chapters: Sequence[ChapterAudio],
    out: Path,
    meta: BookMeta,
    options: OutputOptions,
    *,
    sample_rate: int = 24000,
) -> list[Path]:
    """The files ``write_book`` would write for these arguments."""
    parts = plan_parts(chapters, Path(out), meta, options, sample_rate)
    return [p.path for p in parts if p.path is not None]


def track_name(number: int, total: int, chapter: ChapterAudio, extension: str) -> str:
    """``"01 - The Storm.m4b"``; the number is as wide as the count needs, at least 2."""
    digits = f"{number:0{max(2, len(str(total)))}d}"
    title = safe_filename(chapter.title)
    return f"{digits} - {title}.{extension}" if title else f"{digits}.{extension}"


def group_by_length(
    chapters: Sequence[ChapterAudio], limit: int
) -> list[tuple[ChapterAudio, ...]]:
    """Consecutive chapters, greedily, each group at most ``limit`` samples (a longer chapter
    is a group of its own)."""
    groups: list[tuple[ChapterAudio, ...]] = []
    current: list[ChapterAudio] = []
    size = 0
    for chapter in chapters:
        if current and size + chapter.samples > limit:
            groups.append(tuple(current))
            current, size = [], 0
        current.append(chapter)
        size += chapter.samples
    groups.append(tuple(current))
    return groups


# --- what every file of one output shares -----------------------------------------------------


@dataclass(frozen=True)
class Encoding:
    """The settings every file of one output shares: options, the one gain, the source rate."""

    options: OutputOptions
    gain: GainPlan
    source_rate: int

    @property
    def rate(self) -> int:
        return self.options.output_rate(self.source_rate)

    @property
    def room_tone(self) -> int:
        """Room tone at each end of a file, in source samples."""
        return self.options.effective_room_tone_ms * self.source_rate // 1000

    def length(self, part: Part) -> int:
        """The part's length in source samples, room tone included."""
        return sum(c.samples for c in part.chapters) + 2 * self.room_tone


def rescale(lengths: Sequence[int], encoding: Encoding) -> list[int]:
    """Chapter lengths at the output rate, room tone included in the first and last, with
    the boundaries rounded (not the lengths) so they add up to the file's length."""
    tone = encoding.room_tone
    spans = list(lengths)
    spans[0] += tone
    spans[-1] += tone
    edges, total = [0], 0
    for n in spans:
        total += n
        edges.append((total * encoding.rate + encoding.source_rate // 2) // encoding.source_rate)
    return [b - a for a, b in zip(edges, edges[1:])]


def part_marks(part: Part, room_tone: int) -> list[ChapterMark]:
    """The part's chapter marks, with the head room tone in its first chapter and the tail in
    its last."""
    marks = chapter_marks(part.chapters)
    last = len(marks) - 1
    return [
        ChapterMark(m.title, 0 if i == 0 else m.start + room_tone,
                    m.end + room_tone * (2 if i == last else 1))
        for i, m in enumerate(marks)
    ]  # fmt: skip


def part_tags(
    part: Part, meta: BookMeta, fmt: OutputFormat, marks: Sequence[ChapterMark], sample_rate: int
) -> list[tuple[str, str]]:
    """The book's tags with the file's own title and track number, plus what the format keeps
    in tags: Vorbis chapters, the Ogg cover."""
    tags = [(key, part.title if key == "title" else value) for key, value in book_tags(meta)]
    if part.track is not None:
        tags.append(("track", f"{part.track[0]}/{part.track[1]}"))
    if fmt.chapters == "vorbis":
        tags += vorbis_chapters(marks, sample_rate)
    if meta.cover is not None and fmt.cover == "vorbis":
        picture = flac_picture(meta.cover, meta.cover_mime or "image/png")
        tags.append(("METADATA_BLOCK_PICTURE", base64.b64encode(picture).decode("ascii")))
    return tags


# --- ffmpeg arguments -------------------------------------------------------------------------

# Literal lists, not ffmpeg-python (the README says more): it builds a command from the streams
# that reach an output, so it drops the FFMETADATA input that -map_metadata reads (and numbers
# the cover input in its place) and the meters' branches, which end in anullsink.


def filter_chain(part: Part, encoding: Encoding) -> list[str]:
    """Room tone, gain, limiter and resampling. All but the resampler keep the length to the
    sample (the limiter compensates its look-ahead); after resampling, the length is pinned
    down so the chapter marks and a header written up front (WAV to a stream) hold."""
    chain: list[str] = []
    if encoding.room_tone:
        tone = encoding.room_tone
        chain += [f"adelay=delays={tone}S:all=1", f"apad=pad_len={tone}"]
    chain += encoding.gain.filters
    if encoding.rate != encoding.source_rate:
        total = sum(rescale([c.samples for c in part.chapters], encoding))
        chain.append(f"aresample={encoding.rate}")
        chain += [f"apad=whole_len={total}", f"atrim=end_sample={total}"]
    return chain


def concat_input(concat: Path) -> list[str]:
    """ffmpeg's input arguments for an ffconcat list of WAVs."""
    # -xerror: a chapter file that fails to open mid-way must fail the run, not end the book.
    return ["-xerror", "-f", "concat", "-safe", "0", "-i", str(concat)]


def output_args(
    fmt: OutputFormat, meta: BookMeta, encoding: Encoding, *, pipe: bool
) -> list[str]:
    """The output half of an encoding command: metadata from input 1, chapters, codec, rate,
    cover from input 2, fixed arguments and the muxer (its output path comes after)."""
    options = encoding.options
    own_chapters = "1" if fmt.chapters == "ffmpeg" else "-1"
    args = ["-map_metadata", "1", "-map_chapters", own_chapters]
    args += ["-c:a", fmt.audio_codec]
    if options.effective_bitrate is not None:
        args += ["-b:a", options.effective_bitrate]
    if fmt.sample_fmt is not None:
        args += ["-sample_fmt", fmt.sample_fmt]
    args += ["-ar", str(encoding.rate), "-ac", "1"]
    if meta.cover is not None and fmt.cover == "stream":
        _, codec = COVER_CODECS[meta.cover_mime or ""]
        args += ["-map", "2:v:0", "-c:v", codec, "-disposition:v:0", "attached_pic"]
    language = iso639_2(meta.language)
    if language:
        args += ["-metadata:s:a:0", f"language={language}"]
    for key, value in fmt.tags:
        args += ["-metadata", f"{key}={value}"]
    args += [*fmt.extra_args, *(fmt.pipe_args if pipe else fmt.file_args)]
    if fmt.muxer == "ipod":
        args += ["-movflags", "+faststart" + ("" if options.nero_chapters else "+disable_chpl")]
    return [*args, "-f", (fmt.pipe_muxer or fmt.muxer) if pipe else fmt.muxer]
