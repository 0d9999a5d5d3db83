"""Plain text to :class:`Document`: decoding, Project Gutenberg boilerplate, chapter headings.

Paragraphs are separated by blank lines; hard-wrapped lines inside one are joined. Chapter
headings are found by the patterns in :data:`HEADING_PATTERNS`. Detection is conservative: a
heading must stand alone between blank lines, and short all-caps lines only count as chapter
titles in a text that has no labelled headings ("Chapter IV") at all, or right after such a label.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .document import Block, BlockKind, Chapter, Document, fold_heading_only
from .gutenberg import byline_author, split_gutenberg

__all__ = [
    "HEADING_PATTERNS", "classify_line", "clean_text", "is_part_label", "titlecase",
    "parse_plaintext",
]

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

# A heading that names a part of a book, above its chapters: "PART ONE", "Volume II: The Return".
_PART_LABEL = re.compile(rf"(?:part|book|volume)\s+{_NUMBER}\b(?!\s+(?:was|is)\b)", re.IGNORECASE)

_LABEL_START = re.compile(rf"(?:{_LABEL_WORDS})\s+{_NUMBER}\b", re.IGNORECASE)
_CONTENTS = re.compile(r"(?:table\s+of\s+)?contents\.?", re.IGNORECASE)
# A title page has no sentence and at most this many words; prose has paragraphs of this many lines.
_TITLE_PAGE_WORDS = 40
_PROSE_LINES = 3
_CLOSERS = "\"')]}”’»_"

# A volunteer's credit at the top of a Gutenberg text, not part of the book.
_PRODUCER = re.compile(r"(?:e-?text\s+)?(?:produced|prepared|transcribed|scanned)\s+by\b", re.I)
_YEAR = re.compile(r"\s*\(\d{4}\)\s*")
_TITLE_PAGE_LINES = 6
_UNDERSCORE_EMPHASIS = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")
_SMALL_WORDS = frozenset("a an and as at but by for from in into nor of on or the to with".split())
_TITLE_MAX_WORDS = 10
# A long title ("CHAPTER XII. IN WHICH THE CAPTAIN RETURNS TO THE SHIP AND FINDS ...") may have
# this many words and wrap over this many lines; every line of it but the last is hard-wrapped,
# so at least this many characters long (Gutenberg wraps at about 70).
_LONG_TITLE_WORDS = 30
_LONG_TITLE_LINES = 3
_WRAPPED_CHARS = 60


# Characters that are never spoken and never shown: format characters (zero-width spaces and
# joiners, bidirectional marks and overrides, the BOM, soft hyphens, tag characters: Unicode
# category Cf) and lone surrogates. Control characters other than tab and newline become spaces.
_INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f\ud800-\udfff]"
)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """``text`` without invisible characters, control characters as spaces (see _INVISIBLE)."""
    return _CONTROL.sub(" ", _INVISIBLE.sub("", text))


@dataclass(frozen=True)
class _Heading:
    """A detected heading: the title to show and read, and whether it was a numbered label."""

    title: str
    labelled: bool


def classify_line(line: str) -> str | None:
    """The heading role of one stripped line: "label", "caps" or None for ordinary text."""
    line = line.strip()
    for role, pattern in HEADING_PATTERNS:
        match = pattern.fullmatch(line)
        if match and (role != "label" or _label_title_ok(match)):
            return role
    return None


def is_part_label(title: str) -> bool:
    """True for a heading that names a part, volume or book of chapters ("VOLUME II")."""
    title = title.strip()
    return bool(_PART_LABEL.match(title)) and classify_line(title) == "label"


def _label_title_ok(match: re.Match[str]) -> bool:
    """A label may carry a title ("Chapter 12: The Storm"), but not run on into a sentence."""
    title = match.group("title")
    if not title:
        return True
    separated = bool(match.group("sep") and match.group("sep").strip())
    if separated and _reads_as_title(title, _LONG_TITLE_WORDS):
        return True
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
    """Parse plain text into a document; ``name`` titles it when the text has no title line.

    A contents list and a title page (short lines before the first heading: title, author, year,
    "Produced by ...") are not read. A Project Gutenberg text is read without its licence
    header and footer; the header names the book, and its short front matter (a title page
    in sentences, "or, THE WHALE.") opens the first chapter.
    """
    lines, header = split_gutenberg(text)
    paragraphs = _drop_contents(_paragraphs(lines))
    title, authors, paragraphs = _title_and_authors(paragraphs)
    if header is not None:
        # The header's fields name the book more reliably than a title page does.
        title, authors = header.title or title, header.authors or authors
    groups = _groups(paragraphs, title or name)
    chapters = _chapters(groups, gutenberg=header is not None)
    return Document(title=title or name, chapters=chapters, authors=authors,
                    language_declared=False)


def _groups(paragraphs: Sequence[list[str]], title: str) -> list[tuple[str, list[Block]]]:
    """(title, blocks) cut at each heading; the first group holds what comes before any
    heading, under ``title``."""
    first_label = next(
        (i for i, p in enumerate(paragraphs)
         if (len(p) <= 2 and classify_line(p[0]) == "label") or _long_heading(paragraphs, i)),
        len(paragraphs),
    )
    groups: list[tuple[str, list[Block]]] = [(title, [])]
    index = 0
    while index < len(paragraphs):
        caps_ok = _caps_allowed(paragraphs, index, first_label)
        heading, used = _heading_at(paragraphs, index, caps_ok)
        if heading:
            groups.append((heading.title, [Block(BlockKind.HEADING, heading.title)]))
        else:
            groups[-1][1].append(Block(BlockKind.PARAGRAPH, _join(paragraphs[index])))
        index += used
    return groups


def _chapters(groups: list[tuple[str, list[Block]]], gutenberg: bool) -> tuple[Chapter, ...]:
    """The chapters of the groups. What comes before the first heading is dropped when it is a
    title page (or nothing), opens the first chapter when it is a Gutenberg text's short front
    matter, and is a chapter of its own otherwise (a prologue)."""
    front, rest = groups[0][1], groups[1:]
    if gutenberg:
        front = [b for b in front if not _PRODUCER.match(b.text)]
    short = sum(len(b.text.split()) for b in front) <= _TITLE_PAGE_WORDS
    if not front or (rest and _is_title_page(front)):
        groups = rest
    elif rest and gutenberg and short:
        groups = [(rest[0][0], front + rest[0][1]), *rest[1:]]
    # A heading with no text of its own ("PART ONE") opens the chapter after it; one at the
    # very end ("THE END") closes the chapter before it.
    return fold_heading_only(
        [Chapter(index=0, title=title, blocks=tuple(blocks)) for title, blocks in groups],
        trailing_joins_previous=True,
    )


def _caps_allowed(paragraphs: Sequence[list[str]], index: int, first_label: int) -> bool:
    """Whether an all-caps line at ``index`` may be a heading.

    In a text with numbered headings ("Chapter 1") it may only before the first of them, and only
    when prose follows (an "ADVERTISEMENT BY THE AUTHORESS" before chapter 1); elsewhere a text
    with numbered headings uses capitals for emphasis, not titles.
    """
    if first_label >= len(paragraphs):
        return True
    following = paragraphs[index + 1] if index + 1 < first_label else []
    return index < first_label and len(following) >= _PROSE_LINES


def _is_title_page(blocks: Sequence[Block]) -> bool:
    """Short lines with no sentence among them: a title page, not a prologue."""
    words = sum(len(block.text.split()) for block in blocks)
    sentences = any(block.text.rstrip(_CLOSERS)[-1:] in ".!?" for block in blocks)
    return words <= _TITLE_PAGE_WORDS and not sentences


def _drop_contents(paragraphs: list[list[str]]) -> list[list[str]]:
    """The paragraphs without a contents list ("CONTENTS", then one line per chapter).

    The list runs from the "Contents" line to where its first entry's label ("CHAPTER I")
    comes again as a heading; without such a heading nothing is dropped.
    """
    start = next((i for i, p in enumerate(paragraphs) if _CONTENTS.fullmatch(p[0])), None)
    if start is None:
        return paragraphs
    for index in range(start, len(paragraphs)):
        lines = paragraphs[index][1:] if index == start else paragraphs[index]
        key = next((_label_key(line) for line in lines if _label_key(line)), None)
        if key:
            break
    else:
        return paragraphs
    for end in range(index + 1, len(paragraphs)):
        lines = paragraphs[end]
        if len(lines) <= 1 + _LONG_TITLE_LINES and _label_key(lines[0]) == key:
            return paragraphs[:start] + paragraphs[end:]
    return paragraphs


def _label_key(line: str) -> str | None:
    """The label a line starts with, normalised ("Chapter I." -> "CHAPTER I"), or None."""
    match = _LABEL_START.match(line.strip())
    return " ".join(match.group(0).upper().split()) if match else None


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
    """A title page at the very top: title lines, then "by Someone" (or "by" and a name line).

    Years in brackets ("(1814)") around the title or after the name are dropped with them.
    """
    head = [line for p in paragraphs[:_TITLE_PAGE_LINES] for line in p][:_TITLE_PAGE_LINES]
    for position in range(1, 4):
        author, used = byline_author(head, position)
        titles = [line for line in head[:position] if not _YEAR.fullmatch(line)]
        if author and titles and all(_is_title_line(t) for t in titles):
            while used < len(head) and _YEAR.fullmatch(head[used]):
                used += 1
            return titlecase(" ".join(titles)), (author,), _drop_lines(paragraphs, used)
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
    paragraphs: Sequence[list[str]], index: int, caps_ok: bool
) -> tuple[_Heading | None, int]:
    """The heading starting at paragraph ``index`` (if any) and how many paragraphs it uses."""
    wrapped = _wrapped_heading(paragraphs, index) or _long_heading(paragraphs, index)
    if wrapped is not None:
        return wrapped
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
        return _Heading(titlecase(label), True), 1
    if role == "caps" and len(lines) == 1 and caps_ok:
        return _Heading(titlecase(lines[0]), False), 1
    return None, 1


def _wrapped_heading(
    paragraphs: Sequence[list[str]], index: int
) -> tuple[_Heading, int] | None:
    """A labelled heading whose title runs on to a second line, in the same paragraph or after
    a blank line, and how many paragraphs it uses (Moby-Dick: "CHAPTER 57. Of Whales in Paint;
    in Teeth; in Wood; in Sheet-Iron; in" / "Stone; in Mountains; in Stars.")."""
    lines = paragraphs[index]
    if len(lines) == 2:
        first, rest, used, blank = lines[0], lines[1], 1, False
    elif len(lines) == 1 and index + 1 < len(paragraphs) and len(paragraphs[index + 1]) == 1:
        first, rest, used, blank = lines[0], paragraphs[index + 1][0], 2, True
    else:
        return None
    if not (_runs_on(first, blank) and _ends_title(rest)):
        return None
    return _Heading(titlecase(f"{first} {rest}"), True), used


def _runs_on(line: str, blank_after: bool) -> bool:
    """Whether a label line's title stops mid-phrase: no full stop at its end and, across a
    blank line (where a complete title is usual), a comma, semicolon, dash or small word."""
    match = HEADING_PATTERNS[0][1].fullmatch(line)
    if not match or not match.group("title") or not (match.group("sep") or "").strip():
        return False
    if len(match.group("title").split()) > 2 * _TITLE_MAX_WORDS or line[-1] in ".!?" + _CLOSERS:
        return False
    return not blank_after or line[-1] in ",;:-—–&" or line.split()[-1].lower() in _SMALL_WORDS


def _long_heading(
    paragraphs: Sequence[list[str]], index: int
) -> tuple[_Heading, int] | None:
    """A labelled heading whose title is too long for one line, and how many paragraphs it
    uses: the label's own title wraps ("CHAPTER XII. IN WHICH ... ASLEEP" / "ON DECK"), or a
    bare label has a title of several lines under it (Don Quixote: "CHAPTER I." / "WHICH
    TREATS OF ... DON" / "QUIXOTE OF LA MANCHA"), in the same paragraph or after a blank line.

    Only a title that fills its first line (it was hard-wrapped) counts, so a short complete
    heading is never joined to a short line after it.
    """
    lines = paragraphs[index]
    match = HEADING_PATTERNS[0][1].fullmatch(lines[0])
    if match is None or (match.group("title") and not (match.group("sep") or "").strip()):
        return None
    after, used = lines[1:], 1
    if not after and index + 1 < len(paragraphs):
        after, used = paragraphs[index + 1], 2
    title = ([lines[0]] if match.group("title") else []) + after
    if not after or len(title) > _LONG_TITLE_LINES or any(map(_is_label_line, after)):
        return None
    joined = " ".join(after)
    if not all(len(line) >= _WRAPPED_CHARS for line in title[:-1] or title):
        return None
    if match.group("title"):
        whole = f"{match.group('title')} {joined}"
        heading = titlecase(f"{lines[0]} {joined}")
    else:
        whole, heading = joined, _combine(lines[0], joined)
    if not _reads_as_title(whole, _LONG_TITLE_WORDS):
        return None
    return _Heading(heading, True), used


def _is_label_line(line: str) -> bool:
    return classify_line(line) == "label"


def _ends_title(line: str) -> bool:
    """A short line that finishes a title: capitalised words (or small ones), up to one final
    stop ("Stone; in Mountains; in Stars.")."""
    return _reads_as_title(line, _TITLE_MAX_WORDS) and not _is_label_line(line)


def _reads_as_title(text: str, max_words: int) -> bool:
    """Up to ``max_words`` words that read as a title: all capitals, or capitalised words (and
    small ones), with no sentence inside and up to one final stop."""
    core = text.rstrip(_CLOSERS).rstrip(".!?")
    if not core or re.search(r"[.!?]\s", core):
        return False
    words = core.split()
    return len(words) <= max_words and (core.isupper() or all(
        w[0].isupper() or w.lower() in _SMALL_WORDS for w in words if w[0].isalpha()))


def _bare_label(line: str) -> bool:
    """True for a label without its own title ("CHAPTER I."), which may take the next line's."""
    for role, pattern in HEADING_PATTERNS:
        match = pattern.fullmatch(line.strip())
        if match and role == "label":
            return not match.group("title")
    return False


def _combine(label: str, title: str) -> str:
    label = titlecase(label.strip())
    joiner = " " if label[-1] in ".:" else ". "
    return f"{label}{joiner}{titlecase(title.strip())}"


def titlecase(text: str) -> str:
    """Title case for all-caps text ("THE KEEPER'S LAMP" -> "The Keeper's Lamp"), else unchanged.

    Roman numerals after a label or before a stop stay upper case ("Chapter IV", "IV."); small
    words stay lower case except where a title starts: first, after a number ("190 A Clover") or
    after a stop ("I. The Storm").
    """
    if not text.isupper():
        return text
    out: list[str] = []
    words = text.split()
    for position, word in enumerate(words):
        starts = not out or out[-1][-1] in ".:;—–-" or out[-1].isdigit() or _is_roman(out[-1])
        numbered = bool(out) and out[-1].lower() in _LABEL_WORDS.split("|")
        if _is_roman(word) and (numbered or word == "I" or word[-1] in ".:" or len(words) == 1):
            out.append(word)
        elif not starts and word.lower() in _SMALL_WORDS:
            out.append(word.lower())
        else:
            out.append("-".join(part[:1] + part[1:].lower() for part in word.split("-")))
    return " ".join(out)


def _is_roman(word: str) -> bool:
    return bool(re.fullmatch(_ROMAN + r"[.:,]?", word))


def _join(lines: Sequence[str]) -> str:
    """One paragraph from hard-wrapped lines; a line-final hyphen joins without a space."""
    text = ""
    for line in lines:
        if text and not text.endswith("-"):
            text += " "
        text += line
    return _UNDERSCORE_EMPHASIS.sub(r"\1", " ".join(text.split()))
