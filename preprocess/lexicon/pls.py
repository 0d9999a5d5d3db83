"""W3C PLS 1.0 lexicons (and any XML a pronunciation comes in) read safely: no DTD loaded, no
entity resolved, no network; a file that declares entities is refused."""

from __future__ import annotations

import lxml.etree as etree

from .alphabets import DictionaryError, to_misaki
from .entries import Entry

__all__ = ["XML_LANG", "parse_xml", "pls_entries"]

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def pls_entries(data: bytes, name: str,
                language: str | None = None) -> tuple[str, list[Entry], list[str]]:
    """A PLS lexicon's language (``language``, else its ``xml:lang``), its entries and notes on
    what could not be used; ``name`` is only for messages."""
    root = _parse_pls(data, name)
    language = language or root.get(XML_LANG)
    if not language:
        raise DictionaryError(f"{name}: the <lexicon> has no xml:lang")
    alphabet = root.get("alphabet")
    if not alphabet:
        raise DictionaryError(
            f"{name}: the <lexicon> has no alphabet attribute (ipa or x-sampa)")
    entries: list[Entry] = []
    notes: list[str] = []
    for lexeme in _children(root, "lexeme"):
        try:
            read, noted = _read_lexeme(lexeme, alphabet, language)
        except DictionaryError as exc:  # an unsupported alphabet
            raise DictionaryError(f"{name}: {exc}") from None
        entries += read
        notes += noted
    return language, entries, notes


def parse_xml(data: bytes, name: str) -> etree._Element:
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
    root = parse_xml(data, name)
    if etree.QName(root).localname != "lexicon":
        found = etree.QName(root).localname
        raise DictionaryError(f"{name}: not a PLS lexicon (root element <{found}>)")
    return root


def _children(element: etree._Element, localname: str) -> list[etree._Element]:
    """Child elements by local name, in the PLS namespace or none (some files omit it)."""
    return [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == localname]


def _read_lexeme(lexeme: etree._Element, alphabet: str,
                 language: str) -> tuple[list[Entry], list[str]]:
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
        phonemes, dropped = to_misaki(_text(chosen), chosen.get("alphabet", alphabet),
                                       language)
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

