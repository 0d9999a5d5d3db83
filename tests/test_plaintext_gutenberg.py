"""Project Gutenberg plain texts built like the real ones: chapter headings with long titles that
wrap (Don Quixote, Pickwick Papers), and the author named by the book's own title block.

Each text is a whole Gutenberg file: the first line, the licence, the Title:/Author:/Release
date: fields, the START and END markers around the book, and the licence footer.
"""

from __future__ import annotations

import pytest
from test_parsers import full_text, titles

from preprocess.document import BlockKind
from preprocess.gutenberg import byline_author
from preprocess.plaintext import parse_plaintext

H = BlockKind.HEADING


def gutenberg(title: str, body: str, *, author: str | None = None, by: str = "") -> str:
    """A Gutenberg text of ``body``; ``author`` fills the Author: field (none when None) and
    ``by`` ends the first line (", by Herman Melville")."""
    author_field = f"Author: {author}\n\n" if author else ""
    marker = title.upper()
    return (
        f"The Project Gutenberg eBook of {title}{by}\n\n"
        "This ebook is for the use of anyone anywhere in the United States and\n"
        "most other parts of the world at no cost and with almost no restrictions\n"
        "whatsoever. You may copy it, give it away or re-use it under the terms\n"
        "of the Project Gutenberg License included with this ebook or online\n"
        "at www.gutenberg.org.\n\n"
        f"Title: {title}\n\n{author_field}"
        "Release date: July 27, 2004 [eBook #996]\n"
        "                Most recently updated: December 8, 2023\n\n"
        "Language: English\n\n\n"
        f"*** START OF THE PROJECT GUTENBERG EBOOK {marker} ***\n\n\n\n"
        f"{body}\n\n\n"
        f"*** END OF THE PROJECT GUTENBERG EBOOK {marker} ***\n\n"
        "Updated editions will replace the previous one—the old editions will\n"
        "be renamed.\n"
    )


# --- long chapter titles ------------------------------------------------------------------------

CREW = "CHAPTER XII. IN WHICH THE CAPTAIN RETURNS TO THE SHIP AND FINDS THE WHOLE CREW ASLEEP"
CREW_TITLE = "Chapter XII. In Which the Captain Returns to the Ship and Finds the Whole Crew Asleep"
DON = "WHICH TREATS OF THE CHARACTER AND PURSUITS OF THE FAMOUS GENTLEMAN DON"
DON_TITLE = ("Chapter I. Which Treats of the Character and Pursuits of the Famous Gentleman Don "
             "Quixote of La Mancha")
NEXT = "\n\nCHAPTER XIII. THE STORM\n\nThe wind rose in the night.\n"
NEXT_TITLE = "Chapter XIII. The Storm"

LONG_HEADINGS = [
    # the label's title wraps onto a second line of the same paragraph
    (f"{CREW}\nON DECK\n\nThe captain came aboard at dawn.{NEXT}",
     [f"{CREW_TITLE} on Deck", NEXT_TITLE]),
    # ... or onto a line of its own after a blank line
    (f"{CREW}\n\nON DECK\n\nThe captain came aboard at dawn.{NEXT}",
     [f"{CREW_TITLE} on Deck", NEXT_TITLE]),
    # a long title on one line, prose after it (Pickwick Papers)
    ("CHAPTER I. THE PICKWICKIANS\n\nThe first ray of light.\n\n"
     "CHAPTER II. THE FIRST DAY'S JOURNEY, AND THE FIRST EVENING'S ADVENTURES; WITH THEIR "
     "CONSEQUENCES\n\nThat punctual servant of all work, the sun, had just risen.\n",
     ["Chapter I. The Pickwickians",
      "Chapter II. The First Day's Journey, and the First Evening's Adventures; With Their "
      "Consequences"]),
    # a bare label over a title of two lines, in one paragraph (Don Quixote)
    (f"CHAPTER I.\n{DON}\nQUIXOTE OF LA MANCHA\n\n\nIn a village of La Mancha, the name of which "
     "I have no desire to call to\nmind, there lived not long since one of those gentlemen.\n\n"
     "CHAPTER II.\nWHICH TREATS OF THE FIRST SALLY THE INGENIOUS DON QUIXOTE MADE FROM HOME\n\n\n"
     "These preliminaries settled, he did not care to put off any longer.\n",
     [DON_TITLE, "Chapter II. Which Treats of the First Sally the Ingenious Don Quixote Made "
                 "from Home"]),
    # ... the title set apart from the label by a blank line
    (f"CHAPTER I.\n\n{DON}\nQUIXOTE OF LA MANCHA\n\nIn a village of La Mancha.{NEXT}",
     [DON_TITLE, NEXT_TITLE]),
    # ... in capitalised words, not capitals
    ("Chapter 1.\n\nIn Which the Captain Returns to the Ship and Finds the Whole Crew\nAsleep on "
     "Deck\n\nThe captain came aboard at dawn.\n\nChapter 2.\n\nThe Storm\n\nThe wind rose.\n",
     ["Chapter 1. In Which the Captain Returns to the Ship and Finds the Whole Crew Asleep on "
      "Deck", "Chapter 2. The Storm"]),
    # a contents list of such entries is not read; the chapters are
    (f"CONTENTS\n\nCHAPTER I.\n{DON}\nQUIXOTE OF LA MANCHA\n\nCHAPTER XIII. THE STORM\n\n\n\n"
     f"CHAPTER I.\n{DON}\nQUIXOTE OF LA MANCHA\n\nIn a village of La Mancha.{NEXT}",
     [DON_TITLE, NEXT_TITLE]),
]


@pytest.mark.parametrize(("body", "expected"), LONG_HEADINGS)
def test_long_chapter_title_is_one_heading(body: str, expected: list[str]) -> None:
    document = parse_plaintext(gutenberg("Don Quixote", body), name="x")
    assert titles(document) == expected
    for chapter, title in zip(document.chapters, expected, strict=True):
        assert chapter.blocks[0].kind == H and chapter.blocks[0].text == title
        assert [b.kind for b in chapter.blocks].count(H) == 1
    assert "CHAPTER" not in full_text(document) and "CONTENTS" not in full_text(document)


NOT_HEADINGS = [
    # a long prose line that begins with "Chapter" in a sentence, wrapped or not
    "Chapter and verse were quoted by everyone at the meeting, which went on far longer than "
    "anyone\nhad expected.",
    "Chapter and verse were quoted by everyone at the meeting, which went on far longer than "
    "anyone had expected",
    # a label followed by sentences, in capitals or not
    "CHAPTER 9. AND THEN THE CAPTAIN SAID WE SHOULD ALL GO HOME. NOBODY LISTENED AT ALL",
    "Chapter 7: the captain said that we should all go home, and nobody listened to him at all\n"
    "that night, so we stayed.",
    "Chapter 7: the captain said that we should all go home, and nobody listened to him at all\n\n"
    "that night, so we stayed.",
]


@pytest.mark.parametrize("prose", NOT_HEADINGS)
def test_long_prose_line_is_not_a_heading(prose: str) -> None:
    body = f"CHAPTER I.\n\nIt began at sea.\n\n{prose}\n\nCHAPTER II.\n\nIt ended ashore.\n"
    document = parse_plaintext(gutenberg("The Voyage", body), name="x")
    assert titles(document) == ["Chapter I.", "Chapter II."]
    assert prose.split()[2] in document.chapters[0].text


NOT_JOINED = [
    # a long complete title, then prose in sentences
    (f"{CREW}\n\nThe captain came aboard at dawn.\n", CREW_TITLE, "The captain came"),
    # a bare label over a summary in sentences (Gulliver's Travels)
    ("CHAPTER I.\n\nThe author gives some account of himself and family. His first\n"
     "inducements to travel. He is educated at Cambridge.\n\nMy father had a small estate.\n",
     "Chapter I.", "The author gives"),
    # a short complete title is not joined to a short line after it
    ("CHAPTER I.\n\nTHE STORM\n\nRain Fell Hard\n\nIt rained all night.\n",
     "Chapter I. The Storm", "Rain Fell Hard"),
]


@pytest.mark.parametrize(("body", "heading", "paragraph"), NOT_JOINED)
def test_heading_not_joined_to_text(body: str, heading: str, paragraph: str) -> None:
    document = parse_plaintext(gutenberg("The Voyage", body), name="x")
    assert titles(document) == [heading]
    assert document.chapters[0].blocks[1].text.startswith(paragraph)


# --- the author on the title block -------------------------------------------------------------

MOBY = ("MOBY-DICK;\n\nor, THE WHALE.\n\nBy Herman Melville\n\n\n\n"
        "CHAPTER 1. Loomings.\n\nCall me Ishmael.\n\nCHAPTER 2. The Carpet-Bag.\n\n"
        "I stuffed a shirt or two into my old carpet-bag.\n")
CHAPTERS = "\n\n\nCHAPTER I\n\nIt began.\n\nCHAPTER II\n\nIt ended.\n"

AUTHORS = [
    # no Author: field: the "By" line under the title names the author
    ("Moby-Dick; or, The Whale", None, "", MOBY, ("Herman Melville",)),
    ("Alice's Adventures in Wonderland", None, "",
     f"ALICE'S ADVENTURES IN WONDERLAND\n\nBY LEWIS CARROLL\n\nTHE MILLENNIUM FULCRUM EDITION 3.0"
     f"{CHAPTERS}", ("Lewis Carroll",)),
    ("Persuasion", None, "", f"Persuasion\n\n\nby\n\nJane Austen\n\n(1818){CHAPTERS}",
     ("Jane Austen",)),
    ("The Time Machine", None, "",
     f"THE TIME MACHINE\n\nAN INVENTION\n\nSECOND EDITION\n\nBy H. G. Wells.{CHAPTERS}",
     ("H. G. Wells",)),
    # the title block's name wins over the first line's shortened one
    ("Moby-Dick; or, The Whale", None, ", by H. M.", MOBY, ("Herman Melville",)),
    # the Author: field wins over a title block that names the author otherwise
    ("Moby-Dick; or, The Whale", "Herman Melville", "", MOBY.replace("Herman", "H."),
     ("Herman Melville",)),
    # a translator's or an anonymous credit names no author; the first line still does
    ("Candide", None, "", f"CANDIDE\n\nTranslated from the French\n\nby Tobias Smollett{CHAPTERS}",
     ()),
    ("Candide", None, ", by Voltaire",
     f"CANDIDE\n\nTranslated from the French\n\nby Tobias Smollett{CHAPTERS}", ("Voltaire",)),
    ("Waverley", None, "", f"WAVERLEY\n\nBy the Author of Guy Mannering{CHAPTERS}", ()),
    # a title that starts with "By", and a "by" line in the chapters, are not the author
    ("By Night", None, "", f"BY NIGHT{CHAPTERS}", ()),
    ("Bells", None, "",
     "CHAPTER I\n\nThe bells rang out across the valley all that long evening, and then\n\nby\n\n"
     "Morning Light\n\nthey were still.\n", ()),
]


@pytest.mark.parametrize(("title", "author", "by", "body", "expected"), AUTHORS)
def test_title_block_names_the_author(
    title: str, author: str | None, by: str, body: str, expected: tuple[str, ...]
) -> None:
    document = parse_plaintext(gutenberg(title, body, author=author, by=by), name="x")
    assert (document.title, document.authors) == (title, expected)


@pytest.mark.parametrize(("body", "read"), [
    # a title block in sentences opens the first chapter, once, as before
    (MOBY, ["MOBY-DICK;", "or, THE WHALE.", "By Herman Melville", "CHAPTER 1. Loomings."]),
    # a title page is not read, as before
    ("Produced by Anonymous Volunteers\n\n\n\n\nPRIDE AND PREJUDICE\n\nBy Jane Austen\n\n\n\n"
     "Chapter 1\n\n\nIt is a truth universally acknowledged.\n", ["Chapter 1", "It is a truth"]),
])
def test_title_block_read_as_before(body: str, read: list[str]) -> None:
    document = parse_plaintext(gutenberg("The Book", body), name="x")
    assert [b.text[:13] for b in document.chapters[0].blocks[:len(read)]] == [r[:13] for r in read]
    assert full_text(document).count("By ") == read.count("By Herman Melville")
    assert len(document.authors) == 1


BYLINES = [
    # (the title page's lines, where the "by" line is) -> (author, index of the line after it)
    (["MOBY-DICK;", "By Herman Melville"], 1, ("Herman Melville", 2)),
    (["ALICE", "BY LEWIS CARROLL."], 1, ("Lewis Carroll", 2)),
    (["Persuasion", "by", "Jane Austen (1818)"], 1, ("Jane Austen", 3)),
    (["FAIRY TALES", "By Madame d'Aulnoy"], 1, ("Madame d'Aulnoy", 2)),
    (["POEMS", "by Walter de la Mare"], 1, ("Walter de la Mare", 2)),
    (["SENSE AND SENSIBILITY", "By a Lady"], 1, (None, 0)),
    (["CANDIDE", "Illustrated", "by Adrien Moreau"], 2, (None, 0)),
    (["THE BELLS", "by the river we sat down and wept"], 1, (None, 0)),
    (["THE BELLS", "Bye Now"], 1, (None, 0)),
]


@pytest.mark.parametrize(("lines", "position", "expected"), BYLINES)
def test_byline_author(lines: list[str], position: int, expected: tuple[str | None, int]) -> None:
    assert byline_author(lines, position) == expected
