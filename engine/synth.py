"""The Synthesizer: loaded once per process, shared by every chapter and job."""

from __future__ import annotations

import importlib.util
import json
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.assets import AssetResolver
from engine.audio import AudioChunk, P, faded, trim_span
from engine.backends import Backend, BatchBackend, OnnxBackend, choose_backend
from engine.cpu import vocoder_weight_bits
from engine.errors import BackendError, SettingError
from engine.g2p import VoiceG2P
from engine.hearing import Hearing, hear
from engine.timed_model import derivation, timed_model
from engine.vocoder_int8 import WEIGHT_BITS, load_vocoder_ranges
from engine.voices import Voice, load_voice

if TYPE_CHECKING:
    from engine.pool import SynthPool

__all__ = ["MAX_PHONEMES", "SAMPLE_RATE", "SynthOptions", "Synthesizer", "model_id",
           "resolve_backend", "runtime_model", "token_count", "tokenize", "vocab",
           "vocoder_bits"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 24_000
MAX_PHONEMES = 510  # the model sees [0, *ids, 0] within a 512-position context
Spoken = tuple[np.ndarray, "np.ndarray | None"]  # samples, token durations (frames) or None


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
                 model_path: Path | None = None, model_id: str | None = None) -> None:
        self.backend = backend
        self.resolver = resolver
        # For worker processes that load the same ONNX model; None keeps synthesis in-process.
        self.model_path = model_path
        self._model_id = model_id
        self._voices: dict[str, Voice] = {}

    @classmethod
    def load(cls, resolver: AssetResolver, *, backend: str = "onnx", device: str | None = None,
             threads: int | None = None, weight_bits: int | None = None) -> Synthesizer:
        """Resolve (and fetch on first use) the model, then start the runtime.

        ``backend``: a name of :data:`kokoro_common.backends.BACKEND_TABLE` (``onnx``: see
        :mod:`engine.vocoder_int8`; ``onnx-float``: :mod:`engine.float_decoder`; ``torch`` runs
        on CUDA when present, or on ``device``). ``weight_bits``: the ``onnx`` vocoder's, 7 or 8;
        None lets :func:`engine.cpu.vocoder_weight_bits` choose for this CPU."""
        backend = resolve_backend(resolver, backend)
        if backend == "torch":
            return cls._load_torch(resolver, device=device, threads=threads)
        if device not in (None, "cpu"):
            raise SettingError(f"the onnx backend runs on the CPU, not {device}; "
                               "use --backend torch for a GPU")
        explicit = resolver.explicit_model
        if explicit is not None and explicit.suffix in (".pth", ".pt"):
            raise SettingError(f"{explicit} holds PyTorch weights; use --backend torch "
                               "(or an ONNX model)")
        model = runtime_model(resolver, backend, weight_bits)
        return cls(OnnxBackend(model, threads=threads), resolver, model,
                   model_id(resolver, backend, weight_bits))

    @classmethod
    def _load_torch(cls, resolver: AssetResolver, *, device: str | None,
                    threads: int | None) -> Synthesizer:
        from engine.torch_backend import TorchBackend
        from engine.torch_weights import require_runtime, resolve_weights, weights_file

        require_runtime()
        weights = resolve_weights(resolver)
        log.info("torch backend: weights %s", weights.describe())
        backend = TorchBackend(weights_file(weights, resolver.cache_dir, resolver.notify),
                               device=device, threads=threads)
        log.info("torch backend on %s", backend.device)
        return cls(backend, resolver, None, weights.model_id)

    @property
    def model_id(self) -> str:
        """What decides the samples besides voice, speed and phonemes (see :func:`model_id`)."""
        if self._model_id is None:
            self._model_id = self.resolver.model_sha256()
        return self._model_id

    def ready(self) -> Synthesizer:
        """Load the model now instead of on the first piece (backends that load lazily, such
        as onnx, offer ``load``), so the load can run beside other start-up work."""
        load = getattr(self.backend, "load", None)
        if load is not None:
            load()
        return self

    def voice(self, spec: str) -> Voice:
        if spec not in self._voices:
            self._voices[spec] = load_voice(spec, self.resolver)
        return self._voices[spec]

    def phonemizer(self, voice: Voice) -> VoiceG2P:
        """The G2P that matches the voice's language, which reads the other languages Kokoro
        speaks on request (``preprocess.plan`` reads each chapter in its own language)."""
        return VoiceG2P(voice.info.lang_code)

    @staticmethod
    def prepare(phonemes: str, voice: Voice, speed: float) -> tuple[np.ndarray, np.ndarray, float]:
        """The model's inputs for one piece: padded token ids, style row, speed."""
        ids = tokenize(phonemes)
        padded = np.concatenate([[0], ids, [0]]).astype(np.int64)
        return padded, voice.style(max(ids.size, 1)), float(speed)

    def synthesize(self, phonemes: str, voice: Voice, speed: float = 1.0) -> np.ndarray:
        """Samples for one piece of at most 510 phonemes."""
        return self._infer(self.prepare(phonemes, voice, speed))[0]

    def _infer(self, prepared: tuple[np.ndarray, np.ndarray, float]) -> Spoken:
        """(samples, token durations or None) for one prepared piece."""
        if prepared[0].size == 2:
            return np.zeros(0, dtype=np.float32), None
        infer_timed = getattr(self.backend, "infer_timed", None)
        if infer_timed is not None:
            return infer_timed(*prepared)
        return self.backend.infer(*prepared), None

    def synthesize_many(self, pieces: Iterable[str], voice: Voice,
                        speed: float = 1.0) -> Iterator[np.ndarray]:
        """Samples for each piece, in order, lazily.

        A backend that batches (torch) takes up to ``LOOKAHEAD`` × its batch size pieces at a
        time and runs them in batches of similar length; each piece's samples match what
        :meth:`synthesize` gives it alone. Other backends speak one piece per step."""
        return (samples for samples, _ in self._spoken_many((p, voice, speed) for p in pieces))

    def _spoken_many(self, pieces: Iterable[tuple[str, Voice, float]]) -> Iterator[Spoken]:
        """:meth:`synthesize_many` for (phonemes, voice, speed) triples, with each piece's token
        durations (None where the backend has none)."""
        if not isinstance(self.backend, BatchBackend) or _batch_items(self.backend) <= 1:
            yield from (self._infer(self.prepare(p, v, s)) for p, v, s in pieces)
            return
        many = getattr(self.backend, "infer_many_timed", None)
        source = iter(pieces)
        window = LOOKAHEAD * _batch_items(self.backend)
        while chunk := list(islice(source, window)):
            prepared = [self.prepare(p, v, s) for p, v, s in chunk]
            spoken = [i for i, (padded, _, _) in enumerate(prepared) if padded.size > 2]
            items = [prepared[i] for i in spoken]
            outs = many(items) if many else [(a, None) for a in self.backend.infer_many(items)]
            audio = dict(zip(spoken, outs))
            for i in range(len(chunk)):
                yield audio.get(i, (np.zeros(0, dtype=np.float32), None))

    def speak(self, pieces: Iterable[P], voice: Voice, speed: float = 1.0,
              pool: SynthPool | None = None,
              hearing: Callable[[P], Hearing | None] | None = None) -> Iterator[AudioChunk[P]]:
        """Each piece spoken, in reading order, lazily: its samples with the model's edge
        silence trimmed, and the piece itself (so its pause and text travel with it), with the
        token durations where the backend gives them (for timing: subtitles, read-along).

        With ``pool`` the pieces go to worker processes, which work ahead; otherwise this
        process's model speaks them (batched where the backend batches). A piece with a
        ``voice`` of its own (text in another language) is spoken by that voice, and one with a
        ``rate`` (SSML prosody) at that multiple of ``speed`` (kept within 0.5-2).

        ``hearing`` (the listening check) says how to transcribe a piece, or None to leave it:
        a worker or actor hears the piece it made, else this process does; the transcript is
        the chunk's ``heard``."""
        taken: deque[P] = deque()  # pieces read ahead by the model or the pool, in order

        def phonemes() -> Iterator[tuple[str, Voice, float]]:
            for piece in pieces:
                taken.append(piece)
                own, rate = getattr(piece, "voice", None), getattr(piece, "rate", None)
                yield (piece.phonemes, voice if own is None else self.voice(own),
                       speed if rate is None else min(2.0, max(0.5, speed * rate)))

        if pool is None:
            raw = self._spoken_many(phonemes())
        elif hearing is None:
            raw = pool.map_ordered((self.prepare(p, v, s) for p, v, s in phonemes()),
                                   timed=True)
        else:
            raw = pool.map_ordered(((*self.prepare(p, v, s), hearing(taken[-1]))
                                    for p, v, s in phonemes()), timed=True)
        for samples, durations, *heard in raw:
            piece = taken.popleft()
            if not heard and hearing is not None and (asked := hearing(piece)) is not None:
                heard = [hear(samples, self.sample_rate, asked.model, asked.language,
                              asked.threads, asked.max_tokens)]
            start, end = trim_span(samples)
            yield AudioChunk(faded(samples[start:end]), self.sample_rate, piece, durations,
                             start, heard[0] if heard else None)


def runtime_model(resolver: AssetResolver, backend: str = "onnx",
                  weight_bits: int | None = None) -> Path:
    """The ONNX file onnxruntime runs for ``backend`` (``onnx``, ``onnx-float`` or
    ``onnx-int8``): the model with its token durations as an output (:mod:`engine.timed_model`)
    and, for ``onnx-float``, its decoder in float; ``onnx`` is that with the vocoder's
    convolutions on int8 kernels where the model has calibrated ranges
    (:mod:`engine.vocoder_int8`), with ``weight_bits`` (None: :func:`vocoder_bits`). Without
    ``onnx-int8``'s durations (no ``onnx`` package, a read-only cache) the model itself,
    speaking without timing; the float decoder cannot be done without, as the model id
    promises it."""
    model = resolver.model()
    float_decoder = backend in ("onnx", "onnx-float")
    ranges = load_vocoder_ranges(resolver.model_sha256()) if backend == "onnx" else None
    try:
        derived = timed_model(model, resolver.model_sha256(), resolver.cache_dir,
                              float_decoder=float_decoder, vocoder_ranges=ranges,
                              weight_bits=vocoder_bits(resolver, weight_bits))
    except ValueError as exc:  # a graph whose decoder is not the one the rewrite knows
        raise BackendError(f"cannot rewrite {model.name}'s decoder ({exc}); "
                           "use --backend onnx-int8") from exc
    except OSError as exc:  # a read-only cache, a full disk
        if float_decoder:
            raise BackendError(f"cannot write the float-decoder model into "
                               f"{resolver.cache_dir} ({exc}); use --backend onnx-int8") from exc
        log.warning("cannot derive the timed model (%s); synthesis without timing", exc)
        return model
    if derived is None and float_decoder and importlib.util.find_spec("onnx") is None:
        raise BackendError("the float-decoder model needs the onnx package (pip install onnx), "
                           "or use --backend onnx-int8")
    # Else nothing to derive: a graph without a decoder to rewrite runs as it is, and a file
    # that is not ONNX at all is reported by onnxruntime when it loads.
    return derived or model


LOOKAHEAD = 4  # batches' worth of pieces read ahead, so batches can group similar lengths


def _batch_items(backend: Backend) -> int:
    limits = getattr(backend, "limits", None)
    return limits.max_items if limits is not None else 1


def resolve_backend(resolver: AssetResolver, backend: str) -> str:
    """The backend to run for a requested name (see :func:`engine.backends.choose_backend`);
    explicit PyTorch weights make ``auto`` torch."""
    return choose_backend(backend, torch_weights_given=resolver.torch_weights is not None)


def model_id(resolver: AssetResolver, backend: str, weight_bits: int | None = None) -> str:
    """What decides the samples besides voice, speed and phonemes, known before the model
    loads: the ONNX model's sha256 (``onnx-int8``), the same with the float decoder's version
    (``onnx-float``) and the int8 vocoder's with its weight bits (``onnx``, where the model has
    calibrated ranges; ``weight_bits`` as :func:`vocoder_bits`),
    or ``torch:`` and the PyTorch weights' identity (never equal, so pieces from different
    backends never mix in caches)."""
    backend = resolve_backend(resolver, backend)
    if backend == "torch":
        from engine.torch_weights import resolve_weights

        return resolve_weights(resolver).model_id
    sha = resolver.model_sha256()
    if backend in ("onnx", "onnx-float"):
        vocoder_int8 = backend == "onnx" and load_vocoder_ranges(sha) is not None
        return f"{sha}:{derivation(True, vocoder_int8, vocoder_bits(resolver, weight_bits))}"
    return sha


def vocoder_bits(resolver: AssetResolver, weight_bits: int | None = None) -> int:
    """The ``onnx`` vocoder's weight bits: ``weight_bits`` when given (7 or 8), else the
    choice for this CPU (:func:`engine.cpu.vocoder_weight_bits`)."""
    if weight_bits is None:
        return vocoder_weight_bits(resolver.cache_dir)
    if weight_bits not in WEIGHT_BITS:
        raise SettingError(f"vocoder weight bits {weight_bits}: use 7 or 8")
    return weight_bits
