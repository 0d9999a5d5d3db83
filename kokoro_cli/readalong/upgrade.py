"""An EPUB 2 upgraded in place to EPUB 3, so that it can carry media overlays.

Every file of the original stays (XHTML, CSS, images, fonts, the NCX for EPUB 2 readers); what
EPUB 3 asks for is changed or added:

- the package: ``version="3.0"``; the OPF 2 attributes on Dublin Core elements become EPUB 3
  ``<meta refines>`` (``opf:role``, ``opf:file-as``) or go (``opf:scheme``, ``opf:event``,
  ``xsi:type``), one ``dc:date`` is kept (the publication date); the cover image named by
  ``<meta name="cover">`` gets ``properties="cover-image"``; each XHTML document gets
  ``scripted``, ``svg`` or ``mathml`` where it holds scripts or forms, inline SVG or MathML
  (and only then);
- a navigation document (``properties="nav"``, outside the spine) made from the NCX, nesting
  kept; from the spine's documents when there is no NCX;
- each XHTML document as HTML5-compatible XHTML: ``<!DOCTYPE html>`` instead of the XHTML 1.1
  or 1.0 DTD, HTML's named entities (``&nbsp;``) as numeric references (no DTD declares them
  now), ``<a name>`` as ``id``, and the ``http-equiv`` content type as ``<meta charset>``;
- the other XML files (the NCX, SVG images) without a DOCTYPE naming a public or system
  identifier: EPUB 3 forbids external identifiers (epubcheck's OPF-073), and nothing ever
  loaded those DTDs (entity declarations are refused on input).

The modification time is left to :func:`kokoro_cli.readalong.package.add_to_package`, which
writes it for every read-along book. A document that is not well-formed XML cannot be rewritten
without changing it, and raises InputError.
"""

from __future__ import annotations

import html.entities
import posixpath
import re
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import lxml.etree as etree

from kokoro_cli.readalong.package import OPF, NavEntry, nav_xhtml, relative
from preprocess import InputError, parse_strict_xml

__all__ = ["NAV_PATH", "XHTML_TYPE", "content_xml", "upgrade_package", "xhtml_bytes"]

XHTML_TYPE = "application/xhtml+xml"
NCX_TYPE = "application/x-dtbncx+xml"
NAV_PATH = "readalong/nav.xhtml"  # beside the package document
_OPF_ATTR = f"{{{OPF}}}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_NCX = "{http://www.daisy.org/z3986/2005/ncx/}"
_XHTML = "{http://www.w3.org/1999/xhtml}"
_NAMED_ENTITY = re.compile(rb"&([A-Za-z][A-Za-z0-9]{1,31});")
_XML_ENTITIES = {b"amp", b"lt", b"gt", b"quot", b"apos"}
_DC_ATTRS = frozenset(["id", "dir", "{http://www.w3.org/XML/1998/namespace}lang"])
_SCRIPTED = frozenset("script form input button select textarea".split())


def upgrade_package(entries: dict[str, bytes], opf_path: str, opf: etree._Element) -> None:
    """Make the EPUB 2 in ``entries`` (package ``opf`` at ``opf_path``) an EPUB 3: the package
    document is changed in place, the content documents and a navigation document are written
    into ``entries``."""
    opf.set("version", "3.0")
    metadata, manifest = opf.find(f"{{{OPF}}}metadata"), opf.find(f"{{{OPF}}}manifest")
    if metadata is None or manifest is None:
        raise InputError("cannot add read-along: the package has no metadata or manifest")
    _metadata(opf, metadata)
    base = posixpath.dirname(opf_path)
    items = [i for i in manifest.findall(f"{{{OPF}}}item") if i.get("href")]
    for item in items:
        path = posixpath.normpath(posixpath.join(base, unquote(item.get("href"))))
        if item.get("media-type") == XHTML_TYPE and path in entries:
            root = content_xml(entries[path], path)
            _add_properties(item, _html5(root))
            entries[path] = xhtml_bytes(root)
        elif path in entries and _is_xml(item.get("media-type") or ""):
            entries[path] = _without_external_doctype(entries[path])
    _mark_cover(metadata, items)
    nav_path = posixpath.join(base, NAV_PATH)
    title = next(("".join(t.itertext()).strip() for t in metadata.iter(f"{_DC}title")), "")
    language = next(("".join(t.itertext()).strip() for t in metadata.iter(f"{_DC}language")),
                    "en")
    toc = _ncx_toc(entries, opf, base, nav_path) or _spine_toc(entries, opf, base, nav_path)
    entries[nav_path] = nav_xhtml(title or "Contents", toc, language or "en")
    nav = etree.SubElement(manifest, f"{{{OPF}}}item", {
        "id": _free_id(opf, "ra-nav"), "href": NAV_PATH, "media-type": XHTML_TYPE,
        "properties": "nav"})
    nav.tail = "\n"


def content_xml(data: bytes, path: str) -> etree._Element:
    """A content document parsed for rewriting (HTML's named entities read as the characters
    they stand for, the DTD forgotten); InputError when it is not well-formed."""
    try:
        root = parse_strict_xml(_numeric_entities(data))
    except InputError as exc:
        raise InputError(f"cannot add read-along to {posixpath.basename(path)}: it is not "
                         f"well-formed XHTML that can be rewritten safely ({exc})") from None
    # With an XHTML 1.0 DTD, libxml2 would write the document in its XHTML mode, which adds a
    # <meta http-equiv> and lang attributes of its own.
    docinfo = root.getroottree().docinfo
    docinfo.public_id = docinfo.system_url = None
    return root


def xhtml_bytes(root: etree._Element) -> bytes:
    """A content document (from :func:`content_xml`) as an EPUB 3 file: UTF-8, HTML5's
    doctype."""
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="utf-8",
                          doctype="<!DOCTYPE html>")


def _is_xml(media_type: str) -> bool:
    return media_type == NCX_TYPE or media_type.endswith(("+xml", "/xml"))


def _without_external_doctype(data: bytes) -> bytes:
    """An XML file without its DOCTYPE where that names a public or system identifier (the
    NCX's and SVG's DTDs), written back as UTF-8; unchanged when it has none, or when it is not
    well-formed (it cannot be rewritten safely, and epubcheck reports it either way)."""
    try:
        root = parse_strict_xml(data)
    except InputError:
        return data
    docinfo = root.getroottree().docinfo
    if not (docinfo.public_id or docinfo.system_url):
        return data
    # The root element alone: the DOCTYPE (and any comment beside it) stays behind.
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _numeric_entities(data: bytes) -> bytes:
    """HTML's named entities as numeric character references: the XHTML DTDs of EPUB 2 declare
    them, an EPUB 3 document (``<!DOCTYPE html>``) does not."""
    def number(match: re.Match[bytes]) -> bytes:
        name = match.group(1)
        text = None if name in _XML_ENTITIES else html.entities.html5.get(f"{name.decode()};")
        return match.group(0) if text is None else \
            "".join(f"&#{ord(ch)};" for ch in text).encode("ascii")

    return _NAMED_ENTITY.sub(number, data) if b"&" in data else data


def _metadata(opf: etree._Element, metadata: etree._Element) -> None:
    """OPF 2 attributes on Dublin Core elements as EPUB 3 refinements (or dropped)."""
    dates = list(metadata.iter(f"{_DC}date"))
    keep = next((d for d in dates if d.get(f"{_OPF_ATTR}event") == "publication"), None)
    for date in dates:
        if date is not (keep if keep is not None else dates[0]):
            metadata.remove(date)  # EPUB 3 allows one dc:date, the publication date
    refinements = []
    for element in metadata.iter(f"{_DC}*"):
        for key in [k for k in element.attrib if k not in _DC_ATTRS]:  # opf:*, xsi:type...
            value = element.attrib.pop(key)
            if key in (f"{_OPF_ATTR}role", f"{_OPF_ATTR}file-as"):
                refinements.append((element, key[len(_OPF_ATTR):], value))
    etree.cleanup_namespaces(opf)  # the opf: prefix, now unused, would name the new elements
    for element, prop, value in refinements:
        if element.get("id") is None:
            element.set("id", _free_id(opf, "ra-creator"))
        meta = etree.SubElement(metadata, f"{{{OPF}}}meta",
                                {"refines": f"#{element.get('id')}", "property": prop})
        if prop == "role":
            meta.set("scheme", "marc:relators")
        meta.text = value


def _html5(root: etree._Element) -> set[str]:
    """Rewrite what HTML5 no longer has; return the EPUB 3 properties the document needs."""
    properties, ids = set(), {e.get("id") for e in root.iter(etree.Element) if e.get("id")}
    for element in root.iter(etree.Element):
        name = etree.QName(element)
        if name.namespace == "http://www.w3.org/2000/svg" and name.localname == "svg":
            properties.add("svg")
        elif name.namespace == "http://www.w3.org/1998/Math/MathML" and name.localname == "math":
            properties.add("mathml")
        elif name.localname in _SCRIPTED and name.namespace in (None, _XHTML[1:-1]):
            properties.add("scripted")
        if name.localname == "a" and element.get("name") is not None:
            anchor = element.attrib.pop("name")
            if element.get("id") is None and _is_id(anchor) and anchor not in ids:
                element.set("id", anchor)
                ids.add(anchor)
        if name.localname == "meta" and (element.get("http-equiv") or "").lower() \
                == "content-type":
            element.attrib.pop("http-equiv")
            element.attrib.pop("content", None)
            element.set("charset", "utf-8")  # lxml writes the document as UTF-8
    return properties


def _is_id(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][\w.\-]*", value))


def _add_properties(item: etree._Element, found: set[str]) -> None:
    have = (item.get("properties") or "").split()
    merged = have + sorted(found - set(have))
    if merged:
        item.set("properties", " ".join(merged))


def _mark_cover(metadata: etree._Element, items: list[etree._Element]) -> None:
    """The image named by ``<meta name="cover">`` is the EPUB 3 cover image."""
    cover = next((m.get("content") for m in metadata.iter(f"{{{OPF}}}meta")
                  if m.get("name") == "cover"), None)
    for item in items:  # the content is the item's id; some tools wrote its href
        if cover in (item.get("id"), item.get("href")) \
                and (item.get("media-type") or "").startswith("image/"):
            _add_properties(item, {"cover-image"})


def _ncx_toc(entries: dict[str, bytes], opf: etree._Element, base: str,
             nav_path: str) -> list[NavEntry]:
    """The NCX's navigation points as entries of the navigation document."""
    spine = opf.find(f"{{{OPF}}}spine")
    toc_id = spine.get("toc") if spine is not None else None
    item = next((i for i in opf.iter(f"{{{OPF}}}item") if i.get("id") == toc_id
                 or (toc_id is None and i.get("media-type") == NCX_TYPE)), None)
    if item is None:
        return []
    ncx_path = posixpath.normpath(posixpath.join(base, unquote(item.get("href") or "")))
    try:
        ncx = parse_strict_xml(entries[ncx_path])
    except (InputError, KeyError):
        return []  # the NCX is kept as it is; the navigation comes from the spine
    nav_map = ncx.find(f"{_NCX}navMap")
    return [] if nav_map is None else list(_nav_points(nav_map, ncx_path, nav_path))


def _nav_points(parent: etree._Element, ncx_path: str, nav_path: str) -> Iterator[NavEntry]:
    for point in parent.findall(f"{_NCX}navPoint"):
        label = point.find(f"{_NCX}navLabel/{_NCX}text")
        content = point.find(f"{_NCX}content")
        children = list(_nav_points(point, ncx_path, nav_path))
        src = content.get("src") if content is not None else None
        href = _relink(src, ncx_path, nav_path) if src else None
        title = " ".join("".join(label.itertext()).split()) if label is not None else ""
        if href is None and not children:
            continue
        yield NavEntry(href, title or posixpath.basename(urlsplit(src or "").path) or "Untitled",
                       tuple(children))


def _relink(src: str, from_file: str, to_file: str) -> str | None:
    """``src`` (a link in ``from_file``) as a link from ``to_file``; None when external."""
    parts = urlsplit(src)
    if parts.scheme or parts.netloc:
        return None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(from_file), unquote(parts.path)))
    return relative(target, to_file) + (f"#{parts.fragment}" if parts.fragment else "")


def _spine_toc(entries: dict[str, bytes], opf: etree._Element, base: str,
               nav_path: str) -> list[NavEntry]:
    """One entry per spine document, titled by its ``<title>``: for a book without an NCX."""
    items = {i.get("id"): i for i in opf.iter(f"{{{OPF}}}item")}
    toc = []
    for ref in opf.iter(f"{{{OPF}}}itemref"):
        item = items.get(ref.get("idref"))
        if item is None or item.get("media-type") != XHTML_TYPE:
            continue
        path = posixpath.normpath(posixpath.join(base, unquote(item.get("href"))))
        root = parse_strict_xml(entries[path]) if path in entries else None
        title = next(("".join(t.itertext()).strip() for t in root.iter(f"{_XHTML}title")),
                     "") if root is not None else ""
        toc.append(NavEntry(relative(path, nav_path), title or posixpath.basename(path)))
    return toc


def _free_id(opf: etree._Element, wanted: str) -> str:
    taken = {e.get("id") for e in opf.iter() if e.get("id")}
    return next(f"{wanted}{n or ''}" for n in range(len(taken) + 1)
                if f"{wanted}{n or ''}" not in taken)
