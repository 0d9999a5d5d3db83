"""Exit codes, the CLI's own errors, and the one place that turns an error into a code and a
line. Each error class names its exit code, so this imports nothing above ``kokoro_common``."""

from __future__ import annotations

import errno
import sys

from kokoro_common import ExitCode, KokoroError

__all__ = ["EXIT_CODES_HELP", "ExitCode", "OutputError", "UsageError", "exit_code_for",
           "message_for"]


class UsageError(KokoroError):
    """An option or argument that cannot work; the message says what to use instead."""

    exit_code = ExitCode.USAGE


class OutputError(KokoroError):
    """The output cannot be written where the user asked."""

    exit_code = ExitCode.OUTPUT


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code for one of the project's errors (each class names its own), or for an OS
    or audio-file error; anything else is a bug and is raised again."""
    code = error.exit_code if isinstance(error, KokoroError) else None
    if code is not None:
        return code
    if isinstance(error, OSError) or _is_soundfile_error(error):
        return ExitCode.OUTPUT
    raise error


# A write that failed for want of room: no space, over a quota, over the file size limit.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def message_for(error: BaseException) -> str:
    """The error as the one line the CLI prints (after ``error:``)."""
    if _is_soundfile_error(error):
        # libsndfile loses errno: "System error." is all it says when a write fails.
        text = f"an audio file could not be written or read ({error}); is the disk full?"
    elif isinstance(error, OSError) and error.errno == errno.EPIPE:
        text = "the output pipe was closed before the audio was all written"
    elif isinstance(error, OSError) and error.errno in _FULL:
        where = f" {error.filename}" if error.filename else ""
        text = f"cannot write{where}: {error.strerror} (disk full, or over a quota or file size limit)"
    else:
        text = str(error) or type(error).__name__
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _is_soundfile_error(error: BaseException) -> bool:
    """A libsndfile failure (soundfile raises its own RuntimeError subclass). Only possible
    once soundfile is imported, so it is looked up there rather than imported at start-up."""
    module = sys.modules.get("soundfile")
    kind = getattr(module, "LibsndfileError", None)
    return kind is not None and isinstance(error, kind)


EXIT_CODES_HELP = ("Exit codes: 0 ok, 2 usage error, 3 input error, 4 model/voice asset error, "
                   "5 output error (ffmpeg, disk, permissions), 6 job busy (another run holds "
                   "it), 7 listening check failed (--verify strict), 130 interrupted (run the same command again to resume).")
