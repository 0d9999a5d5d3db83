"""A content-addressed cache of synthesized pieces, shared by every job.

A piece's key is the hash of everything that decides its samples: the model file, the voice,
the speed and the phonemes. Entries are 16-bit PCM with a header carrying the sample count and
a checksum, so a truncated or damaged entry is detected, dropped and synthesized again. Beside
an entry, ``.t32`` holds where each token ends in it (for timing), checked the same way; an
entry without one (made before timing was kept) is still good audio.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from pathlib import Path

import numpy as np

from kokoro_common import write_atomic

__all__ = ["ChunkCache"]

log = logging.getLogger(__name__)

_MAGIC = b"KKC1"
# One piece is at most 510 phonemes: well under a minute of audio even at speed 0.5, about
# 3 MB of 16-bit samples; an entry larger than this is damaged or not ours.
MAX_ENTRY_BYTES = 16 << 20
_HEADER = struct.Struct("<4sI16s")  # magic, sample count, blake2b-128 of the samples
_BOUNDS_MAGIC = b"KKT1"  # then the token count and blake2b-128 of the int32 token ends


class ChunkCache:
    """Files ``root/ab/abcdef….s16``; ``get`` returns None for a miss or a damaged entry."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def key(model_id: str, voice: str, speed: float, phonemes: str) -> str:
        text = "\x1f".join([model_id, voice, repr(float(speed)), phonemes])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.s16"

    def __contains__(self, key: str) -> bool:
        """An entry exists (``get`` still verifies it)."""
        return self._path(key).is_file()

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        try:
            if path.stat().st_size > MAX_ENTRY_BYTES:
                path.unlink()  # no piece is this long: not ours, and not read into memory
                return None
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:  # a folder where the entry should be, no permission
            log.warning("cache entry %s is unreadable (%s); making the piece again", path, exc)
            return None
        samples = _decode(data)
        if samples is None:
            path.unlink(missing_ok=True)  # damaged: never trusted, synthesized again
        return samples

    def get_bounds(self, key: str, samples: int) -> np.ndarray | None:
        """The token ends stored for an entry of ``samples`` samples, or None (absent, damaged,
        or not ascending inside the entry)."""
        try:
            data = self._path(key).with_suffix(".t32").read_bytes()
        except OSError:
            return None
        if len(data) > MAX_ENTRY_BYTES or len(data) < _HEADER.size:
            return None
        magic, count, digest = _HEADER.unpack_from(data)
        raw = data[_HEADER.size:]
        if magic != _BOUNDS_MAGIC or len(raw) != 4 * count \
                or hashlib.blake2b(raw, digest_size=16).digest() != digest:
            return None
        bounds = np.frombuffer(raw, dtype="<i4").astype(np.int64)
        if bounds.size and (np.any(np.diff(bounds) < 0) or bounds[0] < 0 or bounds[-1] > samples):
            return None
        return bounds

    def put_bounds(self, key: str, bounds: np.ndarray) -> None:
        """Store where each token of the entry ``key`` ends (sample positions in it)."""
        raw = np.ascontiguousarray(bounds, dtype="<i4").tobytes()
        header = _HEADER.pack(_BOUNDS_MAGIC, len(raw) // 4,
                              hashlib.blake2b(raw, digest_size=16).digest())
        write_atomic(self._path(key).with_suffix(".t32"), header + raw)

    def sidecar(self, key: str, suffix: str) -> Path:
        """A file kept beside the entry ``key`` (``suffix`` such as ``.v1a2b.json``): what a
        later stage stored about the piece, such as its listening check."""
        return self._path(key).with_suffix(suffix)

    def forget_bounds(self, key: str) -> None:
        """Drop the token ends of ``key`` (its audio was replaced by a take without them)."""
        self._path(key).with_suffix(".t32").unlink(missing_ok=True)

    def put(self, key: str, samples: np.ndarray) -> None:
        pcm = np.ascontiguousarray(samples, dtype="<i2").tobytes()
        header = _HEADER.pack(_MAGIC, len(pcm) // 2, hashlib.blake2b(pcm, digest_size=16).digest())
        write_atomic(self._path(key), header + pcm)


def _decode(data: bytes) -> np.ndarray | None:
    if len(data) < _HEADER.size:
        return None
    magic, count, digest = _HEADER.unpack_from(data)
    pcm = data[_HEADER.size:]
    if magic != _MAGIC or len(pcm) != 2 * count:
        return None
    if hashlib.blake2b(pcm, digest_size=16).digest() != digest:
        return None
    return np.frombuffer(pcm, dtype="<i2")
