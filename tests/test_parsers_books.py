"""Whole books: folders of chapter files, one book in every format, and the layouts of real books.

The literal texts below copy the layout (not the prose) of real public-domain editions that the
parsers were checked against: Project Gutenberg plain texts of Jane Austen's novels, the Debian
Live manual (an EPUB 2 made by SiSU) and the Ubuntu Packaging Guide (an EPUB 3 made by Sphinx).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from ebooklib import epub
from test_parsers import blocks, build_epub, full_text, titles

from preprocess.document import Block, BlockKind
from preprocess.epub import parse_epub
from preprocess.errors import InputError
from preprocess.parse import parse_file
from preprocess.plaintext import is_part_label, parse_plaintext

H, P = BlockKind.HEADING, BlockKind.PARAGRAPH


def write_files(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# --- a folder of chapter files ------------------------------------------------------------------


FOLDERS = [
    # natural order: ch2 before ch10; a file without headings is named after the file
    (
        {"ch10.md": "# Ten\n\nx\n", "ch2.md": "# Two\n\ny\n", "ch1-the_storm.md": "Rain fell.\n"},
        ["The Storm", "Two", "Ten"],
        "novel",
    ),
    # the first file's front matter names the book; one H1 per file with sections under it
    (
        {
            "01.md": "---\ntitle: The Salt Road\n---\n\n# Departure\n\nx\n\n## At Sea\n\ny\n",
            "02.md": "# Arrival\n\nz\n",
        },
        ["Departure", "Arrival"],
        "The Salt Road",
    ),
    # a file that is only a part heading is read at the start of the next chapter
    (
        {"a1.md": "# Part One\n", "a2.md": "## Chapter 1\n\nx\n", "a3.md": "## Chapter 2\n\ny\n"},
        ["Chapter 1", "Chapter 2"],
        "novel",
    ),
    # no Markdown: the text files, each with its own headings or named after its file
    (
        {"notes.json": "{}", "02_the-calm.txt": "Sun.\n", "01.txt": "CHAPTER I.\n\nRain.\n"},
        ["Chapter I.", "The Calm"],
        "novel",
    ),
    # Markdown wins over text; hidden files are not chapters
    ({"a.md": "Words.\n", "b.txt": "Other.\n", ".c.md": "# Hidden\n\nz\n"}, ["A"], "novel"),
]


@pytest.mark.parametrize(("files", "expected", "title"), FOLDERS)
def test_folder_of_chapters(tmp_path: Path, files: dict[str, str], expected: list, title: str):
    document = parse_file(write_files(tmp_path / "novel", files))
    assert titles(document) == expected
    assert document.title == title
    assert [c.index for c in document.chapters] == list(range(1, len(expected) + 1))
    assert document.source == tmp_path / "novel"


def test_folder_part_heading_is_read(tmp_path: Path) -> None:
    files = {"a1.md": "# Part One\n", "a2.md": "## Chapter 1\n\nx\n"}
    document = parse_file(write_files(tmp_path / "book", files))
    assert blocks(document) == [(H, "Part One"), (H, "Chapter 1"), (P, "x")]


def test_folder_without_chapter_files(tmp_path: Path) -> None:
    folder = write_files(tmp_path / "empty", {"cover.png": "not text", "notes.json": "{}"})
    with pytest.raises(InputError, match="directory with no Markdown or text files"):
        parse_file(folder)
    with pytest.raises(InputError, match="folders hold Markdown or text"):
        parse_file(write_files(tmp_path / "md", {"a.md": "x\n"}), fmt="epub")


# --- the same book in every format ----------------------------------------------------------------

# (volume, chapter title, paragraphs): two volumes whose chapter numbering restarts.
BOOK = [
    ("Volume I", "Chapter 1", ["Rain came over the hill at dusk.", "It did not stop."]),
    ("Volume I", "Chapter 2", ["A light answered from the tower.", "Then another."]),
    ("Volume II", "Chapter 1", ["Boats lay on their sides in the mud.", "Gulls."]),
    ("Volume II", "Chapter 2", ["The sea was flat and grey and quiet.", "The end."]),
]
BOOK_TITLES = [
    "Volume I, Chapter 1",
    "Volume I, Chapter 2",
    "Volume II, Chapter 1",
    "Volume II, Chapter 2",
]


def book_as_text() -> str:
    """A Gutenberg-style plain text: boilerplate, title page, contents, capitals, hard wraps."""
    lines = ["The Project Gutenberg eBook of The Tide", "", "*** START OF THE PROJECT GUTENBERG"
             " EBOOK THE TIDE ***", "", "THE TIDE", "", "by", "", "Ann Shore", "", "(1901)", "",
             "CONTENTS", ""]
    lines += ["VOLUME I", "Chapter 1", "Chapter 2", "VOLUME II", "Chapter 1", "Chapter 2", ""]
    volume = None
    for part, chapter, paragraphs in BOOK:
        if part != volume:
            lines += ["", part.upper(), ""]
            volume = part
        lines += ["", chapter, ""]
        for paragraph in paragraphs:
            words = paragraph.split()
            lines += [" ".join(words[:4]), " ".join(words[4:]), ""]
    lines += ["*** END OF THE PROJECT GUTENBERG EBOOK THE TIDE ***", "Licence text."]
    return "\n".join(lines)


def book_as_markdown_files() -> dict[str, str]:
    files = {"00-front.md": "---\ntitle: The Tide\nauthor: Ann Shore\n---\n\n# Volume I\n"}
    for number, (part, chapter, paragraphs) in enumerate(BOOK, start=1):
        opening = "# Volume II\n\n" if number == 3 else ""
        files[f"{number:02}.md"] = f"{opening}## {chapter}\n\n" + "\n\n".join(paragraphs) + "\n"
    return files


def book_as_epub(path: Path) -> Path:
    pages = [("title.xhtml", '<section epub:type="titlepage"><h1>The Tide</h1></section>')]
    sections: dict[str, list[epub.Link]] = {}
    for number, (part, chapter, paragraphs) in enumerate(BOOK, start=1):
        if part not in sections:
            pages.append((f"v{len(sections) + 1}.xhtml", f"<h1>{part.upper()}</h1>"))
            sections[part] = []
        text = "".join(f"<p>{p}</p>" for p in paragraphs)
        note = '<aside epub:type="footnote" id="n1"><p>A note.</p></aside>' if number == 1 else ""
        pages.append((f"c{number}.xhtml", f"<h2>{chapter}</h2>{text}{note}"))
        sections[part].append(epub.Link(f"c{number}.xhtml", chapter, f"c{number}"))
    toc = tuple(
        (epub.Section(part.upper(), href=f"v{index}.xhtml"), tuple(links))
        for index, (part, links) in enumerate(sections.items(), start=1)
    )
    return build_epub(path, pages, toc)


def test_same_book_in_every_format(tmp_path: Path) -> None:
    text = tmp_path / "tide.txt"
    text.write_text(book_as_text(), encoding="utf-8")
    files = book_as_markdown_files()
    folder = write_files(tmp_path / "tide", files)
    single = tmp_path / "tide.md"
    single.write_text("\n".join(files[name] for name in sorted(files)), encoding="utf-8")
    documents = {
        "text": parse_file(text),
        "markdown": parse_file(single),
        "folder": parse_file(folder),
        "epub": parse_file(book_as_epub(tmp_path / "tide.epub")),
    }
    expected_words = [sum(len(p.split()) for p in paragraphs) for _, _, paragraphs in BOOK]
    for name, document in documents.items():
        assert titles(document) == BOOK_TITLES, name
        words = [chapter.words for chapter in document.chapters]
        # Only the headings read at each chapter's start (which differ a little) may differ.
        assert all(0 <= w - e <= 8 for w, e in zip(words, expected_words, strict=True)), name
        assert "note" not in full_text(document).lower(), name
        assert "licence" not in full_text(document).lower(), name
        assert "CONTENTS" not in full_text(document), name
    assert documents["text"].title == "The Tide" and documents["text"].authors == ("Ann Shore",)
    assert documents["markdown"].title == documents["folder"].title == "The Tide"


# --- plain-text layouts of real books -------------------------------------------------------------

TITLE_PAGES = [
    # Mansfield Park: a year under the title, then "By ..."
    ("MANSFIELD PARK\n\n(1814)\n\n\nBy Jane Austen\n\n\n\nCHAPTER I\n\nText.\n", "Mansfield Park",
     ["Chapter I"]),
    # Persuasion: "by" alone, the name on its own line, the year after it
    ("Persuasion\n\n\nby\n\nJane Austen\n\n(1818)\n\n\nChapter 1\n\nText.\n", "Persuasion",
     ["Chapter 1"]),
    # Northanger Abbey: the year after the name; an unnumbered preface before chapter 1
    (
        "NORTHANGER ABBEY\n\n\nby\n\nJane Austen (1803)\n\n\n"
        "ADVERTISEMENT BY THE AUTHORESS, TO NORTHANGER ABBEY\n\n"
        "THIS little work was finished in the year 1803, and intended for\n"
        "immediate publication. It was disposed of to a bookseller, it was even\n"
        "advertised.\n\nCHAPTER 1\n\nText.\n",
        "Northanger Abbey",
        ["Advertisement by the Authoress, to Northanger Abbey", "Chapter 1"],
    ),
    # a producer's line before the first chapter is title-page matter, not a prologue
    ("Produced by Anne Volunteer and the Online Team\n\nCHAPTER I\n\nText.\n", "x", ["Chapter I"]),
    # ... but a prologue in sentences before chapter 1 is kept
    ("It began in spring.\n\nCHAPTER I\n\nText.\n", "x", ["x", "Chapter I"]),
]


@pytest.mark.parametrize(("text", "title", "expected"), TITLE_PAGES)
def test_plaintext_title_pages(text: str, title: str, expected: list[str]) -> None:
    document = parse_plaintext(text, name="x")
    assert (document.title, titles(document)) == (title, expected)
    assert "Austen" not in full_text(document) and "(18" not in full_text(document)


# --- Project Gutenberg headers ---------------------------------------------------------------------

LICENCE_HEAD = """\
This eBook is for the use of anyone anywhere in the United States and
most other parts of the world at no cost and with almost no restrictions
whatsoever. You may copy it, give it away or re-use it under the terms
of the Project Gutenberg License included with this eBook or online at
www.gutenberg.org.
"""


def gutenberg(first_line: str, fields: str, body: str, start: str = "THE") -> str:
    """A Project Gutenberg plain text: the header (first line, licence, fields), the START
    and END markers around ``body``, and the licence footer."""
    return (f"{first_line}\n\n{LICENCE_HEAD}\n{fields}\n"
            f"*** START OF {start} PROJECT GUTENBERG EBOOK MOBY-DICK; OR, THE WHALE ***\n\n\n\n"
            f"{body}\n*** END OF {start} PROJECT GUTENBERG EBOOK MOBY-DICK; OR, THE WHALE ***\n\n"
            "Updated editions will replace the previous one--the old editions will\n"
            "be renamed. Section 1. General Terms of Use and Redistributing Project\n"
            "Gutenberg-tm electronic works\n")


MOBY_DICK_FIELDS = """\
Title: Moby-Dick; or, The Whale

Author: Herman Melville

Release Date: June, 2001 [eBook #2701]
[Most recently updated: August 18, 2021]

Language: English

Character set encoding: UTF-8

Produced by: Daniel Lazarus, Jonesey, and David Widger
"""
MOBY_DICK_BODY = """\
MOBY-DICK;

or, THE WHALE.

By Herman Melville



CONTENTS

CHAPTER 1. Loomings.

CHAPTER 2. The Carpet-Bag.

CHAPTER 3. The Spouter-Inn.

Epilogue




CHAPTER 1. Loomings.

Call me Ishmael. Some years ago--never mind how long precisely--having
little or no money in my purse, and nothing particular to interest me
on shore, I thought I would sail about a little and see the watery part
of the world.

CHAPTER 2. The Carpet-Bag.

I stuffed a shirt or two into my old carpet-bag, tucked it under my arm,
and started for Cape Horn and the Pacific.

CHAPTER 3. The Spouter-Inn.

Entering that gable-ended Spouter-Inn, you found yourself in a wide,
low, straggling entry with old-fashioned wainscots.

Epilogue

The drama's done. Why then here does any one step forth?--Because one did
survive the wreck.
"""


def test_gutenberg_moby_dick(tmp_path: Path) -> None:
    path = tmp_path / "moby-dick.txt"
    first_line = "The Project Gutenberg eBook of Moby-Dick; or, The Whale, by Herman Melville"
    path.write_text(gutenberg(first_line, MOBY_DICK_FIELDS, MOBY_DICK_BODY), encoding="utf-8")
    document = parse_file(path)
    assert document.title == "Moby-Dick; or, The Whale"
    assert document.authors == ("Herman Melville",)
    assert titles(document) == [
        "CHAPTER 1. Loomings.", "CHAPTER 2. The Carpet-Bag.", "CHAPTER 3. The Spouter-Inn.",
        "Epilogue",
    ]
    # The title page opens the book, read before the first chapter's heading.
    assert blocks(document)[:5] == [
        (P, "MOBY-DICK;"), (P, "or, THE WHALE."), (P, "By Herman Melville"),
        (H, "CHAPTER 1. Loomings."), (P, blocks(document)[4][1]),
    ]
    assert blocks(document)[4][1].startswith("Call me Ishmael.")
    text = full_text(document)
    assert "Gutenberg" not in text and "CONTENTS" not in text and "Release Date" not in text


HEADERS = [
    # the first line alone, in each of its forms
    ("The Project Gutenberg eBook of Moby-Dick; or, The Whale, by Herman Melville", ""),
    ("The Project Gutenberg EBook of Moby-Dick; or, The Whale, by Herman Melville", ""),
    ("Project Gutenberg's Moby-Dick; or, The Whale, by Herman Melville", ""),
    ("\ufeffThe Project Gutenberg eBook of Moby-Dick; or, The Whale, by Herman Melville", ""),
    ("The Project Gutenberg EBook of Moby-Dick; or, The Whale\nby Herman Melville", ""),
    # Title: and Author: lines win over the first line
    ("The Project Gutenberg eBook of Moby Dick, by H. M.", MOBY_DICK_FIELDS),
    ("The Project Gutenberg eBook of Moby Dick", MOBY_DICK_FIELDS),
]


@pytest.mark.parametrize(("first_line", "fields"), HEADERS)
@pytest.mark.parametrize("start", ["THE", "THIS"])
def test_gutenberg_header_names_the_book(first_line: str, fields: str, start: str) -> None:
    text = gutenberg(first_line, fields, MOBY_DICK_BODY, start)
    document = parse_plaintext(text, name="moby-dick")
    assert (document.title, document.authors) == ("Moby-Dick; or, The Whale", ("Herman Melville",))
    assert titles(document)[0] == "CHAPTER 1. Loomings."
    assert document.chapters[0].text.startswith("MOBY-DICK;\n\nor, THE WHALE.")


def test_gutenberg_header_with_several_authors_and_a_long_title() -> None:
    fields = ("Title: Grimms' Fairy Tales\n       Household Stories\n\n"
              "Author: Jacob Grimm\n        Wilhelm Grimm\n\nTranslator: Edgar Taylor\n")
    body = "THE GOLDEN BIRD\n\nA certain king had a beautiful garden.\n"
    document = parse_plaintext(gutenberg("The Project Gutenberg eBook of Grimms' Fairy Tales, by "
                                         "Jacob Grimm and Wilhelm Grimm", fields, body), name="x")
    assert document.title == "Grimms' Fairy Tales Household Stories"
    assert document.authors == ("Jacob Grimm", "Wilhelm Grimm")
    assert titles(document) == ["The Golden Bird"]


def test_gutenberg_older_layout_with_a_producer_line() -> None:
    """Pride and Prejudice (#1342, 2008 header): "Produced by ..." and the title page after the
    START line are not read; the header names the book."""
    fields = "Title: Pride and Prejudice\n\nAuthor: Jane Austen\n\nLanguage: English\n"
    body = ("Produced by Anonymous Volunteers\n\n\n\n\nPRIDE AND PREJUDICE\n\nBy Jane Austen\n\n\n\n"
            "Chapter 1\n\n\nIt is a truth universally acknowledged, that a single man in\n"
            "possession of a good fortune, must be in want of a wife.\n\nChapter 2\n\n"
            "Mr. Bennet was among the earliest of those who waited on Mr. Bingley.\n")
    text = gutenberg("The Project Gutenberg EBook of Pride and Prejudice, by Jane Austen", fields,
                     body, "THIS")
    document = parse_plaintext(text, name="pg1342")
    assert (document.title, document.authors) == ("Pride and Prejudice", ("Jane Austen",))
    assert titles(document) == ["Chapter 1", "Chapter 2"]
    assert "Produced" not in full_text(document) and "PREJUDICE" not in full_text(document)


def test_gutenberg_long_front_matter_stays_a_chapter() -> None:
    """Front matter of real length before the first chapter (a preface in sentences) is not a
    title page: it stays a chapter of its own."""
    preface = " ".join(["The sea is wide and the ships are small."] * 8)
    body = f"{preface}\n\nCHAPTER 1. Loomings.\n\nCall me Ishmael.\n"
    document = parse_plaintext(gutenberg("The Project Gutenberg eBook of Moby-Dick; or, The "
                                         "Whale, by Herman Melville", "", body), name="x")
    assert titles(document) == ["Moby-Dick; or, The Whale", "CHAPTER 1. Loomings."]


CONTENTS = [
    # Gutenberg contents, one line per chapter, then the chapters themselves
    (
        "CONTENTS\n\nCHAPTER I. The Storm\nCHAPTER II. The Calm\n\n"
        "CHAPTER I.\n\nTHE STORM\n\nRain.\n\nCHAPTER II.\n\nTHE CALM\n\nSun.\n",
        ["Chapter I. The Storm", "Chapter II. The Calm"],
    ),
    # entries set apart by blank lines, with volumes
    (
        "Contents\n\nVOLUME I\n\nCHAPTER I\n\nCHAPTER II\n\n"
        "VOLUME I\n\nCHAPTER I\n\nRain.\n\nCHAPTER II\n\nSun.\n",
        ["Chapter I", "Chapter II"],
    ),
    # a "Contents" line that is not followed by the chapters it lists drops nothing
    ("Contents\n\nMostly rain.\n\nCHAPTER I\n\nSun.\n", ["x", "Chapter I"]),
]


@pytest.mark.parametrize(("text", "expected"), CONTENTS)
def test_plaintext_contents_not_read(text: str, expected: list[str]) -> None:
    document = parse_plaintext(text, name="x")
    assert titles(document) == expected
    assert sum(b.text.startswith("CHAPTER") for c in document.chapters for b in c.blocks) <= 2


# Moby-Dick (Project Gutenberg #2701): long chapter titles wrap onto a second line.
MOBY_DICK_CHAPTERS = """\
CHAPTER 56. Of the Less Erroneous Pictures of Whales, and the True
Pictures of Whaling Scenes.

In connexion with the monstrous pictures of whales, I am strongly
tempted here to enter upon those still more monstrous stories of them.

CHAPTER 57. Of Whales in Paint; in Teeth; in Wood; in Sheet-Iron; in
Stone; in Mountains; in Stars.

On Tower-hill, as you go down to the London docks, you may have seen a
crippled beggar holding a painted board before him.

CHAPTER 58. Brit.

Steering north-eastward from the Crozetts, we fell in with vast meadows
of brit.
"""
WRAPPED_TITLES = [
    "CHAPTER 56. Of the Less Erroneous Pictures of Whales, and the True Pictures of Whaling Scenes.",
    "CHAPTER 57. Of Whales in Paint; in Teeth; in Wood; in Sheet-Iron; in Stone; in Mountains; "
    "in Stars.",
    "CHAPTER 58. Brit.",
]


@pytest.mark.parametrize("text", [
    MOBY_DICK_CHAPTERS,
    # the same, with the title's second line set apart by a blank line
    MOBY_DICK_CHAPTERS.replace("in\nStone;", "in\n\nStone;"),
])
def test_plaintext_heading_wrapped_onto_a_second_line(text: str) -> None:
    document = parse_plaintext(text, name="moby-dick")
    assert titles(document) == WRAPPED_TITLES
    for chapter, title in zip(document.chapters, WRAPPED_TITLES, strict=True):
        assert chapter.blocks[0] == Block(H, title)
        assert [b.kind for b in chapter.blocks] == [H, P]
    assert [c.blocks[1].text.split()[0] for c in document.chapters] == ["In", "On", "Steering"]


NOT_WRAPPED = [
    # after a blank line, a title that ends on a full word is complete: the next line is text
    ("CHAPTER 3. The Storm\n\nRain Fell.\n\nIt rained all night.\n", "CHAPTER 3. The Storm"),
    # capitals after a complete title are not its continuation
    ("CHAPTER IV. THE STORM\n\nTHE NEXT MORNING\n\nIt rained all night.\n",
     "Chapter IV. The Storm"),
    # prose after a title that ends mid-phrase is not a continuation
    ("CHAPTER 4. Of the\n\nsea we knew nothing, and we slept.\n\nIt rained.\n",
     "CHAPTER 4. Of the"),
]


@pytest.mark.parametrize(("text", "heading"), NOT_WRAPPED)
def test_plaintext_heading_not_joined_to_what_follows(text: str, heading: str) -> None:
    document = parse_plaintext(text, name="x")
    assert titles(document) == [heading]
    assert document.chapters[0].blocks[0] == Block(H, heading)
    assert "rained" in document.chapters[0].text


def test_plaintext_volumes_restart_numbering(tmp_path: Path) -> None:
    # Emma: "VOLUME I" over chapters I..XVIII, then "VOLUME II" from chapter I again.
    text = (
        "VOLUME I\n\n\n\nCHAPTER I\n\nEmma woke.\n\nCHAPTER II\n\nIt rained.\n\n"
        "VOLUME II\n\nCHAPTER I\n\nThey walked.\n"
    )
    path = tmp_path / "emma.txt"
    path.write_text(text, encoding="utf-8")
    assert titles(parse_file(path)) == [
        "Volume I, Chapter I",
        "Volume I, Chapter II",
        "Volume II, Chapter I",
    ]


PART_LABELS = [
    ("VOLUME I", True),
    ("Part One", True),
    ("BOOK II.", True),
    ("Part 3 - Homecoming", True),
    ("Chapter I", False),
    ("Book Club Meeting", False),
    ("Volume control", False),
]


@pytest.mark.parametrize(("title", "expected"), PART_LABELS)
def test_is_part_label(title: str, expected: bool) -> None:
    assert is_part_label(title) is expected


TITLE_CASE = [
    # capitals are typography: every format gives title case, Roman numerals kept
    ("CHAPTER IV. THE KEEPER'S LAMP\n\nx\n", "Chapter IV. The Keeper's Lamp"),
    ("190 A FOUR-LEAVED CLOVER\n\nx\n", "190 A Four-Leaved Clover"),
    ("MIX AND MATCH\n\nx\n", "Mix and Match"),
]


@pytest.mark.parametrize(("text", "title"), TITLE_CASE)
def test_capital_titles(tmp_path: Path, text: str, title: str) -> None:
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    (tmp_path / "a.md").write_text(f"# {text}", encoding="utf-8")
    assert titles(parse_file(tmp_path / "a.txt")) == [title]
    assert titles(parse_file(tmp_path / "a.md")) == [title]


# --- EPUB layouts of real books -------------------------------------------------------------------


def test_epub_sisu_layout(tmp_path: Path) -> None:
    """The Debian Live manual: a "Table of Contents" entry beside one entry wrapping the book,
    part divider pages, and a number link before every paragraph."""
    para = '<div><label class="ocn"><a href="#o{n}">{n}</a></label><p id="o{n}">{text}</p></div>'
    pages = [
        ("index.xhtml", "<h1>Contents</h1><p>About. User.</p>"),
        ("a1.xhtml", "<h1>Live Manual</h1>"),
        ("b1.xhtml", "<h1>About</h1>"),
        ("about.xhtml", "<h1>1. About this manual</h1>" + para.format(n=5, text="It helps.")),
        ("b2.xhtml", "<h1>User</h1>"),
        ("install.xhtml", "<h1>2. Installation</h1>" + para.format(n=9, text="Install it.")),
    ]
    toc = (
        epub.Link("index.xhtml", "Table of Contents", "toc"),
        (
            epub.Section("Live Manual", href="a1.xhtml"),
            (
                epub.Link("b1.xhtml", "About", "b1"),
                epub.Link("about.xhtml", "1. About this manual", "c1"),
                epub.Link("b2.xhtml", "User", "b2"),
                epub.Link("install.xhtml", "2. Installation", "c2"),
            ),
        ),
    )
    document = parse_epub(build_epub(tmp_path / "live.epub", pages, toc, nav=False))
    assert titles(document) == ["1. About this manual", "2. Installation"]
    assert blocks(document)[-3:] == [(H, "User"), (H, "2. Installation"), (P, "Install it.")]
    assert "5" not in full_text(document).split() and "Contents" not in full_text(document)


def test_epub_sphinx_layout(tmp_path: Path) -> None:
    """The Ubuntu Packaging Guide: nav links that lost their folder, page navigation and a
    copyright footer on every page, and a manifest item missing from the archive."""
    nav_bar = '<div role="navigation"><h3>Navigation</h3><ul><li>next</li></ul></div>'
    footer = '<div role="contentinfo">© Copyright 2010-2021.</div>'
    pages = [
        (f"guide/{name}.xhtml", f"{nav_bar}<h1>{title}</h1><p>{title} text.</p>{footer}")
        for name, title in [("intro", "Introduction"), ("setup", "Getting Set Up")]
    ]
    toc = (epub.Link("intro.xhtml", "Introduction", "i"), epub.Link("setup.xhtml", "Setup", "s"))
    missing = epub.EpubImage(uid="gone", file_name="images/gone.png", content=b"\x89PNG")
    path = build_epub(tmp_path / "guide.epub", pages, toc, extra=[missing])
    drop_from_zip(path, "EPUB/images/gone.png")
    document = parse_epub(path)
    assert titles(document) == ["Introduction", "Setup"]
    assert blocks(document) == [
        (H, "Introduction"), (P, "Introduction text."), (H, "Getting Set Up"),
        (P, "Getting Set Up text."),
    ]


def drop_from_zip(path: Path, name: str) -> None:
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info)) for info in source.infolist() if info.filename != name]
    assert len(entries) < len(zipfile.ZipFile(path).infolist()), f"{name} was not in {path}"
    with zipfile.ZipFile(path, "w") as target:
        for info, data in entries:
            target.writestr(info, data)


def test_epub_parts_in_nav(tmp_path: Path) -> None:
    """Chapters grouped under parts in the nav are the chapters; the parts are not."""
    pages = [
        ("p1.xhtml", "<h1>PART ONE</h1>"),
        ("c1.xhtml", "<h2>The Storm</h2><p>Rain.</p>"),
        ("c2.xhtml", "<h2>The Calm</h2><p>Sun.</p>"),
        ("p2.xhtml", "<h1>PART TWO</h1>"),
        ("c3.xhtml", "<h2>Home</h2><p>Tea.</p>"),
    ]
    toc = (
        (epub.Section("Part One", href="p1.xhtml"),
         (epub.Link("c1.xhtml", "The Storm", "c1"), epub.Link("c2.xhtml", "The Calm", "c2"))),
        (epub.Section("Part Two", href="p2.xhtml"), (epub.Link("c3.xhtml", "Home", "c3"),)),
    )
    document = parse_epub(build_epub(tmp_path / "parts.epub", pages, toc))
    assert titles(document) == ["The Storm", "The Calm", "Home"]
    assert document.chapters[2].text == "PART TWO\n\nHome\n\nTea."
