"""When every piece, sentence and word of a chapter is heard: job data kept with each chapter.

The renderer knows each piece's length and the pause after it, so piece positions in the
chapter WAV are exact. Inside a piece, a sentence (a :class:`preprocess.Span`) is a run of
phoneme tokens, and the model's predicted durations (``AudioChunk.token_bounds``) say where
each token ends; without durations (a cached piece from before timing was kept, a backend
without them) positions are spread over the piece in proportion to tokens, and the chapter's
timing says it is estimated. Words are the runs of tokens between spaces.

A chapter's timing is a JSON sidecar beside its WAV (``chapters/0003.timing.json``), written
atomically and recorded by digest in the manifest, so a resumed run or a re-mux writes the same
subtitles without synthesizing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine import tokenize
from kokoro_cli.output.timing import ChapterTiming, SentenceTime

__all__ = ["ChapterTiming", "SentenceTime", "TimingBuilder"]

_SPACE = int(tokenize(" ")[0])


@dataclass
class TimingBuilder:
    """Collects a chapter's timing while its pieces are written, in order."""

    sample_rate: int
    pieces: list[tuple[int, int]] = field(default_factory=list)
    sentences: list[SentenceTime] = field(default_factory=list)
    _last: int | None = None  # the sentence number of ``sentences[-1]``
    _weights: list[tuple[int, ...]] = field(default_factory=list)  # per sentence
    exact: bool = True

    def add(self, chunk, start: int, length: int, bounds: np.ndarray | None) -> None:
        """A piece (a ``preprocess.Chunk``) whose trimmed audio is ``length`` samples from
        ``start`` in the chapter; ``bounds`` are its token ends (``AudioChunk.token_bounds``)."""
        self.pieces.append((start, start + length))
        if bounds is None or len(bounds) != chunk.tokens:
            self.exact = self.exact and not chunk.spans
            bounds = _spread(chunk.tokens, length)
        ids = tokenize(chunk.phonemes)
        first = 0
        for span in chunk.spans:
            last = first + span.tokens  # one past the span's last token
            words = _words(ids, bounds, first, last, start)
            begin, end = start + _begin(bounds, first), start + int(bounds[last - 1])
            self._sentence(span.sentence, begin, end, span.written, words)
            if len(self._weights) < len(self.sentences):
                self._weights.append(span.weights)
            first = last + 1  # the space joining two spans

    def _sentence(self, number: int, start: int, end: int, text: str,
                  words: tuple[tuple[int, int], ...]) -> None:
        if self._last == number and self.sentences:  # a long sentence continued
            prev = self.sentences[-1]
            self.sentences[-1] = SentenceTime(prev.start, end, prev.text, prev.words + words)
        else:
            self.sentences.append(SentenceTime(start, end, text, words))
        self._last = number

    def finish(self, samples: int) -> ChapterTiming:
        """The chapter's timing, once its WAV holds ``samples``; each sentence's spoken words
        become its written words (by ``Span.weights``)."""
        sentences = tuple(SentenceTime(s.start, s.end, s.text, _written_words(s.words, w))
                          for s, w in zip(self.sentences, self._weights))
        return ChapterTiming(self.sample_rate, samples, tuple(self.pieces), sentences,
                             self.exact)


def _begin(bounds: Sequence[int], token: int) -> int:
    return 0 if token == 0 else int(bounds[token - 1])


def _spread(tokens: int, length: int) -> np.ndarray:
    """Token ends spread evenly over ``length`` samples: the estimate without durations."""
    return (np.arange(1, tokens + 1, dtype=np.int64) * length) // max(tokens, 1)


def _words(ids: np.ndarray, bounds: Sequence[int], first: int, last: int,
           offset: int) -> tuple[tuple[int, int], ...]:
    """``(start, end)`` of each run of tokens between spaces in ``[first, last)``."""
    words, begin = [], None
    for i in range(first, min(last, len(ids))):
        if ids[i] == _SPACE:
            if begin is not None:
                words.append((offset + _begin(bounds, begin), offset + int(bounds[i - 1])))
            begin = None
        elif begin is None:
            begin = i
    if begin is not None:
        words.append((offset + _begin(bounds, begin), offset + int(bounds[last - 1])))
    return tuple(words)


def _written_words(spoken: Sequence[tuple[int, int]],
                   weights: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """``(start, end)`` of each written word: written word i covers the spoken words its
    weight says ("v2.4.1" the six of "version 2 point 4 point 1"), scaled to the spoken count
    when the two totals disagree; the spoken words themselves without weights."""
    if not spoken or not weights:
        return tuple(spoken)
    total, m, out, before = sum(weights) or 1, len(spoken), [], 0
    for weight in weights:
        first = min(before * m // total, m - 1)
        last = max(first, min((before + weight) * m // total, m) - 1)
        out.append((spoken[first][0], spoken[last][1]))
        before += weight
    return tuple(out)
