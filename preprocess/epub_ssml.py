"""EPUB 3 SSML attributes: ``ssml:ph`` (with ``ssml:alphabet``, ipa or x-sampa, on the element
or an ancestor) gives an element's text its pronunciation, as a PLS lexicon gives a word's."""

from __future__ import annotations

import logging
from itertools import chain

import lxml.etree as etree

from .lexicon.alphabets import DictionaryError, check_phonemes, to_misaki
from .phonemic import pronounce

__all__ = ["SSML_NAMESPACE", "ssml_pronunciation"]

log = logging.getLogger(__name__)

SSML_NAMESPACE = "http://www.w3.org/2001/10/synthesis"
_PH = (f"{{{SSML_NAMESPACE}}}ph", "ssml:ph")  # the second: a book that forgot the xmlns
_ALPHABET = (f"{{{SSML_NAMESPACE}}}alphabet", "ssml:alphabet")


def ssml_pronunciation(element: etree._Element, language: str) -> str | None:
    """The element's text marked with the phonemes its ``ssml:ph`` gives (for ``language``'s
    conversion of IPA), or None where it has none. One that cannot be used (an unknown
    alphabet, symbols Kokoro lacks) is warned about and its text is read as written."""
    ph = next((element.get(key) for key in _PH if element.get(key) is not None), None)
    if ph is None:
        return None
    words = " ".join("".join(element.itertext()).split())
    alphabet = next((value for e in chain([element], element.iterancestors()) for key in _ALPHABET
                     if (value := e.get(key))), "ipa")
    try:
        phonemes, dropped = to_misaki(ph.strip().strip("/"), alphabet, language)
        check_phonemes(words or ph, phonemes)
    except DictionaryError as exc:
        log.warning("ssml:ph=%r: %s; %r is read as written", ph, exc, words)
        return None
    if dropped:
        log.warning("ssml:ph=%r: dropped %r, which Kokoro cannot say", ph, dropped)
    return f" {pronounce(words, phonemes)} " if words else None
