"""Exit codes, and the one place that maps the project's errors to them."""

from __future__ import annotations

import errno
import sys
from enum import IntEnum

from engine import AssetError, BackendError, G2PError, SettingError, VoiceError
from kokoro_cli.output.ffmpeg import FfmpegError
from kokoro_cli.jobs.job import Interrupted, JobError, JobStateError
from kokoro_cli.output.loudness import LoudnessError
from kokoro_common import KokoroError
from preprocess import InputError

__all__ = ["EXIT_CODES_HELP", "ExitCode", "OutputError", "UsageError", "exit_code_for",
           "message_for"]


class ExitCode(IntEnum):
    OK = 0
    USAGE = 2  # bad options or arguments (also unknown voice, bad speed)
    INPUT = 3  # input missing, unreadable, unsupported, corrupt, or nothing to read
    ASSET = 4  # model or voice missing, unreachable or failing verification; runtime missing
    OUTPUT = 5  # ffmpeg failed, disk full, permissions, loudness QC failed with --qc strict
    BUSY = 6  # another run is working on the same job
    INTERRUPTED = 130


class UsageError(KokoroError):
    """An option or argument that cannot work; the message says what to use instead."""


class OutputError(KokoroError):
    """The output cannot be written where the user asked."""


_CODES: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (UsageError, ExitCode.USAGE),
    (VoiceError, ExitCode.USAGE),
    (SettingError, ExitCode.USAGE),
    (InputError, ExitCode.INPUT),
    (AssetError, ExitCode.ASSET),
    (BackendError, ExitCode.ASSET),
    (G2PError, ExitCode.ASSET),
    (Interrupted, ExitCode.INTERRUPTED),
    (JobStateError, ExitCode.OUTPUT),
    (JobError, ExitCode.BUSY),
    (FfmpegError, ExitCode.OUTPUT),
    (LoudnessError, ExitCode.OUTPUT),
    (OutputError, ExitCode.OUTPUT),
    (OSError, ExitCode.OUTPUT),
)


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code for one of the project's errors (or an OS or audio-file error); anything
    else is a bug and is raised again."""
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    if _is_soundfile_error(error):
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
                   "it), 130 interrupted (run the same command again to resume).")
