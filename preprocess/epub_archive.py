"""The EPUB as an untrusted ZIP archive: limits, bomb and entity checks, and safe XML parsing.

Everything that reads bytes out of an EPUB goes through here: :func:`read_book` for the whole
book (the chapters, the cover, the pronunciation lexicons) and :func:`parse_xhtml` for each of
its XML files. The archive is checked from its ZIP directory before anything is inflated, so a
decompression bomb is refused before it costs memory or time (ebooklib keeps every manifest item
in memory), and a book declaring XML entities is refused before any XML parser sees it.
"""

from __future__ import annotations

import html.entities
import lzma
import posixpath
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import lxml.etree as etree
import lxml.html
from ebooklib import epub

from .errors import InputError, ParseError

__all__ = ["LIMITS", "ArchiveLimits", "Book", "UnreadablePart", "check_archive",
           "parse_strict_xml", "parse_xhtml", "read_book", "reason"]


@dataclass(frozen=True)
class ArchiveLimits:
    """What an EPUB may hold. Checked from the ZIP directory before anything is inflated."""

    entries: int = 10_000
    entry_bytes: int = 100 << 20  # one file, inflated
    total_bytes: int = 500 << 20  # all files, inflated
    ratio: int = 100  # inflated / compressed size, for files of at least ``ratio_from`` bytes
    ratio_from: int = 1 << 20
    depth: int = 250  # element nesting in one XHTML file (libxml2 stops at 256 and drops text)


LIMITS = ArchiveLimits()


class UnreadablePart(Exception):
    """A file inside an otherwise sound archive cannot be read (the caller names the book)."""


# What zipfile raises on a damaged archive or entry: a bad directory or CRC, a damaged deflate
# or LZMA stream, a truncated entry, a method it cannot inflate, an encrypted entry, an offset
# past the file's start. (bz2's damaged streams raise OSError, read as an unreadable file.)
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError,
               NotImplementedError, RuntimeError, ValueError)
# What ebooklib raises while it reads the package: it does not check what it reads, so a
# missing or odd OPF element surfaces as AttributeError, TypeError, KeyError or IndexError.
_EBOOKLIB_ERRORS = (epub.EpubException, etree.LxmlError, KeyError, ValueError, AttributeError,
                    TypeError, IndexError, *_ZIP_ERRORS)
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
_NAMED_ENTITY = re.compile(rb"&([A-Za-z][A-Za-z0-9]{1,31});")
_XML_ENTITIES = {b"amp", b"lt", b"gt", b"quot", b"apos"}


def read_book(path: Path, limits: ArchiveLimits = LIMITS) -> Book:
    """Check the archive (limits, entities, package), then let ebooklib read it.

    Raises :class:`InputError` when the file cannot be read and :class:`ParseError` when it
    is not a sound EPUB. ebooklib gets the open file, not the name: given a directory it would
    read files named by the book from the disk, ``..`` included.
    """
    path = Path(path)
    try:
        with open(path, "rb") as file:
            check_archive(file, path.name, limits)
            file.seek(0)
            return _load(file, path.name)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


class Book(epub.EpubBook):
    """ebooklib's book, plus where its package document is and which of the files its manifest
    names the archive does not hold (:func:`read_book` returns one)."""

    def __init__(self) -> None:
        super().__init__()
        self.package_dir = ""  # the package document's folder in the archive
        self.absent: set[str] = set()  # archive paths the manifest names and the archive lacks

    def archive_path(self, path: str) -> str | None:
        """The archive path of ``path`` (relative to the package document, as ebooklib and the
        TOC name files), or None when it leads outside the archive."""
        full = posixpath.normpath(posixpath.join(self.package_dir, path))
        return None if full == ".." or full.startswith(("../", "/")) else full

    def why_unread(self, path: str) -> str:
        """Why the file ``path`` (relative to the package document) has nothing to read, in a
        few words that follow its name: "points outside the archive", "is missing from the
        archive" or "is empty"."""
        full = self.archive_path(path)
        if full is None:
            return "points outside the archive"
        return "is missing from the archive" if full in self.absent else "is empty"


class _LenientReader(epub.EpubReader):
    """ebooklib's reader, except that a manifest item missing from the archive reads as empty.

    Real books list files that are not there (a stray image, or "chapter.xhtml#anchor" as an item
    of its own); reading systems skip such items, so we do too instead of refusing the book
    (:class:`Book` keeps their names, for the parser's warnings).
    """

    _in_manifest = False

    def __init__(self, file: BinaryIO, options: dict) -> None:
        super().__init__(file, options=options)
        self.book = Book()

    def _load_manifest(self) -> None:
        self._in_manifest = True
        self.book.package_dir = self.opf_dir
        try:
            super()._load_manifest()
        finally:
            self._in_manifest = False

    def _parse_nav(self, data: bytes, base_path: str, navtype: str = "toc") -> None:
        if data:  # a nav document missing from the archive: the NCX or the spine order serves
            super()._parse_nav(data, base_path, navtype)

    def read_file(self, name: str) -> bytes:
        try:
            return super().read_file(name)
        except KeyError:
            if self._in_manifest:
                self.book.absent.add(posixpath.normpath(name))
                return b""
            raise


def _load(file: BinaryIO, name: str) -> Book:
    """ebooklib's reading of a checked archive; its failures become one :class:`ParseError`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ebooklib warns about its own future defaults
            reader = _LenientReader(file, options={"ignore_ncx": True})
            book = reader.load()
            reader.process()
        return book
    except RecursionError:
        raise ParseError(f"{name} is not a readable EPUB: its XML nests too deeply") from None
    except _EBOOKLIB_ERRORS as exc:
        raise ParseError(f"{name} is not a readable EPUB: {reason(exc)}") from None


@contextmanager
def _zip_errors(name: str) -> Iterator[None]:
    """Around zipfile calls: a damaged archive or entry is one :class:`ParseError`."""
    try:
        yield
    except _ZIP_ERRORS as exc:
        raise ParseError(f"{name} is not a readable EPUB: {reason(exc)}") from None


def check_archive(file: BinaryIO, name: str, limits: ArchiveLimits = LIMITS) -> None:
    """Refuse what would cost unbounded memory or time, or reach outside the book: too many or
    too large files (as the ZIP directory declares them; zipfile never inflates past that),
    compression ratios only a bomb has, encrypted entries, entity declarations; and name what a
    package lacks (container, package document, manifest, spine) in plain words."""
    with _zip_errors(name):
        archive = zipfile.ZipFile(file)
    with archive:
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
    with _zip_errors(name), archive.open(info) as entry:
        while block := entry.read(_SCAN_BLOCK):
            if _ENTITY.search(tail + block):
                raise ParseError(f"{name} declares XML entities in {_printable(info.filename)}, "
                                 "which are not read (they can reach files or the network)")
            tail = block[-64:]


def _check_package(archive: zipfile.ZipFile, name: str) -> None:
    """The container names a package document that exists and has a manifest and a spine."""
    def refuse(reason: str) -> ParseError:
        return ParseError(f"{name} is not a readable EPUB: {reason}")

    data = _entry(archive, "META-INF/container.xml", name)
    if data is None:
        raise refuse("it has no META-INF/container.xml")
    container = _package_xml(data)
    if container is None:
        raise refuse("META-INF/container.xml is not XML")
    rootfile = next((r for r in container.iter("{*}rootfile") if r.get("full-path")), None)
    if rootfile is None:
        raise refuse("META-INF/container.xml names no package document")
    opf_name = rootfile.get("full-path", "")
    data = _entry(archive, posixpath.normpath(opf_name), name)
    if data is None:
        raise refuse(f"its package document {_printable(opf_name)} is missing")
    opf = _package_xml(data)
    if opf is None:
        raise refuse(f"its package document {_printable(opf_name)} is not XML")
    for part in ("metadata", "manifest", "spine"):
        if opf.find(f"{{*}}{part}") is None:
            raise refuse(f"its package document has no <{part}>")


def _entry(archive: zipfile.ZipFile, entry: str, name: str) -> bytes | None:
    """The bytes of an archive entry (bounded by the checks), or None when there is none."""
    try:
        with _zip_errors(name):
            return archive.read(entry)
    except KeyError:
        return None


def _package_xml(data: bytes) -> etree._Element | None:
    """Container or package XML the way ebooklib reads it (recovering), or None."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             recover=True, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return None


def parse_xhtml(data: bytes, limits: ArchiveLimits = LIMITS) -> etree._Element:
    """Parse XHTML/XML without entities or network; fall back to the HTML parser for tag soup.

    The fallback also takes what libxml2's XML parser stops at (a text run over 10 MB, more
    than 256 levels of nesting), which it would otherwise return with the text missing; the
    archive limits bound the size, and a file nesting deeper than ``limits.depth`` is refused
    with :class:`UnreadablePart`, as is one that neither parser reads.
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
        html_parser = lxml.html.HTMLParser(no_network=True, huge_tree=True, remove_comments=True)
        try:
            root = lxml.html.document_fromstring(data, parser=html_parser)
        except etree.ParserError as exc:  # "Document is empty"
            raise UnreadablePart(f"an XHTML file is empty or not markup ({reason(exc)})") from None
    if _depth(root) > limits.depth:
        raise UnreadablePart(f"an XHTML file nests elements more than {limits.depth} levels deep")
    return root


def parse_strict_xml(data: bytes, limits: ArchiveLimits = LIMITS) -> etree._Element:
    """Parse well-formed XML only (no entities, DTDs or network, no recovery): for documents
    that will be written back, which a lenient parse would silently change. Raises
    :class:`ParseError` for anything else, or nesting deeper than ``limits.depth``."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"not well-formed XML ({reason(exc)})") from None
    if _depth(root) > limits.depth:
        raise ParseError(f"elements nest more than {limits.depth} levels deep")
    return root


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


def _mb(size: int) -> int:
    return -(-size // (1 << 20))


def _printable(name: str) -> str:
    """An entry name fit for a one-line message (control characters shown escaped)."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)


def reason(exc: BaseException) -> str:
    """An exception as a few words for a one-line message."""
    text = " ".join(str(getattr(exc, "msg", None) or exc).split())
    return text or type(exc).__name__
