"""EPUB 3 pieces for media overlays, as pure builders: SMIL documents, the package document's
additions (manifest items, ``media-overlay``, ``media:duration``, ``media:active-class``), and
a plain EPUB 3 (package, navigation, chapter XHTML) for books that are not EPUB 3 already.
"""

from __future__ import annotations

import html
import posixpath
import time
from collections.abc import Sequence
from dataclasses import dataclass

import lxml.etree as etree

__all__ = ["ACTIVE_CLASS", "CSS", "OPF", "Clip", "NavEntry", "add_to_package", "chapter_xhtml",
           "clock", "container_xml", "fresh_package", "nav_xhtml", "smil"]

OPF = "http://www.idpf.org/2007/opf"
DC = "http://purl.org/dc/elements/1.1/"
ACTIVE_CLASS = "-epub-media-overlay-active"
CSS = f".{ACTIVE_CLASS} {{ background-color: #ffe88a; color: inherit; }}\n"


@dataclass(frozen=True)
class Clip:
    """One ``<par>``: the text (``doc.xhtml#id``, relative to the SMIL file) and the audio
    (relative too) with its clip times in seconds."""

    text: str
    audio: str
    begin: float
    end: float


@dataclass(frozen=True)
class NavEntry:
    """A table of contents entry: its link (None for a heading that only groups its
    ``children``), its title and the entries under it."""

    href: str | None
    title: str
    children: tuple[NavEntry, ...] = ()


def clock(seconds: float) -> str:
    """A SMIL clock value, ``H:MM:SS.mmm``."""
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    return f"{hours}:{minutes:02d}:{ms // 1000:02d}.{ms % 1000:03d}"


def smil(clips: Sequence[Clip]) -> bytes:
    """A media overlay document: one ``<par>`` per clip, in order."""
    pars = "\n".join(
        f'  <par id="par{i}"><text src="{html.escape(c.text)}"/>'
        f'<audio src="{html.escape(c.audio)}" clipBegin="{c.begin:.3f}s" '
        f'clipEnd="{c.end:.3f}s"/></par>' for i, c in enumerate(clips, 1))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<smil xmlns="http://www.w3.org/ns/SMIL" '
            f'xmlns:epub="http://www.idpf.org/2007/ops" version="3.0">\n <body>\n'
            f'{pars}\n </body>\n</smil>\n').encode("utf-8")


def add_to_package(opf: etree._Element, items: Sequence[tuple[str, str, str]],
                   overlays: dict[str, tuple[str, float]]) -> None:
    """Add manifest ``items`` (id, href, media type); give each content document in
    ``overlays`` (item id → SMIL item id, seconds) its ``media-overlay``; add the durations,
    the active class and a new modification time to the metadata."""
    manifest, metadata = opf.find(f"{{{OPF}}}manifest"), opf.find(f"{{{OPF}}}metadata")
    for item_id, href, media_type in items:
        etree.SubElement(manifest, f"{{{OPF}}}item", {"id": item_id, "href": href,
                                                      "media-type": media_type})
    for item in manifest.findall(f"{{{OPF}}}item"):
        if item.get("id") in overlays:
            item.set("media-overlay", overlays[item.get("id")][0])
    for meta in metadata.findall(f"{{{OPF}}}meta"):
        if meta.get("property") in ("dcterms:modified", "media:duration", "media:active-class"):
            metadata.remove(meta)
    for smil_id, seconds in overlays.values():
        _meta(metadata, "media:duration", clock(seconds), refines=f"#{smil_id}")
    _meta(metadata, "media:duration", clock(sum(s for _, s in overlays.values())))
    _meta(metadata, "media:active-class", ACTIVE_CLASS)
    _meta(metadata, "dcterms:modified", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def _meta(metadata: etree._Element, prop: str, value: str, refines: str | None = None) -> None:
    meta = etree.SubElement(metadata, f"{{{OPF}}}meta", {"property": prop})
    if refines:
        meta.set("refines", refines)
    meta.text = value


def container_xml(opf_path: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<container version="1.0" '
            f'xmlns="urn:oasis:names:tc:opendocument:xmlns:container">\n <rootfiles>\n  '
            f'<rootfile full-path="{html.escape(opf_path)}" '
            f'media-type="application/oebps-package+xml"/>\n </rootfiles>\n</container>\n'
            ).encode("utf-8")


def _xhtml(title: str, language: str, body: str, css: str | None = None) -> bytes:
    link = f'\n<link rel="stylesheet" type="text/css" href="{html.escape(css)}"/>' if css else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n<html '
            f'xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" '
            f'xml:lang="{html.escape(language)}" lang="{html.escape(language)}">\n<head>\n'
            f'<meta charset="utf-8"/>\n<title>{html.escape(title)}</title>{link}\n</head>\n'
            f'<body>\n{body}\n</body>\n</html>\n').encode("utf-8")


def chapter_xhtml(title: str, blocks: Sequence[tuple[str, str]], language: str) -> bytes:
    """A chapter of a new book: its title and its blocks as ``(tag, text)``."""
    body = "\n".join(f"<{tag}>{html.escape(text)}</{tag}>" for tag, text in blocks)
    return _xhtml(title, language, f"<section>\n{body}\n</section>")


def nav_xhtml(title: str, entries: Sequence[NavEntry], language: str) -> bytes:
    """The navigation document: a table of contents of ``entries``, nested as they are."""
    return _xhtml(title, language, f'<nav epub:type="toc" id="toc">\n<h1>{html.escape(title)}'
                                   f"</h1>\n{_nav_list(entries)}\n</nav>")


def _nav_list(entries: Sequence[NavEntry]) -> str:
    items = []
    for entry in entries:
        label = html.escape(entry.title)
        label = f'<a href="{html.escape(entry.href)}">{label}</a>' if entry.href is not None \
            else f"<span>{label}</span>"
        items.append(f"<li>{label}{_nav_list(entry.children) if entry.children else ''}</li>")
    return "<ol>\n" + "\n".join(items) + "\n</ol>"


def fresh_package(meta: dict[str, str | Sequence[str]], items: Sequence[tuple[str, str, str]],
                  spine: Sequence[str]) -> bytes:
    """A package document: ``meta`` (identifier, title, language, authors), the manifest
    ``items`` (id, href, media type; the nav item has id ``nav``) and the spine's item ids."""
    authors = "".join(f"\n  <dc:creator>{html.escape(a)}</dc:creator>"
                      for a in meta.get("authors", ()))
    manifest = "\n".join(
        f'  <item id="{i}" href="{html.escape(h)}" media-type="{t}"'
        + (' properties="nav"' if i == "nav" else "") + "/>" for i, h, t in items)
    refs = "\n".join(f'  <itemref idref="{i}"/>' for i in spine)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<package xmlns="{OPF}" version="3.0" '
            f'unique-identifier="uid">\n <metadata xmlns:dc="{DC}">\n  <dc:identifier id="uid">'
            f'{html.escape(str(meta["identifier"]))}</dc:identifier>\n  <dc:title>'
            f'{html.escape(str(meta["title"]))}</dc:title>\n  <dc:language>'
            f'{html.escape(str(meta["language"]))}</dc:language>{authors}\n </metadata>\n'
            f' <manifest>\n{manifest}\n </manifest>\n <spine>\n{refs}\n </spine>\n</package>\n'
            ).encode("utf-8")


def relative(path: str, start_file: str) -> str:
    """``path`` (in the archive) relative to the folder of ``start_file``."""
    return posixpath.relpath(path, posixpath.dirname(start_file) or ".")
