"""Text input a hostile tester found read wrongly or silently (#26 items 4, 7, 8, 9, 13): a bad
byte in UTF-8, UTF-16 without a BOM, link reference definitions of any scheme, EPUB chapters
missing or outside the archive, and a giant line without spaces in ``inspect``."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_common import KokoroError
from preprocess import Normalizer, ParseError, decode_text, parse_file
from preprocess.document import spoken_words
from preprocess.markdown import parse_markdown
from tests.conftest import write_epub

runner = CliRunner()

# --- item 4: one bad byte in UTF-8; item 8: UTF-16 without a BOM -------------------------------

ACCENTED = "Le café était très bon, à côté de la fenêtre.\n\n" * 20
BAD_AT = len(ACCENTED.encode("utf-8"))  # where the stray byte goes: after the 20 paragraphs
RUSSIAN = "Привет, как дела? Это тест.\n"


def _replaced(count: int, where: str) -> str:
    return (f"x.txt: {count} {'byte is' if count == 1 else 'bytes are'} not UTF-8 ({where}), "
            "replaced by U+FFFD and not read; the rest is read as UTF-8")


# (bytes, text, the warning or None)
DECODINGS = [
    # A UTF-8 book with one bad byte stays UTF-8 (it was all Windows-1252: "cafÃ©").
    (ACCENTED.encode() + b"\xff" + b"Fin.\n", ACCENTED + "\ufffdFin.\n",
     _replaced(1, f"at byte {BAD_AT:,}")),
    # As many good accents as bad bytes: still UTF-8; the first three offsets are named.
    ("ééééé".encode() + b"\xff" * 5, "ééééé" + "\ufffd" * 5,
     _replaced(5, "at bytes 10, 11, 12 and 2 more")),
    # A UTF-8 BOM says UTF-8 whatever the rest holds.
    (b"\xef\xbb\xbfcaf\xe9 \x93q\x94", "caf\ufffd \ufffdq\ufffd",
     _replaced(3, "at bytes 6, 8 and 10")),
    # Windows-1252 as a whole stays Windows-1252, as README says, without a warning.
    (b"caf\xe9 \x93quoted\x94", "café “quoted”", None),
    ("Crème brûlée for £5.".encode("cp1252"), "Crème brûlée for £5.", None),
    ("Café ".encode() + "naïve résumé".encode("cp1252"), "CafÃ© naïve résumé", None),
    # UTF-16 without a BOM, either byte order, Latin or Cyrillic (was refused as binary).
    ("Hello café\n".encode("utf-16-le"), "Hello café\n", None),
    ("Hello café\n".encode("utf-16-be"), "Hello café\n", None),
    (RUSSIAN.encode("utf-16-le"), RUSSIAN, None),
    (RUSSIAN.encode("utf-16-be"), RUSSIAN, None),
    # Unchanged: plain UTF-8, UTF-16 with a BOM.
    ("café".encode(), "café", None),
    ("café".encode("utf-16"), "café", None),
]


@pytest.mark.parametrize(("data", "text", "warning"), DECODINGS)
def test_decoding(data: bytes, text: str, warning: str | None, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="preprocess"):
        assert decode_text(data, name="x.txt") == text
    assert [r.getMessage() for r in caplog.records] == ([warning] if warning else [])


@pytest.mark.parametrize(("data", "message"), [
    ("Hello".encode("utf-16-le") + b"\n", "x.txt is not valid UTF-16-LE: truncated data"),
    (b"\x00\x01\x02PK\x03\x04" * 20, "binary data"),
    (b"\x01\x00" * 100, "binary data"),  # NULs on one side, but control characters
])
def test_undecodable_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        decode_text(data, name="x.txt")


_BYTES = st.binary(max_size=400) | st.builds(
    lambda text, cut, junk: (text.encode()[:cut] + junk + text.encode()[cut:]),
    st.text(max_size=200), st.integers(0, 400), st.binary(max_size=4))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_BYTES)
def test_any_bytes_decode_to_text_or_refuse(data: bytes) -> None:
    """Never a crash, and never a lone surrogate (the escapes of bad bytes) left in the text."""
    try:
        text = decode_text(data, name="fuzz")
    except KokoroError:
        return
    text.encode("utf-8")  # raises on a lone surrogate


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(st.characters(codec="latin-1", categories=["L", "N", "P", "Zs"]), min_size=1),
       st.sampled_from(["utf-16-le", "utf-16-be"]))
def test_latin_text_in_utf16_without_bom_is_read(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding), name="x.txt") == text


def test_markdown_with_a_bad_byte_keeps_its_accents(tmp_path: Path, caplog) -> None:
    path = tmp_path / "notes.md"
    head = "# Café\n\n".encode()
    path.write_bytes(head + ACCENTED.encode() + b"Fin\xff.\n")
    with caplog.at_level(logging.WARNING, logger="preprocess"):
        document = parse_file(path)
    assert document.chapters[0].title == "Café"
    text = document.chapters[0].text
    assert "Le café était très bon" in text and "Ã" not in text
    assert [r.getMessage() for r in caplog.records] == [
        f"notes.md: 1 byte is not UTF-8 (at byte {len(head) + BAD_AT + len('Fin'):,}), replaced "
        "by U+FFFD and not read; the rest is read as UTF-8"]


def test_cli_warns_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_bytes(ACCENTED.encode() + b"\xff" + b"Fin.\n")
    # French, and said so: a text that names no language would also be told French (#30)
    result = runner.invoke(app, ["preview", str(path), "--lang", "fr"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [f"warning: story.txt: 1 byte is not UTF-8 (at byte "
                                          f"{BAD_AT:,}), replaced by U+FFFD and not read; the rest "
                                          "is read as UTF-8"]
    assert "Le café était très bon" in result.stdout and "Ã" not in result.stdout


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_cli_reads_utf16_without_bom(encoding: str, tmp_path: Path) -> None:
    path = tmp_path / "letter.txt"
    path.write_bytes("Dear Ann,\n\nThe boats came in before noon.\n".encode(encoding))
    result = runner.invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["chapters"][0]["words"] == 8


# --- item 9: link reference definitions of every scheme ----------------------------------------

@pytest.mark.parametrize(("markdown", "blocks"), [
    ("Hello.\n\n[f]: file:///etc/passwd\n", ["Hello."]),
    ("Hello.\n\n[f]: <file:///etc/passwd> \"secret\"\n", ["Hello."]),
    ("[j]: javascript:alert(1)\n\nHi.\n", ["Hi."]),
    ("[d]: data:text/plain,secret\n\nHi.\n", ["Hi."]),
    ("[v]: vbscript:msgbox\n\nHi.\n", ["Hi."]),
    ("[h]: https://example.org/a\n\nHi.\n", ["Hi."]),  # as before
    ("See [the file](file:///etc/passwd).\n", ["See the file."]),
    ("See [the file][f].\n\n[f]: file:///etc/passwd\n", ["See the file."]),
    ("![a map](javascript:x) here.\n", ["a map here."]),
])
def test_reference_definitions_are_not_read(markdown: str, blocks: list[str]) -> None:
    document = parse_markdown(markdown, name="x")
    assert [b.text for c in document.chapters for b in c.blocks] == blocks


# --- item 7: EPUB chapters missing or outside the archive --------------------------------------

CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>
<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
</rootfiles></container>"""


def _opf(items: list[tuple[str, str]], spine: list[str]) -> str:
    manifest = "".join(f'<item id="{i}" href="{href}" media-type="application/xhtml+xml"/>'
                       for i, href in items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">urn:uuid:gaps
</dc:identifier><dc:title>Gaps</dc:title><dc:language>en</dc:language></metadata>
<manifest><item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
{manifest}</manifest><spine>{"".join(f'<itemref idref="{i}"/>' for i in spine)}</spine>
</package>"""


def _nav(entries: list[tuple[str, str]]) -> str:
    items = "".join(f'<li><a href="{href}">{title}</a></li>' for title, href in entries)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>Contents</title></head>
<body><nav epub:type="toc"><ol>{items}</ol></nav></body></html>"""


def _chapter(number: int) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{number}</title></head>
<body><h1>Heading {number}</h1><p>Text of chapter {number}.</p></body></html>"""


def _gaps_epub(path: Path, *, nav: bool = True) -> Path:
    """An EPUB whose spine and contents point at files it lacks, outside it, or twice."""
    items = [("c1", "c1.xhtml"), ("c2", "c2.xhtml"), ("c3", "../../etc/passwd"),
             ("c4", "c4.xhtml"), ("c5", "c5.xhtml"), ("c6", "c6.xhtml")]
    entries = [("One", "c1.xhtml"), ("Two", "c2.xhtml"), ("Three", "../../etc/passwd"),
               ("Four", "c4-renamed.xhtml"), ("Five", "c5.xhtml"), ("Five b", "c5.xhtml#gone"),
               ("Six", "c6.xhtml"), ("Six again", "c6.xhtml"), ("Seven", "../../../x.xhtml")]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", CONTAINER)
        archive.writestr("OEBPS/content.opf", _opf(items, ["nav", "c1", "c2", "c3", "ghost",
                                                           "c4", "c5", "c6"]))
        if nav:
            archive.writestr("OEBPS/nav.xhtml", _nav(entries))
        for number in (1, 4, 5, 6):  # c2 is missing, c3 points outside
            archive.writestr(f"OEBPS/c{number}.xhtml", _chapter(number))
    return path


GAPS_WARNINGS = [
    'gaps.epub: chapter "Two" (OEBPS/c2.xhtml) is missing from the archive: skipped',
    'gaps.epub: chapter "Three" (../../etc/passwd) points outside the archive: skipped',
    'gaps.epub: the spine names "ghost", which the manifest does not have: skipped',
    'gaps.epub: the contents entry "Four" points to OEBPS/c4-renamed.xhtml, which the book does '
    "not have; no chapter starts there",
    'gaps.epub: the contents entry "Five b" points to OEBPS/c5.xhtml#gone, which has no element '
    "with that id; no chapter starts there",
    'gaps.epub: the contents entry "Six again" points to OEBPS/c6.xhtml, which is where "Six" '
    "starts; no chapter starts there",
    'gaps.epub: the contents entry "Seven" points to ../../../x.xhtml, which is outside the '
    "archive; no chapter starts there",
]


def test_epub_gaps_are_named(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="preprocess"):
        document = parse_file(_gaps_epub(tmp_path / "gaps.epub"))
    # Chapter 4's file has no entry of its own (its entry points elsewhere): it runs on in One.
    assert [(c.title, c.text.split("\n\n")[0::2]) for c in document.chapters] == [
        ("One", ["Heading 1", "Heading 4"]), ("Five", ["Heading 5"]), ("Six", ["Heading 6"])]
    assert [r.getMessage() for r in caplog.records] == GAPS_WARNINGS


def test_epub_without_its_nav_is_read_in_spine_order(tmp_path: Path, caplog) -> None:
    """The nav document missing from the archive was "not a readable EPUB: Document is empty"."""
    with caplog.at_level(logging.WARNING, logger="preprocess"):
        document = parse_file(_gaps_epub(tmp_path / "gaps.epub", nav=False))
    assert [c.title for c in document.chapters] == [f"Heading {n}" for n in (1, 4, 5, 6)]
    assert [r.getMessage() for r in caplog.records] == [
        "gaps.epub: the contents (OEBPS/nav.xhtml) is missing from the archive: chapters follow "
        "the spine",
        "gaps.epub: OEBPS/c2.xhtml is missing from the archive: skipped",
        "gaps.epub: ../../etc/passwd points outside the archive: skipped",
        'gaps.epub: the spine names "ghost", which the manifest does not have: skipped',
    ]


def test_a_sound_epub_warns_of_nothing(tmp_path: Path, caplog) -> None:
    path = write_epub(tmp_path / "sound.epub", "en", (("One", "First.", "en"),
                                                      ("Two", "Second.", "en")))
    with caplog.at_level(logging.WARNING, logger="preprocess"):
        assert [c.title for c in parse_file(path).chapters] == ["One", "Two"]
    assert caplog.records == []


def test_cli_names_the_missing_chapters(tmp_path: Path) -> None:
    result = runner.invoke(app, ["preview", str(_gaps_epub(tmp_path / "gaps.epub"))])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [f"warning: {line}" for line in GAPS_WARNINGS]


# --- item 13: a giant line without spaces -------------------------------------------------------

@pytest.mark.parametrize(("text", "words"), [
    ("The boats came in.", 4),
    ("q" * 100, 1),
    ("q" * 101, 2),
    ("q" * 250, 3),
    ("Il était une fois " + "x" * 350 + " fin.", 9),
    ("Q" * (2 << 20), 20_972),  # 2 MB: 20,972 pieces to speak, not one word
])
def test_words_as_read(text: str, words: int) -> None:
    assert spoken_words(text) == words
    if len(text) < 1000:  # as many as the normalizer leaves
        assert len(Normalizer()(text).split()) == words


def test_inspect_on_a_giant_line(tmp_path: Path) -> None:
    path = tmp_path / "blob.txt"
    path.write_text("Q" * (2 << 20))
    result = runner.invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.stderr
    chapter = json.loads(result.stdout)["chapters"][0]
    assert chapter["words"] == 20_972
    assert chapter["est_seconds"] > 100_000  # about a phoneme a character: some 36 hours


def test_inspect_estimates_prose_by_its_words() -> None:
    story = Path(__file__).resolve().parents[1] / "samples" / "story.txt"
    result = runner.invoke(app, ["inspect", str(story), "--json"])
    chapters = json.loads(result.stdout)["chapters"]
    assert [c["est_seconds"] for c in chapters] == [round(c["words"] / 2.7, 1) for c in chapters]
