"""Kokoro voices: the catalogue, blend specs (``af_bella:0.6,af_sky:0.4``) and loading."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.assets import AssetResolver, voice_names
from engine.errors import AssetError, VoiceError

__all__ = ["GENDERS", "LANGUAGES", "PACK_SHAPE", "Voice", "VoiceInfo", "catalogue",
           "describe_spec", "load_voice", "parse_spec", "read_pack"]

# The first letter of a voice name is its language, the second its gender.
LANGUAGES = {
    "a": ("en-us", "American English"),
    "b": ("en-gb", "British English"),
    "e": ("es", "Spanish"),
    "f": ("fr", "French"),
    "h": ("hi", "Hindi"),
    "i": ("it", "Italian"),
    "j": ("ja", "Japanese"),
    "p": ("pt-br", "Brazilian Portuguese"),
    "z": ("zh", "Mandarin Chinese"),
}
GENDERS = {"f": "female", "m": "male"}
PACK_SHAPE = (510, 1, 256)
# A name is any word here, so a misspelt one is reported as unknown (with the nearest names),
# not as a malformed spec; punctuation other than ``:`` and ``,`` is malformed.
_SPEC_PART = re.compile(r"^\s*([\w.-]+)\s*(?::\s*([0-9]*\.?[0-9]+)\s*)?$")


@dataclass(frozen=True)
class VoiceInfo:
    name: str
    language: str  # a language tag such as "en-us"
    language_name: str
    gender: str

    @property
    def lang_code(self) -> str:
        """Kokoro's one-letter language code ("a", "b", ...)."""
        return self.name[0]


def catalogue() -> tuple[VoiceInfo, ...]:
    """All 54 Kokoro v1.0 voices with language and gender."""
    return tuple(_info(name) for name in voice_names())


def _info(name: str) -> VoiceInfo:
    language, language_name = LANGUAGES[name[0]]
    return VoiceInfo(name, language, language_name, GENDERS[name[1]])


@dataclass(frozen=True)
class Voice:
    """A voice ready to speak: its spec, its language and its style pack (510×1×256)."""

    spec: str
    info: VoiceInfo  # of the first (heaviest) component; it decides the language
    pack: np.ndarray

    def style(self, n_phonemes: int) -> np.ndarray:
        """Row n-1 of the pack: Kokoro's style for an utterance of n phonemes."""
        row = min(max(n_phonemes, 1), len(self.pack)) - 1
        return self.pack[row]  # shape (1, 256)


def parse_spec(spec: str) -> list[tuple[str, float]]:
    """``"af_bella:0.6,af_sky:0.4"`` → ``[("af_bella", 0.6), ("af_sky", 0.4)]`` (normalized)."""
    known = set(voice_names())
    parts: list[tuple[str, float]] = []
    for raw in spec.split(","):
        match = _SPEC_PART.match(raw)
        if not match:
            raise VoiceError(f"malformed voice spec {spec!r}: use NAME or NAME:WEIGHT,NAME:WEIGHT")
        name, weight = match.group(1), float(match.group(2) or 1.0)
        if name not in known:
            raise VoiceError(unknown_voice(name, known))
        if not math.isfinite(weight) or weight <= 0:
            raise VoiceError(f"voice weight for {name} must be a positive number")
        parts.append((name, weight))
    total = sum(weight for _, weight in parts)
    return [(name, weight / total) for name, weight in parts]


def unknown_voice(name: str, known: Iterable[str]) -> str:
    """The message for a voice name that is not one of ``known``: the names nearest to it
    (by difflib's ratio, asked as "did you mean" when they are close) and where to see all."""
    names = sorted(known)
    near = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.6)
    if near:
        names_or = near[0] if len(near) == 1 else f"{', '.join(near[:-1])} or {near[-1]}"
        hint = f" (did you mean {names_or}?)"
    else:
        nearest = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.0)
        hint = f" (the nearest are {', '.join(nearest)})" if nearest else ""
    return f"unknown voice {name!r}{hint}; run 'kokoro-cli voices' to list them"


def describe_spec(spec: str) -> tuple[str, VoiceInfo]:
    """The canonical form of a spec and the info of its heaviest voice, without loading packs."""
    parts = parse_spec(spec)
    main = max(parts, key=lambda part: part[1])[0]
    canonical = ",".join(f"{n}:{w:.4g}" for n, w in parts) if len(parts) > 1 else parts[0][0]
    return canonical, _info(main)


def load_voice(spec: str, resolver: AssetResolver) -> Voice:
    """Load a voice or a weighted blend of voices (a weighted mean of their packs)."""
    canonical, info = describe_spec(spec)
    pack = sum(weight * read_pack(resolver.voice(name)) for name, weight in parse_spec(spec))
    return Voice(canonical, info, np.ascontiguousarray(pack, dtype=np.float32))


def read_pack(path: Path) -> np.ndarray:
    """Read a voice pack file: raw float32 ``.bin`` or an official PyTorch ``.pt``.

    A file that is not a whole pack of finite numbers (truncated, padded, damaged) raises
    AssetError: it is a broken asset, not a wrong voice name.
    """
    values = int(np.prod(PACK_SHAPE))
    if path.suffix == ".pt":
        from engine.assets import _torch_voice

        pack = _torch_voice(path)
    else:
        try:
            size = path.stat().st_size
            if size != 4 * values:  # checked before reading: a huge file is never loaded
                raise AssetError(f"{path} is not a Kokoro voice pack ({size} bytes, expected "
                                 f"{4 * values})")
            pack = np.fromfile(path, dtype="<f4")
        except OSError as exc:
            raise AssetError(f"cannot read the voice file {path}: {exc.strerror or exc}") from None
    if pack.size != values:
        raise AssetError(f"{path} is not a Kokoro voice pack ({pack.size} values)")
    if not np.all(np.isfinite(pack)):
        raise AssetError(f"{path} is damaged: it holds values that are not finite numbers")
    return pack.reshape(PACK_SHAPE)
