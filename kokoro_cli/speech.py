"""Speaking a short text in one go, for ``say`` and ``voices preview``: no job folder (a
one-liner is short, so its audio is made in memory), the model loading beside G2P."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from engine import (AssetResolver, Engine, Synthesizer, VoiceG2P, describe_spec, resolve_backend,
                    token_count)
from kokoro_cli.jobs.timing import ChapterTiming, TimingBuilder
from preprocess import ChunkOptions, Document, Lexicon, plan

__all__ = ["SpeechOptions", "kept_engine", "speak_document", "speak_timed"]

_kept: dict[tuple, Engine] = {}
_kept_lock = threading.Lock()


@dataclass(frozen=True)
class SpeechOptions:
    voice: str = "af_heart"
    speed: float = 1.0
    lexicon: Lexicon = field(default_factory=Lexicon)
    chunking: ChunkOptions = field(default_factory=ChunkOptions)
    backend: str = "auto"


def speak_document(document: Document, engine: Engine,
                   options: SpeechOptions) -> np.ndarray:
    """The whole document as 16-bit samples: every piece with the chunker's pause after it,
    except the last; spoken by ``engine``'s model (loaded on its first use)."""
    return speak_timed(document, engine, options)[0]


def speak_timed(document: Document, engine: Engine,
                options: SpeechOptions) -> tuple[np.ndarray, ChapterTiming]:
    """:func:`speak_document` and where its sentences and words are heard (for subtitles)."""
    backend = resolve_backend(engine.resolver, options.backend)
    lang_code = describe_spec(options.voice)[1].lang_code
    if backend == "torch":
        # torch first: G2P hides torch from spaCy while it imports when torch is not loaded
        # yet, which a torch import in another thread at that moment would trip over.
        synth = _loaded(engine, backend)
        pieces = _pieces(document, lang_code, options)
    else:
        # The model loads in a thread while G2P starts here: onnxruntime releases the GIL
        # while it builds its session, so a one-liner pays for the slower of the two, not both.
        with ThreadPoolExecutor(max_workers=1) as loader:
            loading = loader.submit(_loaded, engine, backend)
            pieces = _pieces(document, lang_code, options)
            synth = loading.result()
    spoken = list(synth.speak(pieces, synth.voice(options.voice), options.speed))
    parts = [part for chunk in spoken for part in (chunk.pcm16, chunk.pause_pcm16)]
    samples = np.concatenate(parts[:-1] or [np.zeros(0, dtype="<i2")])
    timing, at = TimingBuilder(synth.sample_rate), 0
    for chunk in spoken:
        timing.add(chunk.piece, at, chunk.samples.size, chunk.token_bounds())
        at += chunk.samples.size + chunk.pause_pcm16.size
    return samples, timing.finish(samples.size)


def kept_engine(resolver: AssetResolver) -> Engine:
    """The engine for ``resolver``'s files, made on first use and kept for the rest of the
    process: a ``say`` in its own process makes it once, and ``kokoro-cli serve`` answers
    every ``say`` with the model it loaded for the first that named the same files."""
    paths = (resolver.explicit_model, resolver.explicit_voices, resolver.explicit_torch_model,
             resolver.cache_dir)
    relative = any(p is not None and not p.is_absolute() for p in paths)
    key = (*paths, resolver.sources, os.getcwd() if relative else None)
    with _kept_lock:
        if key not in _kept:
            _kept[key] = Engine(resolver)
        return _kept[key]


def _pieces(document: Document, lang_code: str, options: SpeechOptions) -> list:
    """The planned pieces, each chapter read in its language; G2P (spaCy, misaki) loads here,
    on first use."""
    plans = plan(document, VoiceG2P(lang_code), token_count, options.chunking, options.lexicon)
    return [chunk for planned in plans for chunk in planned.chunks]


def _loaded(engine: Engine, backend: str) -> Synthesizer:
    """The synthesizer with its model session created (the onnx backend would otherwise create
    it on the first piece, after G2P, instead of beside it)."""
    return engine.synthesizer(backend).ready()
