"""Where quoted speech is in a paragraph, by the conventions of its language.

The conventions are data (``preprocess/data/dialogue.json``): quote pairs such as “…”, "…",
‘…’, «…», „…“ and 「…」, and, in Spanish, French, Italian and Portuguese, dialogue written
with dashes (``—Hola —dijo Juan—. ¿Qué tal?``). Nested quotes belong to the quote around them;
an apostrophe (``it’s``, ``o’clock``) never closes a quote; a quote still open at the end of a
paragraph runs to its end (a speech over several paragraphs opens each one again).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["Conventions", "conventions", "find_quotes", "script_label"]

_DATA = Path(__file__).parent / "data" / "dialogue.json"
_DASHES = "—―–"
# "ELIZABETH: Not at all." or "Lady Bracknell: ..." (a play or a script): the speaker's name
# before a colon; all-capital names may end with a period instead ("HAMLET. To be").
_LABEL = re.compile(r"([A-Z][\w’'.-]*(?: [A-Z][\w’'.-]*){0,3}):\s+(?=\S)"
                    r"|([A-Z][A-Z’'-]+(?: [A-Z][A-Z’'-]+){0,2})\.\s+(?=\S)")


@dataclass(frozen=True)
class Conventions:
    """How one language writes dialogue and speech tags (see ``data/dialogue.json``)."""

    quotes: tuple[tuple[str, str], ...]
    dash: bool
    verbs: tuple[tuple[str, ...], ...]  # each a verb phrase as lower-case words, longest first
    pronouns: dict[str, str]  # pronoun -> m, f, p (a group) or "" (unknown), or "narrator"
    titles: dict[str, str]  # lower-case title ("mr.") -> gender ("" unknown)
    nouns: dict[str, str]  # "wife" -> f
    determiners: frozenset[str]
    stop: frozenset[str]  # capitalized at a sentence start, but nobody's name
    glue: frozenset[str]  # words that end a name ("his lady to him")


@lru_cache(maxsize=None)
def conventions(language: str) -> Conventions:
    """The conventions of ``language`` (a tag: ``en-GB``, ``fr``...); English where the data
    has none for it."""
    data = json.loads(_DATA.read_text(encoding="utf-8"))["languages"]
    primary = language.split("-")[0].lower()
    entry = data.get(primary, data["en"])
    verbs = sorted((tuple(v.split()) for v in entry["verbs"]), key=len, reverse=True)
    return Conventions(tuple(tuple(p) for p in entry["quotes"]), entry["dash"], tuple(verbs),
                       dict(entry["pronouns"]), dict(entry["titles"]), dict(entry["nouns"]),
                       frozenset(entry["determiners"]), frozenset(entry["stop"]),
                       frozenset(entry["glue"]))


def _opens(text: str, i: int, mark: str, close: str) -> bool:
    """Whether ``mark`` at ``i`` opens a quote: a mark that is its own closer (", ', ‘ used
    as an apostrophe is rare) opens only before a word and after a space or bracket."""
    if mark != close and mark not in "‘'":
        return True
    before = text[i - 1] if i else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    return (before.isspace() or before in "([{—–-\"“‘«") and not after.isspace()


def _closes(text: str, i: int, close: str) -> bool:
    """Whether ``close`` at ``i`` ends the quote: an apostrophe inside a word (it’s) does not."""
    if close not in "’'":
        return True
    after = text[i + 1] if i + 1 < len(text) else " "
    return not after.isalpha() and i > 0 and not text[i - 1].isspace()


def find_quotes(text: str, conv: Conventions) -> list[tuple[int, int]]:
    """The outermost quotes of ``text`` as ``(start, end)`` offsets, marks included."""
    if conv.dash and text[:1] in _DASHES:
        return [part for span in _dash_speech(text) for part in _incises(text, span, conv)]
    openers = {mark: close for mark, close in conv.quotes}
    found, i = [], 0
    while i < len(text):
        mark = text[i]
        if mark in openers and _opens(text, i, mark, openers[mark]):
            end = _closing(text, i + 1, openers[mark])
            found.append((i, end))
            i = end
        else:
            i += 1
    return found


def _closing(text: str, start: int, close: str) -> int:
    """One past the mark that closes a quote opened before ``start`` (the text's end if none)."""
    i = text.find(close, start)
    while i != -1:
        if _closes(text, i, close):
            return i + 1
        i = text.find(close, i + 1)
    return len(text)


def _dash_speech(text: str) -> list[tuple[int, int]]:
    """The speech of a line of dash dialogue: from the opening dash to an incise of narration
    that a spaced dash opens (``—dijo Juan—``), and on after the dash that closes it."""
    found, start = [], 0
    for m in re.finditer(rf"\s[{_DASHES}](?=\S)", text):
        if m.start() < start:
            continue
        close = re.compile(rf"[{_DASHES}]").search(text, m.end())
        found.append((start, m.start()))
        if close is None:
            return found
        rest = re.match(r"[\s.,;:]*", text[close.end():])
        start = close.end() + (rest.end() if rest else 0)
        if start >= len(text):
            return found
    found.append((start, len(text)))
    return [(s, e) for s, e in found if text[s:e].strip(_DASHES + " ")]


def _incises(text: str, span: tuple[int, int],
             conv: Conventions) -> list[tuple[int, int]]:
    """A line of dash speech cut around a speech tag set off by a comma, as French writes it
    (``— Bonsoir, répondit Marie. Tu viens ?``): the tag, up to the next comma or sentence end,
    is narration."""
    verbs = "|".join(re.escape(" ".join(v)) for v in conv.verbs)
    tag = re.compile(rf",\s+(?:{verbs})(?:-t)?(?:-\w+)?\b") if verbs else None
    m = tag.search(text, span[0], span[1]) if tag else None
    if m is None:
        return [span]
    end = re.compile(r"[,.!?…]\s+|$").search(text, m.end(), span[1])
    resume = end.end() if end is not None and end.end() < span[1] else span[1]
    return [(span[0], m.start() + 1)] + ([(resume, span[1])] if resume < span[1] else [])


def script_label(text: str) -> tuple[str, int] | None:
    """``("ELIZABETH", 11)`` for a script line ``ELIZABETH: Not at all.``: the speaker and where
    the line's speech starts; None for any other paragraph."""
    m = _LABEL.match(text)
    if m is None:
        return None
    return (m.group(1) or m.group(2)).strip(), m.end()
