"""Plain text to :class:`Document`: decoding, Project Gutenberg boilerplate, chapter headings.

Paragraphs are separated by blank lines; hard-wrapped lines inside one are joined. Chapter
headings are found by the patterns in :data:`HEADING_PATTERNS`. Detection is conservative: a
heading must stand alone between blank lines, and short all-caps lines only count as chapter
titles in a text that has no labelled headings ("Chapter IV") at all, or right after such a label.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .document import Block, BlockKind, Chapter, Document
from .errors import ParseError

__all__ = ["HEADING_PATTERNS", "classify_line", "decode_text", "parse_plaintext"]

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|last|final"
)
# A Roman numeral that is well formed (so "CIVIL" or "MIX" is not taken for one).
# The lookarounds make it non-empty and a whole word.
_ROMAN = (
    r"(?=[MDCLXVI]+\b)M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})(?<=[MDCLXVI])"
)
_NUMBER = rf"(?:{_ROMAN}|\d{{1,3}}|(?:the\s+)?(?:{_NUMBER_WORDS})(?:-(?:{_NUMBER_WORDS}))?)"
_LABEL_WORDS = "chapter|part|book|volume|section|act|canto|letter|stave"
_STANDALONE = "prologue|epilogue|preface|introduction|foreword|afterword|conclusion|interlude"

# Each pattern is matched against a whole, stripped line; the role says what the line is:
# "label" numbers a chapter (and may carry its title after it), "caps" is a short all-caps line.
HEADING_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "label",
        re.compile(
            rf"(?P<label>(?:{_LABEL_WORDS})\s+{_NUMBER})\b(?P<sep>\s*[.:\-—–]\s*|\s+)?"
            rf"(?P<title>.*?)\s*$",
            re.IGNORECASE,
        ),
    ),
    ("label", re.compile(rf"(?P<label>{_ROMAN})(?P<sep>\.)?(?P<title>)$")),
    ("label", re.compile(rf"(?P<label>{_STANDALONE})(?P<sep>[.:])?(?P<title>)$", re.IGNORECASE)),
    ("caps", re.compile(r"(?=.*[A-Z]{3})[A-Z0-9'’,\-—– &]{2,60}")),
)

_GUTENBERG_START = re.compile(r"^\s*\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG", re.I)
_GUTENBERG_END = re.compile(r"^\s*\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG", re.I)
_BY_LINE = re.compile(r"^by\s+(?P<author>\S.{0,80})$", re.IGNORECASE)
_UNDERSCORE_EMPHASIS = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")
_SMALL_WORDS = frozenset("a an and as at but by for from in into nor of on or the to with".split())
_TITLE_MAX_WORDS = 10
# Share of control characters above which bytes are taken for binary data, not text.
_MAX_CONTROL_SHARE = 0.01


@dataclass(frozen=True)
class _Heading:
    """A detected heading: the title to show and read, and whether it was a numbered label."""

    title: str
    labelled: bool


def decode_text(data: bytes, *, name: str) -> str:
    """Decode a text file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252.

    Raises :class:`ParseError` for data that is evidently binary.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _decode(data, "utf-16", name)
    elif b"\x00" in data:
        raise ParseError(f"{name} looks like binary data, not text (it contains NUL bytes)")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            # cp1252 leaves five bytes undefined; replacing them beats refusing the file.
            text = data.decode("cp1252", errors="replace")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    if text and controls / len(text) > _MAX_CONTROL_SHARE:
        raise ParseError(f"{name} looks like binary data, not text (many control characters)")
    return text


def _decode(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name} is not valid {encoding.upper()}: {exc.reason}") from None


def classify_line(line: str) -> str | None:
    """The heading role of one stripped line: "label", "caps" or None for ordinary text."""
    line = line.strip()
    for role, pattern in HEADING_PATTERNS:
        match = pattern.fullmatch(line)
        if match and (role != "label" or _label_title_ok(match)):
            return role
    return None


def _label_title_ok(match: re.Match[str]) -> bool:
    """A label may carry a title ("Chapter 12: The Storm"), but not run on into a sentence."""
    title = match.group("title")
    if not title:
        return True
    separated = bool(match.group("sep") and match.group("sep").strip())
    return (separated and len(title.split()) <= _TITLE_MAX_WORDS) or _is_title_line(title)


def _is_title_line(line: str) -> bool:
    """A short line that reads as a title: all caps, or capitalised words and no full stop."""
    words = line.split()
    if not words or len(words) > _TITLE_MAX_WORDS or classify_line(line) == "label":
        return False
    if line.isupper() and line[-1] not in "!?,;:":
        return True
    capitalised = all(w[0].isupper() or w.lower() in _SMALL_WORDS for w in words if w[0].isalpha())
    return capitalised and line[-1] not in ".!?,;:"


def parse_plaintext(text: str, *, name: str) -> Document:
    """Parse plain text into a document; ``name`` titles it when the text has no title line."""
    paragraphs = _paragraphs(_strip_gutenberg(text))
    title, authors, paragraphs = _title_and_authors(paragraphs)
    labelled = any(classify_line(p[0]) == "label" for p in paragraphs if len(p) <= 2)
    groups: list[tuple[str, list[Block]]] = [(title or name, [])]
    index = 0
    while index < len(paragraphs):
        heading, used = _heading_at(paragraphs, index, labelled)
        if heading:
            groups.append((heading.title, [Block(BlockKind.HEADING, heading.title)]))
        else:
            groups[-1][1].append(Block(BlockKind.PARAGRAPH, _join(paragraphs[index])))
        index += used
    if not groups[0][1]:
        groups.pop(0)
    chapters = tuple(
        Chapter(index=i, title=group_title, blocks=tuple(blocks))
        for i, (group_title, blocks) in enumerate(_merge_heading_only(groups), start=1)
    )
    return Document(title=title or name, chapters=chapters, authors=authors)


def _strip_gutenberg(text: str) -> list[str]:
    """The lines of the text, without a Project Gutenberg header and licence footer."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if _GUTENBERG_START.match(line)), -1)
    end = next((i for i, line in enumerate(lines) if _GUTENBERG_END.match(line)), len(lines))
    return lines[start + 1 : end] if end > start else lines[start + 1 :]


def _paragraphs(lines: Sequence[str]) -> list[list[str]]:
    """Runs of non-blank lines, each line stripped."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def _title_and_authors(
    paragraphs: list[list[str]],
) -> tuple[str | None, tuple[str, ...], list[list[str]]]:
    """A title line followed by a "by Someone" line at the very top, if the text opens so."""
    head = [line for p in paragraphs[:3] for line in p][:3]
    for position in (1, 2):
        by = _BY_LINE.match(head[position]) if len(head) > position else None
        titles = head[:position]
        if by and all(_is_title_line(t) and classify_line(t) != "label" for t in titles):
            author = by.group("author").strip().rstrip(".")
            return _titlecase(" ".join(titles)), (author,), _drop_lines(paragraphs, position + 1)
    return None, (), paragraphs


def _drop_lines(paragraphs: list[list[str]], count: int) -> list[list[str]]:
    """The paragraphs with their first ``count`` lines removed."""
    rest = [list(p) for p in paragraphs]
    while count and rest:
        taken = min(count, len(rest[0]))
        rest[0] = rest[0][taken:]
        count -= taken
        if not rest[0]:
            rest.pop(0)
    return rest


def _heading_at(
    paragraphs: Sequence[list[str]], index: int, labelled: bool
) -> tuple[_Heading | None, int]:
    """The heading starting at paragraph ``index`` (if any) and how many paragraphs it uses."""
    lines = paragraphs[index]
    role = classify_line(lines[0]) if len(lines) <= 2 else None
    if role == "label":
        label = lines[0]
        if len(lines) == 2:
            if not (_bare_label(label) and _is_title_line(lines[1])):
                return None, 1
            return _Heading(_combine(label, lines[1]), True), 1
        follower = paragraphs[index + 1] if index + 1 < len(paragraphs) else []
        if len(follower) == 1 and _bare_label(label) and _is_title_line(follower[0]):
            return _Heading(_combine(label, follower[0]), True), 2
        return _Heading(_titlecase(label), True), 1
    if role == "caps" and len(lines) == 1 and not labelled:
        return _Heading(_titlecase(lines[0]), False), 1
    return None, 1


def _bare_label(line: str) -> bool:
    """True for a label without its own title ("CHAPTER I."), which may take the next line's."""
    for role, pattern in HEADING_PATTERNS:
        match = pattern.fullmatch(line.strip())
        if match and role == "label":
            return not match.group("title")
    return False


def _combine(label: str, title: str) -> str:
    label = _titlecase(label.strip())
    joiner = " " if label[-1] in ".:" else ". "
    return f"{label}{joiner}{_titlecase(title.strip())}"


def _titlecase(text: str) -> str:
    """Title case for all-caps text ("THE KEEPER'S LAMP" -> "The Keeper's Lamp"), else unchanged."""
    if not text.isupper():
        return text
    words = text.split()
    out = []
    for position, word in enumerate(words):
        if re.fullmatch(_ROMAN + r"[.:,]?", word):
            out.append(word)  # Roman numerals stay upper case: "Chapter IV".
        elif position and word.lower() in _SMALL_WORDS:
            out.append(word.lower())
        else:
            out.append(word[0] + word[1:].lower())
    return " ".join(out)


def _join(lines: Sequence[str]) -> str:
    """One paragraph from hard-wrapped lines; a line-final hyphen joins without a space."""
    text = ""
    for line in lines:
        if text and not text.endswith("-"):
            text += " "
        text += line
    return _UNDERSCORE_EMPHASIS.sub(r"\1", " ".join(text.split()))


def _merge_heading_only(groups: list[tuple[str, list[Block]]]) -> list[tuple[str, list[Block]]]:
    """Fold a heading with no text of its own ("PART ONE") into the chapter after it.

    A heading-only group at the very end ("THE END") joins the chapter before it instead.
    """
    merged: list[tuple[str, list[Block]]] = []
    carried: list[Block] = []
    for title, blocks in groups:
        if all(b.kind is BlockKind.HEADING for b in blocks):
            carried.extend(blocks)
            continue
        merged.append((title, carried + blocks))
        carried = []
    if carried and merged:
        merged[-1][1].extend(carried)
    elif carried:
        merged.append((groups[-1][0], carried))
    return merged
