"""Pronunciation dictionaries: TOML files, W3C PLS lexicons and the layering of both.

A :class:`Lexicon` maps words and phrases to a *respelling* (plain text that misaki already
reads right, "Nguyen" → "win") or to *phonemes* in misaki's alphabet. :meth:`Lexicon.apply`
rewrites text before G2P: respellings are substituted, phoneme entries become misaki's inline
override ``[word](/phonemes/)``, so nothing in misaki is patched. The formats, the matching
rules and the layering order are documented in ``docs/dictionary.md``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import lxml.etree as etree

from kokoro_common import read_bounded
from preprocess.document import Document
from preprocess.errors import InputError

__all__ = [
    "LEXICON_VERSION", "MAX_DICTIONARY_BYTES", "DictionaryError", "Entry", "Lexicon",
    "epub_lexicons", "ipa_to_misaki", "lexicon_for", "read_dictionary",
]

# Bump when apply() or a conversion table changes what is spoken: it is part of every digest.
LEXICON_VERSION = "1"

# A dictionary of this size holds some 200,000 entries; past it a file is not a dictionary.
MAX_DICTIONARY_BYTES = 8 << 20
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
STRESS_MARKS = "ˈˌ"
# misaki's inline override, "[text](/phonemes/)": dictionary matches never reach inside one.
MARKUP = re.compile(r"\[[^\]]+\]\([^)]*\)")
# After a match: no word character, and no apostrophe that goes on into a word ("don't"),
# except the possessive "'s", so "SQL's" still matches "SQL".
_WORD_END = r"(?!\w|['’](?![sS]\b)\w)"
# Phoneme symbols that would end or break the markup although Kokoro has them as punctuation.
_MARKUP_BREAKERS = frozenset("()[]/")
_TOP_LEVEL_KEYS = ("language", "words")
_ENTRY_KEYS = ("respelling", "phonemes", "ipa")


class DictionaryError(InputError):
    """A pronunciation dictionary (TOML or PLS) is malformed or uses symbols Kokoro lacks."""


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
            _check_phonemes(self.text, self.phonemes)

    @property
    def case_sensitive(self) -> bool:
        """Whether the entry matches only its exact capitalization (it has a capital letter)."""
        return self.text != self.text.lower()

    @property
    def key(self) -> str:
        """What identifies the entry when a later layer overrides it."""
        return self.text if self.case_sensitive else self.text.lower()


@dataclass(frozen=True)
class Lexicon:
    """An ordered set of :class:`Entry` for one language (a BCP 47 tag such as ``en-GB``).

    Within a lexicon, as between layers, a later entry overrides an earlier one with the same
    key; a lowercase entry also overrides every capitalization of itself. ``notes`` says what a
    PLS file held that could not be used (it is not part of the lexicon's identity).
    """

    entries: tuple[Entry, ...] = ()
    language: str = "en"
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", _override(self.entries))

    def __len__(self) -> int:
        return len(self.entries)

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
        root = _parse_pls(data, name)
        language = language or root.get(XML_LANG)
        if not language:
            raise DictionaryError(f"{name}: the <lexicon> has no xml:lang")
        alphabet = root.get("alphabet")
        if not alphabet:
            raise DictionaryError(
                f"{name}: the <lexicon> has no alphabet attribute (ipa or x-sampa)")
        british, english = _is_british(language), _same_language(language, "en")
        entries: list[Entry] = []
        notes: list[str] = []
        for lexeme in _children(root, "lexeme"):
            try:
                read, noted = _read_lexeme(lexeme, alphabet, british, english)
            except DictionaryError as exc:  # an unsupported alphabet
                raise DictionaryError(f"{name}: {exc}") from None
            entries += read
            notes += noted
        return cls(tuple(entries), language, tuple(f"{name}: {note}" for note in notes))

    @classmethod
    def layered(cls, *lexicons: Lexicon, language: str = "en") -> Lexicon:
        """One lexicon from layers in order (built-in, user, book, command line): later wins.

        Only layers for ``language`` take part (``en`` takes ``en-US`` and ``en-GB``); the
        others are kept by their owner for a voice of their language.
        """
        chosen = [lex for lex in lexicons if _same_language(lex.language, language)]
        entries = tuple(entry for lex in chosen for entry in lex.entries)
        return cls(entries, language, tuple(note for lex in chosen for note in lex.notes))

    @property
    def digest(self) -> str:
        """sha256 of the language and the entries, independent of their order: job identity."""
        rows = sorted([e.text, e.respelling, e.phonemes] for e in self.entries)
        blob = json.dumps([LEXICON_VERSION, self.language, rows], ensure_ascii=False)
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
        alternatives = "|".join(_entry_regex(e) for e in ordered)
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
    words = document.get("words", {})
    if not isinstance(language, str) or not isinstance(words, dict):
        raise DictionaryError(f"{name}: 'language' must be a string and [words] a table")
    entries = []
    for key, value in words.items():
        try:
            entries.append(_toml_entry(" ".join(key.split()), value, language))
        except DictionaryError as exc:
            raise DictionaryError(f"{name}: [words] {exc}") from None
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
    phonemes, dropped = ipa_to_misaki(_strip_slashes(spoken), british=_is_british(language),
                                      english=_same_language(language, "en"))
    if dropped:
        raise DictionaryError(f"{key!r}: ipa symbols {dropped!r} have no Kokoro equivalent")
    return Entry(key, phonemes=phonemes)


def _strip_slashes(phonemes: str) -> str:
    """"/kˈOkəɹO/" as copied from a dictionary is "kˈOkəɹO"."""
    return phonemes.strip().removeprefix("/").removesuffix("/").strip()


# --- PLS ----------------------------------------------------------------------------------


def _parse_xml(data: bytes, name: str) -> etree._Element:
    """Parse without loading DTDs, resolving entities or touching the network."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             load_dtd=False, dtd_validation=False, remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DictionaryError(f"{name}: not well-formed XML: {exc}") from exc
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise DictionaryError(f"{name}: declares XML entities, which are not accepted")
    return root


def _parse_pls(data: bytes, name: str) -> etree._Element:
    root = _parse_xml(data, name)
    if etree.QName(root).localname != "lexicon":
        found = etree.QName(root).localname
        raise DictionaryError(f"{name}: not a PLS lexicon (root element <{found}>)")
    return root


def _children(element: etree._Element, localname: str) -> list[etree._Element]:
    """Child elements by local name, in the PLS namespace or none (some files omit it)."""
    return [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == localname]


def _read_lexeme(lexeme: etree._Element, alphabet: str, british: bool,
                 english: bool = True) -> tuple[list[Entry], list[str]]:
    """One ``<lexeme>``'s entries (one per grapheme) and notes on what could not be used."""
    graphemes = [_text(g) for g in _children(lexeme, "grapheme")]
    spoken = _children(lexeme, "phoneme") + _children(lexeme, "alias")
    if not graphemes or not spoken:
        return [], [f"a lexeme without grapheme or pronunciation at line {lexeme.sourceline}"]
    # The pronunciation marked prefer="true", else the first in document order.
    chosen = min(spoken, key=lambda e: (e.get("prefer") != "true", list(lexeme).index(e)))
    notes = []
    if etree.QName(chosen).localname == "alias":
        how = {"respelling": _text(chosen)}
    else:
        phonemes, dropped = _pls_phonemes(_text(chosen), chosen.get("alphabet", alphabet), british,
                                          english)
        how = {"phonemes": phonemes}
        if dropped:
            notes.append(f"{graphemes[0]!r}: dropped {dropped!r}, which Kokoro cannot say")
    entries = []
    for grapheme in graphemes:
        try:
            entries.append(Entry(grapheme, **how))
        except DictionaryError as exc:
            notes.append(f"skipped {exc}")
    return entries, notes


def _text(element: etree._Element) -> str:
    """An element's text with runs of whitespace as one space."""
    return " ".join("".join(element.itertext()).split())


def _pls_phonemes(symbols: str, alphabet: str, british: bool,
                  english: bool = True) -> tuple[str, str]:
    """misaki phonemes and the dropped symbols for a PLS ``<phoneme>`` in ``alphabet``."""
    scheme = alphabet.strip().lower()
    if scheme == "x-sampa":
        symbols = _translate(symbols, _table("xsampa_to_ipa.json")["symbols"])
    elif scheme != "ipa":
        raise DictionaryError(f"alphabet {alphabet!r} is not supported: use ipa or x-sampa")
    return ipa_to_misaki(symbols, british, english)


# --- phonetic alphabets -------------------------------------------------------------------


def ipa_to_misaki(ipa: str, british: bool = False, english: bool = True) -> tuple[str, str]:
    """misaki phonemes for an IPA transcription, and the symbols dropped as unsayable.

    English IPA goes through ``data/ipa_to_misaki.json``, stress marks moved to just before
    their vowel (a word with none is stressed on its first vowel); other languages' IPA is kept
    as espeak-ng writes it for Kokoro (nasal vowels, ʁ, y, ø).
    """
    table = _table("ipa_to_misaki.json")
    ipa = unicodedata.normalize("NFC" if english else "NFD", ipa)
    ipa = "".join(c for c in ipa if c not in table["remove"] or (c == "\u0303" and not english))
    mapping = {**table["common"], **table["british" if british else "american"]}
    converted = (_translate(ipa, mapping) if english
                 else unicodedata.normalize("NFC", ipa).replace("g", "ɡ"))
    allowed = _sayable()
    dropped = "".join(dict.fromkeys(c for c in converted if c not in allowed and not c.isspace()))
    kept = "".join(c for c in converted if c in allowed or c == " ")
    words = (_stress_before_vowel(w, table["vowels"]) if english else w for w in kept.split())
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


def _check_phonemes(text: str, phonemes: str) -> None:
    if not phonemes.strip():
        raise DictionaryError(f"{text!r}: the phonemes are empty")
    unknown = "".join(dict.fromkeys(c for c in phonemes if c not in _sayable() and c != " "))
    if unknown:
        raise DictionaryError(
            f"{text!r}: phonemes {phonemes!r} use {unknown!r}, outside Kokoro's vocabulary "
            "(write misaki's symbols, or give ipa = \"...\" to have IPA converted)")


@cache
def _sayable() -> frozenset[str]:
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
def _table(name: str) -> dict[str, Any]:
    return json.loads(resources.files("preprocess").joinpath(f"data/{name}").read_text("utf-8"))


# --- matching -----------------------------------------------------------------------------


def _entry_regex(entry: Entry) -> str:
    """The entry's words with any run of whitespace between them; lowercase keys ignore case."""
    words = r"\s+".join(re.escape(word) for word in entry.text.split())
    return words if entry.case_sensitive else f"(?i:{words})"


def _override(entries: Iterable[Entry]) -> tuple[Entry, ...]:
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


def _same_language(tag: str, wanted: str) -> bool:
    """Whether two BCP 47 tags share their primary language ("en-GB" and "en")."""
    return tag.split("-")[0].lower() == wanted.split("-")[0].lower()


def _is_british(language: str) -> bool:
    return language.lower().replace("_", "-") in ("en-gb", "en-uk")
