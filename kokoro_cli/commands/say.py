"""``say``: speak a short text straight to a file or to stdout, for shell one-liners.

A thin adapter: its voice, speed, language, dictionaries, subtitles and model options are the
shared settings (:mod:`kokoro_cli.settings`), built by the same request builder as ``convert``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from kokoro_cli.assets_env import resolver_for
from kokoro_cli.commands.options import config_of, with_settings
from kokoro_cli.console import out, run_guarded
from kokoro_cli.errors import EXIT_CODES_HELP
from kokoro_cli.inputs import read_stdin_text

__all__ = ["EPILOG", "say"]

EPILOG = ("Examples:\n\n  echo 'Build finished' | kokoro-cli say -o done.mp3\n\n"
          "  kokoro-cli say 'Hello there' -o - | aplay\n\n"
          "  kokoro-cli say 'Hello there' -o hello.mp3 --subtitles vtt\n\n" + EXIT_CODES_HELP)


@with_settings("say")
def say(
    ctx: typer.Context,
    text: Optional[str] = typer.Argument(None, help="Text to speak; absent or '-' reads stdin."),
    output: str = typer.Option(..., "-o", "--output", help="Audio file (format from the "
                               "extension) or '-' for stdout."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="wav, flac, mp3, opus or m4a "
                                      "(default: the extension; WAV on stdout). A clip's own: "
                                      "the config's book format does not apply."),
    **flags: Any,
) -> None:
    """Speak a short text into an audio file or a pipe."""
    def action() -> None:
        from engine import SAMPLE_RATE
        from kokoro_cli.conversion import choose_reading, show_warnings, speech_settings
        from kokoro_cli.messages import Messages
        from kokoro_cli.output import clip_format, write_clip
        from kokoro_cli.output.subtitles import write_clip_subtitles
        from kokoro_cli.speech import SpeechOptions, kept_engine, speak_timed
        from preprocess import InputError, lexicon_for, parse_text

        config = config_of(ctx)
        kind = clip_format(output, fmt)
        speech = speech_settings(config, flags, "say", output)
        messages = Messages()
        with show_warnings(messages.warning):  # the decoder's (bad bytes on stdin)
            spoken = read_stdin_text() if text in (None, "-") else text
        if not spoken.strip():
            raise InputError("nothing to say: give TEXT or pipe it on stdin")
        reading = choose_reading(parse_text(spoken, name="say"), speech.lang, speech.voice,
                                 speech.voice_given)
        for warning in reading.warnings:
            messages.warning(warning)
        document = reading.document
        options = SpeechOptions(reading.voice, speech.speed,
                                lexicon_for(document, speech.dictionaries),
                                backend=speech.backend)
        engine = kept_engine(resolver_for(speech.model, speech.voices, messages.note))
        with show_warnings(messages.warning):
            samples, timing = speak_timed(document, engine, options)
        write_clip(samples, SAMPLE_RATE, output, kind, sys.stdout.buffer)
        if speech.subtitles is not None:
            write_clip_subtitles(timing, Path(output), speech.subtitles,
                                 words=speech.subtitle_words)
        if output != "-":
            out.print(str(output), markup=False)  # results go to stdout, as convert's do
    run_guarded(action)
