"""The project's root exception, and the exit codes its errors carry.

Every seam (parsing, dictionaries, voices, backends, assets, ffmpeg, jobs) raises a subclass of
:class:`KokoroError` that names its :class:`ExitCode`; the CLI prints the message on one line
and exits with that code. Anything else escaping to the CLI is a bug.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar, Optional

__all__ = ["ExitCode", "KokoroError"]


class ExitCode(IntEnum):
    """The CLI's exit status for each kind of error."""

    OK = 0
    USAGE = 2  # bad options or arguments (also unknown voice, bad speed)
    INPUT = 3  # input missing, unreadable, unsupported, corrupt, or nothing to read
    ASSET = 4  # model or voice missing, unreachable or failing verification; runtime missing
    OUTPUT = 5  # ffmpeg failed, disk full, permissions, loudness QC failed with --qc strict
    BUSY = 6  # another run is working on the same job
    VERIFY = 7  # --verify strict: pieces still failing the listening check (output kept back)
    INTERRUPTED = 130


class KokoroError(Exception):
    """Root of every error this project raises on purpose."""

    # Each seam's subclass names its code; the bare root names none, as nothing raises it.
    exit_code: ClassVar[Optional[ExitCode]] = None
