"""EPUB 2/3 to :class:`Document`: chapters from the table of contents, text from the XHTML spine.

Chapters start where the top-level TOC entries point (an anchor inside a file or a whole file) and
run until the next one, in spine order; spine files missing from the TOC join the chapter before
them. Entries that only group chapters (one entry wrapping the book, or parts) give way to their
children, and a part's divider page is read at the start of its first chapter. Front and back
matter (cover, title page, copyright, contents, index), notes, note references and page-break
markers are not read by default.

Text inside SVG (``<text>``, ``<tspan>``: inline SVG in XHTML pages, and SVG pages in the
spine) is read in fixed-layout books, and in any book that has no other text; elsewhere an
SVG is a picture and its labels are not read. A book with nothing to read says why where it
can (its pages are images).

The archive itself (limits, bombs, entities, safe XML) is :mod:`preprocess.epub_archive`; the
table of contents is :mod:`preprocess.epub_toc`.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import ebooklib
import lxml.etree as etree
from ebooklib import epub

from .document import (CODE_NOTICE, CODE_POLICIES, Block, BlockKind, Chapter, Cover, Document,
                       LanguageRun, fold_heading_only)
from .epub_archive import LIMITS, ArchiveLimits, Book, UnreadablePart, parse_xhtml, read_book
from .epub_ssml import ssml_pronunciation
from .epub_toc import (MATTER_TITLES, MATTER_TYPES, TocEntry, chapter_entries, epub_types,
                       fixed_layout, hidden, local_name, read_toc, resolve_href, svg_lines,
                       unread_parts, why_no_text)
from .errors import InputError, ParseError
from .inline import Switch, collapse, declared_language, foreign_runs
from .languages import Language, resolve_language

__all__ = ["LIMITS", "PLS_MEDIA_TYPE", "ArchiveLimits", "lexicon_files", "parse_epub"]

PLS_MEDIA_TYPE = "application/pls+xml"
log = logging.getLogger(__name__)

# Elements never read: notes and their markers, page numbers, navigation bars and lists, page
# footers, hidden text.
_SKIP_TYPES = frozenset(
    "footnote footnotes endnote endnotes rearnote rearnotes note noteref annotation pagebreak "
    "toc landmarks page-list".split()
)
_SKIP_ROLES = frozenset(
    "doc-footnote doc-endnote doc-endnotes doc-noteref doc-pagebreak doc-toc navigation "
    "contentinfo".split()
)
_SKIP_TAGS = frozenset("head script style nav noscript template svg math rt rp audio video".split())
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Files (by file stem) that are front or back matter; see also MATTER_TYPES and MATTER_TITLES.
_MATTER_STEMS = frozenset("cover titlepage title-page copyright copyright-page".split())
# Alt texts that say nothing about the picture.
_EMPTY_ALTS = frozenset(
    ["image", "img", "picture", "photo", "figure", "illustration", "logo", "cover", "cover image"]
)
_FILE_NAME = re.compile(r"[\w\-. ]+\.(?:png|jpe?g|gif|svg|webp|bmp|tiff?)", re.IGNORECASE)

# Block-level elements; a few give their text a kind, the rest pass their parent's kind on.
_BLOCK_KINDS = {
    **{f"h{n}": BlockKind.HEADING for n in range(1, 7)},
    "li": BlockKind.LIST_ITEM,
    "blockquote": BlockKind.QUOTE,
    "figcaption": BlockKind.CAPTION,
    "caption": BlockKind.CAPTION,
    "p": None,
}
_BLOCK_TAGS = frozenset(_BLOCK_KINDS) | frozenset(
    "body div section article aside header footer main ul ol dl dt dd figure table thead tbody "
    "tfoot hr address details summary center hgroup".split()
)
_COVER_TYPES = ("image/jpeg", "image/png")
_PAGE_TYPES = frozenset(["application/xhtml+xml"])
_SVG_PAGE_TYPES = _PAGE_TYPES | {"image/svg+xml"}
_COVER_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


@dataclass
class _Draft:
    """A chapter being assembled (mutable only while the spine is walked)."""

    title: str | None
    skip: bool
    start: int | None = None
    blocks: list[Block] = field(default_factory=list)
    language: str | None = None  # the spine file's own language, where it differs from the book's


def parse_epub(path: Path, *, keep_front_matter: bool = False, code: str = "skip") -> Document:
    """Parse an EPUB 2 or 3 file.

    ``keep_front_matter`` also reads what comes before the first TOC chapter and the cover, title,
    copyright and index pages. ``code`` is "skip", "announce" or "read" for ``pre`` blocks.
    The archive is checked and read by :func:`preprocess.epub_archive.read_book`.
    """
    if code not in CODE_POLICIES:
        raise ValueError(f"code policy must be one of {', '.join(CODE_POLICIES)}, not {code!r}")
    path = Path(path)
    book = read_book(path)
    try:
        svg_text = fixed_layout(book)
        chapters, problems = _chapters(book, keep_front_matter, code, svg_text)
        if not chapters and not svg_text:  # text drawn in SVG only: read that
            chapters, problems = _chapters(book, keep_front_matter, code, True)
        pages = (parse_xhtml(item.content) for item, _ in _spine_documents(book, True))
        if not chapters and (why := why_no_text(pages)):
            raise InputError(f"{path.name} has no text to read: {why}")
    except UnreadablePart as exc:
        raise ParseError(f"{path.name} is not a readable EPUB: {exc}") from None
    for problem in problems:
        log.warning("%s: %s", path.name, problem)
    return Document(
        title=_meta(book, "title") or path.stem,
        chapters=chapters,
        authors=tuple(value for value, _ in _metadata(book, "DC", "creator") if value),
        language=_meta(book, "language") or "en",
        language_declared=bool(_meta(book, "language")),
        publisher=_meta(book, "publisher"),
        date=_meta(book, "date"),
        cover=_cover(book),
        lexicons=tuple((posixpath.basename(name), data) for name, data in _pls_items(book)),
    )


def lexicon_files(path: Path) -> tuple[tuple[str, bytes], ...]:
    """The PLS lexicons the EPUB's manifest declares (``application/pls+xml``), in manifest
    order, as (path in the archive relative to the package document, bytes).

    They are read through the same checked reader as the chapters: a lexicon that is a
    decompression bomb or declares entities refuses the book (:class:`ParseError`)."""
    return _pls_items(read_book(Path(path)))


def _pls_items(book: epub.EpubBook) -> tuple[tuple[str, bytes], ...]:
    return tuple((item.file_name, item.content) for item in book.get_items()
                 if item.media_type == PLS_MEDIA_TYPE)


def _metadata(book: epub.EpubBook, namespace: str, name: str) -> list[tuple[str | None, dict]]:
    """ebooklib's metadata values; a package without the namespace (no Dublin Core) has none."""
    try:
        return book.get_metadata(namespace, name)
    except KeyError:  # ebooklib indexes its metadata by the namespaces the OPF declared
        return []


def _meta(book: epub.EpubBook, name: str) -> str | None:
    values = [" ".join(value.split()) for value, _ in _metadata(book, "DC", name) if value]
    return values[0] if values and values[0] else None


def _cover(book: epub.EpubBook) -> Cover | None:
    """The cover image: the EPUB 3 cover-image item, else the EPUB 2 <meta name="cover">."""
    items = list(book.get_items_of_type(ebooklib.ITEM_COVER))
    for _, attrs in _metadata(book, "OPF", "cover"):
        item = book.get_item_with_id(attrs.get("content", ""))
        if item is not None:
            items.append(item)
    for item in items:
        if item.media_type in _COVER_TYPES and item.content.startswith(_COVER_MAGIC[item.media_type]):
            # What claims to be a JPEG or PNG but is not would only fail the muxer hours later.
            return Cover(data=item.content, media_type=item.media_type)
    return None


# --- spine walk -------------------------------------------------------------------------------


def _chapters(book: Book, keep_front_matter: bool, code: str,
              svg_text: bool) -> tuple[tuple[Chapter, ...], list[str]]:
    """Walk the spine, cutting chapters at the TOC's start points (``svg_text``: reading SVG
    text and SVG pages too); return the chapters and, one phrase each, the files and TOC entries
    that have nothing to read."""
    entries, landmark_matter = read_toc(book)
    level, starts = chapter_entries(entries)
    spine = list(_spine_documents(book, svg_text))
    targets = _targets(starts, [posixpath.normpath(item.file_name) for item, _ in spine])
    matter_paths = landmark_matter | _guide_matter(book)
    drafts: list[_Draft] = []
    book_language = resolve_language(_meta(book, "language"))[0]
    for item, linear in spine:
        file_targets = targets.get(posixpath.normpath(item.file_name), {})
        root = parse_xhtml(item.content)
        is_matter = item.file_name in matter_paths or _is_matter_file(item, root)
        if not file_targets and (not linear or (is_matter and not keep_front_matter)):
            continue
        language = _own_language(root, book_language)
        file_language = language or _meta(book, "language")
        if not level:
            # No usable TOC: every spine file is a chapter of its own.
            drafts.append(_Draft(None, is_matter and not keep_front_matter, language=language))
        walker = _Walker(file_targets, code, file_language, svg_text)
        for start, blocks in walker.segments(root):
            if start is not None and (not drafts or drafts[-1].start != start):
                title = level[start].title
                skip = (is_matter or title.lower() in MATTER_TITLES) and not keep_front_matter
                drafts.append(_Draft(title, skip, start, language=language))
            elif not drafts:
                drafts.append(_Draft(None, not keep_front_matter, language=language))
            drafts[-1].blocks.extend(blocks)
    return _finish(drafts), unread_parts(book, level, {draft.start for draft in drafts})


def _own_language(root: etree._Element, book: Language) -> str | None:
    """The language a content document declares on <html> or <body> (xml:lang, lang), when
    Kokoro reads it differently from the book's: that chapter is read in its own language."""
    body = next(root.iter("{*}body", "body"), None)
    for element in (root, body):
        if element is not None and (tag := _lang(element)):
            language, warning = resolve_language(tag)
            return tag if warning is None and language.tag != book.tag else None
    return None


def _lang(element: etree._Element) -> str | None:
    tag = (element.get(XML_LANG) or element.get("lang") or "").strip()
    return tag or None


def _targets(starts: dict[TocEntry, int], spine: Sequence[str]) -> dict[str, dict[str | None, int]]:
    """Chapter start points by spine file and anchor.

    A TOC link to a file that is not in the spine (some generators drop its folder) goes to the
    spine file of the same name that is least deep in folders, if exactly one is.
    """
    by_name: dict[str, list[str]] = {}
    for path in sorted(spine, key=lambda path: path.count("/")):
        by_name.setdefault(posixpath.basename(path), []).append(path)
    targets: dict[str, dict[str | None, int]] = {}
    for entry, index in starts.items():
        path = entry.path or ""
        namesakes = by_name.get(posixpath.basename(path), [])
        depths = [name.count("/") for name in namesakes[:2]]
        if path not in spine and namesakes and depths.count(depths[0]) == 1:
            path = namesakes[0]
        targets.setdefault(path, {}).setdefault(entry.fragment, index)
    return targets


def _spine_documents(book: epub.EpubBook,
                     svg: bool = False) -> Iterable[tuple[epub.EpubHtml, bool]]:
    """The XHTML items of the spine (and its SVG pages, with ``svg``), in reading order, with
    their linear flag; not the nav.

    An item the spine lists again is read once (EPUB forbids repeats; a crafted book could
    otherwise make one file be read thousands of times)."""
    seen: set[str] = set()
    for idref, linear in book.spine:
        item = book.get_item_with_id(idref)
        types = _SVG_PAGE_TYPES if svg else _PAGE_TYPES
        if item is None or item.media_type not in types or not item.content:
            continue
        if item.file_name in seen:
            continue
        seen.add(item.file_name)
        if isinstance(item, epub.EpubNav):
            continue
        yield item, str(linear).lower() != "no"


def _guide_matter(book: epub.EpubBook) -> set[str]:
    """Files the EPUB 2 guide marks as cover, title page, copyright, contents or index."""
    paths = set()
    for reference in getattr(book, "guide", []) or []:
        kind = (reference.get("type") or "").lower()
        target = resolve_href("", reference.get("href") or "")
        if target and kind in MATTER_TYPES:
            paths.add(target[0])
    return paths


def _is_matter_file(item: epub.EpubHtml, root: etree._Element) -> bool:
    """Whether a spine file is a cover, title page, copyright page, contents or index."""
    stem = posixpath.splitext(posixpath.basename(item.file_name))[0].lower()
    if stem in _MATTER_STEMS or (item.id or "").lower() in _MATTER_STEMS:
        return True
    body = next(root.iter("{*}body", "body"), root)
    outer = [body] + [child for child in body if isinstance(child.tag, str)][:1]
    return any(epub_types(element) & MATTER_TYPES for element in outer)


def _finish(drafts: Sequence[_Draft]) -> tuple[Chapter, ...]:
    """Drop skipped and empty drafts, fold heading-only ones forward, title and number the rest.

    A part's divider page ("Part One") is read at the start of the chapter after it; a spine
    file with no TOC entry of its own stays a chapter whatever it holds.
    """
    kept = [d for d in drafts if not d.skip and any(b.text.strip() for b in d.blocks)]
    chapters = [Chapter(index=0, title=draft.title or _first_heading(draft.blocks),
                        blocks=tuple(draft.blocks), language=draft.language) for draft in kept]
    untitled = {position for position, draft in enumerate(kept) if not draft.title}
    folded = fold_heading_only(chapters, standalone=untitled)
    return tuple(c if c.title else replace(c, title=f"Chapter {c.index}") for c in folded)


def _first_heading(blocks: Sequence[Block]) -> str:
    return next((b.text for b in blocks if b.kind is BlockKind.HEADING), "")


class _Walker:
    """Turns one XHTML body into blocks, cut into segments at the chapter start points.

    Inline text gathers in a buffer that block-level elements flush; a block takes the kind of
    the nearest element that gives one (a ``p`` inside a ``blockquote`` is a QUOTE).
    """

    def __init__(self, targets: dict[str | None, int], code: str,
                 language: str | None = None, svg_text: bool = False) -> None:
        self._targets = targets
        self._code = code
        self._svg_text = svg_text
        # The file's language: a block in another one (<p lang="fr">) carries its own.
        self._base = resolve_language(language)[0].tag
        self._buffer: list[str | Switch] = []
        self._flat = 0  # >0 while collecting a table cell: blocks do not flush there
        self._segments: list[tuple[int | None, list[Block]]] = []
        self._language: str | None = None  # of the block element being read (xml:lang, lang)
        # The language of the inline element being read (<span xml:lang="fr">), and the one in
        # effect where the buffer starts; None: the block's.
        self._inline: str | None = None
        self._buffer_language: str | None = None
        self._warned: set[str] = set()

    def segments(self, root: etree._Element) -> list[tuple[int | None, list[Block]]]:
        """The (chapter start or None, blocks) runs of the document, in order."""
        ids = {element.get("id") for element in root.iter() if isinstance(element.tag, str)}
        # A start whose anchor is missing from the file falls back to the top of the file.
        top = self._targets.get(None)
        if top is None:
            top = next((i for f, i in self._targets.items() if f not in ids), None)
        self._segments = [(top, [])]
        body = next(root.iter("{*}body", "body"), root)
        self._element(body, BlockKind.PARAGRAPH)
        self._flush(BlockKind.PARAGRAPH)
        return self._segments

    def _element(self, element: etree._Element, kind: BlockKind) -> None:
        tag = local_name(element.tag)
        if tag == "svg" and self._svg_text and not hidden(element):
            self._mark(element, kind)
            self._svg(element, kind)
            return
        if not tag or _skipped(element, tag):
            return
        self._mark(element, kind)
        if tag in ("img", "br", "tr", "pre"):
            self._special(element, tag, kind)
        elif tag in _BLOCK_TAGS and not self._flat:
            inner = _BLOCK_KINDS.get(tag) or kind
            self._flush(kind)
            outer = self._language, self._inline
            # A block inside an inline element in another language is in that language.
            self._language = _lang(element) or self._inline or self._language
            self._inline = self._buffer_language = None
            self._children(element, inner)
            self._flush(inner)
            self._language, self._inline = outer
            self._buffer_language = self._inline
        elif (said := ssml_pronunciation(element, self._inline or self._language or
                                         self._base)) is not None:
            self._buffer.append(said)  # EPUB 3 ssml:ph
        else:
            language = None if self._flat else self._inline_language(element)
            outer = self._inline
            if language is not None:
                self._switch(language)
            self._children(element, kind)
            if language is not None:
                self._switch(outer)
            if tag in _BLOCK_TAGS or tag in ("td", "th"):
                self._buffer.append(" ")

    def _svg(self, svg: etree._Element, kind: BlockKind) -> None:
        """An SVG's text elements, in document order, as one paragraph: a fixed-layout page
        draws a paragraph as one ``<text>`` a line (or a word), each placed by coordinates."""
        if self._flat:
            self._buffer.append(f" {' '.join(svg_lines(svg))} ")
            return
        self._flush(kind)
        text = " ".join(" ".join(svg_lines(svg)).split())
        if text:
            self._emit(Block(BlockKind.PARAGRAPH, text))

    def _inline_language(self, element: etree._Element) -> str | None:
        return declared_language(_lang(element), self._warned)

    def _switch(self, language: str | None) -> None:
        self._inline = language
        self._buffer.append(Switch(language))

    def _special(self, element: etree._Element, tag: str, kind: BlockKind) -> None:
        if tag == "img":
            self._buffer.append(f" {_alt_text(element)} ")
        elif tag == "br":
            self._buffer.append(" ")
        elif tag == "tr":
            self._row(element, kind)
        elif not self._flat:
            self._pre(element, kind)

    def _children(self, element: etree._Element, kind: BlockKind) -> None:
        self._buffer.append(element.text or "")
        for child in element:
            self._element(child, kind)
            self._buffer.append(child.tail or "")

    def _mark(self, element: etree._Element, kind: BlockKind) -> None:
        start = self._targets.get(element.get("id") or element.get("name"))
        if start is None or self._flat or start == self._segments[-1][0]:
            return
        self._flush(kind)
        self._segments.append((start, []))

    def _row(self, row: etree._Element, kind: BlockKind) -> None:
        self._flush(kind)
        cells = []
        for cell in (c for c in row if local_name(c.tag) in ("td", "th")):
            self._flat += 1
            self._children(cell, kind)
            self._flat -= 1
            cells.append(self._take()[0])
        text = ", ".join(cell for cell in cells if cell)
        if text:
            self._emit(Block(BlockKind.TABLE, text))

    def _pre(self, element: etree._Element, kind: BlockKind) -> None:
        self._flush(kind)
        text = "".join(element.itertext()).strip("\n")
        if self._code == "announce":
            self._emit(Block(BlockKind.PARAGRAPH, CODE_NOTICE))
        elif self._code == "read" and text.strip():
            self._emit(Block(BlockKind.CODE, text))

    def _take(self) -> tuple[str, tuple[LanguageRun, ...]]:
        """The buffer's text (whitespace collapsed) and its runs in other languages."""
        items, self._buffer = self._buffer, []
        start, self._buffer_language = self._buffer_language, self._inline
        if start is None and all(isinstance(item, str) for item in items):
            return " ".join("".join(items).split()), ()  # type: ignore[arg-type]
        return collapse(items, start)

    def _flush(self, kind: BlockKind) -> None:
        if self._flat:
            return
        text, runs = self._take()
        if text:
            self._emit(Block(kind, text, runs=runs or None))

    def _emit(self, block: Block) -> None:
        own = self._base
        if self._language is not None:
            language, unknown = resolve_language(self._language)
            if not unknown and language.tag != self._base:  # one Kokoro has no voice for: as around
                block, own = replace(block, language=self._language), language.tag
        if block.runs:  # a phrase in the block's own language is no run
            block = replace(block, runs=foreign_runs(block.runs, own))
        self._segments[-1][1].append(block)


def _skipped(element: etree._Element, tag: str) -> bool:
    """Elements that are never read: see _SKIP_TAGS/_SKIP_TYPES/_SKIP_ROLES, and note markers."""
    if tag in _SKIP_TAGS or element.get("hidden") is not None:
        return True
    if element.get("aria-hidden") == "true" or element.get("role") in _SKIP_ROLES:
        return True
    if epub_types(element) & _SKIP_TYPES:
        return True
    # Footnote marks (<sup>) and paragraph numbers (<label>, as SiSU writes them) link to anchors.
    return tag in ("sup", "label") and _is_note_marker(element)


def _is_note_marker(mark: etree._Element) -> bool:
    """An element holding nothing but a link to an anchor: a note mark or paragraph number."""
    children = [child for child in mark if isinstance(child.tag, str)]
    if len(children) != 1 or local_name(children[0].tag) != "a":
        return False
    link = children[0]
    outside = (mark.text or "") + (link.tail or "")
    return not outside.strip() and "#" in (link.get("href") or "")


def _alt_text(image: etree._Element) -> str:
    """The image's alt text if it describes the picture (not empty, a file name or "image")."""
    alt = " ".join((image.get("alt") or "").split())
    if not alt or alt.lower() in _EMPTY_ALTS or _FILE_NAME.fullmatch(alt) or "/" in alt:
        return ""
    return alt
