"""Rewrite what a voice cannot read as written into what a careful narrator would say.

A :class:`Normalizer` is an ordered table of small rules, each a regular expression and a
function from the match to its spoken form. Word tables live in ``data/english.json``.
Numbers, money, percentages and dates that misaki already reads well are left to it; the
rules cover what it misreads (URLs, versions, ranges, abbreviations, code identifiers, ...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Bump when a rule or table changes what is spoken: it is part of every job's identity.
NORMALIZER_VERSION = "1"

Replace = Callable[[re.Match[str]], str]


@cache
def tables() -> dict:
    return json.loads(resources.files("preprocess").joinpath("data/english.json").read_text("utf-8"))


def _words_for(chars: str) -> str:
    """Read the punctuation inside a URL, path or address as words ("/" → "slash")."""
    words = tables()["url_words"]
    parts = re.split(r"([/.\-_@~?=&:#])", chars)
    spoken = [words.get(p, p) for p in parts if p]
    return " ".join(spoken)


def _url(m: re.Match[str]) -> str:
    # People say the host and path, not the scheme: "example dot com slash status".
    rest = m.group("rest").rstrip("/")
    rest = re.sub(r"^www\.", "", rest)
    return _words_for(rest)


def _domain(m: re.Match[str]) -> str:
    return _words_for(re.sub(r"^www\.", "", m.group(0)))


def _version(m: re.Match[str]) -> str:
    # Each component is a whole number: 3.11 is "three point eleven", not "three point one one".
    cue = re.sub(r"\s*v$", "", m.group("cue") or "", flags=re.I)  # "Version v2.4" says it once
    numbers = " point ".join(m.group("num").split("."))
    spoken_cue = f"{cue} " if cue else ("version " if m.group("cue") else "")
    return f"{spoken_cue}{numbers}"


def _range(m: re.Match[str]) -> str:
    return f"{m.group(1)} to {m.group(2)}"


def _identifier(m: re.Match[str]) -> str:
    word = m.group(0).replace("_", " ")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", word).strip()


def _keep_period(m: re.Match[str]) -> str:
    """The period of an abbreviation that also ends its sentence ("... etc. Then")."""
    after = m.string[m.end():]
    return "." if re.match(r"\s*(?:$|\n|[A-Z\"“])", after) else ""


def _abbreviation(m: re.Match[str]) -> str:
    spoken = tables()["abbreviations"][m.group(0)]
    # A title before a name never ends a sentence: "Dr. Smith" keeps no period.
    return spoken if m.group(0) in tables()["titles_before_names"] else spoken + _keep_period(m)


def _saint_or_street(m: re.Match[str]) -> str:
    # "St. Paul" is a saint, "Main St." a street (a capitalized name right before it).
    street_name_before = re.search(r"[A-Z][a-z]+\s+$", m.string[:m.start()])
    if m.group("next") and not street_name_before:
        return "Saint " + m.group("next")
    if m.group("next"):  # "Main St. He ..." : the capital starts the next sentence
        return "Street. " + m.group("next")
    return "Street" + _keep_period(m)


def _respell(m: re.Match[str]) -> str:
    return tables()["respellings"][m.group(0)]


def _markdown_leftover(m: re.Match[str]) -> str:
    return m.group("inner")


def _rules() -> list[tuple[str, re.Pattern[str], Replace]]:
    t = tables()
    tlds = "|".join(sorted(t["tlds"], key=len, reverse=True))
    abbreviations = "|".join(re.escape(a) for a in sorted(t["abbreviations"], key=len, reverse=True))
    respellings = "|".join(re.escape(w) for w in t["respellings"] if not w.startswith("_"))
    cues = "|".join(re.escape(w) for w in t["version_cue_words"] if w != "v")
    return [
        ("markdown", re.compile(r"(\*\*|__|`|\*)(?P<inner>[^*`_\n]+?)\1"), _markdown_leftover),
        ("url", re.compile(r"\b(?:https?|ftp)://(?P<rest>[^\s<>()\"']+[^\s<>()\"'.,;:!?])"), _url),
        ("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), _domain),
        ("domain", re.compile(rf"\b(?:www\.)?(?:[a-z0-9-]+\.)+(?:{tlds})\b(?:/[\w./-]*[\w/])?"), _domain),
        ("version", re.compile(rf"\b(?P<cue>(?:{cues})\s+v?|v)(?P<num>\d+(?:\.\d+)+)\b", re.I), _version),
        ("dotted version", re.compile(r"(?P<cue>)\b(?P<num>\d+\.\d+\.\d+(?:\.\d+)*)\b"), _version),
        ("range", re.compile(r"\b(\d+)\s?[-–—]\s?(\d+)\b(?![-–.]\d)"), _range),
        ("saint/street", re.compile(r"\bSt\.(?:\s+(?P<next>[A-Z])(?=[a-z]))?"), _saint_or_street),
        ("abbreviation", re.compile(rf"(?<![\w.])(?:{abbreviations})(?!\w)"), _abbreviation),
        ("respelling", re.compile(rf"\b(?:{respellings})\b"), _respell),
        ("identifier", re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b[a-z]+(?:[A-Z][a-z0-9]+)+\b"), _identifier),
    ]


@dataclass(frozen=True)
class NormalizerOptions:
    """Switches for the rule families; all on by default."""

    urls: bool = True
    versions: bool = True
    abbreviations: bool = True


class Normalizer:
    """Callable: ``Normalizer()(text) -> spoken text``. Deterministic; see NORMALIZER_VERSION."""

    version = NORMALIZER_VERSION

    def __init__(self, options: NormalizerOptions = NormalizerOptions()) -> None:
        self.options = options
        self.rules = [rule for rule in _rules() if self._enabled(rule[0])]

    def _enabled(self, name: str) -> bool:
        o = self.options
        return not ((name in ("url", "email", "domain") and not o.urls)
                    or (name in ("version", "dotted version") and not o.versions)
                    or (name in ("abbreviation", "saint/street") and not o.abbreviations))

    def __call__(self, text: str) -> str:
        for _, pattern, replace in self.rules:
            text = pattern.sub(replace, text)
        return re.sub(r"[ \t]+", " ", text).strip()
