"""One dictionary entry (a word or phrase and how to say it), how entries match text, and how
a later entry overrides an earlier one."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .alphabets import DictionaryError, check_phonemes

__all__ = ["Entry", "entry_regex", "override"]


@dataclass(frozen=True)
class Entry:
    """One word or phrase and how to say it: a ``respelling`` or misaki ``phonemes``, not both.

    ``text`` is matched as whole words; an all-lowercase ``text`` matches any capitalization,
    one with a capital letter matches only exactly.
    """

    text: str
    respelling: str | None = None
    phonemes: str | None = None

    def __post_init__(self) -> None:
        if not self.text.strip() or not re.search(r"\w", self.text):
            raise DictionaryError(f"{self.text!r}: the word or phrase has no letters")
        if self.text != " ".join(self.text.split()) or set(self.text) & set("[]"):
            raise DictionaryError(
                f"{self.text!r}: no brackets, no spaces at the ends, one between words")
        if (self.respelling is None) == (self.phonemes is None):
            raise DictionaryError(
                f"{self.text!r}: give either a respelling or phonemes, not both or neither")
        if self.respelling is not None and not self.respelling.strip():
            raise DictionaryError(f"{self.text!r}: the respelling is empty")
        if self.phonemes is not None:
            check_phonemes(self.text, self.phonemes)

    @property
    def case_sensitive(self) -> bool:
        """Whether the entry matches only its exact capitalization (it has a capital letter)."""
        return self.text != self.text.lower()

    @property
    def key(self) -> str:
        """What identifies the entry when a later layer overrides it."""
        return self.text if self.case_sensitive else self.text.lower()


def entry_regex(entry: Entry) -> str:
    """The entry's words with any run of whitespace between them; lowercase keys ignore case."""
    words = r"\s+".join(re.escape(word) for word in entry.text.split())
    return words if entry.case_sensitive else f"(?i:{words})"


def override(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    """Keep the last entry per key; a lowercase entry also drops earlier capitalized ones."""
    kept: dict[str, Entry] = {}
    spellings: dict[str, set[str]] = {}  # lowercased key -> kept keys (linear, not a scan)
    for entry in entries:
        if not entry.case_sensitive:
            for key in spellings.pop(entry.key, set()):
                kept.pop(key, None)
        kept.pop(entry.key, None)
        kept[entry.key] = entry
        spellings.setdefault(entry.key.lower(), set()).add(entry.key)
    return tuple(kept.values())

