"""Planning: a document's chapters as the pieces the model will speak, without any audio.

This is the text side's seam to the engine: normalize, apply the pronunciation dictionary,
phonemize and chunk, one chapter at a time. The phonemizer and the token counter are passed in,
so that this package never imports the engine (or misaki, or spaCy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .chunk import Chunk, ChunkOptions, chunk_chapter
from .document import Chapter, Document
from .lexicon import Lexicon
from .normalize import Normalizer

__all__ = ["ChapterPlan", "plan"]


@dataclass(frozen=True)
class ChapterPlan:
    """A chapter and the chunks it is spoken as, in reading order."""

    chapter: Chapter
    chunks: tuple[Chunk, ...]

    @property
    def tokens(self) -> int:
        """Phoneme tokens of every chunk together."""
        return sum(chunk.tokens for chunk in self.chunks)


def plan(document: Document, phonemize: Callable[[str], str],
         count_tokens: Callable[[str], int], options: ChunkOptions = ChunkOptions(),
         lexicon: Lexicon = Lexicon()) -> Iterator[ChapterPlan]:
    """Chunk every chapter exactly as it will be spoken (text and phonemes, no audio), lazily:
    one chapter is planned per step, so a consumer can start on the first before the last is
    phonemized.

    Per piece: the normalizer's spoken form, then the ``lexicon``'s entries as misaki markup
    (``[word](/phonemes/)``, which ``phonemize`` reads), then ``phonemize``; ``count_tokens``
    counts the model's tokens in a phoneme string (``engine.token_count``).
    """
    normalizer = Normalizer()

    def g2p(text: str) -> str:
        return phonemize(lexicon.apply(text))

    for chapter in document.chapters:
        chunks = chunk_chapter(chapter, g2p, count_tokens, normalizer, options)
        yield ChapterPlan(chapter, tuple(chunks))
