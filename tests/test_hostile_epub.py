"""EPUBs as real tools write them that went wrong (#26 items 18 and 20).

- An EPUB 2 whose NCX, XHTML and SVG declare their DTDs by public and system identifier (as most
  real EPUB 2 files do) is read, and its read-along book passes epubcheck: EPUB 3 forbids those
  external identifiers (OPF-073), so the upgrade leaves the DOCTYPEs behind.
- A fixed-layout EPUB whose pages draw their text in inline SVG (``<text>``, ``<tspan>``), or
  whose pages are SVG documents in the spine, is read; one whose pages are only pictures is
  refused with the reason.

Every book is made here with zipfile.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import lxml.etree as etree
import pytest
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_cli.output import BookMeta, OutputOptions
from kokoro_cli.readalong import write_read_along
from preprocess import InputError, parse_file
from tests.test_readalong import _check_overlay, _made_up_timing, epubcheck, make_epub2

runner = CliRunner()

NCX_DOCTYPE = ('<!DOCTYPE ncx PUBLIC "-//NISO//DTD ncx 2005-1//EN" '
               '"http://www.daisy.org/z3986/2005/ncx-2005-1.dtd">')
SVG_DOCTYPE = ('<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
               '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">')
SVG_IMAGE = f"""<?xml version="1.0" encoding="UTF-8"?>
{SVG_DOCTYPE}
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="10" height="10">\
<rect width="10" height="10" fill="navy"/></svg>
"""


def _rewrite(source: Path, target: Path, change) -> Path:
    """A copy of the EPUB ``source`` with ``change(name, text) -> text`` applied to each text
    file, and an SVG image added beside the PNGs."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith((".ncx", ".opf", ".xhtml")):
                data = change(info.filename, data.decode()).encode()
            out.writestr(info, data)
        out.writestr("OEBPS/images/wave.svg", SVG_IMAGE, compress_type=zipfile.ZIP_DEFLATED)
    return target


def _with_doctypes(name: str, text: str) -> str:
    if name.endswith(".ncx"):
        return text.replace("?>\n", f"?>\n{NCX_DOCTYPE}\n", 1)
    if name.endswith(".opf"):
        return text.replace("</manifest>", '  <item id="wave" href="images/wave.svg" '
                            'media-type="image/svg+xml"/>\n </manifest>')
    if name.endswith("chapter2.xhtml"):
        return text.replace("<p>Morning came", '<p><img src="../images/wave.svg" alt="A wave"/>'
                                               "</p>\n<p>Morning came")
    return text  # the XHTML keeps its XHTML 1.1 DOCTYPE (PUBLIC and SYSTEM)


@pytest.fixture
def epub2_with_doctypes(tmp_path) -> Path:
    return _rewrite(make_epub2(tmp_path / "plain.epub"), tmp_path / "keeper.epub", _with_doctypes)


def test_an_epub2_whose_files_declare_their_dtds_is_read_and_no_dtd_is_loaded(
        epub2_with_doctypes):
    with zipfile.ZipFile(epub2_with_doctypes) as archive:
        assert NCX_DOCTYPE.encode() in archive.read("OEBPS/toc.ncx")
        assert b"-//W3C//DTD XHTML 1.1//EN" in archive.read("OEBPS/Text/chapter1.xhtml")
    report = epubcheck(epub2_with_doctypes)
    assert report is None or "0 errors" in report, report  # a valid EPUB 2 to begin with
    document = parse_file(epub2_with_doctypes)
    assert [c.title for c in document.chapters] == ["The Lamp", "The Storm"]
    # The entities the XHTML DTD declares are read without it (the parser never loads DTDs).
    assert "stairs slowly. He lit the great lamp\u2014and" in document.chapters[0].blocks[1].text


def test_a_dtd_with_an_internal_subset_declaring_entities_is_still_refused(tmp_path):
    def entity(name: str, text: str) -> str:
        return _with_doctypes(name, text).replace(
            '.dtd">', '.dtd" [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1)

    bad = _rewrite(make_epub2(tmp_path / "plain.epub"), tmp_path / "bad.epub", entity)
    with pytest.raises(InputError, match=r"declares XML entities in OEBPS/toc\.ncx"):
        parse_file(bad)


def test_the_read_along_of_an_epub2_with_dtds_passes_epubcheck(epub2_with_doctypes, tmp_path):
    document = parse_file(epub2_with_doctypes)
    timed = _made_up_timing(document, tmp_path)
    book = write_read_along(document, timed, tmp_path / "keeper-ra.epub",
                            OutputOptions(loudness="off"), BookMeta(title=document.title))
    _check_overlay(book)
    report = epubcheck(book)
    assert report is None or "0 errors" in report, report
    with zipfile.ZipFile(book) as archive:
        for name in archive.namelist():
            if name.endswith((".ncx", ".xhtml", ".svg")):
                data = archive.read(name)
                assert b"PUBLIC" not in data and b"SYSTEM" not in data, name
                etree.fromstring(data)  # still well-formed
        ncx = etree.fromstring(archive.read("OEBPS/toc.ncx"))
    labels = [t.text for t in ncx.iter("{*}text")]
    assert labels == ["The Keeper", "The Lamp", "The Storm", "Dawn"]  # the NCX kept as it was


@pytest.mark.slow
def test_convert_read_along_of_an_epub2_with_dtds_passes_epubcheck(epub2_with_doctypes,
                                                                   tmp_path, resolver):
    result = runner.invoke(app, [
        "convert", str(epub2_with_doctypes), "-o", str(tmp_path / "keeper.m4b"),
        "--work-dir", str(tmp_path / "work"), "--read-along", str(tmp_path / "keeper-ra.epub")])
    assert result.exit_code == 0, result.output
    _check_overlay(tmp_path / "keeper-ra.epub")
    report = epubcheck(tmp_path / "keeper-ra.epub")
    assert report is None or "0 errors" in report, report


# --- fixed layout: text in SVG --------------------------------------------------------------

CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>\
<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>\
</rootfiles></container>
"""
OPF3 = """<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
 <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
  <dc:identifier id="id">urn:uuid:5a1d3c0e-1111-4c59-9d1b-0c4bfa1f2a11</dc:identifier>
  <dc:title>The Comic</dc:title><dc:language>en</dc:language>
  <meta property="dcterms:modified">2026-01-01T00:00:00Z</meta>
  {layout}
 </metadata>
 <manifest>
  <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
  <item id="art" href="art.png" media-type="image/png"/>
  {items}
 </manifest>
 <spine>{itemrefs}</spine>
</package>
"""
NAV = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>Contents</title></head><body><nav epub:type="toc"><ol>
{links}
</ol></nav></body></html>
"""
PAGE = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Page {n}</title>
<meta name="viewport" content="width=600, height=800"/></head>
<body><div class="page">{body}</div></body></html>
"""
SVG_PAGE = """<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" \
width="600" height="800" viewBox="0 0 600 800">
<title>Page art</title><desc>A drawing of the harbour.</desc>
<image width="600" height="800" xlink:href="art.png"/>
<defs><text id="unused">Never shown.</text></defs>
{texts}
</svg>"""
LINES = {
    1: ['<text x="40" y="60">The harbour was <tspan font-style="italic">quiet</tspan> that '
        'night.</text>',
        '<text x="40" y="90"><tspan x="40" y="90">Nobody saw</tspan><tspan x="40" y="120">'
        'the boat come in.</tspan></text>',
        '<text x="40" y="150" display="none">Hidden caption.</text>'],
    2: ['<text x="40" y="60">At dawn the gulls woke the town.</text>'],
}


def _fixed_layout_epub(path: Path, pages: dict[int, str], *, layout: bool = True,
                       svg_pages: dict[int, str] | None = None) -> Path:
    """A fixed-layout EPUB 3: one XHTML page per ``pages`` entry (its body), and one SVG
    document in the spine per ``svg_pages`` entry; a TOC entry for each page."""
    from tests.test_mux import tiny_png

    svg_pages = svg_pages or {}
    names = {n: f"page{n}.xhtml" for n in pages} | {n: f"page{n}.svg" for n in svg_pages}
    types = {n: "image/svg+xml" if n in svg_pages else "application/xhtml+xml" for n in names}
    order = sorted(names)
    files = {
        "META-INF/container.xml": CONTAINER,
        "OEBPS/content.opf": OPF3.format(
            layout='<meta property="rendition:layout">pre-paginated</meta>' if layout else "",
            items="\n  ".join(f'<item id="p{n}" href="{names[n]}" media-type="{types[n]}"/>'
                              for n in order),
            itemrefs="".join(f'<itemref idref="p{n}"/>' for n in order)),
        "OEBPS/nav.xhtml": NAV.format(links="\n".join(
            f'<li><a href="{names[n]}">Page {n}</a></li>' for n in order)),
        "OEBPS/art.png": tiny_png(),
        **{f"OEBPS/{names[n]}": PAGE.format(n=n, body=body) for n, body in pages.items()},
        **{f"OEBPS/{names[n]}": '<?xml version="1.0" encoding="UTF-8"?>\n' + body
           for n, body in svg_pages.items()},
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        for name, data in files.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def _svg(lines: list[str]) -> str:
    return SVG_PAGE.format(texts="\n".join(lines))


def _spoken(path: Path) -> list[list[str]]:
    return [[b.text for b in c.blocks] for c in parse_file(path).chapters]


@pytest.mark.parametrize("layout", [True, False])
def test_text_drawn_in_inline_svg_is_read(tmp_path, layout):
    """Fixed-layout pages (and, undeclared, pages with no other text) read their SVG text:
    a line a ``<text>``, runs placed anew spaced, titles, definitions and hidden text not."""
    book = _fixed_layout_epub(tmp_path / "comic.epub", {n: _svg(LINES[n]) for n in LINES},
                              layout=layout)
    assert _spoken(book) == [
        ["The harbour was quiet that night. Nobody saw the boat come in."],
        ["At dawn the gulls woke the town."]]


def test_svg_pages_in_the_spine_are_read(tmp_path):
    book = _fixed_layout_epub(tmp_path / "comic.epub", {1: _svg(LINES[1])},
                              svg_pages={2: _svg(LINES[2])})
    assert _spoken(book)[1] == ["At dawn the gulls woke the town."]


def test_a_reflowable_book_does_not_read_its_diagram_labels(tmp_path):
    body = "<p>The chart shows the tides.</p>" + _svg(['<text x="1" y="1">0 m</text>'])
    book = _fixed_layout_epub(tmp_path / "tides.epub", {1: body}, layout=False)
    assert _spoken(book) == [["The chart shows the tides."]]


def test_inspect_and_preview_read_a_fixed_layout_book_whose_text_is_svg(tmp_path):
    book = _fixed_layout_epub(tmp_path / "comic.epub", {n: _svg(LINES[n]) for n in LINES})
    result = runner.invoke(app, ["inspect", str(book), "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert [c["title"] for c in plan["chapters"]] == ["Page 1", "Page 2"]
    assert all(c["words"] > 5 for c in plan["chapters"])
    result = runner.invoke(app, ["preview", str(book), "--json"])
    assert result.exit_code == 0, result.output
    texts = [c["text"] for chapter in json.loads(result.stdout)["chapters"]
             for c in chapter["chunks"]]
    assert any("Nobody saw the boat come in." in t for t in texts), texts
    assert not any("Hidden" in t or "harbour." in t.replace("harbour was", "") for t in texts)


@pytest.mark.parametrize("body", [
    '<img src="art.png" alt=""/>',
    _svg([]),  # an SVG wrapping a picture, as fixed-layout tools write them
])
def test_a_book_of_pictures_is_refused_with_the_reason(tmp_path, body):
    book = _fixed_layout_epub(tmp_path / "scans.epub", {1: body, 2: body})
    with pytest.raises(InputError, match="scans.epub has no text to read: its pages are images"):
        parse_file(book)
    result = runner.invoke(app, ["inspect", str(book)])
    assert result.exit_code == 3
    assert "its pages are images with no text" in result.output


def test_a_book_whose_text_is_outlines_says_so(tmp_path):
    outlines = '<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0 L10 10"/></svg>'
    book = _fixed_layout_epub(tmp_path / "outlined.epub", {1: outlines})
    with pytest.raises(InputError, match="its pages are drawings with no text"):
        parse_file(book)
