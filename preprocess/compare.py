"""Comparing what a piece was meant to say with what Whisper heard (the listening check).

Both sides go through the same steps, so a number Whisper writes as digits and the text spells
out (or the reverse) is no error: the piece language's :class:`Normalizer` (``1er`` →
``premier``, ``Mr.`` → ``Mister``), digits left over spelled by num2words in that language
(English: thousands separators, decimals, ordinals and ``%`` too), lowercase, no punctuation.
Then the error rate: words (WER) for most languages, a word spelled another way (harbour,
harbor) counting as the same word, and two words the other side writes as one (for ever,
forever) joined; for Japanese the characters of the kana
reading and for Mandarin the pinyin syllables (CER), so a homophone written in other
characters is no error. Metric, threshold and Whisper's language code come from
``data/verify.json``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from num2words import num2words

from preprocess.languages import languages, resolve_language
from preprocess.normalize import Normalizer

__all__ = ["Comparison", "compare", "comparable", "edit_distance", "language_of_voice",
           "spelled_alike", "threshold_for", "unchecked_reason", "whisper_language"]

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_EN_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(st|nd|rd|th)?(?!\w)")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Comparison:
    """The result of one comparison: ``errors`` edits over ``length`` reference units."""

    metric: str  # "WER" or "CER"
    errors: int
    length: int

    @property
    def score(self) -> float:
        """The error rate (0 is a perfect match; above 1 when Whisper heard much more)."""
        return self.errors / self.length if self.length else float(self.errors > 0)


@cache
def _table() -> dict:
    text = resources.files("preprocess").joinpath("data/verify.json").read_text("utf-8")
    return json.loads(text)


def _tag(tag: str) -> str:
    return resolve_language(tag)[0].tag


def whisper_language(tag: str) -> str:
    """The code Whisper is told for text in ``tag`` (``en`` for en-us, ``pt`` for pt-br)."""
    tag = _tag(tag)
    return _table()["whisper"].get(tag, tag.split("-")[0])


def threshold_for(tag: str) -> float:
    """The highest error rate that passes for ``tag`` by default."""
    thresholds = _table()["threshold"]
    return float(thresholds.get(_tag(tag), thresholds["default"]))


def unchecked_reason(tag: str) -> str | None:
    """Why pieces in ``tag`` are not checked, or None when they are."""
    return _table()["unchecked"].get(_tag(tag))


def language_of_voice(spec: str) -> str:
    """The language tag of a voice or blend (``ff_siwis`` → ``fr``): its first voice's first
    letter is the language code of Kokoro's voice names."""
    code = spec.strip()[:1].lower()
    for tag, language in languages().items():
        if language.code == code:
            return tag
    return "en-us"


@cache
def _normalizer(tag: str) -> Normalizer:
    return Normalizer(language=tag)


def comparable(text: str, tag: str) -> list[str]:
    """The units compared for ``text`` in language ``tag``: words, kana, or pinyin."""
    tag = _tag(tag)
    text = _spell_numbers(_normalizer(tag)(text), tag)
    if tag == "ja":
        return _kana(text)
    if tag == "zh":
        return _pinyin(text)
    text = "".join(" " if unicodedata.category(c)[0] in "PSZ" else c for c in text.lower())
    return [w.strip("'") for w in text.split() if w.strip("'")]


def _spell_numbers(text: str, tag: str) -> str:
    language = resolve_language(tag)[0]
    if language.num2words is None:
        return text
    if language.num2words == "en":
        text = _THOUSANDS.sub("", text).replace("%", " percent ")
        return _EN_NUMBER.sub(_english_number, text)
    return _DIGITS.sub(lambda m: f" {num2words(int(m.group(0)), lang=language.num2words)} ", text)


def _english_number(m: re.Match[str]) -> str:
    digits, suffix = m.group(1), m.group(2)
    if "." in digits:
        whole, _, fraction = digits.partition(".")
        spoken = f"{num2words(int(whole))} point {' '.join(num2words(int(d)) for d in fraction)}"
    else:
        spoken = num2words(int(digits), to="ordinal" if suffix else "cardinal")
    # "one hundred and five": speakers and normalizers vary on the "and"
    return " " + spoken.replace(" and ", " ").replace(",", "").replace("-", " ") + " "


def _kana(text: str) -> list[str]:
    """The katakana reading, one unit per character (pyopenjtalk, the ja extra; without it
    the characters as written)."""
    try:
        import pyopenjtalk
    except ImportError:
        reading = text
    else:
        reading = pyopenjtalk.g2p(text, kana=True)
    return [c for c in reading if unicodedata.category(c)[0] not in "PSZC"]


def _pinyin(text: str) -> list[str]:
    """Pinyin syllables of the Han characters, digits read as Chinese numerals first (cn2an
    and pypinyin, the zh extra; without them the characters as written)."""
    try:
        import cn2an
        from pypinyin import lazy_pinyin
    except ImportError:
        return [c for c in text if unicodedata.category(c)[0] not in "PSZC"]
    text = cn2an.transform(text, "an2cn")
    text = "".join(" " if unicodedata.category(c)[0] in "PSZ" else c for c in text.lower())
    return [s for item in lazy_pinyin(text) for s in item.split()]


def edit_distance(reference: list[str], hypothesis: list[str],
                  same: Callable[[str, str], bool] = str.__eq__) -> int:
    """The Levenshtein distance between the unit lists (substitutions, insertions, deletions),
    units that are ``same`` costing nothing."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        current = [i]
        for j, h in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (not same(r, h))))
        previous = current
    return previous[-1]


def spelled_alike(word: str, other: str) -> bool:
    """Two words that are one word spelled two ways (harbour, harbor; grey, gray; a name
    Whisper spells its own way): equal, or one letter apart in words of 4 letters or more,
    two apart from 8. A word the model dropped or slurred comes out further apart."""
    if word == other:
        return True
    shorter = min(len(word), len(other))
    allowed = 2 if shorter >= 8 else 1 if shorter >= 4 else 0
    return allowed > 0 and abs(len(word) - len(other)) <= allowed and \
        edit_distance(list(word), list(other)) <= allowed


def _joined(words: list[str], other: set[str]) -> list[str]:
    """``words`` with each pair that the other side writes as one word joined ("for ever",
    "forever"; "to day", "today"; "can sign", "consign"), so a compound is one word on both
    sides."""
    out: list[str] = []
    for word in words:
        pair = out[-1] + word if out else ""
        if pair and out[-1] not in other and any(spelled_alike(pair, o) for o in other):
            out[-1] = pair
        else:
            out.append(word)
    return out


def compare(reference: str, heard: str, tag: str) -> Comparison:
    """How far ``heard`` is from ``reference``, both in language ``tag``."""
    ref, hyp = comparable(reference, tag), comparable(heard, tag)
    metric = _table()["metric"].get(_tag(tag), "WER")
    if metric == "WER":
        ref, hyp = _joined(ref, set(hyp)), _joined(hyp, set(ref))
    same = spelled_alike if metric == "WER" else str.__eq__
    return Comparison(metric, edit_distance(ref, hyp, same), len(ref))
