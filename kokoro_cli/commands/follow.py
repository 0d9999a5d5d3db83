"""Follow-along options shared by ``convert`` and ``say``: subtitles beside the audio and, for
``convert``, a read-along EPUB 3 (media overlays)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kokoro_cli.errors import UsageError

__all__ = ["ReadAlongOpt", "SubtitleWordsOpt", "SubtitlesOpt", "check_follow"]

SubtitlesOpt = typer.Option(None, "--subtitles", help="srt or vtt: a subtitle file beside the "
                            "audio (one per file with --split-chapters), a cue per sentence as "
                            "written, timed from the audio.")
SubtitleWordsOpt = typer.Option(False, "--subtitles-words", help="Word-level timing: WebVTT "
                                "word timestamps, or an SRT cue per word.")
ReadAlongOpt = typer.Option(None, "--read-along", dir_okay=False, help="Also write an EPUB 3 "
                            "with the narration embedded and each sentence highlighted as it is "
                            "read (media overlays); from Markdown or text, a new EPUB.")


def check_follow(subtitles: Optional[str], words: bool, output: Optional[object],
                 read_along: Optional[Path] = None) -> Optional[str]:
    """The subtitle format (lower case) after checking the follow-along options; raises
    UsageError for a combination that cannot work."""
    kind = subtitles.lower() if subtitles else None
    if kind is not None and kind not in ("srt", "vtt"):
        raise UsageError(f"--subtitles {subtitles!r}: use srt or vtt")
    if words and kind is None:
        raise UsageError("--subtitles-words goes with --subtitles srt|vtt")
    streamed = output is not None and str(output) == "-"
    if streamed and (kind is not None or read_along is not None):
        raise UsageError("subtitles and read-along books are files beside the audio: "
                         "not with -o -")
    if read_along is not None and Path(read_along).suffix.lower() != ".epub":
        raise UsageError(f"--read-along {read_along}: name an .epub file")
    return kind
