"""The language of a document that does not say, told from its text: lingua (the ``detect``
extra, ``pip install 'kokoro-audiobook[detect]'``), offline, in its low-accuracy mode (trigram
models: ~0.1 s and ~35 MB for the languages below, and a book gives it plenty of text).

Only the languages Kokoro speaks and a few neighbours are candidates (a German text is found
to be German, not English; it is then read as English with the usual warning).
"""

from __future__ import annotations

import importlib.util
from functools import cache

from .document import Document

__all__ = ["DETECT_HINT", "detect_language", "detector_available"]

DETECT_HINT = "pip install 'kokoro-audiobook[detect]'"
# lingua's language name → our tag; the neighbours keep those languages from being taken for
# one Kokoro speaks.
_TAGS = {"ENGLISH": "en", "SPANISH": "es", "FRENCH": "fr", "ITALIAN": "it", "PORTUGUESE": "pt-br",
         "HINDI": "hi", "JAPANESE": "ja", "CHINESE": "zh", "GERMAN": "de", "DUTCH": "nl",
         "CATALAN": "ca", "POLISH": "pl"}
SAMPLE = 4000  # characters of text looked at, from the first blocks with words
MINIMUM_TEXT = 80  # fewer characters say too little (a one-line "say" keeps its language)
MINIMUM_CONFIDENCE = 0.7


def detector_available() -> bool:
    """Whether the ``detect`` extra (lingua) is installed."""
    return importlib.util.find_spec("lingua") is not None


@cache
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, name) for name in _TAGS]
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def detect_language(document: Document) -> str | None:
    """The language tag of ``document``'s text (``fr``, ``pt-br``, ``de``...), or None where the
    detector is not installed, the text is too short, or no language is clear enough."""
    if not detector_available():
        return None
    text = _sample(document)
    if len(text) < MINIMUM_TEXT:
        return None
    values = _detector().compute_language_confidence_values(text)
    if not values or values[0].value < MINIMUM_CONFIDENCE:
        return None
    return _TAGS[values[0].language.name]


def _sample(document: Document) -> str:
    parts, size = [], 0
    for chapter in document.chapters:
        for block in chapter.blocks:
            if block.kind.value == "code" or not any(c.isalpha() for c in block.text):
                continue
            parts.append(block.text)
            size += len(block.text) + 1
            if size >= SAMPLE:
                return " ".join(parts)[:SAMPLE]
    return " ".join(parts)
