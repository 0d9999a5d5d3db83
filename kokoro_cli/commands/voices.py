"""``voices``: list the 54 Kokoro voices, or hear one."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from kokoro_cli.assets_env import resolver_for
from kokoro_cli.commands.options import BackendOpt, ModelOpt, VoicesOpt, config_of
from kokoro_cli.console import out, run_guarded

__all__ = ["voices_app"]

voices_app = typer.Typer(help="List the 54 Kokoro voices, or hear one.")

# A sentence per language for 'voices preview', in the voice's own language.
PREVIEW_SENTENCES = {
    "en": "Hello! This is {name}, one of the Kokoro voices, reading a sample sentence.",
    "es": "Hola, soy una de las voces de Kokoro y esta es una frase de ejemplo.",
    "fr": "Bonjour, je suis une des voix de Kokoro et voici une phrase d'exemple.",
    "hi": "नमस्ते, मैं कोकोरो की एक आवाज़ हूँ।",
    "it": "Ciao, sono una delle voci di Kokoro e questa è una frase di esempio.",
    "pt": "Olá, eu sou uma das vozes do Kokoro e esta é uma frase de exemplo.",
}


@voices_app.callback(invoke_without_command=True,
                     epilog="Examples: kokoro-cli voices --lang en-gb; kokoro-cli voices preview bf_emma -o emma.wav")
def voices_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Only this language (en-us, en-gb, "
                                       "es, fr, hi, it, ja, pt-br, zh) or its prefix (en)."),
) -> None:
    """List the 54 Kokoro voices with their language and gender."""
    if ctx.invoked_subcommand is not None:
        return
    from engine import catalogue

    rows = [v for v in catalogue() if lang is None or v.language.startswith(lang.lower())]
    if as_json:
        out.print_json(json.dumps([{"name": v.name, "language": v.language,
                                    "language_name": v.language_name, "gender": v.gender}
                                   for v in rows]))
        return
    for v in rows:
        out.print(f"{v.name:<14} {v.language:<6} {v.gender:<7} {v.language_name}")


@voices_app.command("preview")
def voices_preview(
    ctx: typer.Context,
    voice: str = typer.Argument(..., help="Voice name or blend."),
    output: str = typer.Option("-", "-o", "--output", help="Audio file, or '-' (WAV on stdout)."),
    text: Optional[str] = typer.Option(None, "--text", help="Say this instead of the sample."),
    backend: Optional[str] = BackendOpt,
    model: Optional[Path] = ModelOpt,
    voices: Optional[Path] = VoicesOpt,
) -> None:
    """Speak a sample sentence with a voice."""
    def action() -> None:
        from engine import SAMPLE_RATE, Engine, describe_spec
        from kokoro_cli.output import clip_format, write_clip
        from kokoro_cli.speech import SpeechOptions, speak_document
        from preprocess import parse_text

        canonical, info = describe_spec(voice)
        kind = clip_format(output, None)
        sentence = text or PREVIEW_SENTENCES.get(info.language[:2], PREVIEW_SENTENCES["en"])
        document = parse_text(sentence.format(name=info.name.split("_")[1].title()),
                              name="preview")
        options = SpeechOptions(canonical, backend=config_of(ctx).value("backend", backend))
        samples = speak_document(document, Engine(resolver_for(model, voices)), options)
        write_clip(samples, SAMPLE_RATE, output, kind, sys.stdout.buffer)
        if output != "-":
            out.print(output, markup=False)
    run_guarded(action)
