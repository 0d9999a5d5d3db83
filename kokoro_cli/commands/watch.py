"""``watch``: narrate every document dropped into a folder, one at a time, until stopped."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import typer

from kokoro_cli.commands.feed import KeepOpt, PruneOpt, feed_settings, refresh_feed
from kokoro_cli.commands.language import LangOpt, VoiceForOpt, voice_for_warnings, voices_for
from kokoro_cli.commands.options import (BackendOpt, ProgressOpt, QuietOpt, WorkDirOpt,
                                         config_of, resolver_for)
from kokoro_cli.console import err, notifier, run_guarded
from kokoro_cli.errors import EXIT_CODES_HELP, UsageError, exit_code_for, message_for

if TYPE_CHECKING:
    from kokoro_cli.commands.convert import ConvertJob
    from kokoro_cli.publish import FeedSettings

__all__ = ["EPILOG", "watch"]


def watch(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., file_okay=False, help="The folder to watch for Markdown, "
                                  "text and EPUB files."),
    out_dir: Path = typer.Option(..., "--out-dir", file_okay=False, help="Folder for the audio."),
    feed: bool = typer.Option(False, "--feed", help="Update the podcast feed of --out-dir "
                              "after each document (settings from 'kokoro-cli feed')."),
    keep: Optional[int] = KeepOpt,
    prune: bool = PruneOpt,
    settle: float = typer.Option(2.0, "--settle", min=0.0, help="Seconds a file's size and "
                                 "time must stay the same before it is read."),
    voice: Optional[str] = typer.Option(None, "--voice", "-v", help="Voice name or blend."),
    speed: Optional[float] = typer.Option(None, "--speed", help="Speaking speed, 0.5 to 2.0."),
    lang: Optional[str] = LangOpt,
    voice_for: Optional[list[str]] = VoiceForOpt,
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="m4b, mp3, wav, flac or "
                                      "opus (default m4b)."),
    loudness: Optional[str] = typer.Option(None, "--loudness", help="audiobook, acx, podcast, "
                                           "ebu or off."),
    work_dir: Optional[Path] = WorkDirOpt,
    progress: Optional[str] = ProgressOpt,
    quiet: bool = QuietOpt,
    backend: Optional[str] = BackendOpt,
) -> None:
    """Narrate each new or changed document in FOLDER into --out-dir, one at a time, until
    SIGTERM or Ctrl-C (exit 0 once the piece in flight is done).

    Conversions are the same resumable jobs as 'convert': a file that did not change is a
    no-op, an edited one synthesizes only the pieces whose text changed, and a conversion
    stopped by SIGTERM goes on when the watch starts again. A file is read once its size and
    time have not changed for --settle seconds; a document that fails is reported and the
    watch goes on."""
    def action() -> None:
        from kokoro_cli.watching import stop_on_signals, watch_folder

        if not folder.is_dir():
            raise UsageError(f"{folder} is not a folder")
        if not out_dir.is_dir():
            raise UsageError(f"--out-dir {out_dir} is not a folder")
        config = config_of(ctx)
        mode = "none" if quiet else config.value("progress", progress)
        job = _convert_job(config, mode, voice, speed, fmt, loudness, work_dir, backend)
        job = _languages(job, config, voice, lang, voice_for)
        publish = None
        if feed:
            from kokoro_cli.publish import check_settings

            publish = feed_settings(config, out_dir, keep, prune, job.work_dir)
            check_settings(publish)
        elif keep is not None or prune:
            raise UsageError("--keep and --prune go with --feed")
        say = notifier(mode)
        say(f"watching {folder} (SIGTERM or Ctrl-C stops)")
        with stop_on_signals() as stop:
            watch_folder(folder, lambda path: _narrate(job, path, out_dir, publish, say), stop,
                         settle=settle)
        say("stopped")
    run_guarded(action)


EPILOG = ("Example:\n\n  kokoro-cli watch /srv/inbox --out-dir /srv/audio --feed --format mp3"
          "\n\n" + EXIT_CODES_HELP)


def _convert_job(config, mode: str, voice: Optional[str], speed: Optional[float],
                 fmt: Optional[str], loudness: Optional[str], work_dir: Optional[Path],
                 backend: Optional[str]) -> ConvertJob:
    """The conversion settings every document of the watch shares, as 'convert' builds them."""
    from engine import default_workers
    from kokoro_cli.commands.convert import ConvertJob
    from kokoro_cli.inputs import ParseSettings
    from kokoro_cli.jobs.render import RenderOptions
    from kokoro_cli.output import options_from_flags

    output = options_from_flags(None, config.value("format", fmt),
                                config.value("loudness", loudness), False, None, None, 0, True)
    options = RenderOptions(voice=config.value("voice", voice),
                            speed=config.value("speed", speed), output=output,
                            workers=default_workers())
    return ConvertJob(ParseSettings(), options, config.value("dict", ()),
                      config.value("work_dir", work_dir), mode,
                      resolver_for(None, None, notifier(mode)),
                      backend=config.value("backend", backend))


def _languages(job: ConvertJob, config, voice: Optional[str], lang: Optional[str],
               voice_for: Optional[list[str]]) -> ConvertJob:
    """``job`` with --lang and --voice-for (checked now, before any document): as in
    'convert', each document's language picks its voice unless a voice was set."""
    voice_map = voices_for(list(config.value("voice_for", tuple(voice_for or ()))))
    for warning in voice_for_warnings(voice_map):
        notifier(job.progress)(f"warning: {warning}")
    return dataclasses.replace(job, lang=lang,
                               voice_given=config.get("voice", voice).source != "default",
                               options=dataclasses.replace(job.options,
                                                           voices=tuple(voice_map.items())))


def _narrate(job: ConvertJob, path: Path, out_dir: Path, publish: Optional[FeedSettings],
             say: Callable[[str], None]) -> bool:
    """Convert one document (and update the feed); False when the conversion was stopped by
    a signal. Any other error of the project is reported and the watch goes on."""
    from kokoro_cli.jobs.job import Interrupted

    say(f"{path.name}: converting")
    try:
        job.run_one(path, None, out_dir, batch=False)
        if publish is not None:
            refresh_feed(publish, say)
    except Interrupted:
        say(f"{path.name}: stopped after the piece in flight; it goes on at the next start")
        return False
    except Exception as exc:  # exit_code_for raises again what is a bug
        exit_code_for(exc)
        err.print(f"error: {path}: {message_for(exc)}", markup=False)
    return True
