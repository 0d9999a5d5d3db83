"""Short clips (``say``): samples in memory written as a one-chapter book, through the same codec
table, loudness preset and atomic writes as ``convert``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from kokoro_cli.errors import UsageError
from kokoro_cli.output.encode import OutputReport, stream_book, write_book
from kokoro_cli.output.formats import FORMATS, OutputOptions
from kokoro_cli.output.metadata import BookMeta
from kokoro_cli.output.plan import ChapterAudio
from kokoro_common import atomic_writer
from kokoro_common.scratch import scratch_dir

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CLIP_FORMATS", "clip_format", "write_clip"]

CLIP_FORMATS = ("wav", "flac", "mp3", "opus", "m4a")
_ALIASES = {"m4b": "m4a"}  # a clip is no audiobook: an .m4b name gets plain MP4 audio
_NO_TAGS = BookMeta(title="", genre="")


def clip_format(output: str, explicit: str | None) -> str:
    """The format of a clip: ``explicit``, else ``output``'s extension; WAV on stdout (``-``).
    Raises UsageError for a format ``say`` cannot write, or cannot write to stdout."""
    fmt = (explicit or (Path(output).suffix.lstrip(".") if output != "-" else "wav")).lower()
    fmt = _ALIASES.get(fmt, fmt)
    if fmt not in CLIP_FORMATS:
        raise UsageError(f"cannot write {fmt!r} audio; use one of {', '.join(CLIP_FORMATS)} "
                         "(--format, or the file extension)")
    if output == "-" and not FORMATS[fmt].streamable:
        streamable = ", ".join(f for f in CLIP_FORMATS if FORMATS[f].streamable)
        raise UsageError(f"{fmt} cannot be written to stdout (MP4 needs to seek); "
                         f"use {streamable}")
    return fmt


def write_clip(
    samples: np.ndarray,
    sample_rate: int,
    output: str,
    fmt: str | None,
    sink: BinaryIO,
    meta: BookMeta | None = None,
) -> OutputReport:
    """Write mono ``samples`` (int16, or float in -1..1) to the file ``output``, replaced
    atomically, or to ``sink`` when ``output`` is ``-``; in ``fmt`` (see :func:`clip_format`),
    at the default loudness preset. ``meta`` adds tags (none by default). Raises UsageError,
    FfmpegError."""
    import numpy as np
    import soundfile as sf

    options = OutputOptions(format=clip_format(output, fmt))
    audio = np.asarray(samples)
    if audio.ndim != 1:
        raise ValueError(f"write_clip takes mono samples, got shape {audio.shape}")
    if audio.dtype == np.int16:
        subtype = "PCM_16"
    elif np.issubdtype(audio.dtype, np.floating):
        subtype = "FLOAT"
    else:
        raise ValueError(f"write_clip takes int16 or float samples, got {audio.dtype}")
    meta = meta or _NO_TAGS
    with scratch_dir("clip") as tmp:
        wav = Path(tmp) / "clip.wav"
        sf.write(wav, audio, sample_rate, subtype=subtype)
        chapters = [ChapterAudio(meta.title, wav, audio.size)]
        if output == "-":
            report = stream_book(chapters, meta, options, sink, sample_rate=sample_rate)
            sink.flush()
        elif options.format == "wav":
            # The streamed WAV (our exact header, raw PCM) saved atomically: a clip is then
            # byte-identical piped or saved, without the JUNK and encoder chunks ffmpeg's
            # file muxer adds.
            with atomic_writer(Path(output)) as file:
                report = stream_book(chapters, meta, options, file, sample_rate=sample_rate)
            report = dataclasses.replace(report, files=(Path(output),))
        else:
            report = write_book(chapters, Path(output), meta, options, sample_rate=sample_rate)
    return report
