"""Planning: a document's chapters as the pieces the model will speak, without any audio.

This is the text side's seam to the engine: normalize, apply the pronunciation dictionary,
phonemize and chunk, one chapter at a time. The phonemizer and the token counter are passed in,
so that this package never imports the engine (or misaki, or spaCy).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from .chunk import Chunk, ChunkOptions, chunk_chapter
from .document import Chapter, Document
from .languages import ENGLISH, Language, ScriptFilter, resolve_language
from .lexicon import Lexicon
from .normalize import Normalizer

__all__ = ["ChapterPlan", "LanguageG2P", "plan"]

log = logging.getLogger(__name__)


class LanguageG2P(Protocol):
    """A phonemizer that can read other languages too (``engine``'s ``Synthesizer.phonemizer``):
    called, it reads the voice's language; ``for_code`` gives the G2P of another Kokoro
    language code. :func:`plan` reads each chapter with its language's G2P through it."""

    lang_code: str  # the voice's Kokoro language code

    def __call__(self, text: str) -> str: ...

    def for_code(self, lang_code: str) -> Callable[[str], str]: ...


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

    Each chapter is read in its language (``Chapter.language``, else the document's): that
    language's normalizer and sentence ends, and, when ``phonemize`` is a :class:`LanguageG2P`,
    that language's G2P. Outside English, letters of scripts the G2P cannot read are skipped,
    with a warning (logged) that says how many.
    """
    normalizers: dict[str, Normalizer] = {}
    for chapter in document.chapters:
        language = resolve_language(chapter.language or document.language)[0]
        if language.tag not in normalizers:
            normalizers[language.tag] = Normalizer(language=language.tag)
        g2p, skipped = _reader(language, phonemize, lexicon if chapter.language in (
            None, document.language) else Lexicon(language=language.tag))
        chunks = tuple(chunk_chapter(chapter, g2p, count_tokens, normalizers[language.tag],
                                     options, language.tag))
        if skipped.skipped:
            log.warning("chapter %d (%s): skipped %d letters in a script %s cannot read (%s)",
                        chapter.index, chapter.title, skipped.skipped, language.name,
                        ", ".join(sorted(skipped.seen)).lower())
        yield ChapterPlan(chapter, chunks)


def _reader(language: Language, phonemize: Callable[[str], str],
            lexicon: Lexicon) -> tuple[Callable[[str], str], ScriptFilter]:
    """The G2P for text in ``language`` (dictionary applied first), and the filter that counts
    the letters it skips."""
    choose = getattr(phonemize, "for_code", None)
    read = phonemize if choose is None else choose(language.g2p_code(phonemize.lang_code))
    keep = ScriptFilter(language)
    if language.family == ENGLISH:  # misaki hands what it cannot read to espeak-ng itself
        return (lambda text: read(lexicon.apply(text))), keep
    return (lambda text: read(lexicon.apply(keep(text)))), keep
