"""Phonetic alphabets: IPA and X-SAMPA to misaki's phonemes (what Kokoro was trained on), and
Kokoro's vocabulary to check phonemes against. Shared by the dictionaries (TOML, PLS) and by
the inline pronunciations of SSML and EPUB 3 (``<phoneme>``, ``ssml:ph``)."""

from __future__ import annotations

import importlib.util
import json
import unicodedata
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from preprocess.errors import InputError

__all__ = ["STRESS_MARKS", "ALPHABETS", "DictionaryError", "check_phonemes", "ipa_to_misaki",
           "is_british", "same_language", "sayable", "table", "to_misaki"]

STRESS_MARKS = "ˈˌ"
# The alphabets a pronunciation may be written in (PLS, SSML, EPUB 3 ssml:alphabet).
ALPHABETS = ("ipa", "x-sampa")
# Phoneme symbols that would end or break the markup although Kokoro has them as punctuation.
_MARKUP_BREAKERS = frozenset("()[]/")


class DictionaryError(InputError):
    """A pronunciation dictionary (TOML or PLS) is malformed or uses symbols Kokoro lacks."""


def to_misaki(symbols: str, alphabet: str, language: str) -> tuple[str, str]:
    """misaki phonemes for a pronunciation in ``alphabet`` (ipa or x-sampa) of a word in
    ``language``, and the symbols dropped as unsayable. Raises DictionaryError for another
    alphabet."""
    scheme = alphabet.strip().lower()
    if scheme == "x-sampa":
        symbols = _translate(symbols, table("xsampa_to_ipa.json")["symbols"])
    elif scheme != "ipa":
        raise DictionaryError(f"alphabet {alphabet!r} is not supported: use ipa or x-sampa")
    return ipa_to_misaki(symbols, is_british(language), same_language(language, "en"))


def ipa_to_misaki(ipa: str, british: bool = False, english: bool = True) -> tuple[str, str]:
    """misaki phonemes for an IPA transcription, and the symbols dropped as unsayable.

    English IPA goes through ``data/ipa_to_misaki.json``, stress marks moved to just before
    their vowel (a word with none is stressed on its first vowel); other languages' IPA is kept
    as espeak-ng writes it for Kokoro (nasal vowels, ʁ, y, ø).
    """
    rules = table("ipa_to_misaki.json")
    ipa = unicodedata.normalize("NFC" if english else "NFD", ipa)
    ipa = "".join(c for c in ipa if c not in rules["remove"] or (c == "\u0303" and not english))
    mapping = {**rules["common"], **rules["british" if british else "american"]}
    converted = (_translate(ipa, mapping) if english
                 else unicodedata.normalize("NFC", ipa).replace("g", "ɡ"))
    allowed = sayable()
    dropped = "".join(dict.fromkeys(c for c in converted if c not in allowed and not c.isspace()))
    kept = "".join(c for c in converted if c in allowed or c == " ")
    words = (_stress_before_vowel(w, rules["vowels"]) if english else w for w in kept.split())
    return " ".join(w for w in words if w), dropped


def _translate(symbols: str, table: Mapping[str, str]) -> str:
    """Rewrite ``symbols`` through ``table``, longest sequence first; others pass unchanged."""
    longest = max(map(len, table), default=1)
    out, i = [], 0
    while i < len(symbols):
        for size in range(min(longest, len(symbols) - i), 0, -1):
            if symbols[i:i + size] in table:
                out.append(table[symbols[i:i + size]])
                i += size
                break
        else:
            out.append(symbols[i])
            i += 1
    return "".join(out)


def _stress_before_vowel(word: str, vowels: str) -> str:
    """Move each stress mark from the start of its syllable to just before its vowel.

    A word transcribed with no stress mark at all gets primary stress on its first vowel, as
    misaki gives a stressed word it has no marks for: Kokoro mumbles wholly unstressed words.
    """
    out, pending = [], "" if set(word) & set(STRESS_MARKS) else STRESS_MARKS[0]
    for symbol in word:
        if symbol in STRESS_MARKS:
            pending = symbol
        elif symbol in vowels:
            out.append(pending + symbol)
            pending = ""
        else:
            out.append(symbol)
    return "".join(out)


def check_phonemes(text: str, phonemes: str) -> None:
    """Refuse empty phonemes or symbols outside Kokoro's vocabulary, naming ``text``."""
    if not phonemes.strip():
        raise DictionaryError(f"{text!r}: the phonemes are empty")
    unknown = "".join(dict.fromkeys(c for c in phonemes if c not in sayable() and c != " "))
    if unknown:
        raise DictionaryError(
            f"{text!r}: phonemes {phonemes!r} use {unknown!r}, outside Kokoro's vocabulary "
            "(write misaki's symbols, or give ipa = \"...\" to have IPA converted)")


@cache
def sayable() -> frozenset[str]:
    """Kokoro's vocabulary, less the punctuation that would break the inline markup.

    The file belongs to ``engine``; it is found without importing that package (and its
    runtime) from the text side.
    """
    spec = importlib.util.find_spec("engine")
    if spec is None or not spec.submodule_search_locations:
        raise DictionaryError("the engine package (Kokoro's vocabulary) is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "vocab.json"
    return frozenset(json.loads(path.read_text("utf-8"))["vocab"]) - _MARKUP_BREAKERS


@cache
def table(name: str) -> dict[str, Any]:
    return json.loads(resources.files("preprocess").joinpath(f"data/{name}").read_text("utf-8"))


def same_language(tag: str, wanted: str) -> bool:
    """Whether two BCP 47 tags share their primary language ("en-GB" and "en")."""
    return tag.split("-")[0].lower() == wanted.split("-")[0].lower()


def is_british(language: str) -> bool:
    return language.lower().replace("_", "-") in ("en-gb", "en-uk")
