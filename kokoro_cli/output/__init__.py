"""The output stage: finished chapter WAVs in, an audiobook (or a ``say`` clip) out.

Modules, each depending only on those above it:

``loudness``  presets, the metering graph and its log, gain plans, the QC report (pure)
``formats``   the one codec table and :class:`OutputOptions`
``metadata``  tags, FFMETADATA, ID3, Vorbis chapters, cover block, WAV header (pure)
``ffmpeg``    the process seam: every ffmpeg/ffprobe run, and probing
``plan``      files, parts, names, chapter marks and ffmpeg arguments (pure)
``staging``   multi-file atomic writes and the temp files a killed run left
``encode``    the ffmpeg runs: :func:`write_book`, :func:`stream_book`, metering
``target``    where the output goes, named and checked before any synthesis
``clip``      :func:`write_clip` for ``say``
``timing``    chapter timing as data (sentences and words in samples)
``subtitles`` SRT/WebVTT cues (pure) and :func:`write_subtitles`

Names are loaded on first use, so importing the package (as ``kokoro-cli --help`` does) costs
nothing; numpy, soundfile and mutagen are imported only inside the functions that need them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "COVER_CODECS",
    "DEFAULT_PRESET",
    "FORMATS",
    "PRESETS",
    "BookMeta",
    "ChapterAudio",
    "FfmpegError",
    "LoudnessError",
    "OutputOptions",
    "OutputReport",
    "SUBTITLE_FORMATS",
    "QCError",
    "QCReport",
    "ChapterTiming",
    "SentenceTime",
    "TimedChapter",
    "check_qc",
    "check_writable",
    "clip_format",
    "measure_file",
    "options_from_flags",
    "output_name",
    "probe_chapters",
    "probe_format",
    "probe_streams",
    "require_ffmpeg",
    "resolve_target",
    "stream_book",
    "strict_qc",
    "write_book",
    "write_clip",
    "write_subtitles",
]

_HOME = {
    "loudness": ("DEFAULT_PRESET", "PRESETS", "LoudnessError", "QCError", "QCReport", "check_qc"),
    "formats": ("COVER_CODECS", "FORMATS", "OutputOptions"),
    "metadata": ("BookMeta",),
    "ffmpeg": ("FfmpegError", "probe_chapters", "probe_format", "probe_streams",
               "require_ffmpeg"),
    "plan": ("ChapterAudio",),
    "encode": ("OutputReport", "measure_file", "stream_book", "strict_qc", "write_book"),
    "target": ("check_writable", "options_from_flags", "output_name", "resolve_target"),
    "clip": ("clip_format", "write_clip"),
    "timing": ("ChapterTiming", "SentenceTime", "TimedChapter"),
    "subtitles": ("SUBTITLE_FORMATS", "write_subtitles"),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:
    from kokoro_cli.output.clip import clip_format, write_clip
    from kokoro_cli.output.encode import (
        OutputReport,
        measure_file,
        stream_book,
        strict_qc,
        write_book,
    )
    from kokoro_cli.output.ffmpeg import (
        FfmpegError,
        probe_chapters,
        probe_format,
        probe_streams,
        require_ffmpeg,
    )
    from kokoro_cli.output.formats import COVER_CODECS, FORMATS, OutputOptions
    from kokoro_cli.output.loudness import (
        DEFAULT_PRESET,
        PRESETS,
        LoudnessError,
        QCError,
        QCReport,
        check_qc,
    )
    from kokoro_cli.output.metadata import BookMeta
    from kokoro_cli.output.plan import ChapterAudio
    from kokoro_cli.output.subtitles import SUBTITLE_FORMATS, write_subtitles
    from kokoro_cli.output.timing import ChapterTiming, SentenceTime, TimedChapter
    from kokoro_cli.output.target import (
        check_writable,
        options_from_flags,
        output_name,
        resolve_target,
    )
