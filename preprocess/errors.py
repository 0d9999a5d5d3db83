"""The project's root exception and the errors of the text side.

Every seam (parsing, dictionaries, voices, backends, assets, ffmpeg, jobs) raises a subclass of
:class:`KokoroError`; the CLI maps the class to a one-line message and an exit code. Anything
else escaping to the CLI is a bug.
"""

from __future__ import annotations


class KokoroError(Exception):
    """Root of every error this project raises on purpose."""


class InputError(KokoroError):
    """The input document is missing, unreadable, unsupported or has nothing to speak."""


class ParseError(InputError):
    """A document could not be parsed (corrupt, truncated or not what its name says)."""
