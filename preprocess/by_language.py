"""A document's text by language, as G2P will read it: for ``preview --unknown-words``, which
asks each language's G2P about the words in that language only."""

from __future__ import annotations

from collections.abc import Iterator

from .document import Block, Document
from .languages import Language, resolve_language
from .lexicon import Lexicon
from .normalize import Normalizer
from .phonemic import with_markup

__all__ = ["spoken_by_language"]


def spoken_by_language(document: Document, lexicon: Lexicon) -> Iterator[tuple[Language, str]]:
    """Each block's text, and each phrase in another language inside one, as (its language,
    the text normalized and with that language's dictionary entries applied), in reading
    order."""
    normalizers: dict[str, Normalizer] = {}
    for chapter in document.chapters:
        for block in chapter.blocks:
            own = block.language or chapter.language or document.language
            for tag, text in _parts(block, own):
                language = resolve_language(tag)[0]
                normalize = normalizers.setdefault(language.tag, Normalizer(language=language.tag))
                said = normalize(text)
                if said:
                    yield language, lexicon.for_language(language.tag).apply(with_markup(said))


def _parts(block: Block, language: str) -> Iterator[tuple[str, str]]:
    """(language tag, text) for the block's own text between its runs and for each run."""
    last = 0
    for run in block.runs or ():
        yield language, block.text[last:run.start]
        yield run.language, block.text[run.start:run.end]
        last = run.end
    yield language, block.text[last:]
