"""Project Gutenberg plain texts: the licence header and footer around the book, and the title
and authors the header names.

A Gutenberg text opens with a line naming the book ("The Project Gutenberg eBook of Moby-Dick;
or, The Whale, by Herman Melville", or the older "... EBook of ..." and "Project Gutenberg's
..."), then the licence and fields ("Title: ...", "Author: ..."), then a ``*** START OF THE
PROJECT GUTENBERG EBOOK ... ***`` line; the book ends at the matching END line. The book's own
title block often names the author again on a line of its own ("By Herman Melville").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["GutenbergHeader", "byline_author", "split_gutenberg"]

_START = re.compile(r"^\s*\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG", re.I)
_END = re.compile(r"^\s*\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG", re.I)
_FIRST_LINE = re.compile(
    r"(?:the\s+)?project\s+gutenberg(?:['’]s\s+|\s+e-?book\s+of\s+|\s+etext\s+of\s+)(?P<rest>.+)",
    re.IGNORECASE,
)
# Where the book's name ends and its author begins: the last ", by " (or " by ").
_BY = re.compile(r",?\s+by\s+(?=\S)", re.IGNORECASE)
_BY_LINE = re.compile(r"by\s+\S", re.IGNORECASE)
# "Title: Moby-Dick; or, The Whale"; a field's value may go on in indented lines.
_FIELD = re.compile(r"(?P<name>[A-Za-z][A-Za-z ]{0,30}):\s*(?P<value>.*)")
# "By Herman Melville" (or "by" alone, the name on the next line) among the first lines of the
# book: a name of a few capitalised words, perhaps with a year after it ("Jane Austen (1803)").
_TITLE_BLOCK_LINES = 8
_PROSE_CHARS = 60
_BEGINS = re.compile(r"(?:chapter|contents|table of contents|preface|prologue)\b", re.IGNORECASE)
_AUTHOR_LINE = re.compile(r"by(?::|\s+(?P<name>\S.*))?", re.IGNORECASE)
_YEAR = re.compile(r"\(\d{4}\)")
_NAME_MAX_WORDS = 6
_NAME_PARTICLES = frozenset("de da del della di du la le van von der den ten ter y and &".split())
_NOT_A_NAME = frozenset("the a an his her their our my this that".split())
_ELIDED = re.compile(r"(?:d|l|o|de|del)['’]", re.IGNORECASE)  # d'Aulnoy, O'Brien
# A line that makes the "by" line after it a credit for someone other than the author.
_CREDIT = re.compile(
    r"\b(?:translat|illustrat|edited|editor|introduc|annotat|notes|preface|foreword|drawings|"
    r"pictures|adapted|abridged|compiled|arranged|retold|told)", re.IGNORECASE)


@dataclass(frozen=True)
class GutenbergHeader:
    """What a Gutenberg header says about the book (either may be missing)."""

    title: str | None = None
    authors: tuple[str, ...] = ()


def split_gutenberg(text: str) -> tuple[list[str], GutenbergHeader | None]:
    """The lines of the book without a Gutenberg header and licence footer, and what the header
    names; the header is None for a text without a START line (all of it is the book)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if _START.match(line)), -1)
    end = next((i for i, line in enumerate(lines) if _END.match(line)), len(lines))
    book = lines[start + 1 : end] if end > start else lines[start + 1 :]
    return book, (_read_header(lines[:start], book) if start >= 0 else None)


def _read_header(lines: Sequence[str], book: Sequence[str]) -> GutenbergHeader:
    """Title and authors: from the Title: and Author: fields, else the title from the first
    line and the author from the book's "By ..." line, else from the first line.

    The Author: field wins over a "By ..." line that names someone else: the field is the
    catalogue's, the title page may shorten or spell the name as the edition did.
    """
    fields = _fields(lines)
    first_title, first_author = _first_line(lines)
    title = " ".join(fields.get("title", [])) or first_title
    author = _title_block_author(book) or first_author
    authors = tuple(fields.get("author", [])) or ((author,) if author else ())
    return GutenbergHeader(title or None, authors)


def _title_block_author(book: Sequence[str]) -> str | None:
    """The author the book's title block names on a line of its own under the title
    ("By Herman Melville"), or None; see :func:`byline_author`."""
    block = _title_block(book)
    return next(filter(None, (byline_author(block, i)[0] for i in range(1, len(block)))), None)


def _title_block(book: Sequence[str]) -> list[str]:
    """The first non-empty lines of the book, up to its first line of prose or heading."""
    texts = [line.strip() for line in book if line.strip()][:_TITLE_BLOCK_LINES]
    end = next((i for i, t in enumerate(texts) if len(t) >= _PROSE_CHARS or _BEGINS.match(t)),
               len(texts))
    return texts[:end]


def byline_author(lines: Sequence[str], position: int) -> tuple[str | None, int]:
    """The author a title page names at ``lines[position]`` ("By Herman Melville", "BY LEWIS
    CARROLL", "by" with "Jane Austen (1818)" on the next line), and the index of the line after
    the name; (None, 0) where no author is named there.

    A "by" line after a credit ("Translated from the French", "Illustrated") names someone
    else, and one whose words are not a name ("By the Author of Waverley") is no author.
    """
    if position >= len(lines):
        return None, 0
    match = _AUTHOR_LINE.fullmatch(lines[position].strip())
    if match is None or (position and _CREDIT.search(lines[position - 1])):
        return None, 0
    name, used = match.group("name"), position + 1
    if name is None and used < len(lines):  # "by" alone, the name below it
        name, used = lines[used], used + 1
    name = " ".join(_YEAR.sub(" ", name or "").split()).rstrip(".,")
    if not _is_name(name):
        return None, 0
    return (name.title() if name.isupper() else name), used


def _is_name(text: str) -> bool:
    """A few capitalised words, with particles ("van", "de", "and") between them."""
    words = text.split()
    if not words or len(words) > _NAME_MAX_WORDS or words[0].lower() in _NOT_A_NAME:
        return False
    capitalised = [_ELIDED.sub("", w, count=1)[:1].isupper() for w in words]
    return capitalised[0] and capitalised[-1] and all(
        cap or w.lower() in _NAME_PARTICLES for cap, w in zip(capitalised, words, strict=True))


def _fields(lines: Sequence[str]) -> dict[str, list[str]]:
    """The header's "Name: value" fields (names lower case), each with its value lines: the
    first and any indented lines after it ("Author: Jacob Grimm" / "        Wilhelm Grimm")."""
    fields: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        match = _FIELD.fullmatch(line.strip()) if line[:1].strip() else None
        if match:
            current = fields.setdefault(match.group("name").lower(), [])
            current.append(match.group("value").strip())
        elif current is not None and line.strip() and not line[:1].strip():
            current.append(line.strip())  # an indented continuation
        else:
            current = None
    return {name: [v for v in values if v] for name, values in fields.items()}


def _first_line(lines: Sequence[str]) -> tuple[str | None, str | None]:
    """(title, author) from "The Project Gutenberg eBook of TITLE, by AUTHOR" (the "by" part
    may stand on the next line), or (None, None)."""
    texts = [line.strip().lstrip("\ufeff").strip() for line in lines]
    texts = [text for text in texts if text]
    match = _FIRST_LINE.fullmatch(texts[0]) if texts else None
    if match is None:
        return None, None
    rest = match.group("rest")
    if len(texts) > 1 and not _BY.search(rest) and _BY_LINE.match(texts[1]):
        rest = f"{rest} {texts[1]}"
    cuts = list(_BY.finditer(rest))
    if not cuts:
        return _tidy(rest), None
    return _tidy(rest[: cuts[-1].start()]), _tidy(rest[cuts[-1].end() :])


def _tidy(text: str) -> str | None:
    return " ".join(text.split()).strip(" ,;:") or None
