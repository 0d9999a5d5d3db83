"""Read-along EPUBs: span insertion against literal XHTML, the overlay on the shared corpus book
(timing made up, audio real), a real conversion of the EPUB sample, a new EPUB 3 from Markdown,
an EPUB 2 upgraded in place (made here, as older tools wrote them), and an EPUB whose XHTML
cannot be rewritten. epubcheck runs where it is installed."""

from __future__ import annotations

import itertools
import posixpath
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import lxml.etree as etree
import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_cli.output import BookMeta, OutputOptions
from kokoro_cli.output.plan import ChapterAudio
from kokoro_cli.output.timing import ChapterTiming, SentenceTime, TimedChapter
from kokoro_cli.readalong import write_read_along
from kokoro_cli.readalong.spans import wrap_sentences
from kokoro_cli.readalong.upgrade import upgrade_package
from preprocess import InputError, Normalizer, chunk_chapter, parse_file
from tests.conftest import CORPUS, SAMPLES

JAR = Path("/usr/share/java/epubcheck.jar")


def epubcheck(book: Path) -> str | None:
    """epubcheck's report, or None where it is not installed (Debian: apt-get install
    epubcheck; its /usr/bin wrapper needs binfmt, so the jar is run with java)."""
    if shutil.which("java") is None or not JAR.is_file():
        return None
    run = subprocess.run(["java", "-jar", str(JAR), str(book)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout + run.stderr


def test_sentences_are_wrapped_in_spans_where_their_ends_share_an_element():
    body = etree.fromstring(
        '<body xmlns="http://www.w3.org/1999/xhtml"><h1>One</h1><p>The storm came. It was '
        '<em>very</em> loud. <i>All italic.</i> Cut <a href="#x">here. And</a> on.</p></body>')
    ids = (f"s{i}" for i in itertools.count(1))
    found, used = wrap_sentences(body, ["One", "The storm came.", "It was very loud.",
                                        "All italic.", "Cut here.", "And on."], ids)
    assert found == {0: "s1", 1: "s2", 2: "s3", 3: "s4"} and used == 6
    text = etree.tostring(body, encoding="unicode").replace(
        ' xmlns="http://www.w3.org/1999/xhtml"', "")
    assert text == ('<body><h1><span id="s1">One</span></h1><p><span id="s2">The storm came.'
                    '</span> <span id="s3">It was <em>very</em> loud.</span> <i><span id="s4">'
                    'All italic.</span></i> Cut <a href="#x">here. And</a> on.</p></body>')


def _made_up_timing(document, folder: Path) -> list[TimedChapter]:
    """Each sentence 0.2 s long, in silent chapter WAVs of the right length."""
    timed = []
    for chapter in document.chapters:
        chunks = chunk_chapter(chapter, lambda s: s, len, Normalizer())
        texts = list(dict.fromkeys((s.sentence, s.written) for c in chunks for s in c.spans))
        sentences = tuple(SentenceTime(i * 4800, i * 4800 + 4000, t)
                          for i, (_, t) in enumerate(texts))
        samples = 4800 * len(sentences) + 2400
        wav = folder / f"{chapter.index}.wav"
        sf.write(wav, np.zeros(samples, dtype=np.int16), 24000, subtype="PCM_16")
        timed.append(TimedChapter(ChapterAudio(chapter.title, wav, samples),
                                  ChapterTiming(24000, samples, (), sentences)))
    return timed


def _check_overlay(book: Path) -> tuple[int, int]:
    """SMIL references resolve, each span is referenced once, clip times increase; returns
    (spans in the text, sentences timed)."""
    with zipfile.ZipFile(book) as archive:
        names = set(archive.namelist())
        smils = [n for n in names if n.endswith(".smil")]
        referenced, spans, gaps = [], 0, []
        for name in smils:
            root = etree.fromstring(archive.read(name))
            last: dict[str, float] = {}
            for par in root.iter("{*}par"):
                doc, _, fragment = par.find("{*}text").get("src").partition("#")
                audio = par.find("{*}audio")
                path = posixpath.normpath(posixpath.join(posixpath.dirname(name), doc))
                assert path in names
                assert posixpath.normpath(posixpath.join(posixpath.dirname(name),
                                                         audio.get("src"))) in names
                assert f'id="{fragment}"'.encode() in archive.read(path)
                begin, end = (float(audio.get(k)[:-1]) for k in ("clipBegin", "clipEnd"))
                assert last.get(audio.get("src"), -1) <= begin < end
                gaps.append(begin - last.get(audio.get("src"), begin))
                last[audio.get("src")] = end
                referenced.append((path, fragment))
        for name in names:
            if name.endswith((".xhtml", ".html")):
                spans += len(re.findall(rb'id="ra-s\d+"', archive.read(name)))
    assert len(referenced) == len(set(referenced)) == spans
    # a clip runs on to the next one in its audio: going clip to clip skips no pause
    assert max(gaps, default=0) < 0.0015, max(gaps)
    return spans, len(referenced)


@pytest.mark.skipif(not (CORPUS / "accessible_epub_3.epub").is_file(), reason="no corpus book")
def test_the_corpus_book_gets_an_overlay_that_epubcheck_accepts(tmp_path):
    document = parse_file(CORPUS / "accessible_epub_3.epub")
    timed = _made_up_timing(document, tmp_path)
    book = write_read_along(document, timed, tmp_path / "ra.epub",
                            OutputOptions(loudness="off"), BookMeta(title=document.title))
    spans, _ = _check_overlay(book)
    total = sum(len(t.timing.sentences) for t in timed)
    assert spans > 0.9 * total, (spans, total)
    report = epubcheck(book)
    assert report is None or "0 errors" in report, report


def test_markdown_gets_a_new_epub3(tmp_path):
    (tmp_path / "notes.md").write_text("# First\n\nHello there. Version v2.4.1 shipped.\n\n"
                                       "# Second\n\nThe *end* came.\n")
    document = parse_file(tmp_path / "notes.md")
    book = write_read_along(document, _made_up_timing(document, tmp_path),
                            tmp_path / "notes.epub", OutputOptions(loudness="off"),
                            BookMeta(title="Notes"))
    assert _check_overlay(book) == (5, 5)
    report = epubcheck(book)
    assert report is None or "0 errors" in report, report


@pytest.fixture(scope="module")
def lighthouse(tmp_path_factory, resolver):
    root = tmp_path_factory.mktemp("readalong")
    result = CliRunner().invoke(app, [
        "convert", str(SAMPLES / "lighthouse.epub"), "-o", str(root / "book.m4b"),
        "--work-dir", str(root / "work"), "--read-along", str(root / "book-ra.epub")])
    assert result.exit_code == 0, result.output
    return root


@pytest.mark.slow
def test_the_sample_epub_reads_along_with_every_sentence(lighthouse):
    spans, timed = _check_overlay(lighthouse / "book-ra.epub")
    sidecars = sorted((lighthouse / "work").rglob("*.timing.json"))
    total = sum(len(ChapterTiming.from_json(p.read_bytes()).sentences) for p in sidecars)
    assert spans == timed == total
    with zipfile.ZipFile(lighthouse / "book-ra.epub") as archive:
        opf = archive.read("EPUB/content.opf").decode()
    assert 'property="media:active-class"' in opf and "media-overlay=" in opf
    report = epubcheck(lighthouse / "book-ra.epub")
    assert report is None or "0 errors" in report, report


def test_xhtml_that_cannot_be_rewritten_is_exit_3_after_the_audio(tmp_path, resolver):
    bad = tmp_path / "bad.epub"
    with zipfile.ZipFile(SAMPLES / "lighthouse.epub") as src, zipfile.ZipFile(bad, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("chapter_3.xhtml"):
                data = data.replace(b"</p>", b"", 1)  # not well-formed; browsers cope
            out.writestr(info, data)
    result = CliRunner().invoke(app, [
        "convert", str(bad), "-o", str(tmp_path / "bad.m4b"), "--chapters", "3",
        "--work-dir", str(tmp_path / "work"), "--read-along", str(tmp_path / "bad-ra.epub")])
    assert result.exit_code == 3, result.output
    assert "chapter_3.xhtml" in result.output and "well-formed" in result.output
    assert (tmp_path / "bad.m4b").is_file() and not (tmp_path / "bad-ra.epub").exists()


XHTML11 = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" '
           '"http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">')
XHTML10 = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
           '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">')
XHTML = """<?xml version="1.0" encoding="utf-8"?>
{doctype}
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en">
<head>
<meta http-equiv="Content-Type" content="application/xhtml+xml; charset=utf-8"/>
<title>{title}</title>
<link rel="stylesheet" type="text/css" href="../styles/book.css"/>
</head>
<body>
{body}
</body>
</html>
"""
CHAPTERS = {
    "Text/chapter1.xhtml": ("The Lamp", """<h2 class="chapter"><a id="c1"></a>The Lamp</h2>
<p class="first">The keeper climbed the stairs&nbsp;slowly. He lit the <em>great</em> \
lamp&mdash;and waited.</p>
<div class="figure"><img src="../images/lamp.png" alt="The lamp at night"/></div>
<p>Far out, a ship turned toward the light.</p>"""),
    "Text/chapter2.xhtml": ("The Storm", """<h2 class="chapter" id="c2">The Storm</h2>
<p>The wind rose at midnight.<a id="note"></a> Nobody slept on the rock.</p>
<h3><a id="dawn"></a>Dawn</h3>
<p>Morning came, and the sea was calm again.</p>"""),
}
UID = "urn:uuid:1b0c7a52-6f7e-4c59-9d1b-0c4bfa1f2a11"
OPF2 = f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="BookId">
 <metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">
  <dc:title>The Keeper</dc:title>
  <dc:creator opf:role="aut" opf:file-as="Stone, Ada">Ada Stone</dc:creator>
  <dc:language>en</dc:language>
  <dc:identifier id="BookId" opf:scheme="UUID">{UID}</dc:identifier>
  <dc:date opf:event="creation">1899</dc:date>
  <dc:date opf:event="publication">1901-03-04</dc:date>
  <meta name="cover" content="cover-image"/>
 </metadata>
 <manifest>
  <item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>
  <item id="css" href="styles/book.css" media-type="text/css"/>
  <item id="cover-image" href="images/cover.png" media-type="image/png"/>
  <item id="lamp" href="images/lamp.png" media-type="image/png"/>
  <item id="cover" href="Text/cover.xhtml" media-type="application/xhtml+xml"/>
  <item id="chapter1" href="Text/chapter1.xhtml" media-type="application/xhtml+xml"/>
  <item id="chapter2" href="Text/chapter2.xhtml" media-type="application/xhtml+xml"/>
 </manifest>
 <spine toc="ncx">
  <itemref idref="cover" linear="no"/>
  <itemref idref="chapter1"/>
  <itemref idref="chapter2"/>
 </spine>
 <guide>
  <reference type="cover" title="Cover" href="Text/cover.xhtml"/>
  <reference type="text" title="Start" href="Text/chapter1.xhtml"/>
 </guide>
</package>
"""
NCX = f"""<?xml version="1.0" encoding="UTF-8"?>
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">
<head><meta name="dtb:uid" content="{UID}"/><meta name="dtb:depth" content="2"/>\
<meta name="dtb:totalPageCount" content="0"/><meta name="dtb:maxPageNumber" content="0"/></head>
<docTitle><text>The Keeper</text></docTitle>
<navMap>
<navPoint id="p1" playOrder="1"><navLabel><text>The Lamp</text></navLabel>\
<content src="Text/chapter1.xhtml"/></navPoint>
<navPoint id="p2" playOrder="2"><navLabel><text>The Storm</text></navLabel>\
<content src="Text/chapter2.xhtml"/>
 <navPoint id="p3" playOrder="3"><navLabel><text>Dawn</text></navLabel>\
<content src="Text/chapter2.xhtml#dawn"/></navPoint>
</navPoint>
</navMap>
</ncx>
"""
CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>\
<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>\
</rootfiles></container>
"""


def make_epub2(path: Path, *, legacy: bool = False) -> Path:
    """An EPUB 2 as tools wrote them: OPF 2.0 with opf: attributes, the cover named by
    <meta name="cover">, a guide, an NCX with a nested point, XHTML 1.1 with HTML entities, a
    stylesheet, images and a cover page outside the reading order. ``legacy``: chapter 2 as
    XHTML 1.0 with <a name> anchors and xsi:type on a date, which readers take and epubcheck's
    EPUB 2 rules do not."""
    from tests.test_mux import tiny_png

    files = {
        "META-INF/container.xml": CONTAINER, "OEBPS/content.opf": OPF2, "OEBPS/toc.ncx": NCX,
        "OEBPS/styles/book.css": "p { text-indent: 1em; }\nh2.chapter { text-align: center; }\n",
        "OEBPS/images/cover.png": tiny_png(8, 12), "OEBPS/images/lamp.png": tiny_png(),
        "OEBPS/Text/cover.xhtml": XHTML.format(doctype=XHTML11, title="Cover", body=(
            '<div><img src="../images/cover.png" alt="Cover"/></div>')),
        **{f"OEBPS/{name}": XHTML.format(doctype=XHTML11, title=title, body=body)
           for name, (title, body) in CHAPTERS.items()},
    }
    if legacy:
        swaps = {XHTML11: XHTML10, '<a id="note">': '<a name="note">',
                 '<a id="dawn">': '<a name="dawn" id="dawn">'}
        chapter = "OEBPS/Text/chapter2.xhtml"
        for old, new in swaps.items():
            files[chapter] = files[chapter].replace(old, new)
        xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        files["OEBPS/content.opf"] = OPF2.replace("<metadata ", f"<metadata {xsi} ").replace(
            '<dc:date opf:event="publication">', '<dc:date opf:event="publication" '
                                                 'xsi:type="dcterms:W3CDTF">')
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        for name, data in files.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


@pytest.mark.parametrize("legacy", [False, True])
def test_an_epub2_is_upgraded_in_place_and_epubcheck_accepts_it(tmp_path, legacy):
    source = make_epub2(tmp_path / "keeper.epub", legacy=legacy)
    if not legacy:
        report = epubcheck(source)
        assert report is None or "0 errors" in report, report  # a valid EPUB 2 to begin with
    document = parse_file(source)
    timed = _made_up_timing(document, tmp_path)
    book = write_read_along(document, timed, tmp_path / "keeper-ra.epub",
                            OutputOptions(loudness="off"), BookMeta(title=document.title))
    spans, _ = _check_overlay(book)
    assert spans == sum(len(t.timing.sentences) for t in timed) - 1  # all but the image's alt
    report = epubcheck(book)
    assert report is None or "0 errors" in report, report
    with zipfile.ZipFile(source) as before, zipfile.ZipFile(book) as after:
        for name in ("OEBPS/toc.ncx", "OEBPS/styles/book.css", "OEBPS/images/cover.png",
                     "OEBPS/images/lamp.png", "OEBPS/Text/cover.xhtml"):
            assert name in after.namelist()  # kept: the NCX for EPUB 2 readers, style, images
        assert after.read("OEBPS/images/lamp.png") == before.read("OEBPS/images/lamp.png")
        opf = etree.fromstring(after.read("OEBPS/content.opf"))
        chapter1 = after.read("OEBPS/Text/chapter1.xhtml").decode()
        chapter2 = after.read("OEBPS/Text/chapter2.xhtml").decode()
        nav = etree.fromstring(after.read("OEBPS/readalong/nav.xhtml"))
    assert opf.get("version") == "3.0" and b"opf:" not in etree.tostring(opf)
    items = {i.get("id"): i for i in opf.iter("{*}item")}
    assert items["cover-image"].get("properties") == "cover-image"
    assert items["ncx"].get("media-type") == "application/x-dtbncx+xml"
    assert [i.get("href") for i in items.values() if i.get("properties") == "nav"] == \
        ["readalong/nav.xhtml"]
    assert [d.text for d in opf.iter("{*}date")] == ["1901-03-04"]
    refines = {m.get("property"): m.text for m in opf.iter("{*}meta") if m.get("refines")}
    assert refines["role"] == "aut" and refines["file-as"] == "Stone, Ada"
    for text in (chapter1, chapter2):
        assert "<!DOCTYPE html>" in text and "XHTML 1" not in text and "http-equiv" not in text
        assert 'href="../styles/book.css"' in text and "&nbsp;" not in text
    assert '<span id="ra-s2">The keeper climbed the stairs\u00a0slowly.</span>' in chapter1
    assert '<img src="../images/lamp.png" alt="The lamp at night"/>' in chapter1
    assert "name=" not in chapter2 and '<a id="dawn"/>' in chapter2
    links = [(a.text, a.get("href"), len(list(a.iterancestors("{*}ol"))))
             for a in nav.iter("{*}a")]
    assert links == [("The Lamp", "../Text/chapter1.xhtml", 1),
                     ("The Storm", "../Text/chapter2.xhtml", 1),
                     ("Dawn", "../Text/chapter2.xhtml#dawn", 2)]


def test_upgrade_declares_only_the_properties_a_document_needs_and_navigates_without_an_ncx():
    page = XHTML.format(doctype=XHTML11, title="{title}", body="{body}")
    entries = {
        "content.opf": OPF2.replace('<spine toc="ncx">', "<spine>").replace(
            '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>', "").encode(),
        "Text/cover.xhtml": page.format(title="Cover", body="<p>Cover</p>").encode(),
        "Text/chapter1.xhtml": page.format(title="The Lamp", body=(
            '<p>Lit.</p><svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
            "<script>var a = 1;</script>")).encode(),
        "Text/chapter2.xhtml": page.format(title="The Storm", body=(
            '<p><math xmlns="http://www.w3.org/1998/Math/MathML"><mi>x</mi></math></p>')).encode(),
    }
    opf = etree.fromstring(entries["content.opf"])
    upgrade_package(entries, "content.opf", opf)
    properties = {i.get("id"): i.get("properties") for i in opf.iter("{*}item")}
    assert properties["chapter1"] == "scripted svg" and properties["chapter2"] == "mathml"
    assert properties["cover"] is None and properties["cover-image"] == "cover-image"
    nav = etree.fromstring(entries["readalong/nav.xhtml"])
    assert [(a.text, a.get("href")) for a in nav.iter("{*}a")] == [
        ("Cover", "../Text/cover.xhtml"), ("The Lamp", "../Text/chapter1.xhtml"),
        ("The Storm", "../Text/chapter2.xhtml")]


def test_an_epub2_with_xhtml_that_cannot_be_rewritten_is_refused_and_nothing_is_written(tmp_path):
    good = make_epub2(tmp_path / "good.epub")
    bad = tmp_path / "bad.epub"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("chapter2.xhtml"):
                data = data.replace(b"</p>", b"", 1)  # not well-formed; readers cope
            out.writestr(info, data)
    document = parse_file(bad)
    with pytest.raises(InputError, match=r"chapter2\.xhtml.*well-formed"):
        write_read_along(document, _made_up_timing(document, tmp_path), tmp_path / "bad-ra.epub",
                         OutputOptions(loudness="off"), BookMeta(title=document.title))
    assert not (tmp_path / "bad-ra.epub").exists()
