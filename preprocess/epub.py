"""EPUB 2/3 to :class:`Document`: chapters from the table of contents, text from the XHTML spine.

Chapters start where the top-level TOC entries point (an anchor inside a file or a whole file) and
run until the next one, in spine order; spine files missing from the TOC join the chapter before
them. Entries that only group chapters (one entry wrapping the book, or parts) give way to their
children, and a part's divider page is read at the start of its first chapter. Front and back matter (cover, title page, copyright, contents, index), notes, note
references and page-break markers are not read by default.
"""

from __future__ import annotations

import html.entities
import posixpath
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import ebooklib
import lxml.etree as etree
import lxml.html
from ebooklib import epub

from .document import CODE_NOTICE, CODE_POLICIES, Block, BlockKind, Chapter, Cover, Document
from .errors import InputError, ParseError
from .plaintext import is_part_label

__all__ = ["LIMITS", "ArchiveLimits", "parse_epub"]


@dataclass(frozen=True)
class ArchiveLimits:
    """What an EPUB may hold. Checked from the ZIP directory before anything is inflated, so a
    decompression bomb is refused before it costs memory or time (ebooklib keeps every
    manifest item in memory)."""

    entries: int = 10_000
    entry_bytes: int = 100 << 20  # one file, inflated
    total_bytes: int = 500 << 20  # all files, inflated
    ratio: int = 100  # inflated / compressed size, for files of at least ``ratio_from`` bytes
    ratio_from: int = 1 << 20
    depth: int = 250  # element nesting in one XHTML file (libxml2 stops at 256 and drops text)


LIMITS = ArchiveLimits()

_OPS_TYPE = "{http://www.idpf.org/2007/ops}type"
_NCX = "{http://www.daisy.org/z3986/2005/ncx/}"

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
# Files (by epub:type, landmark/guide type, file stem or TOC title) that are front or back matter.
_MATTER_TYPES = frozenset(
    "cover titlepage halftitlepage title-page copyright-page toc index colophon".split()
)
_MATTER_STEMS = frozenset("cover titlepage title-page copyright copyright-page".split())
_MATTER_TITLES = frozenset(
    ["cover", "title page", "copyright", "copyright page", "contents", "table of contents", "index"]
)
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
_COVER_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
# Failures of a damaged or mislabelled archive, from zipfile, ebooklib and lxml. ebooklib does not
# check what it reads, so a missing OPF element surfaces as AttributeError, TypeError or KeyError.
_READ_ERRORS = (
    epub.EpubException,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    etree.LxmlError,
    KeyError,
    ValueError,
    AttributeError,
    TypeError,
    IndexError,
    EOFError,
    zlib.error,  # a damaged deflate stream
    NotImplementedError,  # zipfile: a compression method it cannot inflate
    RuntimeError,  # zipfile: an encrypted entry (RecursionError too, from a deep tree)
)
# Compression methods zipfile can inflate: stored, deflated, bzip2, LZMA.
_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
# An entity declaration in any encoding libxml2 detects by itself (UTF-8 and ASCII supersets,
# UTF-16 and UTF-32 of either byte order). Entities are how XML reaches files and the network or
# expands a few bytes into gigabytes; no EPUB needs them, so a book declaring one is refused.
_ENTITY = re.compile(
    b"|".join(re.escape("<!ENTITY".encode(codec)) for codec in
              ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")),
    re.IGNORECASE,
)
_SCAN_BLOCK = 1 << 20


@dataclass(frozen=True)
class _Entry:
    """One TOC entry: its title, the file it points at (relative to the OPF) and the anchor."""

    title: str
    path: str | None
    fragment: str | None
    children: tuple[_Entry, ...] = ()


@dataclass
class _Draft:
    """A chapter being assembled (mutable only while the spine is walked)."""

    title: str | None
    skip: bool
    start: int | None = None
    blocks: list[Block] = field(default_factory=list)


def parse_epub(path: Path, *, keep_front_matter: bool = False, code: str = "skip") -> Document:
    """Parse an EPUB 2 or 3 file.

    ``keep_front_matter`` also reads what comes before the first TOC chapter and the cover, title,
    copyright and index pages. ``code`` is "skip", "announce" or "read" for ``pre`` blocks.
    """
    if code not in CODE_POLICIES:
        raise ValueError(f"code policy must be one of {', '.join(CODE_POLICIES)}, not {code!r}")
    path = Path(path)
    book = _read_book(path)
    try:
        chapters = _chapters(book, keep_front_matter, code)
        return Document(
            title=_meta(book, "title") or path.stem,
            chapters=chapters,
            authors=tuple(value for value, _ in book.get_metadata("DC", "creator") if value),
            language=_meta(book, "language") or "en",
            publisher=_meta(book, "publisher"),
            date=_meta(book, "date"),
            cover=_cover(book),
            lexicons=_lexicons(book),
        )
    except RecursionError:
        raise ParseError(f"{path.name} is not a readable EPUB: its elements nest too deeply") from None
    except _READ_ERRORS as exc:
        raise ParseError(f"{path.name} is not a readable EPUB: {_reason(exc)}") from None


class _LenientReader(epub.EpubReader):
    """ebooklib's reader, except that a manifest item missing from the archive reads as empty.

    Real books list files that are not there (a stray image, or "chapter.xhtml#anchor" as an item
    of its own); reading systems skip such items, so we do too instead of refusing the book.
    """

    _in_manifest = False

    def _load_manifest(self) -> None:
        self._in_manifest = True
        try:
            super()._load_manifest()
        finally:
            self._in_manifest = False

    def read_file(self, name: str) -> bytes:
        try:
            return super().read_file(name)
        except KeyError:
            if self._in_manifest:
                return b""
            raise


def _read_book(path: Path) -> epub.EpubBook:
    """Check the archive (limits, entities, package), then let ebooklib read it.

    ebooklib gets the open file, not the name: given a directory it would read files named by
    the book from the disk, ``..`` included.
    """
    try:
        with open(path, "rb") as file:
            _check_archive(file, path.name)
            file.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ebooklib warns about its own future defaults
                reader = _LenientReader(file, options={"ignore_ncx": True})
                book = reader.load()
                reader.process()
            return book
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except RecursionError:
        raise ParseError(f"{path.name} is not a readable EPUB: its XML nests too deeply") from None
    except _READ_ERRORS as exc:
        raise ParseError(f"{path.name} is not a readable EPUB: {_reason(exc)}") from None


def _check_archive(file: BinaryIO, name: str, limits: ArchiveLimits = LIMITS) -> None:
    """Refuse what would cost unbounded memory or time, or reach outside the book: too many or
    too large files (as the ZIP directory declares them; zipfile never inflates past that),
    compression ratios only a bomb has, encrypted entries, entity declarations; and name what a
    package lacks (container, package document, manifest, spine) in plain words."""
    with zipfile.ZipFile(file) as archive:
        infos = archive.infolist()
        if len(infos) > limits.entries:
            raise ParseError(f"{name} has too many files to be a book ({len(infos)}; at most "
                             f"{limits.entries})")
        for info in infos:
            _check_entry(info, name, limits)
        total = sum(info.file_size for info in infos)
        if total > limits.total_bytes:
            raise ParseError(f"{name} is too large to read safely: its files inflate to "
                             f"{_mb(total)} MB in all (at most {_mb(limits.total_bytes)} MB)")
        for info in infos:
            _check_ratio(info, name, limits)
        for info in infos:
            _scan_for_entities(archive, info, name)
        _check_package(archive, name)


def _check_entry(info: zipfile.ZipInfo, name: str, limits: ArchiveLimits) -> None:
    entry = _printable(info.filename)
    if info.flag_bits & 0x1:
        raise ParseError(f"{name} is not a readable EPUB: {entry} is encrypted")
    if info.compress_type not in _METHODS:
        raise ParseError(f"{name} is not a readable EPUB: {entry} uses compression method "
                         f"{info.compress_type}, which EPUB does not allow")
    if info.file_size > limits.entry_bytes:
        raise ParseError(f"{name} is too large to read safely: {entry} inflates to "
                         f"{_mb(info.file_size)} MB (at most {_mb(limits.entry_bytes)} MB a file)")


def _check_ratio(info: zipfile.ZipInfo, name: str, limits: ArchiveLimits) -> None:
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= limits.ratio_from and ratio > limits.ratio:
        raise ParseError(f"{name} looks like a decompression bomb: {_printable(info.filename)} "
                         f"is compressed {ratio:.0f} to 1 (at most {limits.ratio} to 1)")


def _scan_for_entities(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> None:
    """Read one entry (bounded by the checks above) looking for an entity declaration."""
    tail = b""
    with archive.open(info) as entry:
        while block := entry.read(_SCAN_BLOCK):
            if _ENTITY.search(tail + block):
                raise ParseError(f"{name} declares XML entities in {_printable(info.filename)}, "
                                 "which are not read (they can reach files or the network)")
            tail = block[-64:]


def _check_package(archive: zipfile.ZipFile, name: str) -> None:
    """The container names a package document that exists and has a manifest and a spine."""
    def refuse(reason: str) -> ParseError:
        return ParseError(f"{name} is not a readable EPUB: {reason}")

    try:
        container = _package_xml(archive.read("META-INF/container.xml"))
    except KeyError:
        raise refuse("it has no META-INF/container.xml") from None
    if container is None:
        raise refuse("META-INF/container.xml is not XML")
    rootfile = next((r for r in container.iter("{*}rootfile") if r.get("full-path")), None)
    if rootfile is None:
        raise refuse("META-INF/container.xml names no package document")
    opf_name = rootfile.get("full-path", "")
    try:
        opf = _package_xml(archive.read(posixpath.normpath(opf_name)))
    except KeyError:
        raise refuse(f"its package document {_printable(opf_name)} is missing") from None
    if opf is None:
        raise refuse(f"its package document {_printable(opf_name)} is not XML")
    for part in ("metadata", "manifest", "spine"):
        if opf.find(f"{{*}}{part}") is None:
            raise refuse(f"its package document has no <{part}>")


def _package_xml(data: bytes) -> etree._Element | None:
    """Container or package XML the way ebooklib reads it (recovering), or None."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             recover=True, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return None


def _mb(size: int) -> int:
    return -(-size // (1 << 20))


def _printable(name: str) -> str:
    """An entry name fit for a one-line message (control characters shown escaped)."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "msg", None) or exc).split())
    return text or type(exc).__name__


def _meta(book: epub.EpubBook, name: str) -> str | None:
    values = [" ".join(value.split()) for value, _ in book.get_metadata("DC", name) if value]
    return values[0] if values and values[0] else None


def _cover(book: epub.EpubBook) -> Cover | None:
    """The cover image: the EPUB 3 cover-image item, else the EPUB 2 <meta name="cover">."""
    items = list(book.get_items_of_type(ebooklib.ITEM_COVER))
    for _, attrs in book.get_metadata("OPF", "cover"):
        item = book.get_item_with_id(attrs.get("content", ""))
        if item is not None:
            items.append(item)
    for item in items:
        if item.media_type in _COVER_TYPES and item.content.startswith(_COVER_MAGIC[item.media_type]):
            # What claims to be a JPEG or PNG but is not would only fail the muxer hours later.
            return Cover(data=item.content, media_type=item.media_type)
    return None


def _lexicons(book: epub.EpubBook) -> tuple[tuple[str, bytes], ...]:
    return tuple(
        (posixpath.basename(item.file_name), item.content)
        for item in book.get_items()
        if item.media_type == "application/pls+xml"
    )


def _parse_xml(data: bytes) -> etree._Element:
    """Parse XHTML/XML without entities or network; fall back to the HTML parser for tag soup.

    The fallback also takes what libxml2's XML parser stops at (a text run over 10 MB, more
    than 256 levels of nesting), which it would otherwise return with the text missing; the
    archive limits bound the size, and a file nesting deeper than ``LIMITS.depth`` is refused.
    """
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True,
        huge_tree=False,
    )
    data = _html_entities_as_numbers(data)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        # Not well-formed (often an HTML entity such as &nbsp;): read it the way a browser would.
        html = lxml.html.HTMLParser(no_network=True, huge_tree=True, remove_comments=True)
        root = lxml.html.document_fromstring(data, parser=html)
    if _depth(root) > LIMITS.depth:
        raise ValueError(f"an XHTML file nests elements more than {LIMITS.depth} levels deep")
    return root


_NAMED_ENTITY = re.compile(rb"&([A-Za-z][A-Za-z0-9]{1,31});")
_XML_ENTITIES = {b"amp", b"lt", b"gt", b"quot", b"apos"}


def _html_entities_as_numbers(data: bytes) -> bytes:
    """HTML's named entities (``&nbsp;``, ``&mdash;``...) as numeric character references.

    EPUB 2 books declare the XHTML DTD and use its entities; with the DTD never loaded (no
    file or network access), libxml2 keeps them as unresolved references that text extraction
    drops, gluing words together ("a&nbsp;b" read as "ab"). Numeric references need no DTD."""
    def number(match: re.Match[bytes]) -> bytes:
        name = match.group(1)
        text = None if name in _XML_ENTITIES else html.entities.html5.get(name.decode() + ";")
        if text is None:
            return match.group(0)
        return "".join(f"&#{ord(ch)};" for ch in text).encode("ascii")

    return _NAMED_ENTITY.sub(number, data) if b"&" in data else data


def _depth(root: etree._Element) -> int:
    """How deep elements nest under ``root`` (iteratively: a deep tree is what is checked)."""
    deepest, stack = 0, [(root, 0)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in element)
    return deepest


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _types(element: etree._Element) -> set[str]:
    """The epub:type tokens of an element (namespaced in XML, a plain attribute in HTML)."""
    value = element.get(_OPS_TYPE) or element.get("epub:type") or ""
    return {token.split(":")[-1] for token in value.split()}


def _resolve(base: str, href: str) -> tuple[str, str | None] | None:
    """(path relative to the OPF, anchor) for an href in the file ``base``; None if external."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        return None
    target = unquote(parts.path)
    path = posixpath.normpath(posixpath.join(posixpath.dirname(base), target)) if target else base
    return path, unquote(parts.fragment) or None


# --- table of contents ------------------------------------------------------------------------


def _toc(book: epub.EpubBook) -> tuple[tuple[_Entry, ...], set[str]]:
    """The TOC entries (EPUB 3 nav, else NCX) and the files the landmarks mark as matter."""
    for item in book.get_items():
        if isinstance(item, epub.EpubNav):
            root = _parse_xml(item.content)
            entries = _nav_entries(root, item.file_name)
            if entries:
                return entries, _landmark_matter(root, item.file_name)
    for item in book.get_items():
        if item.media_type == "application/x-dtbncx+xml":
            root = _parse_xml(item.content)
            nav_map = root.find(f"{_NCX}navMap")
            if nav_map is not None:
                return _ncx_entries(nav_map, item.file_name), set()
    return (), set()


def _nav_lists(root: etree._Element, kind: str) -> Iterable[etree._Element]:
    for nav in root.iter("{*}nav", "nav"):
        if kind in _types(nav) or nav.get("role") == f"doc-{kind}":
            yield from (child for child in nav if _local(child.tag) == "ol")


def _nav_entries(root: etree._Element, base: str) -> tuple[_Entry, ...]:
    ol = next(iter(_nav_lists(root, "toc")), None)
    return _li_entries(ol, base) if ol is not None else ()


def _li_entries(ol: etree._Element, base: str) -> tuple[_Entry, ...]:
    entries = []
    for li in (child for child in ol if _local(child.tag) == "li"):
        label = next((c for c in li if _local(c.tag) in ("a", "span")), None)
        sub = next((c for c in li if _local(c.tag) == "ol"), None)
        href = label.get("href") if label is not None else None
        title = " ".join("".join(label.itertext()).split()) if label is not None else ""
        path, fragment = (href and _resolve(base, href)) or (None, None)
        children = _li_entries(sub, base) if sub is not None else ()
        entries.append(_Entry(title, path, fragment, children))
    return tuple(entries)


def _ncx_entries(parent: etree._Element, base: str) -> tuple[_Entry, ...]:
    entries = []
    for point in parent.findall(f"{_NCX}navPoint"):
        label = point.find(f"{_NCX}navLabel/{_NCX}text")
        content = point.find(f"{_NCX}content")
        src = content.get("src") if content is not None else None
        title = " ".join((label.text or "").split()) if label is not None else ""
        path, fragment = (src and _resolve(base, src)) or (None, None)
        entries.append(_Entry(title, path, fragment, _ncx_entries(point, base)))
    return tuple(entries)


def _landmark_matter(root: etree._Element, base: str) -> set[str]:
    paths = set()
    for ol in _nav_lists(root, "landmarks"):
        for link in ol.iter("{*}a", "a"):
            target = _resolve(base, link.get("href", ""))
            if target and _types(link) & _MATTER_TYPES:
                paths.add(target[0])
    return paths


def _chapter_entries(entries: Sequence[_Entry]) -> tuple[list[_Entry], dict[_Entry, int]]:
    """The entries that become chapters, and each start point (entry) mapped to its chapter.

    Top-level entries are chapters and their sub-entries stay inside them, except for entries that
    only group chapters: a lone top-level entry (a book wrapping everything, with at most contents
    or cover entries beside it) and parts ("Part One", "Volume II") give way to their children.
    A group's own start then opens its first child's chapter.
    """
    level = _promote(entries)
    first_child: dict[_Entry, _Entry] = {}
    while groups := _grouping_entries(level):
        unwrapped: list[_Entry] = []
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


def _grouping_entries(level: Sequence[_Entry]) -> set[_Entry]:
    """The entries of a TOC level that only group chapters (see :func:`_chapter_entries`)."""
    body = [entry for entry in level if entry.title.lower() not in _MATTER_TITLES]
    nested = [entry for entry in body if _promote(entry.children)]
    if len(body) == 1 and nested:
        return set(nested)
    if nested and all(is_part_label(entry.title) for entry in nested):
        return set(nested)
    return set()


def _promote(entries: Sequence[_Entry]) -> list[_Entry]:
    """Entries that point somewhere; a group label without a target gives way to its children."""
    out: list[_Entry] = []
    for entry in entries:
        out.extend([entry] if entry.path else _promote(entry.children))
    return out


# --- spine walk -------------------------------------------------------------------------------


def _chapters(book: epub.EpubBook, keep_front_matter: bool, code: str) -> tuple[Chapter, ...]:
    """Walk the spine, cutting chapters at the TOC's start points."""
    entries, landmark_matter = _toc(book)
    level, starts = _chapter_entries(entries)
    spine = list(_spine_documents(book))
    targets = _targets(starts, [posixpath.normpath(item.file_name) for item, _ in spine])
    matter_paths = landmark_matter | _guide_matter(book)
    drafts: list[_Draft] = []
    for item, linear in spine:
        file_targets = targets.get(posixpath.normpath(item.file_name), {})
        root = _parse_xml(item.content)
        is_matter = item.file_name in matter_paths or _is_matter_file(item, root)
        if not file_targets and (not linear or (is_matter and not keep_front_matter)):
            continue
        if not level:
            # No usable TOC: every spine file is a chapter of its own.
            drafts.append(_Draft(None, is_matter and not keep_front_matter))
        for start, blocks in _Walker(file_targets, code).segments(root):
            if start is not None and (not drafts or drafts[-1].start != start):
                title = level[start].title
                skip = (is_matter or title.lower() in _MATTER_TITLES) and not keep_front_matter
                drafts.append(_Draft(title, skip, start))
            elif not drafts:
                drafts.append(_Draft(None, not keep_front_matter))
            drafts[-1].blocks.extend(blocks)
    return _finish(drafts)


def _targets(starts: dict[_Entry, int], spine: Sequence[str]) -> dict[str, dict[str | None, int]]:
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


def _spine_documents(book: epub.EpubBook) -> Iterable[tuple[epub.EpubHtml, bool]]:
    """The XHTML items of the spine, in reading order, with their linear flag; not the nav.

    An item the spine lists again is read once (EPUB forbids repeats; a crafted book could
    otherwise make one file be read thousands of times)."""
    seen: set[str] = set()
    for idref, linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.media_type != "application/xhtml+xml" or not item.content:
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
        target = _resolve("", reference.get("href") or "")
        if target and kind in _MATTER_TYPES:
            paths.add(target[0])
    return paths


def _is_matter_file(item: epub.EpubHtml, root: etree._Element) -> bool:
    """Whether a spine file is a cover, title page, copyright page, contents or index."""
    stem = posixpath.splitext(posixpath.basename(item.file_name))[0].lower()
    if stem in _MATTER_STEMS or (item.id or "").lower() in _MATTER_STEMS:
        return True
    body = next(root.iter("{*}body", "body"), root)
    outer = [body] + [child for child in body if isinstance(child.tag, str)][:1]
    return any(_types(element) & _MATTER_TYPES for element in outer)


def _finish(drafts: Sequence[_Draft]) -> tuple[Chapter, ...]:
    """Drop skipped and empty drafts, fold heading-only ones forward, title and number the rest."""
    kept = [d for d in drafts if not d.skip and any(b.text.strip() for b in d.blocks)]
    chapters: list[Chapter] = []
    carried: list[Block] = []
    for position, draft in enumerate(kept):
        heading_only = all(b.kind is BlockKind.HEADING for b in draft.blocks)
        if draft.title and heading_only and position < len(kept) - 1:
            # A part's divider page ("Part One") is read at the start of the chapter after it.
            carried.extend(draft.blocks)
            continue
        index = len(chapters) + 1
        heading = next((b.text for b in draft.blocks if b.kind is BlockKind.HEADING), None)
        title = draft.title or heading or f"Chapter {index}"
        chapters.append(Chapter(index=index, title=title, blocks=(*carried, *draft.blocks)))
        carried = []
    return tuple(chapters)


class _Walker:
    """Turns one XHTML body into blocks, cut into segments at the chapter start points.

    Inline text gathers in a buffer that block-level elements flush; a block takes the kind of
    the nearest element that gives one (a ``p`` inside a ``blockquote`` is a QUOTE).
    """

    def __init__(self, targets: dict[str | None, int], code: str) -> None:
        self._targets = targets
        self._code = code
        self._buffer: list[str] = []
        self._flat = 0  # >0 while collecting a table cell: blocks do not flush there
        self._segments: list[tuple[int | None, list[Block]]] = []

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
        tag = _local(element.tag)
        if not tag or _skipped(element, tag):
            return
        self._mark(element, kind)
        if tag in ("img", "br", "tr", "pre"):
            self._special(element, tag, kind)
        elif tag in _BLOCK_TAGS and not self._flat:
            inner = _BLOCK_KINDS.get(tag) or kind
            self._flush(kind)
            self._children(element, inner)
            self._flush(inner)
        else:
            self._children(element, kind)
            if tag in _BLOCK_TAGS or tag in ("td", "th"):
                self._buffer.append(" ")

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
        for cell in (c for c in row if _local(c.tag) in ("td", "th")):
            self._flat += 1
            self._children(cell, kind)
            self._flat -= 1
            cells.append(self._take())
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

    def _take(self) -> str:
        text = " ".join("".join(self._buffer).split())
        self._buffer = []
        return text

    def _flush(self, kind: BlockKind) -> None:
        if self._flat:
            return
        text = self._take()
        if text:
            self._emit(Block(kind, text))

    def _emit(self, block: Block) -> None:
        self._segments[-1][1].append(block)


def _skipped(element: etree._Element, tag: str) -> bool:
    """Elements that are never read: see _SKIP_TAGS/_SKIP_TYPES/_SKIP_ROLES, and note markers."""
    if tag in _SKIP_TAGS or element.get("hidden") is not None:
        return True
    if element.get("aria-hidden") == "true" or element.get("role") in _SKIP_ROLES:
        return True
    if _types(element) & _SKIP_TYPES:
        return True
    # Footnote marks (<sup>) and paragraph numbers (<label>, as SiSU writes them) link to anchors.
    return tag in ("sup", "label") and _is_note_marker(element)


def _is_note_marker(mark: etree._Element) -> bool:
    """An element holding nothing but a link to an anchor: a note mark or paragraph number."""
    children = [child for child in mark if isinstance(child.tag, str)]
    if len(children) != 1 or _local(children[0].tag) != "a":
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
