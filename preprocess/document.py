"""The document model every parser produces and every later stage reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


# How code blocks are read, for every parser: left out, announced in one sentence, or read.
CODE_POLICIES = ("skip", "announce", "read")
CODE_NOTICE = "Code example omitted."


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
class Block:
    """One unit of readable text: a heading, a paragraph, a list item, ..."""

    kind: BlockKind
    text: str


@dataclass(frozen=True)
class Chapter:
    """A chapter as a reader of the book would name it."""

    index: int
    title: str
    blocks: tuple[Block, ...]
    level: int = 1

    @property
    def text(self) -> str:
        return "\n\n".join(block.text for block in self.blocks)

    @property
    def words(self) -> int:
        return sum(len(block.text.split()) for block in self.blocks)


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
    publisher: str | None = None
    date: str | None = None
    cover: Cover | None = None
    source: Path | None = None
    # Pronunciation lexicons the source declares (for EPUB 3: PLS files), as (name, bytes).
    lexicons: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    @property
    def words(self) -> int:
        return sum(chapter.words for chapter in self.chapters)
