"""The hostile-input corpus: small crafted documents, each with the outcome it must end in.

Nothing here is downloaded: every file is made by this script, deterministically, and most are
a few hundred bytes (the decompression bombs are small archives that would expand to gigabytes).
``tests/test_hostile.py`` builds the corpus in a temporary folder and runs ``kokoro-cli`` on
every case; run this file to write the corpus somewhere and print the table of cases::

    .venv/bin/python tests/hostile/make_corpus.py /tmp/hostile

Each :class:`Case` names a file (or folder) to make, the command to run on it, the exit code
that must come out (0 where the input is odd but readable) and a fragment of the one-line error.
``SECRET`` is the content of a file that entity tricks point at: it must never appear in output.
"""

from __future__ import annotations

import io
import os
import random
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SECRET = "KOKORO-HOSTILE-SECRET-7d1f"
SECRET_FILE = "secret.txt"  # beside the corpus, never inside a document

Maker = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One crafted input and what ``kokoro-cli <command> <file> <args>`` must do with it."""

    name: str  # the file or folder name in the corpus
    make: Maker  # writes it at the path it is given
    code: int  # the documented exit code (0: read, nothing refused)
    message: str = ""  # a fragment of the error line (case-insensitive)
    command: str = "inspect"
    args: tuple[str, ...] = ()
    family: str = "documents"
    absent: tuple[str, ...] = field(default=())  # strings the output must not contain

    @property
    def error(self) -> str:
        """The error class the parser raises: InputError where there is nothing (usable) to
        read, ParseError where the content is damaged or hostile; "" when it is read."""
        if self.code == 0:
            return ""
        return "InputError" if any(m in self.message for m in _INPUT_MESSAGES) else "ParseError"


# Fragments of the InputError messages (missing, not a file, too large, nothing to speak).
_INPUT_MESSAGES = ("no text to read", "not a regular file", "directory", "no such file",
                   "unsupported file type", "no markdown or text files", "outside",
                   "too large to read: more than")


# --- byte helpers --------------------------------------------------------------------------------


def _bytes(data: bytes | str) -> Maker:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return lambda path: path.write_bytes(raw)


def _noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _zip(entries: list[tuple[str, bytes]], *, stored: frozenset[str] = frozenset({"mimetype"})) -> bytes:
    """A ZIP made by zipfile (honest headers)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            method = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = method
            archive.writestr(info, data)
    return buffer.getvalue()


@dataclass(frozen=True)
class RawEntry:
    """A ZIP entry written by hand, so its headers can say what zipfile would never write."""

    name: bytes
    data: bytes  # as stored (already compressed when method is 8)
    method: int = 0
    crc: int | None = None  # None: the CRC of ``data`` (right for stored entries)
    size: int | None = None  # the declared uncompressed size; None: len(data)
    flags: int = 0


def _raw_zip(entries: list[RawEntry]) -> bytes:
    """A ZIP from hand-made entries: local headers, data, central directory, end record."""
    out, central = io.BytesIO(), io.BytesIO()
    for entry in entries:
        crc = zlib.crc32(entry.data) if entry.crc is None else entry.crc
        size = len(entry.data) if entry.size is None else entry.size
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, entry.flags, entry.method, 0, 0x5821,
                              crc, len(entry.data), size, len(entry.name), 0))
        out.write(entry.name + entry.data)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, entry.flags,
                                  entry.method, 0, 0x5821, crc, len(entry.data), size,
                                  len(entry.name), 0, 0, 0, 0, 0, offset))
        central.write(entry.name)
    directory = central.getvalue()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory),
                      out.tell(), 0)
    return out.getvalue() + directory + end


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _deflate_zeros(size: int) -> bytes:
    """Raw deflate of ``size`` zero bytes without holding them all in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block, parts, left = bytes(1 << 20), [], size
    while left:
        parts.append(compressor.compress(block[: min(left, len(block))]))
        left -= min(left, len(block))
    parts.append(compressor.flush())
    return b"".join(parts)


# --- a small, valid EPUB 3, and variants of it ----------------------------------------------------

CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""

OPF = """<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:hostile</dc:identifier>
    <dc:title>Hostile</dc:title>
    <dc:language>en</dc:language>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="c1" href="ch1.xhtml" media-type="application/xhtml+xml"/>
    {items}
  </manifest>
  <spine>
    <itemref idref="c1"/>
    {spine}
  </spine>
</package>"""

NAV = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>Contents</title></head>
<body><nav epub:type="toc"><ol><li><a href="ch1.xhtml">The Harbour</a></li>{more}</ol></nav></body>
</html>"""

CHAPTER = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml">
<head><title>The Harbour</title></head>
<body><h1>The Harbour</h1><p>{text}</p></body>
</html>"""

TEXT = "The boats came in before noon, heavy with fish and salt."


def _epub_files(*, opf: str | None = None, nav: str | None = None, chapter: str | None = None,
                items: str = "", spine: str = "", more_nav: str = "", text: str = TEXT) -> dict[str, bytes]:
    files = {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": CONTAINER,
        "OEBPS/content.opf": opf if opf is not None else OPF.format(items=items, spine=spine),
        "OEBPS/nav.xhtml": nav if nav is not None else NAV.format(more=more_nav),
        "OEBPS/ch1.xhtml": chapter if chapter is not None else CHAPTER.format(text=text),
    }
    return {name: data.encode("utf-8") for name, data in files.items()}


def _epub(files: dict[str, bytes] | None = None, *, drop: tuple[str, ...] = (),
          extra: dict[str, bytes] | None = None, **variant: str) -> Maker:
    def make(path: Path) -> None:
        chosen = dict(files if files is not None else _epub_files(**variant))
        for name in drop:
            chosen.pop(name, None)
        chosen.update(extra or {})
        path.write_bytes(_zip(list(chosen.items())))
    return make


def _epub_with(name: str, xml: str) -> Maker:
    """The valid EPUB with one of its files replaced."""
    files = _epub_files()
    files[name] = xml.encode("utf-8")
    return _epub(files)


def _raw_epub(extra: list[RawEntry]) -> Maker:
    """The valid EPUB's files as honest entries, followed by hand-made ones."""
    def make(path: Path) -> None:
        entries = [RawEntry(n.encode(), d) for n, d in _epub_files().items()]
        path.write_bytes(_raw_zip(entries + extra))
    return make


def _truncated(fraction: float) -> Maker:
    def make(path: Path) -> None:
        _epub()(path)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])
    return make


def _flipped_byte() -> Maker:
    """A byte of the chapter's compressed data changed: the CRC check must catch it."""
    def make(path: Path) -> None:
        _epub(text=TEXT * 40)(path)
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("OEBPS/ch1.xhtml")
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        data[start + info.compress_size // 2] ^= 0x55
        path.write_bytes(bytes(data))
    return make


def _many_entries(count: int) -> Maker:
    def make(path: Path) -> None:
        files = list(_epub_files().items()) + [(f"OEBPS/x/{i}.txt", b"") for i in range(count)]
        path.write_bytes(_zip(files))
    return make


def _zeros_chapter(size: int) -> Maker:
    """A chapter of ``size`` zero bytes: about a thousand times its compressed size."""
    def make(path: Path) -> None:
        entries = [RawEntry(n.encode(), d) for n, d in _epub_files().items() if n != "OEBPS/ch1.xhtml"]
        entries.append(RawEntry(b"OEBPS/ch1.xhtml", _deflate_zeros(size), method=8,
                                crc=_zeros_crc(size), size=size))
        path.write_bytes(_raw_zip(entries))
    return make


def _zeros_crc(size: int) -> int:
    crc, block, left = 0, bytes(1 << 20), size
    while left:
        crc = zlib.crc32(block[: min(left, len(block))], crc)
        left -= min(left, len(block))
    return crc


def _declared(size: int, count: int = 1) -> Maker:
    """Entries whose headers claim ``size`` bytes each while holding a few."""
    tail = [RawEntry(f"OEBPS/big{i}.xhtml".encode(), _deflate(b"<p/>"), method=8,
                     crc=zlib.crc32(b"<p/>"), size=size) for i in range(count)]
    return _raw_epub(tail)


def _understated() -> Maker:
    """An entry that says it holds 10 bytes and inflates to far more."""
    data = b"<p>" + b"a" * 100_000 + b"</p>"
    return _raw_epub([RawEntry(b"OEBPS/under.xhtml", _deflate(data), method=8, crc=zlib.crc32(data),
                               size=10)])


def _xhtml(body: str, doctype: str = "") -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + doctype +
            '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>T</title></head>'
            f"<body><h1>The Harbour</h1>{body}</body></html>")


def _words(count: int) -> str:
    """``count`` words drawn from a small vocabulary: text that compresses like text."""
    vocabulary = "harbour boats salt fish noon gulls crate father green book market lamp cart".split()
    pick = random.Random(count).choice
    return " ".join(pick(vocabulary) for _ in range(count))


def _nested(depth: int) -> str:
    return "<div>" * depth + f"<p>{TEXT}</p>" + "</div>" * depth


def _deep_nav(depth: int) -> str:
    inner = '<li><a href="ch1.xhtml">Deep</a></li>'
    for _ in range(depth):
        inner = f'<li><a href="ch1.xhtml">Level</a><ol>{inner}</ol></li>'
    return NAV.replace('<li><a href="ch1.xhtml">The Harbour</a></li>{more}', inner)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _folder(files: dict[str, bytes | str]) -> Maker:
    def make(path: Path) -> None:
        path.mkdir()
        for name, data in files.items():
            (path / name).write_bytes(data.encode() if isinstance(data, str) else data)
    return make


def _folder_with_link(path: Path) -> None:
    path.mkdir()
    (path / "01.md").write_text(f"# One\n\n{TEXT}\n")
    os.symlink(path.parent / SECRET_FILE, path / "02.md")


def _sparse(size: int) -> Maker:
    def make(path: Path) -> None:
        with open(path, "wb") as f:
            f.write(b"Words. ")
            f.truncate(size)
    return make


def _directory(path: Path) -> None:
    path.mkdir()
    (path / "mimetype").write_text("application/epub+zip")


# --- the cases ------------------------------------------------------------------------------------

_ENTITY_FILE = f'<!DOCTYPE html [<!ENTITY x SYSTEM "file://{{secret}}">]>\n'
_LAUGHS = ('<!DOCTYPE html [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
           '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
           '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">'
           '<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>\n')
_PARAM = '<!DOCTYPE html [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p;]>\n'
_EXTERNAL_DTD = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" '
                 '"http://127.0.0.1:{port}/xhtml11.dtd">\n')
_XINCLUDE = ('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file://{secret}" '
             'parse="text"/>')
_YAML_BOMB = ("---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
              "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
              "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
              "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\ntitle: *g\n---\n\nText.\n")
_OPF_NO = {
    "spine": OPF.replace("<spine>\n    <itemref idref=\"c1\"/>\n    {spine}\n  </spine>", ""),
    "manifest": OPF.split("<manifest>")[0] + OPF.split("</manifest>")[1],
    "metadata": OPF.split("<metadata")[0] + OPF.split("</metadata>")[1],
}


def cases(port: int = 9) -> list[Case]:
    """Every case, in a stable order; names are unique. ``port`` is where entity and DTD tricks
    point their network requests (the test listens there and fails on any connection)."""
    return [
        # -- empty, binary, or nothing to speak
        Case("empty.md", _bytes(b""), 3, "no text to read"),
        Case("empty.txt", _bytes(b""), 3, "no text to read"),
        Case("blank.txt", _bytes(" \t\r\n" * 50), 3, "no text to read"),
        Case("empty.epub", _bytes(b""), 3, "not a readable epub"),
        Case("nul-bytes.txt", _bytes(b"Text\x00\x01\x02" + _noise(2000, 1)), 3, "binary"),
        Case("png-named.md", _bytes(b"\x89PNG\r\n\x1a\n" + _noise(2000, 2)), 3, "binary"),
        Case("noise.epub", _bytes(_noise(4000, 3)), 3, "not a readable epub"),
        Case("controls.txt", _bytes("Words\x07\x08\x1b\x0e\x0f" * 40), 3, "binary"),
        Case("no-speakable.txt", _bytes("... !!! ??? --- *** ### \u2713 \U0001F600 \U0001F389\n"), 3,
             "no text to read"),
        Case("zero-width.txt", _bytes("\u200b\u200c\u200d\ufeff\u2060\u200e\u200f\u202e" * 30), 3,
             "no text to read"),
        Case("only-code.md", _bytes("```\nprint('hi')\n```\n"), 3, "no text to read"),
        Case("only-markup.md", _bytes("![](a.png)\n\n<!-- note -->\n\n---\n\n<br>\n"), 3,
             "no text to read"),
        Case("only-images.epub", _epub(chapter=CHAPTER.replace("<h1>The Harbour</h1><p>{text}</p>",
                                                               '<p><img src="a.png" alt=""/></p>')), 3,
             "no text to read"),
        # -- unusual but readable text
        Case("bidi-and-zero-width.txt", _bytes(
            "Chapter 1\n\nThe \u202eboats\u202c came \u200bin\u200d be\u00adfore \u200fnoon.\n"), 0,
             absent=("\u202e", "\u200b", "\u00ad")),
        Case("emoji.md", _bytes("# Party \U0001F389\n\nWe won \U0001F3C6 the cup!\n"), 0),
        Case("terminal-escapes.txt", _bytes(
            "CHAPTER I. \x1b]0;pwned\x07\x1b[2J\x1b[31mRED\n\n" + TEXT * 20 + "\n"), 0,
             absent=("\x1b", "\x07")),
        Case("mixed-encodings.txt", _bytes("Caf\u00e9 ".encode() + "na\u00efve r\u00e9sum\u00e9 ".encode(
            "latin-1") + b"\x80\x81\x8d\x8f\x90\x9d done.\n"), 0),
        Case("latin1.txt", _bytes("Cr\u00e8me br\u00fbl\u00e9e for \u00a35.\n".encode("latin-1")), 0),
        Case("utf16.txt", _bytes(("\ufeff" + TEXT).encode("utf-16-le")), 0),
        Case("utf16-odd.txt", _bytes(b"\xff\xfe" + TEXT.encode("utf-16-le") + b"\x00\xd8\x41"), 3,
             "not valid utf-16"),
        Case("surrogate-refs.md", _bytes("Lone &#xD800; and &#55296; and &#x110000; refs.\n"), 0),
        Case("crlf-cr-ff.txt", _bytes("Chapter 1\r\rOne.\r\n\x0c\r\nTwo.\x0b\n"), 0),
        Case("long-line.txt", _bytes(("word " * 400_000).encode()), 0),
        Case("long-word.txt", _bytes(b"a" * 1_000_000), 0),
        Case("deep-quote.md", _bytes("> " * 50_000 + "deep\n"), 3, "nests"),
        Case("deep-list.md", _bytes("".join("  " * i + "- item\n" for i in range(3000))), 3, "nests"),
        Case("nested-30.md", _bytes("".join("  " * i + f"- item {i}\n" for i in range(30)) + "\n"
                                    + "> " * 40 + "quoted\n"), 0),
        Case("brackets.md", _bytes("[" * 100_000 + "a" + "](" * 20_000 + "\n"), 0),
        Case("emphasis.md", _bytes("**a " * 50_000 + "\n"), 0),
        Case("html-entities.md", lambda p: _bytes(f"<div>{_ENTITY_FILE.format(secret=p.parent / SECRET_FILE)}"
                                                 "&x;</div>\n\nText &amp; more.\n")(p), 0,
             absent=(SECRET,)),
        Case("too-big.txt", _sparse(80 << 20), 3, "too large to read: more than"),
        # -- front matter
        Case("yaml-aliases.md", _bytes(_YAML_BOMB), 3, "front matter"),
        Case("yaml-deep.md", _bytes("---\ntitle: " + "[" * 20_000 + "\n---\n\nText.\n"), 3, "front matter"),
        Case("yaml-python-tag.md", _bytes("---\ntitle: !!python/object/apply:os.system ['echo hi']\n---\n\n"
                                          "Text.\n"), 3, "front matter"),
        Case("yaml-broken.md", _bytes("---\ntitle: [unclosed\n---\n\nText.\n"), 3, "front matter"),
        Case("unknown-language.md", _bytes("---\nlang: tlh-Piqd\ntitle: \"\\x1b[2J\\u202eTitle\"\n---\n\n"
                                           "Text.\n"), 0, absent=("\x1b", "\u202e")),
        Case("yaml-odd-types.md", _bytes("---\ntitle: {a: 1}\nauthor: [1, {b: 2}, null]\nlang: 7\n---\n\n"
                                         "Text.\n"), 0),
        # -- not a document file
        Case("fifo.txt", _fifo, 3, "not a regular file"),
        Case("folder.epub", _directory, 3, "directory"),
        Case("missing.md", lambda path: None, 3, "no such file"),
        Case("report.pdf", _bytes(b"%PDF-1.4\n"), 3, "unsupported file type"),
        Case("empty-folder", _folder({}), 3, "no markdown or text files"),
        Case("link-out-folder", _folder_with_link, 3, "outside"),
        # -- archives that are not EPUBs, or broken ones
        Case("truncated.epub", _truncated(0.6), 3, "not a readable epub"),
        Case("crc-error.epub", _flipped_byte(), 3, "not a readable epub"),
        Case("no-container.epub", _epub(drop=("META-INF/container.xml",)), 3, "not a readable epub"),
        Case("container-no-rootfile.epub", _epub_with("META-INF/container.xml", CONTAINER.replace(
            "<rootfiles>", "<x>").replace("</rootfiles>", "</x>").replace("rootfile ", "other ")), 3,
             "not a readable epub"),
        Case("container-garbage.epub", _epub_with("META-INF/container.xml", "\x00\x01 not xml <<<"), 3,
             "not a readable epub"),
        Case("missing-opf.epub", _epub(drop=("OEBPS/content.opf",)), 3, "not a readable epub"),
        Case("opf-garbage.epub", _epub_with("OEBPS/content.opf", "<<<>>> not a package"), 3,
             "not a readable epub"),
        Case("opf-no-spine.epub", _epub_with("OEBPS/content.opf", _OPF_NO["spine"]), 3,
             "not a readable epub"),
        Case("opf-no-manifest.epub", _epub_with("OEBPS/content.opf", _OPF_NO["manifest"]), 3,
             "not a readable epub"),
        Case("opf-no-metadata.epub", _epub_with("OEBPS/content.opf", _OPF_NO["metadata"]), 3,
             "no <metadata>"),
        Case("no-toc.epub", _epub(drop=("OEBPS/nav.xhtml",), opf=OPF.format(items="", spine="").replace(
            '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>', "")), 0),
        Case("missing-items.epub", _epub(items='<item id="c2" href="gone.xhtml" media-type='
                                               '"application/xhtml+xml"/><item id="i" href="x.png" '
                                               'media-type="image/png" properties="cover-image"/>',
                                         spine='<itemref idref="c2"/><itemref idref="nowhere"/>',
                                         more_nav='<li><a href="gone.xhtml#a">Gone</a></li>'), 0),
        Case("spine-only-missing.epub", _epub(opf=OPF.format(items="", spine="").replace(
            '<itemref idref="c1"/>', '<itemref idref="ghost"/>')), 3, "no text to read"),
        Case("spine-repeats.epub", _epub(spine='<itemref idref="c1"/>' * 5000), 0),
        Case("nav-garbage.epub", _epub(nav="<html><body><nav epub:type='toc'><ol><li><a>"), 0),
        Case("tag-soup.epub", _epub(chapter="<html><body><p>Caf&eacute; &nbsp; <b>bold <i>soup</p>"), 0),
        Case("deep-nesting.epub", _epub(chapter=_xhtml(_nested(20_000))), 3, "nests"),
        Case("nesting-300.epub", _epub(chapter=_xhtml(_nested(300))), 3, "nests"),
        Case("nesting-200.epub", _epub(chapter=_xhtml(_nested(200))), 0),
        Case("deep-toc.epub", _epub(nav=_deep_nav(3000)), 3, "nests"),
        Case("huge-text-node.epub", _epub(text=_words(1_800_000)), 0),  # over libxml2's 10 MB
        Case("cover-not-image.epub", _epub(items='<item id="cv" href="cover.jpg" media-type="image/jpeg" '
                                                 'properties="cover-image"/>',
                                           extra={"OEBPS/cover.jpg": b"<html>not a jpeg</html>"}), 0),
        Case("odd-entry-names.epub", _epub(extra={"../../evil.txt": b"x", "/abs/evil.txt": b"x",
                                                  "OEBPS/a\\b\n\u202e.xhtml": b"x",
                                                  "OEBPS/\u00e9t\u00e9 \U0001F600.txt": b"x"},
                                           items='<item id="e" href="../../../../../../etc/passwd" '
                                                 'media-type="application/xhtml+xml"/>',
                                           spine='<itemref idref="e"/>'), 0, absent=("root:",)),
        Case("encrypted-entry.epub", _raw_epub([RawEntry(b"OEBPS/enc.xhtml", b"\x00" * 40, flags=1)]), 3,
             "not a readable epub"),
        Case("unknown-method.epub", _raw_epub([RawEntry(b"OEBPS/odd.xhtml", b"xyz", method=99)]), 3,
             "not a readable epub"),
        # -- decompression bombs
        Case("bomb-ratio.epub", _zeros_chapter(40 << 20), 3, "compress"),
        Case("bomb-declared.epub", _declared(3 << 30), 3, "too large"),
        Case("bomb-total.epub", _declared(90 << 20, count=12), 3, "too large"),
        Case("bomb-entries.epub", _many_entries(12_000), 3, "too many"),
        Case("understated-size.epub", _understated(), 3, "not a readable epub"),
        # -- XML entities, external DTDs, XInclude: no file or network access, ever
        Case("xxe-chapter.epub", lambda p: _epub(chapter=_xhtml("<p>&x;</p>", _ENTITY_FILE.format(
            secret=p.parent / SECRET_FILE)))(p), 3, "entit", absent=(SECRET,)),
        Case("xxe-opf.epub", lambda p: _epub(opf=_ENTITY_FILE.format(secret=p.parent / SECRET_FILE).replace(
            "html", "package") + OPF.format(items="", spine="").split("?>", 1)[1].replace(
            "<dc:title>Hostile", "<dc:title>&x;"))(p), 3, "entit", absent=(SECRET,)),
        Case("xxe-container.epub", lambda p: _epub_with("META-INF/container.xml", _ENTITY_FILE.format(
            secret=p.parent / SECRET_FILE).replace("html", "container") + CONTAINER.split("?>", 1)[1])(p),
             3, "entit", absent=(SECRET,)),
        Case("xxe-nav.epub", lambda p: _epub(nav=_ENTITY_FILE.format(secret=p.parent / SECRET_FILE)
                                             + NAV.format(more="").split("?>", 1)[1].replace(
            "The Harbour", "&x;"))(p), 3, "entit", absent=(SECRET,)),
        Case("billion-laughs.epub", _epub(chapter=_xhtml("<p>&h;</p>", _LAUGHS)), 3, "entit"),
        Case("param-entity.epub", _epub(chapter=_xhtml(f"<p>{TEXT}</p>", _PARAM.format(port=port))), 3, "entit"),
        Case("utf16-entity.epub", _epub(files={**_epub_files(), "OEBPS/ch1.xhtml": _xhtml(
            "<p>&x;</p>", _ENTITY_FILE.format(secret="/etc/hostname")).replace(
            'encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")}), 3, "entit"),
        Case("external-dtd.epub", _epub(chapter=_xhtml(f"<p>{TEXT}</p>", _EXTERNAL_DTD.format(port=port))), 0),
        Case("xinclude.epub", lambda p: _epub(chapter=_xhtml(
            f"<p>{TEXT}</p>" + _XINCLUDE.format(secret=p.parent / SECRET_FILE)))(p), 0, absent=(SECRET,)),
        Case("pls-entity.epub", lambda p: _epub(
            items='<item id="pls" href="lex.pls" media-type="application/pls+xml"/>',
            extra={"OEBPS/lex.pls": (_ENTITY_FILE.format(secret=p.parent / SECRET_FILE).replace(
                "html", "lexicon") + '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/'
                'pronunciation-lexicon" alphabet="ipa" xml:lang="en"><lexeme><grapheme>boats'
                '</grapheme><phoneme>&x;</phoneme></lexeme></lexicon>').encode()})(p), 3, "entit",
             command="preview", absent=(SECRET,)),
    ]


def build(folder: Path, chosen: list[Case] | None = None, port: int = 9) -> list[Case]:
    """Write the corpus (and the secret file the entity cases point at) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SECRET_FILE).write_text(SECRET + "\n")
    made = chosen if chosen is not None else cases(port)
    names = [case.name for case in made]
    if len(set(names)) != len(names):
        raise ValueError("case names must be unique")
    for case in made:
        case.make(folder / case.name)
    return made


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.split("\n\n")[2] if __doc__ else "usage: make_corpus.py DIR", file=sys.stderr)
        return 2
    for case in build(Path(argv[1])):
        print(f"{case.code:>3}  {case.error or '-':<10} {case.command:<8} {case.name:<28} "
              f"{case.message}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
