"""The project's root exception.

Every seam (parsing, dictionaries, voices, backends, assets, ffmpeg, jobs) raises a subclass of
:class:`KokoroError`; the CLI maps the class to a one-line message and an exit code. Anything
else escaping to the CLI is a bug.
"""

from __future__ import annotations

__all__ = ["KokoroError"]


class KokoroError(Exception):
    """Root of every error this project raises on purpose."""
