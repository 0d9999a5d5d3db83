"""SSML ``<say-as>``: a phrase rewritten as it is to be said (spelled out, a number, a date),
in the phrase's language, before the normalizer reads it."""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from importlib import resources
from typing import Any

from .phonemic import pronounce

__all__ = ["say_as", "ssml_table"]

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"\d+")
# The order of year, month and day in a date's format attribute ("mdy", "dmy", "ymd").
_DATE_FIELDS = re.compile(r"[dmy]{3}")


@cache
def ssml_table() -> dict[str, Any]:
    """``data/ssml.json``: break strengths, rates, emphasis, say-as kinds, letter names."""
    return json.loads(resources.files("preprocess").joinpath("data/ssml.json")
                      .read_text("utf-8"))


def say_as(interpret_as: str, text: str, language: str, fmt: str | None = None) -> str:
    """``text`` as ``interpret_as`` says it should be read (``characters``, ``cardinal``,
    ``ordinal``, ``digits``, ``date``, ``time``, ``telephone`` and their aliases in
    ``data/ssml.json``). An unknown kind, or text that is not what the kind says, is read as
    written, with a warning."""
    kind = ssml_table()["say_as"].get(interpret_as.strip().lower())
    if kind is None:
        log.warning("SSML <say-as interpret-as=%r> is not supported; reading %r as written",
                    interpret_as, text)
        return text
    said = _READERS[kind](text, language, fmt)
    if said is None:
        log.warning("SSML <say-as interpret-as=%r>: %r is not one; reading it as written",
                    interpret_as, text)
        return text
    return said


def _characters(text: str, language: str, fmt: str | None) -> str:
    """Each letter and digit on its own: English letters by their names in phonemes (misaki
    reads a lone "A" as the article), other languages' letters spaced for their G2P."""
    english = language.split("-")[0].lower() == "en"
    letters = ssml_table()["letters"]
    out = []
    for ch in text:
        if ch.isdigit():
            out.append(_number(int(ch), language))
        elif english and ch.lower() in letters:
            out.append(pronounce(ch, letters[ch.lower()]))
        elif ch.isalpha():
            out.append(ch)
    return " ".join(out) or None


def _cardinal(text: str, language: str, fmt: str | None) -> str | None:
    digits = re.sub(r"[\s,.'\u00a0\u202f]", "", text)
    return _number(int(digits), language) if digits.isdigit() else None


def _ordinal(text: str, language: str, fmt: str | None) -> str | None:
    found = _NUMBER.search(text)
    return _number(int(found.group()), language, "ordinal") if found else None


def _digits(text: str, language: str, fmt: str | None) -> str | None:
    found = [ch for ch in text if ch.isdigit()]
    return " ".join(_number(int(ch), language) for ch in found) or None


def _telephone(text: str, language: str, fmt: str | None) -> str | None:
    """Digit by digit, a short pause (a comma) between the groups as written."""
    groups = _NUMBER.findall(text)
    return ", ".join(_digits(group, language, fmt) for group in groups) or None


def _date(text: str, language: str, fmt: str | None) -> str | None:
    """A full date in the order ``fmt`` gives (default ``ymd`` for ISO, else ``mdy`` in
    English and ``dmy`` elsewhere) as an ISO date, which each language's normalizer reads."""
    numbers = _NUMBER.findall(text)
    if len(numbers) != 3:
        return text if numbers else None  # a partial date ("May 2024") is read as written
    default = "ymd" if len(numbers[0]) == 4 else "mdy" if language.startswith("en") else "dmy"
    order = (fmt or "").strip().lower()
    order = order if _DATE_FIELDS.fullmatch(order) and len(set(order)) == 3 else default
    parts = dict(zip(order, map(int, numbers)))
    if not (1 <= parts["m"] <= 12 and 1 <= parts["d"] <= 31):
        return None
    return f"{parts['y']:04d}-{parts['m']:02d}-{parts['d']:02d}"


def _time(text: str, language: str, fmt: str | None) -> str | None:
    return text if _NUMBER.search(text) else None  # the normalizers read clock times


def _number(value: int, language: str, to: str = "cardinal") -> str:
    """``value`` in words in ``language`` (num2words), or as digits where it has no words."""
    from num2words import num2words

    try:
        return num2words(value, to=to, lang=language.split("-")[0].lower())
    except (NotImplementedError, OverflowError, KeyError):
        return str(value)


_READERS = {"characters": _characters, "cardinal": _cardinal, "ordinal": _ordinal,
            "digits": _digits, "date": _date, "time": _time, "telephone": _telephone}
