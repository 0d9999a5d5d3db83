"""Where the CLI writes: the two consoles, one-line errors, and the guard every command body
runs under (the project's errors become one line on stderr and an exit code)."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console

from kokoro_cli.errors import ExitCode, exit_code_for, message_for

__all__ = ["err", "one_line", "out", "run_guarded"]

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def one_line(message: str) -> str:
    """A message fit for one line: control characters and line breaks become spaces."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in message).split())


def run_guarded(action: Callable[[], None]) -> None:
    """Run a command body; the project's errors become one line on stderr and an exit code."""
    try:
        action()
    except KeyboardInterrupt:
        err.print("interrupted; run the same command again to resume")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except Exception as exc:  # exit_code_for re-raises anything that is a bug
        code = exit_code_for(exc)
        err.print(f"error: {message_for(exc)}", markup=False)
        raise typer.Exit(code) from None
