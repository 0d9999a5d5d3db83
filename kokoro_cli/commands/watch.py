"""``watch``: narrate every document dropped into a folder, one at a time, until stopped.

A thin adapter: it takes the same shared options and config keys as ``convert`` (from
:mod:`kokoro_cli.settings`) and narrates through one converter, so the model and the workers
load once for every document of the watch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kokoro_cli.commands.options import config_of, with_settings
from kokoro_cli.console import err, run_guarded
from kokoro_cli.errors import EXIT_CODES_HELP, UsageError, exit_code_for, message_for

if TYPE_CHECKING:
    from kokoro_cli.conversion import Converter
    from kokoro_cli.messages import Messages

__all__ = ["EPILOG", "watch"]


@with_settings("watch")
def watch(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., file_okay=False, help="The folder to watch for Markdown, "
                                  "text and EPUB files."),
    settle: float = typer.Option(2.0, "--settle", min=0.0, help="Seconds a file's size and "
                                 "time must stay the same before it is read."),
    **flags: Any,
) -> None:
    """Narrate each new or changed document in FOLDER into --out-dir (or the config's out_dir),
    one at a time, until SIGTERM or Ctrl-C (exit 0 once the piece in flight is done).

    Conversions are the same resumable jobs as 'convert', with the same options: a file that
    did not change is a no-op, an edited one synthesizes only the pieces whose text changed,
    and a conversion stopped by SIGTERM goes on when the watch starts again. The model loads
    once for the whole watch. A file is read once its size and time have not changed for
    --settle seconds; a document that fails is reported and the watch goes on."""
    def action() -> None:
        from kokoro_cli.conversion import build_settings, open_converter
        from kokoro_cli.messages import Messages
        from kokoro_cli.watching import stop_on_signals, watch_folder

        if not folder.is_dir():
            raise UsageError(f"{folder} is not a folder")
        settings = build_settings(config_of(ctx), flags, "watch")
        if settings.out_dir is None:
            raise UsageError("name the folder for the audio with --out-dir (or the config "
                             "key out_dir)")
        if not settings.out_dir.is_dir():
            raise UsageError(f"--out-dir {settings.out_dir} is not a folder")
        messages = Messages(settings.progress)
        for warning in settings.warnings:
            messages.warning(warning)
        messages.note(f"watching {folder} (SIGTERM or Ctrl-C stops)")
        with open_converter(settings, messages) as converter, stop_on_signals() as stop:
            watch_folder(folder, lambda path: _narrate(converter, path, messages), stop,
                         settle=settle, warn=messages.warning)
        messages.note("stopped")
    run_guarded(action)


EPILOG = ("Example:\n\n  kokoro-cli watch /srv/inbox --out-dir /srv/audio --feed --format mp3"
          "\n\n" + EXIT_CODES_HELP)


def _narrate(converter: Converter, path: Path, messages: Messages) -> bool:
    """Convert one document (and update the feed); False when the conversion was stopped by
    a signal. Any other error of the project is reported and the watch goes on."""
    from kokoro_cli.jobs.job import Interrupted

    messages.note(f"{path.name}: converting")
    try:
        converter.run([path])
    except Interrupted:
        messages.note(f"{path.name}: stopped after the piece in flight; it goes on at the "
                      "next start")
        return False
    except Exception as exc:  # exit_code_for raises again what is a bug
        exit_code_for(exc)
        err.print(f"error: {path}: {message_for(exc)}", markup=False)
    return True
