"""SSML 1.1 documents (``.ssml``, ``--input-format ssml``) as a one-chapter document.

The markup becomes what the rest of the pipeline already reads: ``<p>`` a paragraph,
``<break>`` the pause after a block (:attr:`Block.pause_after_ms`, exact), ``<voice>`` and
``<prosody rate>`` a block's voice and speed, ``lang``/``xml:lang`` a language run, ``<say-as>``
and ``<sub>`` rewritten text, ``<phoneme>`` a word carried with its phonemes
(:mod:`preprocess.phonemic`). ``<emphasis>`` is approximated by a change of speed (see
``data/ssml.json``); other elements are warned about once and their text is read. The XML is
parsed with the EPUB reader's safe settings: no DTD, no entity, no network.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import lxml.etree as etree

from .chunk import Pauses
from .document import Block, BlockKind, Chapter, Document
from .errors import ParseError
from .inline import Switch, collapse, declared_language
from .lexicon.alphabets import DictionaryError, check_phonemes, to_misaki
from .phonemic import pronounce
from .ssml_sayas import say_as, ssml_table

__all__ = ["parse_ssml"]

log = logging.getLogger(__name__)

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>")
_TIME = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*", re.IGNORECASE)
_RATE = re.compile(r"\s*([+-]?)(\d+(?:\.\d+)?)\s*(%?)\s*")
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’»)\]]*$")
# Elements with nothing to read, left out without a word.
_SILENT = frozenset({"mark", "desc", "meta", "metadata", "lexicon", "lookup"})


@dataclass(frozen=True)
class _State:
    """What the text inside an element is read with."""

    language: str | None = None  # None: the document's
    voice: str | None = None
    rate: float | None = None


class _Builder:
    """Collects text into blocks; a block ends at a paragraph, a break, or a change of voice or
    speed."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.items: list[str | Switch] = []
        self.state = _State()
        self.language: str | None = None  # the language the open block's text is in
        self.after_break = False  # the last block's pause came from a <break>

    def text(self, text: str, state: _State) -> None:
        if not text:
            return
        if self._said() and not any(ch.isalnum() for ch in text):
            state = replace(state, voice=self.state.voice, rate=self.state.rate)  # "</voice>."
        if (state.voice, state.rate) != (self.state.voice, self.state.rate) and self._said():
            self.cut(0 if not _SENTENCE_END.search(self._joined()) else Pauses().sentence)
        if state.language != self.language:
            self.items.append(Switch(state.language))
            self.language = state.language
        self.state = state
        self.items.append(text)

    def end_sentence(self) -> None:
        """After ``<s>``: a sentence end where its text has none."""
        if self._said() and not _SENTENCE_END.search(self._joined()):
            self.items.append(".")

    def pause(self, ms: int) -> None:
        """A ``<break>``: the open block ends with this pause; with none open, the last block's
        pause becomes it (breaks in a row add up)."""
        if self._said():
            self.cut(ms)
        elif self.blocks:
            last = self.blocks[-1]
            total = ms + (last.pause_after_ms or 0 if self.after_break else 0)
            self.blocks[-1] = replace(last, pause_after_ms=total)
        else:
            log.warning("SSML <break> before any text is left out")
            return
        self.after_break = True

    def cut(self, pause: int | None = None) -> None:
        """End the open block (``pause`` None: a paragraph's pause)."""
        if not self._said():
            self.items = []
            return
        text, runs = collapse(self.items)
        whole = len(runs) == 1 and runs[0].start == 0 and runs[0].end == len(text)
        self.blocks.append(Block(
            BlockKind.PARAGRAPH, text, language=runs[0].language if whole else None,
            runs=None if whole or not runs else runs, voice=self.state.voice,
            rate=self.state.rate, pause_after_ms=pause))
        self.items, self.language, self.after_break = [], None, False

    def _joined(self) -> str:
        return "".join(item for item in self.items if isinstance(item, str)).rstrip()

    def _said(self) -> bool:
        return any(isinstance(item, str) and item.strip() for item in self.items)


def parse_ssml(text: str, *, name: str = "ssml") -> Document:
    """A document from SSML text: one chapter named ``name``, in the ``xml:lang`` of
    ``<speak>`` (else English). Raises :class:`ParseError` for XML that is not well formed,
    declares entities, or is not SSML."""
    root = _parse(text, name)
    language = (root.get(_XML_LANG) or "").strip()
    reader = _Reader(name, language or "en")
    reader.walk(root, _State())
    reader.builder.cut()
    chapter = Chapter(1, name, tuple(reader.builder.blocks))
    return Document(title=name, chapters=(chapter,), language=language or "en",
                    language_declared=bool(language))


def _parse(text: str, name: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(_DECLARATION.sub("", text).encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"{name}: not well-formed SSML ({' '.join(str(exc).split())})") from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ParseError(f"{name}: declares XML entities, which are not read "
                         "(they can reach files or the network)")
    if etree.QName(root).localname != "speak":
        raise ParseError(f"{name}: not SSML (the root element is <{etree.QName(root).localname}>"
                         ", not <speak>)")
    return root


class _Reader:
    """Walks the SSML tree into a :class:`_Builder`."""

    def __init__(self, name: str, language: str) -> None:
        self.name, self.language = name, language
        self.builder = _Builder()
        self.warned: set[str] = set()
        self.handlers: dict[str, Callable[[etree._Element, _State], None]] = {
            "speak": self.children, "p": self.paragraph, "paragraph": self.paragraph,
            "s": self.sentence, "sentence": self.sentence, "break": self.pause,
            "voice": self.voice, "lang": self.children, "prosody": self.prosody,
            "emphasis": self.emphasis, "say-as": self.say_as, "sub": self.sub,
            "phoneme": self.phoneme,
        }

    def walk(self, element: etree._Element, state: _State) -> None:
        """Read ``element`` in ``state`` (its own xml:lang applied), then its tail."""
        local = etree.QName(element).localname
        tag = element.get(_XML_LANG)
        inner = replace(state, language=declared_language(tag, self.warned) or state.language)
        if local not in _SILENT:
            handler = self.handlers.get(local)
            if handler is None:
                self.warn(f"SSML <{local}> is not supported; its text is read")
                handler = self.children
            handler(element, inner)
        elif local == "lexicon":
            self.warn("SSML <lexicon> is not fetched; give the file with --dict")

    def children(self, element: etree._Element, state: _State) -> None:
        self.builder.text(element.text or "", state)
        for child in element:
            self.walk(child, state)
            self.builder.text(child.tail or "", state)

    def paragraph(self, element: etree._Element, state: _State) -> None:
        self.builder.cut()
        self.children(element, state)
        self.builder.end_sentence()
        self.builder.cut()

    def sentence(self, element: etree._Element, state: _State) -> None:
        self.builder.text(" ", state)
        self.children(element, state)
        self.builder.end_sentence()
        self.builder.text(" ", state)

    def pause(self, element: etree._Element, state: _State) -> None:
        table = ssml_table()
        time, strength = element.get("time"), (element.get("strength") or "medium").strip()
        found = _TIME.fullmatch(time or "")
        if time is not None and not found:
            self.warn(f"SSML <break time={time!r}> is not a time such as 500ms or 1.5s; "
                      "using its strength")
        if found:
            ms = round(float(found.group(1)) * (1 if found.group(2).lower() == "ms" else 1000))
        else:
            ms = table["break_strength"].get(strength.lower(), table["break_strength"]["medium"])
        if ms > table["max_break_ms"]:
            self.warn(f"SSML <break> of {ms} ms is cut to {table['max_break_ms']} ms")
            ms = table["max_break_ms"]
        self.builder.pause(ms)

    def voice(self, element: etree._Element, state: _State) -> None:
        name = " ".join((element.get("name") or "").split())
        self.children(element, replace(state, voice=name) if name else state)

    def prosody(self, element: etree._Element, state: _State) -> None:
        for attribute in ("pitch", "volume", "contour", "range", "duration"):
            if element.get(attribute) is not None:
                self.warn(f"SSML <prosody {attribute}> is not supported (Kokoro has no control "
                          "for it); only rate is")
        rate = element.get("rate")
        self.children(element, state if rate is None else self.rated(state, self.rate(rate)))

    def emphasis(self, element: etree._Element, state: _State) -> None:
        level = (element.get("level") or "moderate").strip().lower()
        factor = ssml_table()["emphasis"].get(level)
        if factor is None:
            self.warn(f"SSML <emphasis level={level!r}> is not a level; read as moderate")
            factor = ssml_table()["emphasis"]["moderate"]
        self.children(element, self.rated(state, factor))

    def say_as(self, element: etree._Element, state: _State) -> None:
        words = " ".join("".join(element.itertext()).split())
        language = state.language or self.language
        self.builder.text(say_as(element.get("interpret-as") or "", words, language,
                                 element.get("format")), state)

    def sub(self, element: etree._Element, state: _State) -> None:
        alias = element.get("alias")
        if alias is None:
            self.warn("SSML <sub> without alias: its text is read")
            self.children(element, state)
            return
        self.builder.text(alias, state)

    def phoneme(self, element: etree._Element, state: _State) -> None:
        words = " ".join("".join(element.itertext()).split())
        ph, alphabet = element.get("ph") or "", (element.get("alphabet") or "ipa").strip()
        try:
            phonemes = self.phonemes(words, ph, alphabet, state.language or self.language)
        except DictionaryError as exc:
            self.warn(f"SSML <phoneme>: {exc}; {words!r} is read as written")
            phonemes = ""
        self.builder.text(pronounce(words, phonemes) if phonemes else words, state)

    @staticmethod
    def phonemes(words: str, ph: str, alphabet: str, language: str) -> str:
        """misaki phonemes for ``ph`` in ``alphabet`` (ipa, x-sampa, or misaki as is)."""
        if not words:
            raise DictionaryError("the element has no text")
        if alphabet.lower() in ("misaki", "kokoro"):
            phonemes = " ".join(ph.strip().strip("/").split())
        else:
            phonemes, dropped = to_misaki(ph.strip().strip("/"), alphabet, language)
            if dropped:
                log.warning("SSML <phoneme ph=%r>: dropped %r, which Kokoro cannot say",
                            ph, dropped)
        check_phonemes(words, phonemes)
        return phonemes

    def rate(self, value: str) -> float:
        """A ``<prosody rate>`` as a multiple: a keyword, ``80%``, ``+20%`` or a number."""
        keyword = ssml_table()["rate"].get(value.strip().lower())
        if keyword is not None:
            return float(keyword)
        found = _RATE.fullmatch(value)
        if found is None:
            self.warn(f"SSML <prosody rate={value!r}> is not a rate; read at the usual speed")
            return 1.0
        sign, number, percent = found.groups()
        amount = float(number) / (100 if percent else 1)
        if sign:  # a relative change: "+20%" is 1.2, "-10%" 0.9
            return 1 + amount if sign == "+" else 1 - amount
        return amount

    @staticmethod
    def rated(state: _State, factor: float) -> _State:
        """``state`` with its speed multiplied by ``factor``, kept within Kokoro's 0.5-2."""
        rate = min(2.0, max(0.5, (state.rate or 1.0) * factor))
        return replace(state, rate=None if abs(rate - 1.0) < 1e-9 else round(rate, 4))

    def warn(self, message: str) -> None:
        if message not in self.warned:
            self.warned.add(message)
            log.warning("%s: %s", self.name, message)
