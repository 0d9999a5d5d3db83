"""Timing as the output stage reads it: where each sentence and word of a chapter WAV is heard.

Pure data with its JSON form; :mod:`kokoro_cli.jobs.timing` builds it while chapters are
rendered and keeps it with each chapter of the job, and the subtitle and read-along writers
read it (:mod:`kokoro_cli.output.subtitles`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kokoro_cli.output.plan import ChapterAudio

__all__ = ["TIMING_FORMAT", "ChapterTiming", "SentenceTime", "TimedChapter"]

TIMING_FORMAT = 2  # 2: words are the written words


@dataclass(frozen=True)
class SentenceTime:
    """One sentence: ``[start, end)`` in samples of its chapter WAV, the text as written, and
    ``(start, end)`` of each of its written words (from the spoken words they became)."""

    start: int
    end: int
    text: str
    words: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ChapterTiming:
    """Where the pieces and sentences of one chapter WAV (``samples`` long) are heard.
    ``exact`` is False when any position was estimated rather than taken from durations."""

    sample_rate: int
    samples: int
    pieces: tuple[tuple[int, int], ...] = ()
    sentences: tuple[SentenceTime, ...] = ()
    exact: bool = True

    def to_json(self) -> str:
        return json.dumps({
            "format": TIMING_FORMAT, "sample_rate": self.sample_rate, "samples": self.samples,
            "exact": self.exact, "pieces": [list(p) for p in self.pieces],
            "sentences": [[s.start, s.end, s.text, [list(w) for w in s.words]]
                          for s in self.sentences]}, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ChapterTiming | None:
        """The timing ``text`` holds, or None when it is not of the right shape."""
        try:
            data = json.loads(text)
            if data["format"] != TIMING_FORMAT:
                return None
            sentences = tuple(SentenceTime(int(a), int(b), str(t), tuple(
                (int(x), int(y)) for x, y in words)) for a, b, t, words in data["sentences"])
            pieces = tuple((int(a), int(b)) for a, b in data["pieces"])
            return cls(int(data["sample_rate"]), int(data["samples"]), pieces, sentences,
                       bool(data["exact"]))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class TimedChapter:
    """A chapter's audio with its timing."""

    audio: ChapterAudio
    timing: ChapterTiming
