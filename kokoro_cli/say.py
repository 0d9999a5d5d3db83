"""``say``: speak a short text straight to a file or to stdout, for shell one-liners.

No job folder: a one-liner is short, so its audio is made in memory and written once.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from engine import AssetResolver, Synthesizer, describe_spec
from engine.g2p import phonemizer_for
from engine.synth import resolve_backend
from engine.audio import silence, trim
from kokoro_common.atomic import write_atomic
from kokoro_cli.cache import to_pcm16
from kokoro_cli.errors import UsageError
from kokoro_cli.ffmpeg import run_ffmpeg
from kokoro_cli.render import RenderOptions, plan
from preprocess import Document

# Output kinds: soundfile writes the lossless ones itself, ffmpeg encodes the rest.
SOUNDFILE_FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16")}
FFMPEG_FORMATS = {"mp3": ("mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]),
                  "opus": ("ogg", ["-c:a", "libopus", "-b:a", "48k", "-ar", "48000"]),
                  "m4a": ("ipod", ["-c:a", "aac", "-b:a", "96k"])}
FORMATS = tuple(SOUNDFILE_FORMATS) + tuple(FFMPEG_FORMATS)


def format_for(output: str, explicit: str | None) -> str:
    """The output format: ``explicit``, else the file extension; stdout defaults to WAV."""
    fmt = (explicit or (Path(output).suffix.lstrip(".").lower() if output != "-" else "wav"))
    if fmt == "m4b":
        fmt = "m4a"
    if fmt not in FORMATS:
        raise UsageError(f"cannot write {fmt!r} audio; use one of {', '.join(FORMATS)} "
                         "(--format, or the file extension)")
    return fmt


def speak(document: Document, resolver: AssetResolver, options: RenderOptions,
          backend: str = "auto") -> Iterator[np.ndarray]:
    """16-bit samples, piece by piece, with the chunker's pauses between pieces."""
    backend = resolve_backend(resolver, backend)
    lang_code = describe_spec(options.voice)[1].lang_code
    if backend == "torch":
        # torch first: G2P hides torch from spaCy while it imports when torch is not loaded
        # yet, which a torch import in another thread at that moment would trip over.
        synth = _loaded(resolver, backend)
        plans = plan(document, phonemizer_for(lang_code), options.chunking, options.lexicon)
    else:
        # The model loads in a thread while G2P starts here: onnxruntime releases the GIL
        # while it builds its session, so a one-liner pays for the slower of the two, not both.
        with ThreadPoolExecutor(max_workers=1) as loader:
            loading = loader.submit(_loaded, resolver, backend)
            plans = plan(document, phonemizer_for(lang_code), options.chunking, options.lexicon)
            synth = loading.result()
    voice = synth.voice(options.voice)
    chunks = [c for p in plans for c in p.chunks]
    spoken = synth.synthesize_many((c.phonemes for c in chunks), voice, options.speed)
    for i, (chunk, samples) in enumerate(zip(chunks, spoken)):
        yield to_pcm16(trim(samples))
        if i < len(chunks) - 1:
            yield to_pcm16(silence(chunk.pause_after_ms))


def _loaded(resolver: AssetResolver, backend: str) -> Synthesizer:
    """The synthesizer with its model session created (the onnx backend would otherwise create
    it on the first piece, after G2P, instead of beside it)."""
    return Synthesizer.load(resolver, backend=backend).ready()


def encode(samples: np.ndarray, fmt: str, sample_rate: int = 24_000) -> bytes:
    """The bytes of a complete file of ``fmt`` holding ``samples``."""
    buffer = io.BytesIO()
    container, subtype = SOUNDFILE_FORMATS.get(fmt, ("WAV", "PCM_16"))
    sf.write(buffer, samples, sample_rate, format=container, subtype=subtype)
    if fmt in SOUNDFILE_FORMATS:
        return buffer.getvalue()
    muxer, codec = FFMPEG_FORMATS[fmt]
    return run_ffmpeg(["-f", "wav", "-i", "pipe:0", *codec, "-f", muxer, "pipe:1"],
                      input=buffer.getvalue())


def write_output(data: bytes, output: str, stdout) -> None:
    """To stdout for ``-``, else atomically to the file (an old file stays until it is done)."""
    if output == "-":
        stdout.write(data)
        stdout.flush()
    else:
        write_atomic(Path(output), data)
