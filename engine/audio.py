"""Small sample-level helpers: trimming the model's edge silence and click-free edges, the
16-bit conversion every stored sample goes through, and :class:`AudioChunk`, one spoken piece."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np

__all__ = ["SAMPLES_PER_FRAME", "AudioChunk", "Piece", "faded", "silence", "to_pcm16", "trim",
           "trim_span"]

SAMPLE_RATE = 24_000
_MARGIN = int(0.012 * SAMPLE_RATE)  # keep 12 ms around the speech: consonant tails are quiet
_FADE = int(0.004 * SAMPLE_RATE)
SAMPLES_PER_FRAME = 600  # one frame of the model's token durations at 24 kHz


def trim(samples: np.ndarray, *, floor: float = 1e-3, relative: float = 0.015) -> np.ndarray:
    """Cut the near-silence Kokoro leaves at both ends of a piece, then fade the edges in and
    out over 4 ms so joins never click. The threshold is relative to the piece's peak because
    exports differ in level (the int8 ONNX is 1.5x louder than the PyTorch model)."""
    start, end = trim_span(samples, floor=floor, relative=relative)
    return faded(samples[start:end])


def trim_span(samples: np.ndarray, *, floor: float = 1e-3,
              relative: float = 0.015) -> tuple[int, int]:
    """The ``[start, end)`` that :func:`trim` keeps of ``samples`` (``(0, 0)`` when all of it is
    near-silence)."""
    if samples.size == 0:
        return 0, 0
    threshold = max(floor, relative * float(np.max(np.abs(samples))))
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return 0, 0
    return max(0, int(loud[0]) - _MARGIN), min(samples.size, int(loud[-1]) + 1 + _MARGIN)


def faded(samples: np.ndarray) -> np.ndarray:
    """A float32 copy of ``samples`` faded in and out over 4 ms."""
    out = samples.astype(np.float32, copy=True)
    fade = min(_FADE, out.size // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        out[:fade] *= ramp
        out[-fade:] *= ramp[::-1]
    return out


def silence(milliseconds: int) -> np.ndarray:
    return np.zeros(int(round(milliseconds * SAMPLE_RATE / 1000)), dtype=np.float32)


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to int16, the same way every time (no dither)."""
    return np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")


class Piece(Protocol):
    """What :meth:`engine.Synthesizer.speak` needs of a piece of text (``preprocess.Chunk``)."""

    @property
    def phonemes(self) -> str: ...

    @property
    def pause_after_ms(self) -> int: ...


P = TypeVar("P", bound=Piece)


@dataclass(frozen=True, eq=False)
class AudioChunk(Generic[P]):
    """One spoken piece: its trimmed float samples, the piece it speaks, and the pause that
    follows it. Writers only concatenate ``pcm16`` and ``pause_pcm16``."""

    samples: np.ndarray
    sample_rate: int
    piece: P
    # Frames each token of ``[0, *ids, 0]`` lasts, where the backend gives them, and how many
    # samples trimming cut from the head: together they place every token in ``samples``.
    durations: np.ndarray | None = None
    offset: int = 0
    heard: str | None = None  # what Whisper heard in it, where the listening check asked

    def token_bounds(self) -> np.ndarray | None:
        """Where each of the piece's tokens (the two pads left out) ends in ``samples``, as
        sample positions clamped to the trimmed audio; None without durations. Token i spans
        ``bounds[i-1]`` (0 for the first) to ``bounds[i]``."""
        if self.durations is None or self.durations.size < 2:
            return None
        ends = np.cumsum(np.asarray(self.durations, dtype=np.int64)) * SAMPLES_PER_FRAME
        return np.clip(ends[1:-1] - self.offset, 0, self.samples.size)

    @property
    def pause_ms(self) -> int:
        return self.piece.pause_after_ms

    @property
    def seconds(self) -> float:
        return self.samples.size / self.sample_rate

    @property
    def pcm16(self) -> np.ndarray:
        return to_pcm16(self.samples)

    @property
    def pause_pcm16(self) -> np.ndarray:
        return to_pcm16(silence(self.pause_ms))
