"""The errors of the text side (the root, KokoroError, lives in kokoro_common)."""

from __future__ import annotations

from kokoro_common import ExitCode, KokoroError

__all__ = ["InputError", "ParseError"]


class InputError(KokoroError):
    """The input document is missing, unreadable, unsupported or has nothing to speak."""

    exit_code = ExitCode.INPUT


class ParseError(InputError):
    """A document could not be parsed (corrupt, truncated or not what its name says)."""
