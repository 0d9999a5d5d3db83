"""Planning: a document's chapters as the pieces the model will speak, without any audio.

This is the text side's seam to the engine: normalize, apply the pronunciation dictionary,
phonemize and chunk, one chapter at a time. The phonemizer and the token counter are passed in,
so that this package never imports the engine (or misaki, or spaCy).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from .cast import Cast
from .chunk import Chunk, ChunkOptions, chunk_chapter
from .document import Chapter, Document
from .languages import Language, ScriptFilter, resolve_language
from .lexicon import Lexicon
from .normalize import Normalizer
from .phonemic import with_markup
from .scripts import with_script_runs
from .voicing import chapter_voicing

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
         lexicon: Lexicon = Lexicon(),
         voices: Mapping[str, str] | None = None,
         cast: Cast | None = None) -> Iterator[ChapterPlan]:
    """Chunk every chapter exactly as it will be spoken (text and phonemes, no audio), lazily:
    one chapter is planned per step, so a consumer can start on the first before the last is
    phonemized.

    Per piece: the normalizer's spoken form, then the ``lexicon``'s entries as misaki markup
    (``[word](/phonemes/)``, which ``phonemize`` reads), then ``phonemize``; ``count_tokens``
    counts the model's tokens in a phoneme string (``engine.token_count``).

    Each chapter is read in its language (``Chapter.language``, else the document's): that
    language's normalizer and sentence ends, and, when ``phonemize`` is a :class:`LanguageG2P`,
    that language's G2P; so is a block in another language (``Block.language``) and a phrase
    inside a block (``Block.runs``: one sentence with the phonemes of both languages, or, where
    ``voices`` has a voice for the phrase's language, a piece of its own in that voice, joined
    without a pause). Letters of a script the language does not read are read through the
    language that reads them (Devanagari → Hindi, :mod:`preprocess.scripts`), else skipped,
    with a warning (logged) that says how many. ``voices`` maps language tags to the voice for
    text in that language other than the book's (its chunks carry it in ``Chunk.voice``).

    A ``cast`` (its ``narrator`` the book's voice) gives chapters their voices and its
    characters their quotes (:mod:`preprocess.voicing`); each chunk says why in ``Chunk.rule``.
    """
    readers = _Readers(document, phonemize, lexicon, voices or {})
    for chapter in document.chapters:
        chapter = _roles(chapter, cast)
        normalize, g2p, tag, voice = readers(chapter.language or document.language)
        chapter = with_script_runs(chapter, tag)  # Devanagari in English is read as Hindi
        voicing = (None if cast is None else
                   chapter_voicing(cast, chapter, tag, cast.narrator))
        if voicing is not None and voicing.voice is not None:
            voice = voicing.voice
        chunks = tuple(chunk_chapter(chapter, g2p, count_tokens, normalize, options, tag,
                                     readers, voice, voicing))
        for language, keep in readers.filters.items():
            if keep.skipped:
                log.warning("chapter %d (%s): skipped %d letters in a script %s cannot read (%s)",
                            chapter.index, chapter.title, keep.skipped, language.name,
                            ", ".join(sorted(keep.seen)).lower())
        readers.filters.clear()  # counted per chapter
        yield ChapterPlan(chapter, chunks)


def _roles(chapter: Chapter, cast: Cast | None) -> Chapter:
    """The chapter with each block voice (SSML ``<voice name>``) that names a role of ``cast``
    (narrator, dialogue, a character) as that role's voice."""
    if cast is None or not any(block.voice for block in chapter.blocks):
        return chapter
    return replace(chapter, blocks=tuple(
        block if block.voice is None or cast.role(block.voice) is None
        else replace(block, voice=cast.role(block.voice)) for block in chapter.blocks))


class _Readers:
    """For a language tag, how text in it is read: its normalizer, its G2P (the dictionary
    applied first, and outside English the letters it cannot read taken out and counted in
    ``filters``), its canonical tag and its voice (None: the book's). Built once per language."""

    def __init__(self, document: Document, phonemize: Callable[[str], str],
                 lexicon: Lexicon, voices: Mapping[str, str]) -> None:
        self.document, self.phonemize, self.lexicon = document, phonemize, lexicon
        self.voices = {resolve_language(tag)[0].tag: voice for tag, voice in voices.items()}
        self.filters: dict[Language, ScriptFilter] = {}
        self._made: dict[str, tuple[Normalizer, Language, Callable[[str], str]]] = {}

    def __call__(self, tag: str) -> tuple[Callable[[str], str], Callable[[str], str], str,
                                          str | None]:
        language = resolve_language(tag)[0]
        if language.tag not in self._made:
            choose = getattr(self.phonemize, "for_code", None)
            g2p = (self.phonemize if choose is None
                   else choose(language.g2p_code(self.phonemize.lang_code)))
            self._made[language.tag] = (Normalizer(language=language.tag), language, g2p)
        normalizer, language, g2p = self._made[language.tag]
        # Each language is read with its own entries of the dictionary ([lang.fr], xml:lang);
        # a word given its phonemes (SSML, ssml:ph) becomes misaki markup, which both keep.
        own = resolve_language(self.document.language)[0].tag == language.tag
        lexicon = self.lexicon.for_language(language.tag)
        voice = None if own else self.voices.get(language.tag)
        # Letters of a script the G2P cannot read (Hebrew in English, Cyrillic in French) are
        # skipped and counted; misaki would spell Hebrew letters by their names.
        keep = self.filters.setdefault(language, ScriptFilter(language))
        return (normalizer, (lambda text: g2p(lexicon.apply(with_markup(text, keep)))),
                language.tag, voice)
