"""The codec table: every output kind, how ffmpeg encodes it, and the options that pick one.

One table serves ``convert`` and ``say``; the muxer, the stream writer and the naming all read
their choices here rather than keeping their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kokoro_cli.output.loudness import DEFAULT_PRESET, PRESETS, LoudnessPreset

__all__ = [
    "COVER_CODECS",
    "FORMATS",
    "ID3_FRAMES",
    "ISO639_2",
    "OutputFormat",
    "OutputOptions",
    "iso639_2",
]


@dataclass(frozen=True)
class OutputFormat:
    """How one output kind is encoded: muxer, audio encoder, defaults and fixed arguments."""

    muxer: str
    audio_codec: str
    extension: str
    bitrate: str | None = None  # the default; None for lossless formats
    sample_rate: int | None = None  # None: keep the source rate
    sample_fmt: str | None = None
    cover: str | None = None  # "stream" (attached picture), "id3" (APIC), "vorbis" (comment)
    chapters: str | None = None  # "ffmpeg" (the muxer's own), "id3" (CHAP/CTOC), "vorbis"
    streamable: bool = True  # False when the muxer must seek back (MP4's moov)
    pipe_muxer: str | None = None  # muxer when writing to a stream, if not ``muxer``
    extra_args: tuple[str, ...] = ()
    file_args: tuple[str, ...] = ()  # only when writing a file
    pipe_args: tuple[str, ...] = ()  # only when writing to a stream
    tags: tuple[tuple[str, str], ...] = ()


# The "fast" AAC coder encodes 3.5x faster than the default "twoloop" (the encode was most of a
# re-mux) with no audible or measured loss on speech at 64k: 408 s of narration decodes at
# 25.0 dB SNR vs 22.9 dB, and Whisper's word error rate is within noise.
_AAC_FAST = ("-aac_coder", "fast")

# Codec choices. "ipod" is ffmpeg's M4A/M4B flavour of MP4 (brand "M4A "), which writes both a
# QuickTime chapter track and Nero chapters (chpl); stik=2 ("media_type") marks an audiobook,
# which is what sets M4B apart from M4A. MP3 is CBR (libmp3lame with -b:a); ffmpeg writes no
# ID3 (id3v2_version 0): mutagen writes the tag with CHAP/CTOC/APIC. FLAC and Ogg Opus carry
# tags and chapters as Vorbis comments, which we write as tags (ffmpeg 5.1's FLAC muxer drops
# chapters and its Ogg one misplaces them); the Ogg cover is a METADATA_BLOCK_PICTURE comment.
# Opus runs at 48 kHz. WAV switches to RF64 past 4 GiB; to a stream it goes as raw PCM after a
# header we write ourselves, since the length is known up front and a pipe cannot seek back.
FORMATS: dict[str, OutputFormat] = {
    "m4b": OutputFormat(
        muxer="ipod", audio_codec="aac", extension="m4b", bitrate="64k", extra_args=_AAC_FAST,
        cover="stream", chapters="ffmpeg", streamable=False, tags=(("media_type", "2"),),
    ),
    "mp3": OutputFormat(
        muxer="mp3", audio_codec="libmp3lame", extension="mp3", bitrate="64k", cover="id3",
        chapters="id3", extra_args=("-id3v2_version", "0"), pipe_args=("-write_xing", "0"),
    ),
    "wav": OutputFormat(
        muxer="wav", audio_codec="pcm_s16le", extension="wav", sample_fmt="s16",
        pipe_muxer="s16le", file_args=("-rf64", "auto"),
    ),
    "flac": OutputFormat(
        muxer="flac", audio_codec="flac", extension="flac", sample_fmt="s16", cover="stream",
        chapters="vorbis",
    ),
    "opus": OutputFormat(
        muxer="ogg", audio_codec="libopus", extension="opus", bitrate="32k", sample_rate=48000,
        cover="vorbis", chapters="vorbis",
    ),
    "m4a": OutputFormat(  # plain MP4 audio (what ``say`` writes): an M4B without stik=2
        muxer="ipod", audio_codec="aac", extension="m4a", bitrate="64k", extra_args=_AAC_FAST,
        cover="stream", chapters="ffmpeg", streamable=False,
    ),
}  # fmt: skip
# ffmpeg tag name -> ID3v2 text frame, for the tags ``metadata.book_tags`` makes.
ID3_FRAMES: dict[str, str] = {
    "title": "TIT2", "album": "TALB", "artist": "TPE1", "album_artist": "TPE2",
    "composer": "TCOM", "genre": "TCON", "date": "TDRC", "language": "TLAN", "track": "TRCK",
}  # fmt: skip
# Cover art: MIME type -> (file suffix ffmpeg's image2 demuxer knows, video codec). MP4 covers
# must be PNG or JPEG, so the others are re-encoded to PNG.
COVER_CODECS: dict[str, tuple[str, str]] = {
    "image/png": ("png", "copy"),
    "image/jpeg": ("jpg", "copy"),
    "image/gif": ("gif", "png"),
    "image/webp": ("webp", "png"),
}
# MP4 keeps the language per track, as an ISO 639-2/T code; these are Kokoro's languages.
ISO639_2: dict[str, str] = {
    "en": "eng", "es": "spa", "fr": "fra", "hi": "hin", "it": "ita", "ja": "jpn",
    "pt": "por", "zh": "zho", "de": "deu",
}  # fmt: skip
_BITRATE = re.compile(r"^[1-9][0-9]*k?$")


def iso639_2(language: str | None) -> str | None:
    """'en-us' / 'en' / 'eng' -> 'eng'; None for anything not recognised."""
    if not language:
        return None
    base = language.lower().replace("_", "-").split("-")[0]
    if len(base) == 3 and base.isalpha() and base.isascii():
        return base
    return ISO639_2.get(base)


@dataclass(frozen=True)
class OutputOptions:
    """What to write: format, loudness preset, and how to cut the book into files.

    ``split_chapters`` writes one file per chapter into a folder; ``max_part_hours`` instead cuts
    a long book into parts ("Book (Part 1).m4b"...) at chapter boundaries, each part at most that
    long unless one chapter alone is longer. ``room_tone_ms`` of silence goes at the start and
    end of every file (a preset may ask for more). Change with :func:`dataclasses.replace`.
    """

    format: str = "m4b"
    loudness: str = DEFAULT_PRESET
    split_chapters: bool = False
    nero_chapters: bool = True
    bitrate: str | None = None
    room_tone_ms: int = 0
    max_part_hours: float | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format {self.format!r}: use one of {', '.join(FORMATS)}")
        if self.loudness not in PRESETS:
            raise ValueError(f"loudness {self.loudness!r}: use one of {', '.join(PRESETS)}")
        if self.bitrate is not None:
            if self.codec.bitrate is None:
                raise ValueError(f"{self.format} is lossless: leave the bit rate out")
            if not _BITRATE.match(self.bitrate):
                raise ValueError(f"bit rate {self.bitrate!r}: write it like 64k or 192k")
        if self.room_tone_ms < 0:
            raise ValueError(f"room tone must be >= 0 ms, got {self.room_tone_ms}")
        if self.max_part_hours is not None and not self.max_part_hours > 0:
            raise ValueError(f"max part hours must be > 0, got {self.max_part_hours}")
        if self.split_chapters and self.max_part_hours is not None:
            raise ValueError("split chapters or cut into parts by length, not both")
        self._check_preset(self.preset)

    def _check_preset(self, preset: LoudnessPreset) -> None:
        # Every flag the preset still needs, named in one message (ACX needs two).
        missing = []
        if preset.format is not None and self.format != preset.format:
            missing.append(f"--format {preset.format}")
        if preset.split_chapters and not self.split_chapters:
            missing.append("--split-chapters (with -o naming a folder)")
        if missing:
            kind = f"{preset.format} files" if preset.format else "files"
            if preset.split_chapters:
                kind = f"one {kind.removesuffix('s')} per chapter"
            raise ValueError(f"the {preset.name} preset delivers {kind}: "
                             f"add {' and '.join(missing)}")
        if preset.bitrate is not None and self.bitrate not in (None, preset.bitrate):
            raise ValueError(f"the {preset.name} preset needs {preset.bitrate}: drop --bitrate "
                             f"{self.bitrate}")

    @property
    def codec(self) -> OutputFormat:
        return FORMATS[self.format]

    @property
    def preset(self) -> LoudnessPreset:
        return PRESETS[self.loudness]

    @property
    def effective_bitrate(self) -> str | None:
        """The bit rate used: given, else the preset's, else the format's (None: lossless)."""
        return self.bitrate or self.preset.bitrate or self.codec.bitrate

    @property
    def effective_room_tone_ms(self) -> int:
        return max(self.room_tone_ms, self.preset.room_tone_ms)

    @property
    def streamable(self) -> bool:
        """Whether ``stream_book`` can write these options to a pipe."""
        return self.codec.streamable and not self.split_chapters and self.max_part_hours is None

    def output_rate(self, source_rate: int) -> int:
        """The sample rate written for a book whose chapter audio is at ``source_rate``."""
        return self.preset.sample_rate or self.codec.sample_rate or source_rate
