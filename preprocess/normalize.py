"""Rewrite what a voice cannot read as written into what a careful narrator would say.

A :class:`Normalizer` is an ordered table of small rules (:mod:`preprocess.normalize_rules`),
each a regular expression and a function from the match to its spoken form
(:mod:`preprocess.spoken`). Word tables live in ``data/english.json`` and
``data/units.json``; number words come from num2words. Numbers, money, percentages and years
that misaki (the G2P after us) already reads well are left as digits; the rules cover what it
misreads: URLs, file names, versions, dates, clock times, ranges, negatives, fractions, units,
Roman numerals, abbreviations, shouted headings, symbols, code identifiers and Markdown.
Technical and modern prose (queries and paths, flags, shortcuts, identifiers, calendar ranges,
compound units, scientific notation, formulas, emoji, any symbol left) is read by rules that
are data (``data/technical.json``, :mod:`preprocess.normalize_tech`).

Order matters: a rule sees the text the rules above it left (a URL is read before its dots
could look like a version, a date before its dashes could look like a range).
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache

from preprocess.document import LONGEST_RUN
from preprocess.languages import ENGLISH, languages, resolve_language
from preprocess.normalize_lang import language_data, language_rules
from preprocess.normalize_rules import (FAMILIES, NormalizerOptions, PairedMarkup, Rule,
                                        build_rules)
from preprocess.phonemic import protect
from preprocess.plaintext import clean_text
from preprocess.spoken import DATA_FILES, tables

__all__ = [
    "DATA_FILES", "FAMILIES", "NORMALIZER_VERSION", "Normalizer", "NormalizerOptions",
    "PairedMarkup", "Rule", "normalizer_identity",
]

# Bump when a rule or table changes what is spoken: it is part of every job's identity.
NORMALIZER_VERSION = "3"
# Texts longer than this are normalized in pieces cut at sentence ends (see Normalizer): a
# bound on what any rule can cost, far above a real paragraph.
PIECE = 20_000
# After the rules, a run of more than LONGEST_RUN characters without a space (nobody's word: a
# line of dashes, a blob of base64, a 400-digit number) is broken into runs that long. misaki
# spends time quadratic in a run's length and overflows on numbers past 10^303.
_LONG_RUN = re.compile(rf"\S{{{LONGEST_RUN + 1},}}")


@cache
def normalizer_identity() -> str:
    """The version plus a digest of the word tables: users may edit the tables, and any change
    to what is spoken must make a new job identity. The other languages' tables count too
    (their digest is added after the English one), so an edited French table makes new
    identities for French books."""
    digest = hashlib.sha256(json.dumps(tables(), sort_keys=True).encode("utf-8")).hexdigest()
    others = {tag: language_data(tag) for tag in _other_languages()}
    more = hashlib.sha256(json.dumps(others, sort_keys=True).encode("utf-8")).hexdigest()
    return f"{NORMALIZER_VERSION}:{digest[:16]}:{more[:16]}"


def _other_languages() -> list[str]:
    return sorted({language.family for language in languages().values()} - {ENGLISH})


class Normalizer:
    """Callable: ``Normalizer()(text) -> spoken text``. Deterministic; see NORMALIZER_VERSION.

    ``language`` is a language tag (``fr``, ``es-MX``, ``en-GB``...): English text goes through
    the English rules, the other languages Kokoro speaks through their own tables
    (:mod:`preprocess.normalize_lang`); a tag Kokoro has no voice for is read as English."""

    version = NORMALIZER_VERSION

    def __init__(self, options: NormalizerOptions = NormalizerOptions(),
                 language: str = ENGLISH) -> None:
        self.options = options
        self.language = resolve_language(language)[0]
        rules = (build_rules(options) if self.language.family == ENGLISH
                 else language_rules(self.language, options))
        self.rules = [r for r in rules if getattr(options, r.family)]

    def __call__(self, text: str) -> str:
        text = clean_text(text)  # parsers did this already; text from elsewhere may need it
        text, restore = protect(text)  # a word given its phonemes (SSML) is read as given
        if len(text) > PIECE:
            # A paragraph this long is cut at sentence ends and read piece by piece, which
            # bounds what any rule can cost; rules do not reach across a sentence end.
            return restore(" ".join(piece for piece in map(self._normalize, _pieces(text))
                                    if piece))
        return restore(self._normalize(text))

    def _normalize(self, text: str) -> str:
        for r in self.rules:
            text = r.pattern.sub(r.replace, text)
        text = _LONG_RUN.sub(_break_run, text)
        text = re.sub(r"[ \t]+", " ", text)
        text = re.sub(r" (?=[,;:!?)\]]|\.(?!\w))|(?<=[(\[]) ", "", text)  # what a removed word left
        return re.sub(r"^ +| +$", "", text, flags=re.M).strip()


def _break_run(m: re.Match[str]) -> str:
    run = m.group(0)
    return " ".join(run[i:i + LONGEST_RUN] for i in range(0, len(run), LONGEST_RUN))


_CUT = re.compile(r"[.!?…][\"')\]”’]*\s+(?=\S)")


def _pieces(text: str) -> list[str]:
    """``text`` cut after whitespace into pieces of at most PIECE characters: after a sentence
    end where there is one, else after any whitespace, else anywhere."""
    pieces, start = [], 0
    while len(text) - start > PIECE:
        window = text[start:start + PIECE]
        cut = max((m.end() for m in _CUT.finditer(window)), default=0)
        if not cut:
            space = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
            cut = space + 1 if space > 0 else PIECE
        pieces.append(text[start:start + cut])
        start += cut
    pieces.append(text[start:])
    return pieces
