"""The Synthesizer: loaded once per process, shared by every chapter and job."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from engine.assets import AssetResolver
from engine.backends import Backend, OnnxBackend
from engine.errors import BackendError, SettingError
from engine.g2p import Phonemizer, phonemizer_for
from engine.voices import Voice, load_voice

log = logging.getLogger(__name__)

SAMPLE_RATE = 24_000
MAX_PHONEMES = 510  # the model sees [0, *ids, 0] within a 512-position context


@cache
def vocab() -> dict[str, int]:
    """Kokoro's phoneme → token id table."""
    data = json.loads(resources.files("engine").joinpath("data/vocab.json").read_text("utf-8"))
    return data["vocab"]


def tokenize(phonemes: str) -> np.ndarray:
    """Token ids for a phoneme string. Symbols outside the vocabulary carry no sound and are
    dropped (misaki emits none for English); the length limit is checked, never truncated."""
    table = vocab()
    ids = [table[p] for p in phonemes if p in table]
    if len(ids) > MAX_PHONEMES:
        raise BackendError(f"{len(ids)} phonemes in one piece; the model takes {MAX_PHONEMES}")
    return np.array(ids, dtype=np.int64)


def token_count(phonemes: str) -> int:
    table = vocab()
    return sum(1 for p in phonemes if p in table)


@dataclass(frozen=True)
class SynthOptions:
    voice: str = "af_heart"
    speed: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed) and 0.5 <= self.speed <= 2.0):
            raise SettingError(f"speed {self.speed} is out of range: use 0.5 to 2.0")


class Synthesizer:
    """Turns phoneme pieces into 24 kHz float32 samples with one loaded model."""

    sample_rate = SAMPLE_RATE

    def __init__(self, backend: Backend, resolver: AssetResolver,
                 model_path: Path | None = None) -> None:
        self.backend = backend
        self.resolver = resolver
        self.model_path = model_path  # for worker processes that load the same model
        self._voices: dict[str, Voice] = {}

    @classmethod
    def load(cls, resolver: AssetResolver, *, threads: int | None = None) -> Synthesizer:
        """Resolve (and fetch on first use) the model, then start the runtime."""
        model = resolver.model()
        return cls(OnnxBackend(model, threads=threads), resolver, model)

    def voice(self, spec: str) -> Voice:
        if spec not in self._voices:
            self._voices[spec] = load_voice(spec, self.resolver)
        return self._voices[spec]

    def phonemizer(self, voice: Voice) -> Phonemizer:
        """The G2P that matches the voice's language."""
        return phonemizer_for(voice.info.lang_code)

    @staticmethod
    def prepare(phonemes: str, voice: Voice, speed: float) -> tuple[np.ndarray, np.ndarray, float]:
        """The model's inputs for one piece: padded token ids, style row, speed."""
        ids = tokenize(phonemes)
        padded = np.concatenate([[0], ids, [0]]).astype(np.int64)
        return padded, voice.style(max(ids.size, 1)), float(speed)

    def synthesize(self, phonemes: str, voice: Voice, speed: float = 1.0) -> np.ndarray:
        """Samples for one piece of at most 510 phonemes."""
        padded, style, speed = self.prepare(phonemes, voice, speed)
        if padded.size == 2:
            return np.zeros(0, dtype=np.float32)
        return self.backend.infer(padded, style, speed)
