"""The table of contents of an EPUB: the EPUB 3 nav document, else the EPUB 2 NCX.

Its entries say where chapters start; :func:`chapter_entries` decides which entries are chapters
(entries that only group chapters, such as one wrapping the whole book or parts, give way to
their children). The landmarks say which files are front or back matter.

What the pages are, where the spine has no text: :func:`fixed_layout`, :func:`svg_lines` (the
text a fixed-layout page draws in SVG) and :func:`why_no_text`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import lxml.etree as etree
from ebooklib import epub

from .epub_archive import Book, parse_xhtml
from .plaintext import is_part_label

__all__ = [
    "MATTER_TITLES", "MATTER_TYPES", "TocEntry", "chapter_entries", "epub_types", "fixed_layout",
    "hidden", "local_name", "read_toc", "resolve_href", "svg_lines", "unread_parts", "why_no_text",
]

_OPS_TYPE = "{http://www.idpf.org/2007/ops}type"
_XHTML = "application/xhtml+xml"
_NCX = "{http://www.daisy.org/z3986/2005/ncx/}"
# Files (by epub:type, landmark/guide type or TOC title) that are front or back matter.
MATTER_TYPES = frozenset(
    "cover titlepage halftitlepage title-page copyright-page toc index colophon".split()
)
MATTER_TITLES = frozenset(
    ["cover", "title page", "copyright", "copyright page", "contents", "table of contents", "index"]
)
# In an SVG: what is never shown, inside text elements or around them; shapes, which is what
# text turned into outlines becomes.
_SVG_UNREAD = frozenset("title desc metadata defs style script symbol clipPath mask pattern "
                        "marker foreignObject".split())
_SVG_SHAPES = frozenset("path polygon polyline".split())
_PICTURES = frozenset("img image picture".split())


@dataclass(frozen=True)
class TocEntry:
    """One TOC entry: its title, the file it points at (relative to the OPF) and the anchor."""

    title: str
    path: str | None
    fragment: str | None
    children: tuple[TocEntry, ...] = ()


def local_name(tag: object) -> str:
    """An element's tag without its namespace, lower case ("" for comments and the like)."""
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def epub_types(element: etree._Element) -> set[str]:
    """The epub:type tokens of an element (namespaced in XML, a plain attribute in HTML)."""
    value = element.get(_OPS_TYPE) or element.get("epub:type") or ""
    return {token.split(":")[-1] for token in value.split()}


def resolve_href(base: str, href: str) -> tuple[str, str | None] | None:
    """(path relative to the OPF, anchor) for an href in the file ``base``; None if external."""
    try:
        parts = urlsplit(href)
    except ValueError:  # "http://[x": an address urllib cannot split is no file of the book
        return None
    if parts.scheme or parts.netloc:
        return None
    target = unquote(parts.path)
    path = posixpath.normpath(posixpath.join(posixpath.dirname(base), target)) if target else base
    return path, unquote(parts.fragment) or None


def read_toc(book: epub.EpubBook) -> tuple[tuple[TocEntry, ...], set[str]]:
    """The TOC entries (EPUB 3 nav, else NCX) and the files the landmarks mark as matter."""
    for item in book.get_items():
        if isinstance(item, epub.EpubNav) and item.content:  # an absent one: see unread_parts
            root = parse_xhtml(item.content)
            entries = _nav_entries(root, item.file_name)
            if entries:
                return entries, _landmark_matter(root, item.file_name)
    for item in book.get_items():
        if item.media_type == "application/x-dtbncx+xml":
            root = parse_xhtml(item.content)
            nav_map = root.find(f"{_NCX}navMap")
            if nav_map is not None:
                return _ncx_entries(nav_map, item.file_name), set()
    return (), set()


def _nav_lists(root: etree._Element, kind: str) -> Iterable[etree._Element]:
    for nav in root.iter("{*}nav", "nav"):
        if kind in epub_types(nav) or nav.get("role") == f"doc-{kind}":
            yield from (child for child in nav if local_name(child.tag) == "ol")


def _nav_entries(root: etree._Element, base: str) -> tuple[TocEntry, ...]:
    ol = next(iter(_nav_lists(root, "toc")), None)
    return _li_entries(ol, base) if ol is not None else ()


def _li_entries(ol: etree._Element, base: str) -> tuple[TocEntry, ...]:
    entries = []
    for li in (child for child in ol if local_name(child.tag) == "li"):
        label = next((c for c in li if local_name(c.tag) in ("a", "span")), None)
        sub = next((c for c in li if local_name(c.tag) == "ol"), None)
        href = label.get("href") if label is not None else None
        title = " ".join("".join(label.itertext()).split()) if label is not None else ""
        path, fragment = (href and resolve_href(base, href)) or (None, None)
        children = _li_entries(sub, base) if sub is not None else ()
        entries.append(TocEntry(title, path, fragment, children))
    return tuple(entries)


def _ncx_entries(parent: etree._Element, base: str) -> tuple[TocEntry, ...]:
    entries = []
    for point in parent.findall(f"{_NCX}navPoint"):
        label = point.find(f"{_NCX}navLabel/{_NCX}text")
        content = point.find(f"{_NCX}content")
        src = content.get("src") if content is not None else None
        title = " ".join((label.text or "").split()) if label is not None else ""
        path, fragment = (src and resolve_href(base, src)) or (None, None)
        entries.append(TocEntry(title, path, fragment, _ncx_entries(point, base)))
    return tuple(entries)


def _landmark_matter(root: etree._Element, base: str) -> set[str]:
    paths = set()
    for ol in _nav_lists(root, "landmarks"):
        for link in ol.iter("{*}a", "a"):
            target = resolve_href(base, link.get("href", ""))
            if target and epub_types(link) & MATTER_TYPES:
                paths.add(target[0])
    return paths


def chapter_entries(entries: Sequence[TocEntry]) -> tuple[list[TocEntry], dict[TocEntry, int]]:
    """The entries that become chapters, and each start point (entry) mapped to its chapter.

    Top-level entries are chapters and their sub-entries stay inside them, except for entries that
    only group chapters: a lone top-level entry (a book wrapping everything, with at most contents
    or cover entries beside it) and parts ("Part One", "Volume II") give way to their children.
    A group's own start then opens its first child's chapter.
    """
    level = _promote(entries)
    first_child: dict[TocEntry, TocEntry] = {}
    while groups := _grouping_entries(level):
        unwrapped: list[TocEntry] = []
        for entry in level:
            if entry in groups:
                children = _promote(entry.children)
                first_child[entry] = children[0]
                unwrapped.extend(children)
            else:
                unwrapped.append(entry)
        level = unwrapped
    starts = {entry: index for index, entry in enumerate(level)}
    for group, child in first_child.items():
        while child not in starts:
            child = first_child[child]
        starts.setdefault(group, starts[child])
    return level, starts


def _grouping_entries(level: Sequence[TocEntry]) -> set[TocEntry]:
    """The entries of a TOC level that only group chapters (see :func:`chapter_entries`)."""
    body = [entry for entry in level if entry.title.lower() not in MATTER_TITLES]
    nested = [entry for entry in body if _promote(entry.children)]
    if len(body) == 1 and nested:
        return set(nested)
    if nested and all(is_part_label(entry.title) for entry in nested):
        return set(nested)
    return set()


def _promote(entries: Sequence[TocEntry]) -> list[TocEntry]:
    """Entries that point somewhere; a group label without a target gives way to its children."""
    out: list[TocEntry] = []
    for entry in entries:
        out.extend([entry] if entry.path else _promote(entry.children))
    return out


def unread_parts(book: Book, level: Sequence[TocEntry], reached: set[int]) -> list[str]:
    """What the book names but has nothing to read at, one phrase each: a nav document, spine
    entries and spine files missing from the manifest or the archive (or outside it, or empty),
    and chapters of the TOC (``level``, from :func:`chapter_entries`) that start nowhere
    (``reached``: the indexes of those that do), whose text, if any, runs on in the chapter
    before."""
    titles = {entry.path: entry.title for entry in reversed(level)}
    navs = [item for item in book.get_items() if isinstance(item, epub.EpubNav)]
    problems = [f"the contents ({_shown(book, nav.file_name)}) {book.why_unread(nav.file_name)}: "
                f"chapters follow {'the NCX' if level else 'the spine'}"
                for nav in navs if not nav.content]
    # Files already named, or the contents page itself: a TOC entry pointing there says nothing.
    told = {posixpath.normpath(nav.file_name) for nav in navs}
    problems += _unread_spine(book, titles, told)
    items = {posixpath.normpath(item.file_name): item for item in book.get_items()}
    spine = {posixpath.normpath(item.file_name) for idref, _ in book.spine
             if (item := book.get_item_with_id(idref)) is not None}
    for index, entry in enumerate(level):
        if index in reached or entry.path in told:
            continue
        where = _shown(book, entry.path or "") + (f"#{entry.fragment}" if entry.fragment else "")
        why = _missing(book, entry, items.get(entry.path or ""), spine, level[:index])
        problems.append(f'the contents entry "{entry.title}" points to {where}, which {why}; '
                        "no chapter starts there")
    return problems


def _unread_spine(book: Book, titles: dict[str | None, str], told: set[str]) -> list[str]:
    """Spine entries the manifest lacks, and spine files the archive lacks (or outside it,
    or empty): each named once, by its TOC title too where it has one; adds them to ``told``."""
    problems, unknown = [], set()
    for idref, _ in book.spine:
        item = book.get_item_with_id(idref)
        if item is None and idref not in unknown:
            unknown.add(idref)
            problems.append(f'the spine names "{idref}", which the manifest does not have: '
                            "skipped")
        elif item is not None and item.media_type == _XHTML and not item.content:
            path = posixpath.normpath(item.file_name)
            if path not in told:
                told.add(path)
                title = titles.get(path)
                shown = _shown(book, item.file_name)
                label = f'chapter "{title}" ({shown})' if title else shown
                problems.append(f"{label} {book.why_unread(item.file_name)}: skipped")
    return problems


def _missing(book: Book, entry: TocEntry, item: epub.EpubItem | None, spine: set[str],
             before: Sequence[TocEntry]) -> str:
    """Why a TOC entry's chapter starts nowhere, after "which"."""
    if book.archive_path(entry.path or "") is None:
        return "is outside the archive"
    if item is None:
        return "the book does not have"
    if not item.content:
        return book.why_unread(item.file_name)
    if entry.path not in spine:
        return "is not in the spine (the reading order)"
    same = next((e for e in before if (e.path, e.fragment) == (entry.path, entry.fragment)), None)
    return f'is where "{same.title}" starts' if same else "has no element with that id"


def _shown(book: Book, path: str) -> str:
    """A file of the book as a message names it: its archive path, else as the book wrote it."""
    return book.archive_path(path) or path


# --- what the pages are -----------------------------------------------------------------------


def fixed_layout(book: epub.EpubBook) -> bool:
    """Whether the book is laid out as fixed pages: EPUB 3's ``rendition:layout`` of
    ``pre-paginated``, or the older ``<meta name="fixed-layout" content="true">``."""
    metadata = (getattr(book, "metadata", None) or {}).get(epub.NAMESPACES["OPF"], {})
    for name, values in metadata.items():
        for text, attrs in values:
            if attrs.get("property") == "rendition:layout" and (text or "").strip() \
                    == "pre-paginated":
                return True
            if name == "fixed-layout" and attrs.get("content", "").strip().lower() == "true":
                return True
    return False


def hidden(element: etree._Element) -> bool:
    """Whether an element says it is not shown (or not to assistive technology)."""
    return element.get("aria-hidden") == "true" or element.get("hidden") is not None \
        or element.get("display") == "none" or element.get("visibility") == "hidden"


def svg_lines(svg: etree._Element) -> list[str]:
    """The text of each ``<text>`` in an SVG, in document order (its ``<tspan>`` and
    ``<textPath>`` runs included), leaving out what is never shown: titles, descriptions,
    definitions, hidden elements."""
    lines, stack = [], [svg]
    while stack:  # iteratively: the archive limits bound the depth, not the stack
        element = stack.pop()
        tag = local_name(element.tag)
        if not tag or tag in _SVG_UNREAD or hidden(element):
            continue
        if tag == "text":
            lines.append(" ".join("".join(_shown_text(element)).split()))
        else:
            stack.extend(reversed([child for child in element if isinstance(child.tag, str)]))
    return [line for line in lines if line]


def _shown_text(element: etree._Element) -> Iterable[str]:
    yield element.text or ""
    for child in element:
        tag = local_name(child.tag)
        if tag and tag not in _SVG_UNREAD and not hidden(child):
            # A run placed anew (x or y) starts a line or a word of its own: a space before it.
            yield " " if child.get("x") is not None or child.get("y") is not None else ""
            yield from _shown_text(child)
        yield child.tail or ""


def why_no_text(pages: Iterable[etree._Element]) -> str | None:
    """Why a book whose spine (``pages``, parsed) gives no text has none, in a few words after
    "has no text to read:", where the pages show it: pictures (``<img>``, SVG ``<image>``) or
    drawings (SVG shapes: text turned into outlines cannot be read). None otherwise."""
    names: set[str] = set()
    for root in pages:
        names |= {local_name(e.tag) for e in root.iter() if isinstance(e.tag, str)}
    if names & _PICTURES:
        return ("its pages are images with no text (a scanned or fixed-layout book needs its "
                "text as text, not pictures)")
    if names & _SVG_SHAPES:
        return "its pages are drawings with no text (text turned into SVG outlines cannot be read)"
    return None
