"""``convert``: documents into audiobooks, each a resumable job.

A thin adapter: the shared options come from the table of settings
(:mod:`kokoro_cli.settings`), the work from the conversion layer (:mod:`kokoro_cli.conversion`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from kokoro_cli.commands.options import ChaptersOpt, config_of, with_settings
from kokoro_cli.console import run_guarded
from kokoro_cli.errors import EXIT_CODES_HELP, UsageError

__all__ = ["EPILOG", "convert"]

ReadAlongOpt = typer.Option(None, "--read-along", dir_okay=False, help="Also write an EPUB 3 "
                            "with the narration embedded and each sentence highlighted as it is "
                            "read (media overlays); from Markdown or text, a new EPUB.")

EPILOG = ("Examples:\n\n  kokoro-cli convert samples/report.md -o report.m4b --voice af_heart\n\n"
          "  kokoro-cli convert books/*.epub --out-dir audiobooks/\n\n" + EXIT_CODES_HELP)


@with_settings("convert")
def convert(
    ctx: typer.Context,
    inputs: list[Path] = typer.Argument(..., help="Markdown (.md), EPUB (.epub), plain text "
                                        "(.txt) files or folders of chapter files; '-' is stdin."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file (one input "
                                          "only; '-' streams to stdout; a folder with "
                                          "--split-chapters). Default: the document's title in "
                                          "--out-dir. An existing file written from another "
                                          "input is replaced only with --force."),
    chapters: Optional[str] = ChaptersOpt,
    force: bool = typer.Option(False, "--force", help="Synthesize everything again, ignoring "
                               "finished chapters and cached pieces (and replace an -o file "
                               "written from another input)."),
    read_along: Optional[Path] = ReadAlongOpt,
    qc_json: Optional[Path] = typer.Option(None, "--qc-json", dir_okay=False, help="Write the "
                                           "loudness QC report (and the run's warnings) as JSON "
                                           "to this file."),
    **flags: Any,
) -> None:
    """Convert documents into audiobooks (M4B by default; MP3, WAV, FLAC, Opus) with one chapter per document chapter.

    Each conversion is a resumable job: stop it any time (Ctrl-C, kill, power loss) and run the
    same command again to continue; only pieces whose text changed are synthesized again, and a
    run with nothing changed is a quick no-op. The model loads once for all inputs. With
    several inputs, every output is named before any synthesis, a failing input is reported
    and the others still run; the exit code is that of the first failure."""
    def action() -> None:
        from kokoro_cli.conversion import build_settings, open_converter
        from kokoro_cli.messages import Messages
        from kokoro_cli.inputs import expand_inputs

        files = expand_inputs(inputs)
        if output is not None and len(files) > 1:
            raise UsageError("-o names one output; with several inputs use --out-dir")
        if read_along is not None and len(files) > 1:
            raise UsageError("--read-along names one book; convert one input at a time")
        settings = build_settings(config_of(ctx), flags, "convert", output=output,
                                  chapters=chapters, force=force, read_along=read_along,
                                  qc_json=qc_json)
        messages = Messages(settings.progress)
        for warning in settings.warnings:
            messages.warning(warning)
        with open_converter(settings, messages) as converter:
            code = converter.run(files, output)
        if code:
            raise typer.Exit(code)
    run_guarded(action)
