"""Where a command's notes and warnings go, by progress mode: the channel beside the progress
display.

Notes ("3 pieces: 2 synthesized…", "feed updated") are for a person watching and are silent with
``--quiet``, ``--progress none`` and ``--progress json``. Warnings (a language fallback, an
unknown word skipped, a voice of another language) always reach the user: one ``warning:``
line each on stderr, or with ``--progress json`` a ``{"event": "warning"}`` object in the same
stream as the progress events. Each is also kept, for the job's QC report.
"""

from __future__ import annotations

import json
import sys

from kokoro_cli.console import err, one_line

__all__ = ["Messages"]


class Messages:
    """The notes and warnings of one command, for a progress mode (auto, bars, plain, json,
    none; ``--quiet`` is none)."""

    def __init__(self, mode: str = "auto") -> None:
        self.mode = mode
        self.warnings: list[str] = []

    def note(self, message: str) -> None:
        """A line for a person watching; nothing in the quiet and machine modes."""
        if self.mode not in ("none", "json"):
            err.print(message, markup=False)

    def warning(self, message: str) -> None:
        """Something the user should know whatever the mode: never silenced."""
        message = one_line(message)
        self.warnings.append(message)
        if self.mode == "json":
            sys.stderr.write(json.dumps({"event": "warning", "message": message},
                                        ensure_ascii=False) + "\n")
            sys.stderr.flush()
        else:
            err.print(f"warning: {message}", markup=False)

    def since(self, mark: int) -> tuple[str, ...]:
        """The warnings given after ``len(self.warnings)`` was ``mark`` (one input's)."""
        return tuple(self.warnings[mark:])
