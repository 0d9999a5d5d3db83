"""Inline pronunciations: a word carried through the text with the phonemes it is read as.

SSML's ``<phoneme>`` and EPUB 3's ``ssml:ph`` give one occurrence of a word its pronunciation.
A parser writes the word *marked* (:func:`pronounce`): private-use characters around the word
and its misaki phonemes, with no whitespace inside, so the normalizer (which protects the run
whole), the sentence splitter and the chunker see one word. Just before G2P the run becomes
misaki's inline override ``[word](/phonemes/)`` (:func:`with_markup`), which every G2P reads;
what is shown or timed (a piece's text, subtitles) holds the word alone (:func:`plain`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["PHONEMIC", "plain", "pronounce", "protect", "with_markup"]

# "\ue004word\ue005phonemes\ue006"; a space inside either part is "\ue007".
_OPEN, _MID, _CLOSE, _SPACE = "\ue004", "\ue005", "\ue006", "\ue007"
PHONEMIC = re.compile(f"{_OPEN}([^{_OPEN}{_MID}{_CLOSE}]{{1,400}}){_MID}"
                      f"([^{_OPEN}{_MID}{_CLOSE}]{{1,800}}){_CLOSE}")
_STRAY = re.compile(f"[{_OPEN}-{_SPACE}]")
# Characters that would end misaki's "[word](/phonemes/)" early.
_BREAKERS = frozenset("()[]/")
# Placeholders for protected runs: characters of the supplementary private-use plane.
_HOLD = 0xF0000


def pronounce(word: str, phonemes: str) -> str:
    """``word`` marked to be read as ``phonemes`` (misaki's alphabet)."""
    word, phonemes = " ".join(_STRAY.sub("", word).split()), " ".join(phonemes.split())
    if not word or not phonemes:
        return word
    return f"{_OPEN}{word.replace(' ', _SPACE)}{_MID}{phonemes.replace(' ', _SPACE)}{_CLOSE}"


def plain(text: str) -> str:
    """``text`` with each marked word as the word itself."""
    if _OPEN not in text and _SPACE not in text:
        return text
    return _STRAY.sub("", PHONEMIC.sub(lambda m: m.group(1), text).replace(_SPACE, " "))


def with_markup(text: str, outside: Callable[[str], str] = str) -> str:
    """``text`` with each marked word as misaki's ``[word](/phonemes/)`` and ``outside``
    applied to the text between them (a filter that must not see phonemes)."""
    if _OPEN not in text:
        return outside(text)
    out, last = [], 0
    for m in PHONEMIC.finditer(text):
        out.append(outside(_STRAY.sub("", text[last:m.start()])))
        word, phonemes = (part.replace(_SPACE, " ") for part in m.groups())
        # Markers typed into a document (not made by a parser) must not break misaki's markup.
        safe = not set(word + phonemes) & _BREAKERS
        out.append(f"[{word}](/{phonemes}/)" if safe else outside(word))
        last = m.end()
    out.append(outside(_STRAY.sub("", text[last:])))
    return "".join(out)


def protect(text: str) -> tuple[str, Callable[[str], str]]:
    """``text`` with each marked word as one placeholder character (rules leave it alone), and
    the function that puts the marked words back."""
    if _OPEN not in text:
        return text, lambda said: said
    held: list[str] = []

    def hold(m: re.Match[str]) -> str:
        held.append(m.group(0))
        return chr(_HOLD + len(held) - 1)

    protected = PHONEMIC.sub(hold, text)
    pattern = re.compile(f"[{chr(_HOLD)}-{chr(_HOLD + max(len(held) - 1, 0))}]")
    return protected, lambda said: pattern.sub(lambda m: held[ord(m.group(0)) - _HOLD], said)
