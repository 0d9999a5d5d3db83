"""The document model every parser produces and every later stage reads."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

__all__ = [
    "CODE_NOTICE", "CODE_POLICIES", "Block", "BlockKind", "Chapter", "Cover", "Document",
    "LONGEST_RUN", "LanguageRun", "fold_heading_only", "spoken_words",
]

# How code blocks are read, for every parser: left out, announced in one sentence, or read.
CODE_POLICIES = ("skip", "announce", "read")
CODE_NOTICE = "Code example omitted."
# A run of more than this many characters without a space (nobody's word: a line of dashes, a
# blob of base64, a 400-digit number) is read in runs this long: the normalizer breaks it up
# (misaki spends time quadratic in a run's length), and word counts count it so.
LONGEST_RUN = 100
# Such a run, matched from its first character only (the look-behind keeps the scan linear).
_LONG_RUN = re.compile(rf"(?<!\S)\S{{{LONGEST_RUN + 1},}}")


class BlockKind(str, Enum):
    """What a block of text is; later stages pick pauses and reading policies from it."""

    HEADING = "heading"
    PARAGRAPH = "paragraph"
    LIST_ITEM = "list_item"
    QUOTE = "quote"
    TABLE = "table"
    CODE = "code"
    CAPTION = "caption"


@dataclass(frozen=True)
class LanguageRun:
    """Characters ``start:end`` of a block's text in another language than the block's (an
    inline ``<span xml:lang="fr">``): read by that language's normalizer and G2P."""

    start: int
    end: int
    language: str  # a language tag Kokoro speaks


@dataclass(frozen=True)
class Block:
    """One unit of readable text: a heading, a paragraph, a list item, ..."""

    kind: BlockKind
    text: str
    language: str | None = None  # a language tag where it differs from the chapter's
    # Phrases inside it in other languages, in order (None, not empty, where there are none).
    runs: tuple[LanguageRun, ...] | None = None
    # From SSML: the voice that reads it instead of the chapter's, its speed relative to the
    # job's (prosody rate), and the silence after it (a break) instead of the kind's pause.
    voice: str | None = None
    rate: float | None = None
    pause_after_ms: int | None = None


@dataclass(frozen=True)
class Chapter:
    """A chapter as a reader of the book would name it."""

    index: int
    title: str
    blocks: tuple[Block, ...]
    level: int = 1
    language: str | None = None  # a language tag where it differs from the document's

    @property
    def text(self) -> str:
        return "\n\n".join(block.text for block in self.blocks)

    @property
    def words(self) -> int:
        """Words as they are read (see :func:`spoken_words`)."""
        return sum(spoken_words(block.text) for block in self.blocks)

    @property
    def heading_only(self) -> bool:
        """Nothing but headings (a part's divider page: "PART ONE")."""
        return all(block.kind is BlockKind.HEADING for block in self.blocks)


def spoken_words(text: str) -> int:
    """The words of ``text`` as they are read: a run without a space longer than
    :data:`LONGEST_RUN` counts as one word per LONGEST_RUN characters (a 2 MB line of base64
    is 20,972 pieces to speak, not one word)."""
    longer = sum((len(run.group()) - 1) // LONGEST_RUN for run in _LONG_RUN.finditer(text))
    return len(text.split()) + longer


@dataclass(frozen=True)
class Cover:
    data: bytes
    media_type: str  # "image/jpeg" or "image/png"


@dataclass(frozen=True)
class Document:
    """A parsed document: metadata plus chapters in reading order."""

    title: str
    chapters: tuple[Chapter, ...]
    authors: tuple[str, ...] = ()
    language: str = "en"
    # False when the source names no language and "en" is only the parsers' default (the
    # application then lets an explicitly chosen voice's language decide). Not in the digest.
    language_declared: bool = True
    publisher: str | None = None
    date: str | None = None
    cover: Cover | None = None
    source: Path | None = None
    # Pronunciation lexicons the source declares (for EPUB 3: PLS files), as (name, bytes).
    lexicons: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    @property
    def words(self) -> int:
        return sum(chapter.words for chapter in self.chapters)

    @property
    def digest(self) -> str:
        """sha256 (hex) of what will be read: title, authors, language and every chapter's
        index, title, level and blocks, as JSON with sorted keys.

        A job is identified by it, so an edit to the text makes a new job while a touched but
        unchanged file does not. The cover and the lexicons are left out: the audio does not
        depend on the cover, and lexicons reach the audio through the lexicon's own digest.
        """
        content = {
            "title": self.title,
            "authors": list(self.authors),
            "language": self.language,
            "chapters": [_chapter_json(chapter) for chapter in self.chapters],
        }
        blob = json.dumps(content, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _chapter_json(chapter: Chapter) -> dict[str, Any]:
    described = {
        "index": chapter.index,
        "title": chapter.title,
        "level": chapter.level,
        # Every field a block has, so a field added later is part of the digest by itself; one
        # left unset (None) is left out, so digests made before it existed stay the same.
        "blocks": [
            {f.name: _plain(getattr(block, f.name)) for f in dataclasses.fields(block)
             if getattr(block, f.name) is not None}
            for block in chapter.blocks
        ],
    }
    if chapter.language is not None:  # absent otherwise: digests of earlier books unchanged
        described["language"] = chapter.language
    return described


def _plain(value: object) -> object:
    if isinstance(value, tuple):  # Block.runs
        return [dataclasses.astuple(item) if dataclasses.is_dataclass(item) else item
                for item in value]
    return value.value if isinstance(value, Enum) else value


def fold_heading_only(chapters: Sequence[Chapter], *, trailing_joins_previous: bool = False,
                      standalone: Collection[int] = ()) -> tuple[Chapter, ...]:
    """Fold each chapter of nothing but headings ("PART ONE") into the start of the next one,
    and number the result from 1 in reading order.

    Every parser does this: a part's divider is read at the start of its first chapter, not as
    a chapter of a few words. What happens to a heading-only run at the very end differs by
    format: by default the last chapter stays a chapter (with the run before it folded in);
    with ``trailing_joins_previous`` the run joins the chapter before it instead ("THE END"
    closing a plain text). ``standalone`` holds positions never folded (an EPUB spine file
    with no TOC entry of its own is a chapter whatever it holds).
    """
    out: list[Chapter] = []
    carried: tuple[Block, ...] = ()
    for position, chapter in enumerate(chapters):
        last = position == len(chapters) - 1
        foldable = chapter.heading_only and position not in standalone
        if foldable and (not last or trailing_joins_previous):
            carried += chapter.blocks
            continue
        out.append(dataclasses.replace(chapter, blocks=carried + chapter.blocks))
        carried = ()
    if carried and out:
        out[-1] = dataclasses.replace(out[-1], blocks=out[-1].blocks + carried)
    elif carried:
        out.append(dataclasses.replace(chapters[-1], blocks=carried))
    return tuple(dataclasses.replace(c, index=i) for i, c in enumerate(out, start=1))
