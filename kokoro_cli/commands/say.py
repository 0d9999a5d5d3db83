"""``say``: speak a short text straight to a file or to stdout, for shell one-liners."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from kokoro_cli.commands.options import (BackendOpt, DictOpt, ModelOpt, VoicesOpt, config_of,
                                         resolver_for)
from kokoro_cli.commands.follow import SubtitlesOpt, SubtitleWordsOpt, check_follow
from kokoro_cli.commands.language import LangOpt, choose_reading, show_warnings
from kokoro_cli.console import run_guarded
from kokoro_cli.errors import EXIT_CODES_HELP
from kokoro_cli.inputs import read_stdin_text

__all__ = ["EPILOG", "say"]

EPILOG = ("Examples:\n\n  echo 'Build finished' | kokoro-cli say -o done.mp3\n\n"
          "  kokoro-cli say 'Hello there' -o - | aplay\n\n"
          "  kokoro-cli say 'Hello there' -o hello.mp3 --subtitles vtt\n\n" + EXIT_CODES_HELP)


def say(
    ctx: typer.Context,
    text: Optional[str] = typer.Argument(None, help="Text to speak; absent or '-' reads stdin."),
    output: str = typer.Option(..., "-o", "--output", help="Audio file (format from the "
                               "extension) or '-' for stdout."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="wav, flac, mp3, opus or m4a "
                                      "(default: the extension; WAV on stdout)."),
    voice: Optional[str] = typer.Option(None, "--voice", "-v", help="Voice or blend (default: "
                                        "the language's default voice, af_heart for English)."),
    speed: Optional[float] = typer.Option(None, "--speed", help="Speaking speed, 0.5 to 2.0."),
    lang: Optional[str] = LangOpt,
    dictionaries: Optional[list[Path]] = DictOpt,
    backend: Optional[str] = BackendOpt,
    model: Optional[Path] = ModelOpt,
    voices: Optional[Path] = VoicesOpt,
    subtitles: Optional[str] = SubtitlesOpt,
    subtitle_words: bool = SubtitleWordsOpt,
) -> None:
    """Speak a short text into an audio file or a pipe."""
    def action() -> None:
        from engine import SAMPLE_RATE, SynthOptions
        from kokoro_cli.output import clip_format, write_clip
        from kokoro_cli.output.subtitles import write_clip_subtitles
        from kokoro_cli.console import err
        from kokoro_cli.speech import SpeechOptions, speak_timed
        from preprocess import InputError, lexicon_for, parse_text

        config = config_of(ctx)
        kind = clip_format(output, fmt)
        cues = check_follow(subtitles, subtitle_words, output)
        spoken = read_stdin_text() if text in (None, "-") else text
        if not spoken.strip():
            raise InputError("nothing to say: give TEXT or pipe it on stdin")
        chosen = config.get("voice", voice)
        reading = choose_reading(parse_text(spoken, name="say"), lang, chosen.value,
                                 chosen.source != "default")
        for warning in reading.warnings:
            err.print(f"warning: {warning}", markup=False)
        settings = SynthOptions(voice=reading.voice,
                                speed=config.value("speed", speed))  # validated before work
        document = reading.document
        options = SpeechOptions(settings.voice, settings.speed,
                                lexicon_for(document, config.value("dict", tuple(dictionaries or ()))),
                                backend=config.value("backend", backend))
        with show_warnings():
            samples, timing = speak_timed(document, resolver_for(model, voices), options)
        write_clip(samples, SAMPLE_RATE, output, kind, sys.stdout.buffer)
        if cues is not None:
            write_clip_subtitles(timing, Path(output), cues, words=subtitle_words)
    run_guarded(action)
