"""Inline language runs: a phrase in another language inside a paragraph (``<span
xml:lang="fr">je ne sais quoi</span>``).

A parser records such a phrase as a :class:`~preprocess.document.LanguageRun` of its block
(character offsets into the block's text, made by :func:`collapse`). The chunker then reads the
block as *marked* text: each run wrapped in two markers (private-use characters that carry the
run's language tag), so the text can be normalized, cut into sentences and pieces as one, while
every piece still says which of its words are in which language (:func:`segments`). A piece cut
inside a run keeps the right language on both sides: the closing marker names the language too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .document import LanguageRun
from .languages import resolve_language

log = logging.getLogger(__name__)

__all__ = ["CLOSING", "OPENING", "Switch", "carry_runs", "collapse", "declared_language",
           "foreign_runs", "map_runs", "mark", "marked_text", "read_mixed", "scrub", "segments",
           "unmark"]

# A run is "\ue000fr\ue001...\ue002fr\ue003": the tag between each pair of markers.
_OPEN, _OPENED, _CLOSE, _CLOSED = "\ue000", "\ue001", "\ue002", "\ue003"
# (Bounded: a tag is short, and text that holds these characters itself costs no backtracking.)
_TAG = f"[^{_OPENED}{_CLOSED}]{{1,16}}"
_MARKER = re.compile(f"{_OPEN}({_TAG}){_OPENED}|{_CLOSE}({_TAG}){_CLOSED}")
_STRAY = re.compile(f"[{_OPEN}-{_CLOSED}]")  # half a marker (a text halved inside one)
# Regex pieces that let a sentence end be found next to a marker: an optional opening marker
# before the next sentence's first letter, an optional closing one after the end's punctuation.
OPENING = f"(?:{_OPEN}{_TAG}{_OPENED})?"
CLOSING = f"(?:{_CLOSE}{_TAG}{_CLOSED})?"


@dataclass(frozen=True)
class Switch:
    """In a parser's buffer of inline text: from here on the text is in ``language`` (None:
    the block's own)."""

    language: str | None


def collapse(items: Iterable[str | Switch], language: str | None = None
             ) -> tuple[str, tuple[LanguageRun, ...]]:
    """The text of ``items`` with runs of whitespace made one space and the ends stripped
    (``" ".join(text.split())``, what the parsers make of a block), and the runs of it that
    :class:`Switch` items put in a language other than the block's (``language`` is the one
    in effect at the start). Empty runs are left out; a run ends before the space after it."""
    out: list[str] = []
    pending = False
    marks: list[tuple[int, int, str | None]] = [(0, 0, language)]
    for item in items:
        if isinstance(item, Switch):
            marks.append((len(out), len(out) + pending, item.language))
            continue
        for ch in item:
            if ch.isspace():
                pending = bool(out)
            else:
                if pending:
                    out.append(" ")
                    pending = False
                out.append(ch)
    text = "".join(out)
    found: list[LanguageRun] = []
    for (_, start, tag), (end, _, _) in zip(marks, marks[1:] + [(len(text), 0, None)]):
        start, end = min(start, len(text)), min(end, len(text))
        start, end = start + _spaces(text[start:end]), end - _spaces(text[start:end][::-1])
        if tag is None or start >= end:
            continue
        if found and found[-1].language == tag and not text[found[-1].end:start].strip():
            found[-1] = LanguageRun(found[-1].start, end, tag)  # "<i>a</i> <i>b</i>": one run
        else:
            found.append(LanguageRun(start, end, tag))
    return text, tuple(found)


def declared_language(tag: str | None, warned: set[str]) -> str | None:
    """The language an inline element declares (``tag``, from xml:lang or lang), if Kokoro
    speaks it. One it does not is read as the text around it (None), with a warning the first
    time (``warned`` holds the tags warned about)."""
    tag = (tag or "").strip()
    if not tag:
        return None
    warning = resolve_language(tag)[1]
    if warning is None:
        return tag
    if tag not in warned:
        warned.add(tag)
        log.warning("inline %s; reading it as the text around it",
                    warning.removesuffix("; reading it as English"))
    return None


def foreign_runs(runs: Iterable[LanguageRun], language: str) -> tuple[LanguageRun, ...] | None:
    """The runs not read as ``language`` (a block's own: a phrase in it is no run), or None."""
    own = resolve_language(language)[0].tag
    return tuple(r for r in runs if resolve_language(r.language)[0].tag != own) or None


def _spaces(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def map_runs(text: str, runs: Sequence[LanguageRun], change: Callable[[str], str]
             ) -> tuple[str, tuple[LanguageRun, ...]]:
    """``change`` applied to a block's text piece by piece (between and inside its runs), and
    the runs moved to where their text is now (those left empty dropped)."""
    out, found, last = "", [], 0
    for run in runs:
        out += change(text[last:run.start])
        inside = change(text[run.start:run.end])
        if inside:
            found.append(LanguageRun(len(out), len(out) + len(inside), run.language))
        out += inside
        last = run.end
    return out + change(text[last:]), tuple(found)


def mark(language: str, text: str) -> str:
    """``text`` wrapped in the markers of a run in ``language``."""
    return f"{_OPEN}{language}{_OPENED}{text}{_CLOSE}{language}{_CLOSED}"


def marked_text(text: str, runs: Sequence[LanguageRun]) -> str:
    """A block's text with each of its runs (sorted, not overlapping) marked; spaces at a run's
    ends stay outside its markers (a marker is always part of a word)."""
    parts, last = [], 0
    for run in runs:
        inside = text[run.start:run.end]
        core = inside.strip()
        if core:
            start = inside.index(core)
            inside = inside[:start] + mark(run.language, core) + inside[start + len(core):]
        parts += [text[last:run.start], inside]
        last = run.end
    return "".join(parts) + text[last:]


def scrub(text: str) -> str:
    """``text`` without the characters markers are made of (a text that holds them itself)."""
    return _STRAY.sub("", text)


def unmark(text: str) -> str:
    """``text`` without markers."""
    return _STRAY.sub("", _MARKER.sub("", text))


def carry_runs(sentences: Sequence[str]) -> list[str]:
    """Marked sentences cut from one text, each whole sentence inside a run (the middle of a
    quote of three sentences) marked as that run: a sentence that starts or ends inside a run
    shows it by a marker of its own (see :func:`segments`), one with no marker could not."""
    out, inside = [], None
    for sentence in sentences:
        markers = list(_MARKER.finditer(sentence))
        out.append(mark(inside, sentence) if inside and not markers else sentence)
        if markers:
            inside = markers[-1].group(1)  # None where the last marker closes a run
    return out


def segments(text: str) -> list[tuple[str | None, str]]:
    """Marked text as (language or None for the block's, text) in order. A piece cut out of
    a longer text may start inside a run (its first marker closes one: what comes before is in
    that run's language) or end inside one (the rest is in that language)."""
    found: list[tuple[str | None, str]] = []
    language: str | None = None
    last = 0
    for m in _MARKER.finditer(text):
        opening = m.group(1) is not None
        found.append((language if opening or language else m.group(2), text[last:m.start()]))
        language = m.group(1) if opening else None
        last = m.end()
    found.append((language, text[last:]))
    return [(tag, _STRAY.sub("", part)) for tag, part in found if part]


def read_mixed(text: str, own: Callable[[str], str], other: Callable[[str], Callable[[str], str]],
               keep_marks: bool) -> str:
    """Marked ``text`` read part by part: the block's own parts by ``own``, a run by
    ``other(its language)``, the results joined with a space where the text had one. With
    ``keep_marks`` (a normalizer) the runs stay marked in the result; else (a G2P: phonemes,
    all in Kokoro's one alphabet) they are joined plainly."""
    out: list[str] = []
    space = False
    for tag, part in segments(text):
        space = space or part[:1].isspace()
        said = (own if tag is None else other(tag))(part.strip()) if part.strip() else ""
        if said:
            if out and space:
                out.append(" ")
            out.append(mark(tag, said) if tag is not None and keep_marks else said)
            space = False
        space = space or part[-1:].isspace()
    return "".join(out)
