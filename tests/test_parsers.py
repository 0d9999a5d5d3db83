"""Parsers on real files: the samples, the shared EPUB corpus, and small EPUBs built here."""

from __future__ import annotations

from pathlib import Path

import pytest
from ebooklib import epub

from preprocess.document import Block, BlockKind, Document
from preprocess.epub import parse_epub
from preprocess.errors import InputError, ParseError
from preprocess.markdown import parse_markdown
from preprocess.parse import parse_file, parse_text
from preprocess import decode_text
from preprocess.plaintext import classify_line, parse_plaintext

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

H, P, LI, Q, T, C = (
    BlockKind.HEADING,
    BlockKind.PARAGRAPH,
    BlockKind.LIST_ITEM,
    BlockKind.QUOTE,
    BlockKind.TABLE,
    BlockKind.CODE,
)


def titles(document: Document) -> list[str]:
    return [chapter.title for chapter in document.chapters]


def blocks(document: Document) -> list[tuple[BlockKind, str]]:
    return [(b.kind, b.text) for chapter in document.chapters for b in chapter.blocks]


def full_text(document: Document) -> str:
    return "\n".join(chapter.text for chapter in document.chapters)


# --- the samples --------------------------------------------------------------------------------


def test_sample_epub() -> None:
    document = parse_file(SAMPLES / "lighthouse.epub")
    assert document.title == "The Lighthouse Keeper's Daughter"
    assert document.authors == ("Ada Quill",)
    assert document.language == "en"
    assert titles(document) == ["The Storm", "The Signal", "Morning"]
    assert [c.index for c in document.chapters] == [1, 2, 3]
    assert document.chapters[0].blocks[0] == Block(H, "The Storm")
    assert document.cover is not None and document.cover.media_type == "image/png"
    assert document.cover.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert document.source == SAMPLES / "lighthouse.epub"
    assert 150 <= document.words <= 500


def test_sample_markdown() -> None:
    document = parse_file(SAMPLES / "report.md")
    assert document.title == "Weekly Engineering Report"
    assert document.authors == ("Platform Team",)
    assert titles(document) == ["Summary", "Release Notes", "Next Steps"]
    text = full_text(document)
    assert "https://example.com/status" in text and "v2.4.1" in text
    assert "**" not in text and "](" not in text
    assert 150 <= document.words <= 450


def test_sample_plaintext() -> None:
    document = parse_file(SAMPLES / "story.txt")
    assert document.title == "The Clockmaker of Vell"
    assert document.authors == ("Maren Holt",)
    assert titles(document) == [
        "Chapter I. The Silent Tower",
        "Chapter II. The Apprentice",
        "Chapter III. The First Hour",
    ]
    first = document.chapters[0].blocks
    assert first[0] == Block(H, "Chapter I. The Silent Tower")
    assert first[1].text.startswith("In the hill town of Vell, every hour was announced by")
    assert "\n" not in first[1].text  # hard-wrapped lines are joined
    assert 150 <= document.words <= 450


# --- plain text ---------------------------------------------------------------------------------

HEADING_LINES = [
    ("CHAPTER IV.", "label"),
    ("Chapter 12: The Storm", "label"),
    ("Chapter One", "label"),
    ("chapter twenty-one", "label"),
    ("Chapter the First", "label"),
    ("PART ONE", "label"),
    ("BOOK II", "label"),
    ("Part 3 - Homecoming", "label"),
    ("XII", "label"),
    ("IV.", "label"),
    ("PROLOGUE", "label"),
    ("Epilogue.", "label"),
    ("THE BEGINNING", "caps"),
    ("THE KEEPER'S LAMP", "caps"),
    ("I CANNOT BELIEVE IT!", None),
    ("STOP.", None),
    ("Chapter and verse were quoted at length.", None),
    ("Chapter 12 was the longest in the book", None),
    ("Book Club Meeting", None),
    ("Chapter IIII", None),
    ("CIVIL", "caps"),
    ("The storm came at night.", None),
    ("OK", None),
    ("", None),
]


@pytest.mark.parametrize(("line", "role"), HEADING_LINES)
def test_classify_line(line: str, role: str | None) -> None:
    assert classify_line(line) == role


PLAIN_CHAPTERS = [
    # label, blank, title line: one heading
    ("CHAPTER I.\n\nTHE BEGINNING\n\nIt was dark.\n", ["Chapter I. The Beginning"]),
    # label with the title on the next line
    ("CHAPTER I.\nTHE BEGINNING\n\nIt was dark.\n", ["Chapter I. The Beginning"]),
    # a one-line opening sentence is not a title
    ("CHAPTER I.\n\nIt was dark.\n\nCHAPTER II.\n\nIt was light.\n", ["Chapter I.", "Chapter II."]),
    ("Chapter 12: The Storm\n\nRain.\n", ["Chapter 12: The Storm"]),
    ("Chapter One\n\nRain.\n\nChapter Two\n\nSun.\n", ["Chapter One", "Chapter Two"]),
    # a part heading with no text of its own folds into the chapter after it
    ("PART ONE\n\nCHAPTER I\n\nRain.\n", ["Chapter I"]),
    # all-caps lines are titles only when the text has no numbered headings
    ("THE STORM\n\nRain fell.\n\nTHE CALM\n\nSun.\n", ["The Storm", "The Calm"]),
    ("CHAPTER I\n\nRain.\n\nTHE CALM\n\nSun.\n", ["Chapter I"]),
    # no headings at all: one chapter named after the file
    ("Just a line\nof text.\n", ["notes"]),
]


@pytest.mark.parametrize(("text", "expected"), PLAIN_CHAPTERS)
def test_plaintext_chapters(text: str, expected: list[str]) -> None:
    assert titles(parse_plaintext(text, name="notes")) == expected


def test_plaintext_paragraphs_and_title() -> None:
    text = (
        "The Tale of the Salt Road\n\nby Jo Brand\n\n"
        "CHAPTER I.\n\nThe wind was\nsharp and _cold_ and well-\nknown to them.\n\nNext.\n"
    )
    document = parse_plaintext(text, name="tale")
    assert (document.title, document.authors) == ("The Tale of the Salt Road", ("Jo Brand",))
    assert blocks(document) == [
        (H, "Chapter I."),
        (P, "The wind was sharp and cold and well-known to them."),
        (P, "Next."),
    ]


def test_plaintext_gutenberg_boilerplate() -> None:
    text = (
        "The Project Gutenberg eBook of Something\nLicence words.\n"
        "*** START OF THE PROJECT GUTENBERG EBOOK SOMETHING ***\n\n"
        "CHAPTER I.\n\nStory text.\n\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK SOMETHING ***\nMore licence.\n"
    )
    assert blocks(parse_plaintext(text, name="x")) == [(H, "Chapter I."), (P, "Story text.")]


DECODINGS = [
    ("café".encode("utf-8"), "café"),
    (b"\xef\xbb\xbfcaf\xc3\xa9", "café"),
    ("café".encode("utf-16"), "café"),
    (b"caf\xe9 \x93quoted\x94", "café “quoted”"),
]


@pytest.mark.parametrize(("data", "text"), DECODINGS)
def test_decode_text(data: bytes, text: str) -> None:
    assert decode_text(data, name="x.txt") == text


@pytest.mark.parametrize("data", [b"\x00\x01\x02PK\x03\x04" * 20, bytes(range(1, 32)) * 10])
def test_decode_binary_refused(data: bytes) -> None:
    with pytest.raises(ParseError, match="binary"):
        decode_text(data, name="x.txt")


# --- markdown -----------------------------------------------------------------------------------


def test_markdown_front_matter() -> None:
    text = "---\ntitle: My Notes\nauthors: [Ann, Bo]\nlanguage: fr\n---\n\nHello.\n"
    document = parse_markdown(text, name="notes")
    assert document.title == "My Notes"
    assert (document.authors, document.language) == (("Ann", "Bo"), "fr")
    assert titles(document) == ["My Notes"]
    assert blocks(document) == [(P, "Hello.")]


MARKDOWN_CHAPTERS = [
    # no headings: one chapter named after the document
    ("Just text.\n", None, ["notes"], "notes"),
    # top level in use is 2; text before the first heading gets the document's name
    ("Intro.\n\n## A\n\nx\n\n## B\n\ny\n", None, ["notes", "A", "B"], "notes"),
    # heading-free intro without text is not a chapter; deeper headings stay inside
    ("## A\n\nx\n\n### A.1\n\nz\n\n## B\n\ny\n", None, ["A", "B"], "notes"),
    # one H1 wrapping everything is the title, chapters split at the next level
    ("# Guide\n\n## A\n\nx\n\n## B\n\ny\n", None, ["A", "B"], "Guide"),
    # one leading H1 and nothing deeper: the document's title and its one chapter
    ("# Quarterly Report\n\nx\n", None, ["Quarterly Report"], "Quarterly Report"),
    # (capitals are typography: the title is title-cased here, chapters by parse_file)
    ("# QUARTERLY REPORT\n\nx\n", None, ["QUARTERLY REPORT"], "Quarterly Report"),
    # text before the H1: the H1 does not lead, so the file names the document
    ("Intro.\n\n# Late\n\nx\n", None, ["notes", "Late"], "notes"),
    ("# One\n\nx\n\n# Two\n\ny\n", None, ["One", "Two"], "notes"),
    # an explicit split level
    ("# One\n\nx\n\n## One.a\n\nz\n\n# Two\n\ny\n", 2, ["One", "One.a", "Two"], "notes"),
    ("# One\n\nx\n\n## One.a\n\nz\n\n# Two\n\ny\n", 1, ["One", "Two"], "notes"),
]


@pytest.mark.parametrize(("text", "level", "expected", "title"), MARKDOWN_CHAPTERS)
def test_markdown_chapters(text: str, level: int | None, expected: list[str], title: str) -> None:
    document = parse_markdown(text, name="notes", split_level=level)
    assert titles(document) == expected
    assert document.title == title


def test_markdown_heading_is_read() -> None:
    document = parse_markdown("## A *b*\n\nx\n\n### Deeper\n\ny\n", name="n")
    assert blocks(document) == [(H, "A b"), (P, "x"), (H, "Deeper"), (P, "y")]


CODE_POLICY = [
    ("skip", [(P, "Before.")]),
    ("announce", [(P, "Before."), (P, "Code example omitted.")]),
    ("read", [(P, "Before."), (C, "x = 1\nprint(x)")]),
]


@pytest.mark.parametrize(("policy", "expected"), CODE_POLICY)
def test_markdown_code_policy(policy: str, expected: list[tuple[BlockKind, str]]) -> None:
    text = "Before.\n\n```python\nx = 1\nprint(x)\n```\n"
    assert blocks(parse_markdown(text, name="n", code=policy)) == expected


MARKDOWN_BLOCKS = [
    ("See [the docs](https://x.org) now.\n", [(P, "See the docs now.")]),
    ("A ![a red door](door.png) and ![](x.png).\n", [(P, "A a red door and .")]),
    ("Some <b>bold</b> HTML<br/>here.\n", [(P, "Some bold HTML here.")]),
    ("Run `make test` **now** _please_.\n", [(P, "Run make test now please.")]),
    ("- one\n- two!\n  - nested\n", [(LI, "one."), (LI, "two!"), (LI, "nested.")]),
    ("1. First step\n2. Second step.\n", [(LI, "First step."), (LI, "Second step.")]),
    ("> Quoted\n> text.\n", [(Q, "Quoted text.")]),
    (
        "| Name | Age |\n|---|---|\n| Ann | 9 |\n| Bo | 7 |\n",
        [(T, "Name, Age"), (T, "Ann, 9"), (T, "Bo, 7")],
    ),
    ("<div>raw <!-- hidden --> block</div>\n", [(P, "raw block")]),
    ("line one\nline two  \nline three\n", [(P, "line one line two line three")]),
]


@pytest.mark.parametrize(("text", "expected"), MARKDOWN_BLOCKS)
def test_markdown_blocks(text: str, expected: list[tuple[BlockKind, str]]) -> None:
    assert blocks(parse_markdown(text, name="n")) == expected


def test_markdown_bad_front_matter() -> None:
    with pytest.raises(ParseError, match="front matter"):
        parse_markdown("---\ntitle: [unclosed\n---\n\nx\n", name="n")


# --- EPUB corpus ------------------------------------------------------------------------------


def corpus_book(name: str) -> Path:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus book {path} is not available")
    return path


# The nav writes these in capitals; chapter titles get title case in every format.
CHILDRENS_TITLES = [
    "Bibliography",
    "Introductory",
    "190 A Four-Leaved Clover",
    "191 The Lord Helpeth Man and Beast",
    "192 The Real Princess",
    "193 The Emperor's New Clothes",
    "194 The Nightingale",
    "195 The Fir Tree",
    "196 The Tinder-Box",
    "197 The Hardy Tin Soldier",
    "198 The Ugly Duckling",
    "199 The Story of Fairyfoot",
    "200 The Happy Prince",
    "201 The Knights of the Silver Shield",
    "202 The Prince's Dream",
    "203 Old Pipes and the Dryad",
    "204 The King of the Golden River or the Black Brothers",
]


def test_corpus_childrens_literature() -> None:
    document = parse_file(corpus_book("childrens-literature.epub"))
    assert document.title == "Children's Literature"
    assert document.authors == ("Charles Madison Curry", "Erle Elsworth Clippinger")
    assert document.date == "2008-05-20"
    assert document.cover is not None and document.cover.media_type == "image/png"
    # The nav has one top-level entry (Section IV); its entries are the chapters, and author
    # groups without a link give way to the stories under them.
    assert titles(document) == CHILDRENS_TITLES
    first = document.chapters[0].blocks
    assert first[0] == Block(H, "SECTION IV FAIRY STORIES—MODERN FANTASTIC TALES")
    # The story's hidden sub-entries (its four parts) stay inside it as headings.
    clover = [b.text for b in document.chapters[2].blocks if b.kind is H]
    assert clover[0] == "190" and "1. The Rabbi and The Diadem" in clover
    assert "4. An Eastern Garden" in clover
    text = full_text(document)
    assert "Transcriber's Note" not in text  # epub:type="annotation" asides
    assert "than in the drain tunnel" in text  # page-break number 203 removed mid-sentence
    assert "THE CONTENTS" not in text and "Cover Image" not in text


ACCESSIBLE_TITLES = [
    "Preface",
    "1. Introduction",
    "2. Building a Better EPUB: Fundamental Accessibility",
    "3. It’s Alive: Rich Content Accessibility",
    "4. Conclusion",
]


def test_corpus_accessible_epub() -> None:
    document = parse_file(corpus_book("accessible_epub_3.epub"))
    assert (document.title, document.authors) == ("Accessible EPUB 3", ("Matt Garrish",))
    assert document.publisher == "O’Reilly Media, Inc."
    assert document.cover is not None and document.cover.media_type == "image/jpeg"
    assert [name for name, _ in document.lexicons] == ["en.pls", "fr.pls"]
    assert all(data.lstrip().startswith(b"<?xml") for _, data in document.lexicons)
    assert titles(document) == ACCESSIBLE_TITLES
    preface = document.chapters[0]
    headings = [b.text for b in preface.blocks if b.kind is H]
    # Sub-entries of the TOC, in the same file or in files of their own, stay in the chapter.
    assert headings[0] == "Preface"
    assert {"Conventions Used in This Book", "Using Code Examples", "Acknowledgments"} <= set(
        headings
    )
    text = full_text(document)
    assert "Copyright ©" not in text  # the title/copyright page before the TOC
    assert "SPI Global" not in text  # an advert page before the TOC
    assert "Table of Contents" not in text  # the nav document
    assert "Colophon" not in text
    assert 'epub:type="footnote"' not in text  # code samples are skipped by default
    assert "Cover art for EPUB 3 Best Practices, coming in 2012" in document.chapters[-1].text


def test_corpus_keep_front_matter() -> None:
    document = parse_epub(corpus_book("accessible_epub_3.epub"), keep_front_matter=True)
    assert "Copyright © 2012 O’Reilly Media, Inc" in document.chapters[0].text
    assert titles(document)[1:] == ACCESSIBLE_TITLES


def test_corpus_code_read() -> None:
    document = parse_epub(corpus_book("accessible_epub_3.epub"), code="read")
    code = [b.text for c in document.chapters for b in c.blocks if b.kind is C]
    assert any('<aside epub:type="footnote" id="n1">' in text for text in code)


# --- EPUBs built here ---------------------------------------------------------------------------


def build_epub(
    path: Path,
    pages: list[tuple[str, str]],
    toc: tuple,
    *,
    nav: bool = True,
    extra: list[epub.EpubItem] | None = None,
) -> Path:
    """Write an EPUB of XHTML pages (file name, body markup) with the given TOC."""
    book = epub.EpubBook()
    book.set_identifier("test-book")
    book.set_title("Test Book")
    book.set_language("en")
    book.add_author("Tess Ter")
    items = []
    for file_name, body in pages:
        item = epub.EpubHtml(title=file_name, file_name=file_name, lang="en")
        item.content = f"<html><body>{body}</body></html>"
        book.add_item(item)
        items.append(item)
    for item in extra or []:
        book.add_item(item)
    book.toc = toc
    book.add_item(epub.EpubNcx())
    if nav:
        book.add_item(epub.EpubNav())
    book.spine = (["nav"] if nav else []) + items
    epub.write_epub(str(path), book, {"raise_exceptions": True})
    return path


def test_epub_anchors_split_one_file(tmp_path: Path) -> None:
    body = (
        '<h1 id="one">First</h1><p>Alpha.</p><h2 id="sub">Sub</h2><p>Beta.</p>'
        '<h1 id="two">Second</h1><p>Gamma.</p>'
    )
    path = build_epub(
        tmp_path / "a.epub",
        [("text.xhtml", body)],
        (
            epub.Link("text.xhtml#one", "The First", "1"),
            epub.Link("text.xhtml#two", "The Second", "2"),
        ),
    )
    document = parse_epub(path)
    assert titles(document) == ["The First", "The Second"]
    assert blocks(document) == [
        (H, "First"),
        (P, "Alpha."),
        (H, "Sub"),
        (P, "Beta."),
        (H, "Second"),
        (P, "Gamma."),
    ]
    assert [len(c.blocks) for c in document.chapters] == [4, 2]


def test_epub_spine_item_missing_from_toc(tmp_path: Path) -> None:
    pages = [
        ("c1.xhtml", "<h1>One</h1><p>First text.</p>"),
        ("interlude.xhtml", "<p>An interlude nobody listed.</p>"),
        ("c2.xhtml", "<h1>Two</h1><p>Second text.</p>"),
    ]
    toc = (epub.Link("c1.xhtml", "One", "1"), epub.Link("c2.xhtml", "Two", "2"))
    document = parse_epub(build_epub(tmp_path / "b.epub", pages, toc))
    assert titles(document) == ["One", "Two"]
    assert document.chapters[0].blocks[-1] == Block(P, "An interlude nobody listed.")


def test_epub_url_encoded_href(tmp_path: Path) -> None:
    pages = [("chapter one.xhtml", "<p>Spaced out.</p>"), ("c2.xhtml", "<p>Plain.</p>")]
    toc = (epub.Link("chapter%20one.xhtml", "Chapter One", "1"), epub.Link("c2.xhtml", "Two", "2"))
    document = parse_epub(build_epub(tmp_path / "c.epub", pages, toc))
    assert titles(document) == ["Chapter One", "Two"]
    assert document.chapters[0].text == "Spaced out."


def test_epub2_ncx_only(tmp_path: Path) -> None:
    pages = [("a.xhtml", "<h1>A</h1><p>Text a.</p>"), ("b.xhtml", "<h1>B</h1><p>Text b.</p>")]
    toc = (epub.Link("a.xhtml", "Part A", "a"), epub.Link("b.xhtml", "Part B", "b"))
    path = build_epub(tmp_path / "d.epub", pages, toc, nav=False)
    document = parse_epub(path)
    assert titles(document) == ["Part A", "Part B"]
    assert (document.title, document.authors) == ("Test Book", ("Tess Ter",))


def test_epub_notes_not_read(tmp_path: Path) -> None:
    body = (
        '<h1>Notes</h1><p>The sea<a epub:type="noteref" href="#n1">1</a> was calm'
        '<sup><a href="notes.xhtml#n2">2</a></sup> today.</p>'
        '<aside epub:type="footnote" id="n1"><p>A footnote body.</p></aside>'
        '<p>Page<span epub:type="pagebreak" id="p7" title="7">7</span> turned.</p>'
    )
    notes = '<section epub:type="endnotes"><p id="n2">An endnote body.</p></section>'
    pages = [("c.xhtml", body), ("notes.xhtml", notes)]
    toc = (epub.Link("c.xhtml", "Sea", "1"),)
    document = parse_epub(build_epub(tmp_path / "e.epub", pages, toc))
    assert blocks(document) == [(H, "Notes"), (P, "The sea was calm today."), (P, "Page turned.")]


def test_epub_nested_toc(tmp_path: Path) -> None:
    pages = [
        ("p1.xhtml", "<h1>Part</h1><p>Opening.</p>"),
        ("c1.xhtml", "<h2>C1</h2><p>One.</p>"),
        ("c2.xhtml", "<h2>C2</h2><p>Two.</p>"),
    ]
    toc = (
        (
            epub.Section("The Whole Book", href="p1.xhtml"),
            (epub.Link("c1.xhtml", "Chapter 1", "c1"), epub.Link("c2.xhtml", "Chapter 2", "c2")),
        ),
    )
    document = parse_epub(build_epub(tmp_path / "f.epub", pages, toc))
    # A lone top-level entry gives way to its children; its own opening joins the first one.
    assert titles(document) == ["Chapter 1", "Chapter 2"]
    assert document.chapters[0].text == "Part\n\nOpening.\n\nC1\n\nOne."


def test_epub_front_matter_and_images(tmp_path: Path) -> None:
    chapter = (
        "<h1>One</h1><p>Words.</p><figure><img src='m.png' alt='A map of the harbour'/>"
        "<figcaption>Map.</figcaption></figure><p><img src='x.png' alt='image'/>"
        "<img src='y.png' alt='y.png'/><img src='z.png' alt=''/>"
        "<img src='c.png' alt='Cover Image'/></p><table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>9</td></tr></table>"
        "<ul><li>Apples</li><li><p>Pears</p></li></ul><blockquote><p>Said so.</p></blockquote>"
        "<pre>code here</pre>"
    )
    pages = [
        ("title.xhtml", '<section epub:type="titlepage"><h1>Test Book</h1></section>'),
        ("c1.xhtml", chapter),
        ("copyright.xhtml", "<section epub:type='copyright-page'><p>All rights reserved.</p>"),
    ]
    toc = (epub.Link("c1.xhtml", "One", "1"),)
    document = parse_epub(build_epub(tmp_path / "g.epub", pages, toc))
    assert titles(document) == ["One"]
    assert blocks(document) == [
        (H, "One"),
        (P, "Words."),
        (P, "A map of the harbour"),
        (BlockKind.CAPTION, "Map."),
        (T, "Name, Age"),
        (T, "Ann, 9"),
        (LI, "Apples"),
        (LI, "Pears"),
        (Q, "Said so."),
    ]
    kept = parse_epub(tmp_path / "g.epub", keep_front_matter=True)
    assert titles(kept) == ["Test Book", "One"]
    assert "All rights reserved." in kept.chapters[-1].text


# --- parse_file / parse_text and errors ---------------------------------------------------------


def test_parse_text_formats() -> None:
    assert titles(parse_text("## A\n\nx\n", fmt="markdown")) == ["A"]
    assert titles(parse_text("Plain words.\n")) == ["stdin"]
    with pytest.raises(InputError, match="stdin has no text to read"):
        parse_text("   \n\n")


def test_parse_file_format_override(tmp_path: Path) -> None:
    path = tmp_path / "notes.data"
    path.write_text("## Heading\n\nBody.\n", encoding="utf-8")
    assert titles(parse_file(path, fmt="markdown")) == ["Heading"]
    assert titles(parse_file(path, fmt="text")) == ["notes"]
    extensionless = tmp_path / "README"
    extensionless.write_text("Some words.\n", encoding="utf-8")
    assert titles(parse_file(extensionless)) == ["README"]


def test_options_go_to_their_parser(tmp_path: Path) -> None:
    path = tmp_path / "n.txt"
    path.write_text("Words.\n", encoding="utf-8")
    # code= means nothing to plain text and is ignored; a misspelt option is a bug.
    assert titles(parse_file(path, code="read", keep_front_matter=True)) == ["n"]
    with pytest.raises(TypeError, match="splitlevel"):
        parse_file(path, splitlevel=2)


ERRORS = [
    ("bad.epub", b"this is not a zip archive", ParseError, "bad.epub is not a readable EPUB"),
    ("blob.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 8, ParseError, "binary"),
    ("empty.txt", b"", InputError, "empty.txt has no text to read"),
    ("blank.md", b"---\ntitle: Nothing\n---\n\n<!-- a comment -->\n", InputError, "no text"),
    ("data.pdf", b"%PDF-1.4", InputError, r"unsupported file type '\.pdf'.*\.md.*\.epub.*\.txt"),
]


@pytest.mark.parametrize(("name", "data", "error", "message"), ERRORS)
def test_parse_errors(tmp_path: Path, name: str, data: bytes, error: type, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(error, match=message):
        parse_file(path)


def test_truncated_epub(tmp_path: Path) -> None:
    data = (SAMPLES / "lighthouse.epub").read_bytes()
    path = tmp_path / "cut.epub"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ParseError, match="cut.epub is not a readable EPUB"):
        parse_file(path)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read .*nope.txt: no such file"):
        parse_file(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="cannot read .*nope.epub: no such file"):
        parse_file(tmp_path / "nope.epub")
    folder = tmp_path / "book.epub"
    folder.mkdir()
    with pytest.raises(InputError, match="is a directory"):
        parse_file(folder)


def test_epub2_html_entities_under_the_xhtml_doctype_are_read(tmp_path) -> None:
    """EPUB 2 chapters declare the XHTML 1.1 DTD and use its entities; with the DTD never
    loaded they must still read as their characters, not vanish and glue words together."""
    import re
    import zipfile

    source = Path(__file__).resolve().parents[1] / "samples" / "lighthouse.epub"
    book = tmp_path / "entities.epub"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(book, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "EPUB/chapter_1.xhtml":
                text = re.sub(r"<!DOCTYPE[^>]*>", "", data.decode("utf-8"))
                text = text.replace("<html", '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" '
                                    '"http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">\n<html', 1)
                text = text.replace("<p>", "<p>Ten&nbsp;miles &mdash; caf&eacute; &amp; "
                                    "&rsquo;tis&#160;so. ", 1)
                data = text.encode("utf-8")
            new.writestr(info, data)
    first = parse_epub(book).chapters[0].blocks
    spoken = " ".join(b.text for b in first)
    assert "Ten\u00a0miles \u2014 caf\u00e9 & \u2019tis\u00a0so." in spoken or \
        "Ten miles \u2014 caf\u00e9 & \u2019tis so." in spoken, spoken[:200]


def test_epub_our_own_bugs_are_not_read_as_damaged_books(tmp_path: Path, monkeypatch) -> None:
    """Library errors are caught around the library calls only: an AttributeError or KeyError
    from our own traversal is a bug and must surface as itself, not as "not a readable EPUB"."""
    import preprocess.epub

    path = build_epub(tmp_path / "a.epub", [("c1.xhtml", "<h1>One</h1><p>x</p>")],
                      (epub.Link("c1.xhtml", "One", "c1"),))
    assert titles(parse_epub(path)) == ["One"]
    for error in (AttributeError, KeyError, TypeError):
        def broken(*args, error=error):
            raise error("a bug in the walker")

        monkeypatch.setattr(preprocess.epub._Walker, "segments", broken)
        with pytest.raises(error, match="a bug in the walker"):
            parse_epub(path)


def test_epub_unsplittable_link_is_external(tmp_path: Path) -> None:
    # urllib cannot split "http://[x" (an unclosed IPv6 host): no file of the book, not a crash
    import zipfile

    from tests.hostile.make_corpus import _epub_files

    files = _epub_files(more_nav='<li><a href="http://[x">Odd</a></li>')
    path = tmp_path / "a.epub"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    assert titles(parse_epub(path)) == ["The Harbour"]
