"""The command line's root: the Typer app, its global options and the command groups.

Each command lives in ``kokoro_cli/commands/``; heavy modules (the engine, parsers, ffmpeg) are
imported inside the commands that use them so ``--help`` and ``voices`` start fast.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from kokoro_cli import __version__
from kokoro_cli.commands import (config, convert, feed, inspect, jobs, models, say, serve,
                                 voices, watch)
from kokoro_cli.commands.options import GlobalOptions
from kokoro_cli.console import err, one_line, out
from kokoro_cli.errors import EXIT_CODES_HELP, ExitCode
from kokoro_cli.settings import optional_values

__all__ = ["app"]


class _OneLineErrors(typer.core.TyperGroup):
    """Click's own usage errors (a value that is not a number, a missing argument) as one line
    on stderr, like every other error, instead of a usage block and a framed panel."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        return super().parse_args(ctx, optional_values(args))

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        # Typer vendors its own click; its exception base is found from a public subclass.
        click_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click_error as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                sys.exit(exc.exit_code)  # the help was printed as the error was made
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            err.print(f"error: {one_line(exc.format_message())}{hint}", markup=False)
            sys.exit(exc.exit_code)
        except typer.Abort:
            err.print("aborted", markup=False)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="kokoro-cli", no_args_is_help=True, add_completion=True,
    pretty_exceptions_show_locals=False,
    help="Turn Markdown, EPUB and plain text into audiobooks with the Kokoro-82M voice model.\n\n"
         + EXIT_CODES_HELP,
)
app.command(epilog=convert.EPILOG)(convert.convert)
app.command(epilog="Example: kokoro-cli inspect book.epub --json")(inspect.inspect)
app.command(epilog="Example: kokoro-cli preview samples/report.md --chapters 2 --phonemes")(
    inspect.preview)
app.command(epilog=say.EPILOG)(say.say)
app.command(epilog=serve.EPILOG)(serve.serve)
app.command(epilog=feed.EPILOG)(feed.feed)
app.command(epilog=watch.EPILOG)(watch.watch)
app.add_typer(models.models_app, name="models")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(config.config_app, name="config")
app.add_typer(voices.voices_app, name="voices")


def _version(value: bool) -> None:
    if value:
        out.print(f"kokoro-cli {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    config_file: Optional[Path] = typer.Option(None, "--config", dir_okay=False, help="Config "
                                               "file (default: the user config folder's "
                                               "config.toml, or $KOKORO_CLI_CONFIG)."),
    verbose: bool = typer.Option(False, "--verbose", help="Log details (commands run, files "
                                 "fetched) on stderr."),
    log_file: Optional[Path] = typer.Option(None, "--log-file", dir_okay=False, help="Append a "
                                            "detailed log to this file."),
) -> None:
    """Kokoro audiobook converter."""
    ctx.obj = GlobalOptions(config_file, verbose, log_file)
    _setup_logging(verbose, log_file)


def _setup_logging(verbose: bool, log_file: Optional[Path]) -> None:
    handlers: list[logging.Handler] = []
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    if log_file is not None:
        try:
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            err.print(f"error: cannot write the log file {log_file}: {exc.strerror}", markup=False)
            raise typer.Exit(ExitCode.OUTPUT) from None
    if handlers:
        logging.raiseExceptions = False  # a log file on a full disk must not print traces
        # Our own packages in detail; libraries (markdown-it traces every rule) warnings only.
        logging.basicConfig(level=logging.WARNING, handlers=handlers, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for package in ("engine", "preprocess", "kokoro_cli", "kokoro_common"):
            logging.getLogger(package).setLevel(logging.DEBUG)
