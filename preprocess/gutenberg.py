"""Project Gutenberg plain texts: the licence header and footer around the book, and the title
and authors the header names.

A Gutenberg text opens with a line naming the book ("The Project Gutenberg eBook of Moby-Dick;
or, The Whale, by Herman Melville", or the older "... EBook of ..." and "Project Gutenberg's
..."), then the licence and fields ("Title: ...", "Author: ..."), then a ``*** START OF THE
PROJECT GUTENBERG EBOOK ... ***`` line; the book ends at the matching END line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["GutenbergHeader", "split_gutenberg"]

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
    return book, (_read_header(lines[:start]) if start >= 0 else None)


def _read_header(lines: Sequence[str]) -> GutenbergHeader:
    """Title and authors: from the Title: and Author: fields, else from the first line."""
    fields = _fields(lines)
    first_title, first_author = _first_line(lines)
    title = " ".join(fields.get("title", [])) or first_title
    authors = tuple(fields.get("author", [])) or ((first_author,) if first_author else ())
    return GutenbergHeader(title or None, authors)


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
