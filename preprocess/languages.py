"""The languages Kokoro speaks: language tags (BCP 47, as documents write them) to the
language that reads them, its default voice, its G2P and the scripts that G2P can read.

``fr-CA`` is read as French, ``pt`` and ``pt-PT`` as Brazilian Portuguese (Kokoro's only
Portuguese), ``en-GB`` as British English and plain ``en`` as the voice's English. A tag Kokoro
has no voice for (``de``, ``und``, nonsense) is read as English: :func:`resolve_language` says so
in a warning the application shows. The table is ``data/languages.json``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["ENGLISH", "Language", "ScriptFilter", "language_table", "languages",
           "resolve_language", "script_of"]

ENGLISH = "en"
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


@dataclass(frozen=True)
class Language:
    """One language Kokoro reads. ``tag`` is canonical (``en-us``, ``fr``, ``pt-br``...), or
    ``en`` for English of no stated variety (read as the voice's English)."""

    tag: str
    name: str
    code: str  # Kokoro's one-letter language code, the first letter of its voices' names
    voice: str  # the default voice
    num2words: str | None  # num2words' language, None where digits are left to the G2P
    scripts: tuple[str, ...]
    extra: str | None = None  # the pip extra its G2P needs

    @property
    def family(self) -> str:
        """``en`` for every English, else the tag: what picks the normalizer's tables."""
        return ENGLISH if self.code in ("a", "b") else self.tag

    def g2p_code(self, voice_code: str) -> str:
        """The G2P's language code for this text read by a voice of ``voice_code``: English of
        no stated variety follows an English voice (British voice, British G2P)."""
        if self.tag == ENGLISH and voice_code in ("a", "b"):
            return voice_code
        return self.code

    def matches_voice(self, voice_code: str) -> bool:
        """Whether a voice of ``voice_code`` speaks this language natively."""
        if self.tag == ENGLISH:
            return voice_code in ("a", "b")
        return voice_code == self.code


@cache
def language_table() -> dict:
    """The parsed ``data/languages.json``."""
    text = resources.files("preprocess").joinpath("data/languages.json").read_text("utf-8")
    return json.loads(text)


@cache
def languages() -> dict[str, Language]:
    """Every language by canonical tag."""
    return {tag: Language(tag, row["name"], row["code"], row["voice"], row["num2words"],
                          tuple(row["scripts"]), row.get("extra"))
            for tag, row in language_table()["languages"].items()}


@cache
def resolve_language(tag: str | None) -> tuple[Language, str | None]:
    """The language that reads text tagged ``tag``, and a warning when Kokoro has none for it
    (the text is then read as English)."""
    parts = re.split(r"[-_]", (tag or "").strip().lower())
    primary, region = parts[0], next((p for p in parts[1:] if len(p) == 2), "")
    table = language_table()
    primary = table["aliases"].get(primary, primary)
    known = languages()
    if primary == ENGLISH:
        if region in table["british_regions"]:
            return known["en-gb"], None
        if region == "us":
            return known["en-us"], None
        generic = known["en-us"]
        return Language(ENGLISH, "English", generic.code, generic.voice, generic.num2words,
                        generic.scripts), None
    if primary in known:
        return known[primary], None
    if primary.startswith("pt"):
        return known["pt-br"], None
    shown = (tag or "").strip()
    what = (f"language {shown!r} is not one Kokoro speaks" if _TAG.match(shown)
            else f"{shown!r} is not a language tag" if shown else "no language given")
    english, _ = resolve_language(ENGLISH)
    return english, f"{what}; reading it as English"


class ScriptFilter:
    """Takes out the letters of scripts a language's G2P cannot read (Cyrillic in a French
    book, Hangul in a Japanese one), counting them, so they are skipped with a warning instead
    of being read as noise or dropped without a word."""

    def __init__(self, language: Language) -> None:
        self.scripts = frozenset(language.scripts)
        self.skipped = 0  # letters taken out so far
        self.seen: set[str] = set()  # the scripts they were in

    def __call__(self, text: str) -> str:
        if text.isascii():
            return text
        out, skipping = [], False
        for ch in text:
            script = _script(ch)
            if script is None or script in self.scripts:
                out.append(ch)
                skipping = False
            elif script != "MARK" or skipping:
                if not skipping:
                    out.append(" ")
                skipping = True
                if script != "MARK":
                    self.skipped += 1
                    self.seen.add(script)
            else:
                out.append(ch)
        return "".join(out)


def script_of(ch: str) -> str | None:
    """The script of a letter (the first word of its Unicode name: LATIN, DEVANAGARI...),
    ``MARK`` for a combining mark, None for anything that is not a letter."""
    return _script(ch)


@cache
def _script(ch: str) -> str | None:
    """The script of a letter (the first word of its Unicode name: LATIN, CYRILLIC, CJK...),
    ``MARK`` for a combining mark, None for anything that is not a letter."""
    if unicodedata.category(ch).startswith("M"):
        return "MARK"
    if not ch.isalpha():
        return None
    return unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
