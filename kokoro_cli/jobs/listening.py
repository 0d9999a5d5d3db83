"""The listening check at work: each piece heard, scored, and re-rendered while it fails.

Pieces made in this run were heard where they were made (a pool worker, a Ray actor, or this
process: :meth:`engine.Synthesizer.speak` with ``hearing``); a piece taken from the cache is
heard here, where its audio is, unless its stored check heard exactly that audio. A piece over
the threshold is rendered again with the variations of :data:`VARIATIONS`, which cure the
usual failures (a word dropped at a piece's end, a rushed number, a slurred long piece), up to
``tries`` more takes; the take with the lowest score is kept in the cache under the piece's
key, so the job, and later runs, use it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from engine import AudioChunk, Hearing, hear, silence, to_pcm16, token_count
from kokoro_cli.jobs.cache import ChunkCache
from kokoro_cli.jobs.verify import (ChapterCheck, Failing, PieceCheck, VerifyOptions,
                                    audio_digest)
from preprocess import (Chunk, compare, language_of_voice, threshold_for, unchecked_reason,
                        whisper_language)

__all__ = ["VARIATIONS", "ChapterTally", "PieceChecker", "Settled", "Variation", "split_phonemes"]

Speak = Callable[[Iterable[Chunk], float], Iterator[AudioChunk]]


@dataclass(frozen=True)
class Variation:
    """One way to render a failing piece again: at ``speed`` times the job's speed, and
    ``split`` in two at a clause boundary (each half its own model call)."""

    name: str
    speed: float = 1.0
    split: bool = False


# In order of trial: the speed changes stay within ±5 % so the take still fits the book.
VARIATIONS = (Variation("slower 4%", 0.96), Variation("split at a clause", split=True),
              Variation("faster 4%", 1.04), Variation("split, slower 4%", 0.96, True))
SPLIT_PAUSE_MS = 120  # between the halves of a split take: a comma's breath
_CLAUSE = re.compile(r"[,;:—–…]\s+")


@dataclass(frozen=True)
class Settled:
    """A piece after the check: the samples and token ends to use, and its check (None when
    its language is not checked)."""

    audio: np.ndarray
    bounds: np.ndarray | None
    check: PieceCheck | None


@dataclass
class ChapterTally:
    """Adds up one chapter's checks as its pieces are written."""

    threshold: Callable[[Chunk], float]
    scores: list[float] = field(default_factory=list)
    failing: list[Failing] = field(default_factory=list)
    rerendered: int = 0
    unchecked: int = 0

    def add(self, chunk: Chunk, check: PieceCheck | None, at_s: float) -> None:
        if check is None:
            self.unchecked += 1
            return
        self.scores.append(check.score)
        self.rerendered += check.takes > 1
        if check.score > self.threshold(chunk):
            self.failing.append(Failing(chunk.text, round(at_s, 2), round(check.score, 4),
                                        check.heard))

    def finish(self, index: int, title: str) -> ChapterCheck:
        scores = self.scores or [0.0]
        return ChapterCheck(index, title, len(self.scores), round(float(np.mean(scores)), 4),
                            round(max(scores), 4), self.rerendered, tuple(self.failing),
                            self.unchecked)


class PieceChecker:
    """Hears, scores and re-renders the pieces of one book."""

    def __init__(self, options: VerifyOptions, cache: ChunkCache, book_voice: str,
                 speed: float, sample_rate: int, speak: Speak,
                 in_pool: Callable[[], bool]) -> None:
        self.options, self.cache, self.book_voice = options, cache, book_voice
        self.speed, self.rate, self.speak, self.in_pool = speed, sample_rate, speak, in_pool

    def language(self, chunk: Chunk) -> str:
        return language_of_voice(chunk.voice or self.book_voice)

    def threshold(self, chunk: Chunk) -> float:
        given = self.options.threshold
        return given if given is not None else threshold_for(self.language(chunk))

    def hearing(self, chunk: Chunk, here: bool = False) -> Hearing | None:
        """How a worker (or, ``here``, this process) hears ``chunk``; None for a language the
        check does not hear."""
        tag = self.language(chunk)
        if unchecked_reason(tag) is not None:
            return None
        threads = (os.cpu_count() or 1) if here or not self.in_pool() else 1
        return Hearing(self.options.model, whisper_language(tag), threads,
                       max_tokens=min(400, 24 + 2 * len(chunk.text)))

    def tally(self) -> ChapterTally:
        return ChapterTally(self.threshold)

    def settle(self, chunk: Chunk, key: str, audio: np.ndarray, bounds: np.ndarray | None,
               heard: str | None) -> Settled:
        """Check one piece (``heard``: what its worker heard; None to hear it here, or reuse
        the stored check of the same audio), re-render it while it fails, store the result."""
        hearing = self.hearing(chunk, here=True)
        if hearing is None:
            return Settled(audio, bounds, None)
        stored = self.cache.sidecar(key, f".v{self.options.tag}.json")
        digest = audio_digest(audio)
        kept = PieceCheck.read(stored) if heard is None else None
        check = kept
        if check is None or check.audio != digest:
            if heard is None:
                heard = hear(audio, self.rate, hearing.model, hearing.language, hearing.threads,
                             hearing.max_tokens)
            check = self._score(chunk, digest, heard)
        if check.score > self.threshold(chunk) and (kept is None or kept != check):
            audio, bounds, check = self._retry(chunk, key, audio, bounds, check)
        if check != kept:  # a piece heard before, with the same audio, is left as it was
            check.write(stored)
        return Settled(audio, bounds, check)

    def _score(self, chunk: Chunk, digest: str, heard: str, variation: str = "") -> PieceCheck:
        found = compare(chunk.text, heard, self.language(chunk))
        return PieceCheck(digest, heard, found.errors, found.length, found.metric, 1, variation)

    def _retry(self, chunk: Chunk, key: str, audio: np.ndarray, bounds: np.ndarray | None,
               check: PieceCheck) -> tuple[np.ndarray, np.ndarray | None, PieceCheck]:
        """Takes with the variations until one passes or ``tries`` are spent; the best take
        is kept (and replaces the cached piece when it is not the one there)."""
        best, takes = (audio, bounds, check), 1
        for variation in VARIATIONS[: self.options.tries]:
            take = self._take(chunk, variation)
            if take is None:
                continue
            takes += 1
            samples, take_bounds, heard = take
            scored = self._score(chunk, audio_digest(samples), heard, variation=variation.name)
            if scored.score < best[2].score:
                best = (samples, take_bounds, scored)
            if scored.score <= self.threshold(chunk):
                break
        audio, bounds, kept = best
        kept = dataclasses.replace(kept, takes=takes)
        if kept.variation:
            self.cache.put(key, audio)
            if bounds is None:
                self.cache.forget_bounds(key)
            else:
                self.cache.put_bounds(key, bounds)
        return audio, bounds, kept

    def _take(self, chunk: Chunk,
              variation: Variation) -> tuple[np.ndarray, np.ndarray | None, str] | None:
        """One more take: (16-bit samples, token ends or None, what was heard), or None when
        the variation does not apply (a piece with nowhere to split)."""
        pieces = [chunk]
        if variation.split:
            halves = split_phonemes(chunk.phonemes)
            if halves is None:
                return None
            pieces = [dataclasses.replace(chunk, phonemes=h, tokens=token_count(h),
                                          pause_after_ms=SPLIT_PAUSE_MS) for h in halves]
        spoken = list(self.speak(pieces, self.speed * variation.speed))
        if len(spoken) == 1:
            one = spoken[0]
            return one.pcm16, one.token_bounds(), one.heard or ""
        gap = to_pcm16(silence(SPLIT_PAUSE_MS))
        audio = np.concatenate([spoken[0].pcm16, gap, spoken[1].pcm16])
        return audio, None, " ".join(s.heard or "" for s in spoken)


def split_phonemes(phonemes: str) -> tuple[str, str] | None:
    """``phonemes`` cut in two at the clause mark (comma, semicolon, colon, dash) nearest its
    middle, else at the space nearest it; None when there is no place to cut."""
    middle = len(phonemes) / 2
    marks = [m.end() for m in _CLAUSE.finditer(phonemes)]
    if not marks:
        marks = [i + 1 for i, c in enumerate(phonemes) if c == " "]
    cuts = [i for i in marks if 0 < i < len(phonemes) and phonemes[:i].strip()
            and phonemes[i:].strip()]
    if not cuts:
        return None
    cut = min(cuts, key=lambda i: abs(i - middle))
    return phonemes[:cut].strip(), phonemes[cut:].strip()
