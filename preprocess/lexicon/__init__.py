"""Pronunciation dictionaries: TOML files, W3C PLS lexicons and the layering of both.

A :class:`Lexicon` maps words and phrases to a *respelling* (plain text that misaki already
reads right, "Nguyen" → "win") or to *phonemes* in misaki's alphabet. :meth:`Lexicon.apply`
rewrites text before G2P: respellings are substituted, phoneme entries become misaki's inline
override ``[word](/phonemes/)``, so nothing in misaki is patched. The formats, the matching
rules and the layering order are documented in ``docs/dictionary.md``.

Entries are per language: a TOML file's ``[words]`` are in its ``language`` and its
``[lang.fr]`` tables in French; a PLS file is in its ``xml:lang``. A lexicon for a document's
language carries the layers of the other languages (:attr:`Lexicon.others`), which read the
document's chapters, blocks and inline phrases in those languages (:meth:`Lexicon.for_language`).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from kokoro_common import read_bounded
from preprocess.document import Document
from preprocess.errors import InputError

from .alphabets import DictionaryError, ipa_to_misaki, is_british, same_language, to_misaki
from .entries import Entry, entry_regex, override
from .pls import XML_LANG, parse_xml, pls_entries

__all__ = [
    "LEXICON_VERSION", "MAX_DICTIONARY_BYTES", "XML_LANG", "DictionaryError", "Entry", "Lexicon",
    "epub_lexicons", "ipa_to_misaki", "lexicon_for", "parse_xml", "read_dictionary", "to_misaki",
]

# Bump when apply() or a conversion table changes what is spoken: it is part of every digest.
LEXICON_VERSION = "1"

# A dictionary of this size holds some 200,000 entries; past it a file is not a dictionary.
MAX_DICTIONARY_BYTES = 8 << 20
# misaki's inline override, "[text](/phonemes/)": dictionary matches never reach inside one.
MARKUP = re.compile(r"\[[^\]]+\]\([^)]*\)")
# After a match: no word character, and no apostrophe that goes on into a word ("don't"),
# except the possessive "'s", so "SQL's" still matches "SQL".
_WORD_END = r"(?!\w|['’](?![sS]\b)\w)"
_TOP_LEVEL_KEYS = ("language", "words", "lang")
_ENTRY_KEYS = ("respelling", "phonemes", "ipa")


@dataclass(frozen=True)
class Lexicon:
    """An ordered set of :class:`Entry` for one language (a BCP 47 tag such as ``en-GB``).

    Within a lexicon, as between layers, a later entry overrides an earlier one with the same
    key; a lowercase entry also overrides every capitalization of itself. ``notes`` says what a
    PLS file held that could not be used (it is not part of the lexicon's identity); ``others``
    holds the entries for other languages (see :meth:`for_language`).
    """

    entries: tuple[Entry, ...] = ()
    language: str = "en"
    notes: tuple[str, ...] = field(default=(), compare=False)
    # Layers for other languages ([lang.fr], a PLS file in xml:lang="es"), one per language.
    others: tuple[Lexicon, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", override(self.entries))

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    @classmethod
    def from_toml(cls, path: str | Path) -> Lexicon:
        """Read a TOML dictionary (``docs/dictionary.md``); errors name the file and the key."""
        path = Path(path)
        try:
            text = read_dictionary(path).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DictionaryError(f"{path}: cannot read the dictionary ({exc})") from exc
        return _lexicon_from_toml(text, str(path))

    @classmethod
    def builtin(cls) -> Lexicon:
        """The dictionary that ships with the project (``preprocess/data/dictionary.toml``)."""
        text = resources.files("preprocess").joinpath("data/dictionary.toml").read_text("utf-8")
        return _lexicon_from_toml(text, "built-in dictionary")

    @classmethod
    def from_pls(cls, data: bytes, name: str, language: str | None = None) -> Lexicon:
        """Read a W3C PLS 1.0 lexicon (``alphabet`` ipa or x-sampa) from its bytes.

        ``name`` is only for messages. ``language`` overrides the file's ``xml:lang`` (an EPUB
        ``<link hreflang>`` may say better); ``en-GB`` converts IPA to misaki's British symbols.
        """
        language, entries, notes = pls_entries(data, name, language)
        return cls(tuple(entries), language, tuple(f"{name}: {note}" for note in notes))

    @classmethod
    def layered(cls, *lexicons: Lexicon, language: str = "en") -> Lexicon:
        """One lexicon from layers in order (built-in, user, book, command line): later wins.

        Only layers for ``language`` give its entries (``en`` takes ``en-US`` and ``en-GB``);
        the layers of each other language are layered the same way into :attr:`others`.
        """
        flat = [layer for lex in lexicons for layer in (lex, *lex.others)]
        tags: dict[str, str] = {}  # primary language -> the first tag seen for it
        for lex in flat:
            if not same_language(lex.language, language):
                tags.setdefault(lex.language.split("-")[0].lower(), lex.language)
        others = tuple(cls._merged(flat, tag) for tag in tags.values())
        return cls._merged(flat, language, tuple(other for other in others if other.entries))

    @classmethod
    def _merged(cls, layers: Sequence[Lexicon], language: str,
                others: tuple[Lexicon, ...] = ()) -> Lexicon:
        """The entries and notes of the ``layers`` in ``language``, in order, as one lexicon."""
        chosen = [lex for lex in layers if same_language(lex.language, language)]
        return cls(tuple(entry for lex in chosen for entry in lex.entries), language,
                   tuple(note for lex in chosen for note in lex.notes), others)

    def for_language(self, tag: str) -> Lexicon:
        """The entries that read text in ``tag``: this lexicon's where that is its language,
        else the layer of :attr:`others` for it, else none."""
        if same_language(self.language, tag):
            return self
        found = [other for other in self.others if same_language(other.language, tag)]
        return found[0] if found else Lexicon(language=tag)

    @property
    def digest(self) -> str:
        """sha256 of the language and the entries (and of the other languages' layers, where
        there are any), independent of their order: job identity."""
        rows = sorted([e.text, e.respelling, e.phonemes] for e in self.entries)
        content: list[Any] = [LEXICON_VERSION, self.language, rows]
        if self.others:  # absent otherwise: the digests of earlier jobs stay the same
            content.append(sorted([other.language, other.digest] for other in self.others))
        blob = json.dumps(content, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def apply(self, text: str) -> str:
        """``text`` with respellings substituted and phoneme entries as misaki markup.

        Matches are whole words or phrases (longest first, any whitespace between a phrase's
        words); text already inside ``[...](...)`` markup is left alone. Every G2P reads the
        markup (misaki's English itself, the others through ``engine.g2p.MisakiG2P``).
        """
        if self._pattern is None:
            return text
        pieces, last = [], 0
        for markup in MARKUP.finditer(text):
            pieces.append(self._pattern.sub(self._replacement, text[last:markup.start()]))
            pieces.append(markup.group(0))
            last = markup.end()
        pieces.append(self._pattern.sub(self._replacement, text[last:]))
        return "".join(pieces)

    @cached_property
    def _active(self) -> dict[str, Entry]:
        """The entries apply() uses, by key."""
        return {e.key: e for e in self.entries}

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        if not self._active:
            return None
        # Longest first so "New York City" wins over "New York"; exact case before any case.
        ordered = sorted(self._active.values(), key=lambda e: (-len(e.text), not e.case_sensitive))
        alternatives = "|".join(entry_regex(e) for e in ordered)
        return re.compile(rf"(?<!\w)(?:{alternatives}){_WORD_END}")

    def _replacement(self, match: re.Match[str]) -> str:
        found = " ".join(match.group(0).split())
        entry = self._active.get(found) or self._active.get(found.lower())
        if entry is None:  # a case-insensitive regex match that lower() folds differently
            return match.group(0)
        if entry.respelling is not None:
            return entry.respelling
        return f"[{found}](/{entry.phonemes}/)"


def read_dictionary(path: Path) -> bytes:
    """A dictionary file's bytes: a regular file (not a pipe or device that never ends) of at
    most MAX_DICTIONARY_BYTES."""
    return read_bounded(path, MAX_DICTIONARY_BYTES,
                        lambda why: DictionaryError(f"{path}: cannot read the dictionary ({why})"))


def lexicon_for(document: Document, dictionaries: Sequence[Path] = ()) -> Lexicon:
    """The pronunciation layers for ``document``, in order: the built-in dictionary, the book's
    own PLS lexicons (``document.lexicons``), then each file of ``dictionaries`` (TOML, or PLS
    by its ``.pls`` suffix); later layers win. Only layers for the document's language apply.
    Raises :class:`DictionaryError` for a dictionary that cannot be read or used.
    """
    layers = [Lexicon.builtin()]
    layers += [Lexicon.from_pls(data, name) for name, data in document.lexicons]
    layers += [_dictionary_file(Path(path)) for path in dictionaries]
    return Lexicon.layered(*layers, language=document.language or "en")


def _dictionary_file(path: Path) -> Lexicon:
    if path.suffix.lower() == ".pls":
        return Lexicon.from_pls(read_dictionary(path), str(path))  # a regular file, size-bounded
    return Lexicon.from_toml(path)


def epub_lexicons(path: str | Path) -> tuple[Lexicon, ...]:
    """The PLS lexicons an EPUB 3 declares in its manifest (``application/pls+xml``), in order.

    The book is read through the same checked archive reader as its chapters (size, bomb and
    entity checks first), so a hostile lexicon is refused as a hostile chapter would be.
    """
    from preprocess.epub import lexicon_files  # the EPUB reader (ebooklib) only when asked

    try:
        files = lexicon_files(Path(path))
    except InputError as exc:
        raise DictionaryError(f"{path}: cannot read its pronunciation lexicons: {exc}") from None
    return tuple(Lexicon.from_pls(data, f"{path}!{name}") for name, data in files)


# --- TOML ---------------------------------------------------------------------------------

def _lexicon_from_toml(text: str, name: str) -> Lexicon:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DictionaryError(f"{name}: not valid TOML: {exc}") from exc
    unknown = sorted(set(document) - set(_TOP_LEVEL_KEYS))
    if unknown:
        expected = ", ".join(_TOP_LEVEL_KEYS)
        raise DictionaryError(f"{name}: unknown key {unknown[0]!r} (expected {expected})")
    language = document.get("language", "en")
    words, tables = document.get("words", {}), document.get("lang", {})
    if not isinstance(language, str) or not isinstance(words, dict):
        raise DictionaryError(f"{name}: 'language' must be a string and [words] a table")
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise DictionaryError(f"{name}: [lang] holds one table of words per language, "
                              "such as [lang.fr]")
    others = tuple(_toml_words(table, tag, f"{name}: [lang.{tag}]")
                   for tag, table in tables.items() if not same_language(tag, language))
    same = [table for tag, table in tables.items() if same_language(tag, language)]
    main = _toml_words({**words, **{k: v for t in same for k, v in t.items()}}, language,
                       f"{name}: [words]")
    return Lexicon(main.entries, language, others=others)


def _toml_words(words: dict[str, Any], language: str, where: str) -> Lexicon:
    """The entries of one table of words in ``language``; errors say ``where``."""
    entries = []
    for key, value in words.items():
        try:
            entries.append(_toml_entry(" ".join(key.split()), value, language))
        except DictionaryError as exc:
            raise DictionaryError(f"{where} {exc}") from None
    return Lexicon(tuple(entries), language)


def _toml_entry(key: str, value: Any, language: str) -> Entry:
    """One ``[words]`` value: a string (respelling) or a table with one of _ENTRY_KEYS."""
    if isinstance(value, str):
        return Entry(key, respelling=value)
    if not isinstance(value, dict):
        raise DictionaryError(
            f"{key!r}: use a string (respelling) or a table with respelling, phonemes or ipa")
    given = [k for k in _ENTRY_KEYS if k in value]
    extra = sorted(set(value) - set(_ENTRY_KEYS))
    if extra or len(given) != 1 or not isinstance(value[given[0]], str):
        wrong = f"unknown key {extra[0]!r}" if extra else f"has {', '.join(given) or 'none'}"
        raise DictionaryError(
            f"{key!r}: give exactly one of respelling, phonemes or ipa as a string ({wrong})")
    kind, spoken = given[0], value[given[0]]
    if kind == "respelling":
        return Entry(key, respelling=spoken)
    if kind == "phonemes":
        return Entry(key, phonemes=_strip_slashes(spoken))
    phonemes, dropped = ipa_to_misaki(_strip_slashes(spoken), british=is_british(language),
                                      english=same_language(language, "en"))
    if dropped:
        raise DictionaryError(f"{key!r}: ipa symbols {dropped!r} have no Kokoro equivalent")
    return Entry(key, phonemes=phonemes)


def _strip_slashes(phonemes: str) -> str:
    """"/kˈOkəɹO/" as copied from a dictionary is "kˈOkəɹO"."""
    return phonemes.strip().removeprefix("/").removesuffix("/").strip()

