"""A read-along EPUB 3: the book's text with the narration, each sentence highlighted as it is
read (EPUB Media Overlays 3).

An EPUB input keeps all of its files: an EPUB 2 is first upgraded in place to EPUB 3
(:mod:`kokoro_cli.readalong.upgrade`: package, navigation document from the NCX, HTML5
doctypes); then its spine documents gain ``<span id>`` around each sentence the narration
speaks (:mod:`kokoro_cli.readalong.spans`), and the book gains one SMIL document per spine
document, one MP3 per chapter (the chapter WAVs at the output's loudness), a stylesheet for the
highlight, and the package metadata. Any other input (Markdown, text) becomes a new EPUB 3 with
the document's chapters as XHTML, which then gets the same overlay. The archive is read
through the same checks as for reading the book (:func:`preprocess.check_archive`); a content
document that is not well-formed XML cannot be rewritten without changing it, and is refused
(InputError, exit 3) after the audio is written.
"""

from __future__ import annotations

import dataclasses
import itertools
import posixpath
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import lxml.etree as etree

from kokoro_cli.output import BookMeta, OutputOptions, TimedChapter, write_book
from kokoro_cli.readalong.package import (CSS, OPF, Clip, NavEntry, add_to_package,
                                          chapter_xhtml, container_xml, fresh_package,
                                          nav_xhtml, relative, smil)
from kokoro_cli.readalong.spans import wrap_sentences
from kokoro_cli.readalong.upgrade import XHTML_TYPE, content_xml, upgrade_package, xhtml_bytes
from kokoro_common import atomic_path
from kokoro_common.scratch import scratch_dir
from preprocess import BlockKind, Document, InputError, check_archive, parse_strict_xml

__all__ = ["Source", "fresh_source", "original_source", "write_read_along"]

HOME = "readalong"  # the folder (beside the package document) for what the overlay adds


@dataclass
class Source:
    """An EPUB 3 being made into a read-along book: its archive entries (the mimetype left
    out), the package document and the spine's content documents ``(item id, path)``."""

    entries: dict[str, bytes]
    opf_path: str
    opf: etree._Element
    spine: list[tuple[str, str]]


def original_source(path: Path) -> Source:
    """The EPUB at ``path`` as a source; an EPUB 2 is upgraded to EPUB 3 on the way. Raises
    InputError for a content document that cannot be rewritten."""
    with open(path, "rb") as file:
        check_archive(file, path.name)
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            entries = {i.filename: archive.read(i) for i in archive.infolist()
                       if not i.is_dir() and i.filename != "mimetype"}
    container = parse_strict_xml(entries["META-INF/container.xml"])
    opf_path = posixpath.normpath(next(r.get("full-path") for r in container.iter("{*}rootfile")
                                       if r.get("full-path")))
    opf = parse_strict_xml(entries[opf_path])
    if not (opf.get("version") or "").startswith("3"):
        upgrade_package(entries, opf_path, opf)
    base = posixpath.dirname(opf_path)
    items = {i.get("id"): i for i in opf.iter(f"{{{OPF}}}item")}
    spine = []
    for ref in opf.iter(f"{{{OPF}}}itemref"):
        item = items.get(ref.get("idref"))
        if item is not None and item.get("media-type") == XHTML_TYPE \
                and "nav" not in (item.get("properties") or "").split():
            href = unquote(item.get("href") or "")
            spine.append((item.get("id"), posixpath.normpath(posixpath.join(base, href))))
    return Source(entries, opf_path, opf, spine)


def fresh_source(document: Document) -> Source:
    """A new EPUB 3 holding the document's chapters (headings and paragraphs)."""
    language = document.language or "en"
    items, spine, toc, entries = [("nav", "nav.xhtml", XHTML_TYPE)], [], [], {}
    for number, chapter in enumerate(document.chapters, 1):
        href, item_id = f"chapter-{number:03d}.xhtml", f"chapter{number}"
        blocks = [("h1" if b.kind is BlockKind.HEADING else "p", b.text) for b in chapter.blocks]
        entries[f"OEBPS/{href}"] = chapter_xhtml(chapter.title, blocks, language)
        items.append((item_id, href, XHTML_TYPE))
        spine.append((item_id, f"OEBPS/{href}"))
        toc.append(NavEntry(href, chapter.title))
    entries["OEBPS/nav.xhtml"] = nav_xhtml(document.title, toc, language)
    identifier = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, document.digest)}"
    meta = {"identifier": identifier, "title": document.title, "language": language,
            "authors": document.authors}
    opf = fresh_package(meta, items, [i for i, _ in spine])
    entries["META-INF/container.xml"] = container_xml("OEBPS/content.opf")
    entries["OEBPS/content.opf"] = opf
    return Source(entries, "OEBPS/content.opf", parse_strict_xml(opf), spine)


def write_read_along(document: Document, timed: Sequence[TimedChapter], dest: Path,
                     output: OutputOptions, meta: BookMeta) -> Path:
    """Write the read-along EPUB of ``document`` (whose chapters are ``timed``) to ``dest``,
    atomically. Raises InputError for an EPUB that cannot be rewritten safely."""
    if document.source is not None and document.source.suffix.lower() == ".epub":
        source = original_source(document.source)
    else:
        source = fresh_source(document)
    with scratch_dir("readalong") as tmp:
        audio, head = _chapter_audio(timed, Path(tmp), output, meta)
        _overlay(source, timed, audio, head)
        with atomic_path(dest, ".epub") as part:
            _zip(source, part)
    return dest


def _chapter_audio(timed: Sequence[TimedChapter], folder: Path, output: OutputOptions,
                   meta: BookMeta) -> tuple[list[Path], float]:
    """One MP3 per chapter at the book's loudness, and the room tone at the head of each (in
    seconds), which every clip time moves by."""
    try:
        options = OutputOptions(format="mp3", loudness=output.loudness, split_chapters=True)
    except ValueError:  # a preset that delivers another format: the default level instead
        options = OutputOptions(format="mp3", split_chapters=True)
    report = write_book([t.audio for t in timed], folder, meta, options)
    return list(report.files), options.effective_room_tone_ms / 1000


def _overlay(source: Source, timed: Sequence[TimedChapter], audio: Sequence[Path],
             head: float) -> None:
    """Spans in the content documents, a SMIL per document, audio, CSS and metadata."""
    base = posixpath.dirname(source.opf_path)
    home = posixpath.join(base, HOME)
    names = [posixpath.join(home, f"audio/chapter-{i:03d}.mp3") for i in range(1, len(audio) + 1)]
    for name, path in zip(names, audio):
        source.entries[name] = path.read_bytes()
    sentences = [(c, s) for c, chapter in enumerate(timed) for s in chapter.timing.sentences]
    css = posixpath.join(home, "readalong.css")
    source.entries[css] = CSS.encode("utf-8")
    items = [(f"ra-audio-{i}", relative(n, source.opf_path), "audio/mpeg")
             for i, n in enumerate(names, 1)] + [("ra-css", relative(css, source.opf_path),
                                                  "text/css")]
    overlays, cursor, ids = {}, 0, (f"ra-s{i}" for i in itertools.count(1))
    documents: list[tuple[str, int, str, list[tuple[int, Clip]]]] = []
    for number, (item_id, doc) in enumerate(source.spine, 1):
        root = _content(source, doc)
        body = next(root.iter("{*}body"), None)
        if body is None:
            continue
        found, used = wrap_sentences(body, [s.text for _, s in sentences[cursor:]], ids)
        if not found:
            continue
        smil_path = posixpath.join(home, f"overlay-{number:03d}.smil")
        clips = [(sentences[cursor + i][0],
                  _clip(sentences[cursor + i], doc, span, names, smil_path, timed, head))
                 for i, span in found.items()]
        cursor += used
        _link_css(root, relative(css, doc))
        source.entries[doc] = xhtml_bytes(root)
        documents.append((item_id, number, smil_path, clips))
    ends = [head + t.timing.samples / t.timing.sample_rate for t in timed]
    joined = iter(_run_on([clip for *_, clips in documents for clip in clips], ends))
    for item_id, number, smil_path, clips in documents:
        mine = [next(joined) for _ in clips]
        source.entries[smil_path] = smil(mine)
        smil_id = f"ra-smil-{number}"
        items.append((smil_id, relative(smil_path, source.opf_path), "application/smil+xml"))
        overlays[item_id] = (smil_id, sum(c.end - c.begin for c in mine))
    add_to_package(source.opf, items, overlays)
    source.entries[source.opf_path] = etree.tostring(source.opf.getroottree(),
                                                     xml_declaration=True, encoding="utf-8")


def _run_on(clips: Sequence[tuple[int, Clip]], ends: Sequence[float]) -> list[Clip]:
    """Each clip (with its chapter) runs on to the next clip of its chapter's audio, the last to
    the audio's end: the pause after a sentence, and any sentence the text did not show, go
    with the clip before them, so a player going from clip to clip leaves nothing out."""
    out = []
    for (chapter, clip), following in zip(clips, [*clips[1:], None]):
        until = following[1].begin if following and following[0] == chapter else ends[chapter]
        out.append(dataclasses.replace(clip, end=max(clip.end, until)))
    return out


def _clip(found, doc: str, span: str, names: Sequence[str], smil_path: str,
          timed: Sequence[TimedChapter], head: float) -> Clip:
    chapter, sentence = found
    rate = timed[chapter].timing.sample_rate
    return Clip(f"{relative(doc, smil_path)}#{span}", relative(names[chapter], smil_path),
                head + sentence.start / rate, head + sentence.end / rate)


def _content(source: Source, doc: str) -> etree._Element:
    if doc not in source.entries:
        raise InputError(f"cannot add read-along: the spine names {posixpath.basename(doc)}, "
                         "which the book does not hold")
    return content_xml(source.entries[doc], doc)


def _link_css(root: etree._Element, href: str) -> None:
    head = next(root.iter("{*}head"), None)
    if head is not None:
        ns = etree.QName(head).namespace
        tag = f"{{{ns}}}link" if ns else "link"
        etree.SubElement(head, tag, {"rel": "stylesheet", "type": "text/css", "href": href})


def _zip(source: Source, dest: Path) -> None:
    with zipfile.ZipFile(dest, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), b"application/epub+zip",
                         compress_type=zipfile.ZIP_STORED)
        for name, data in source.entries.items():
            stored = name.endswith(".mp3")
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED if stored
                             else zipfile.ZIP_DEFLATED)
