"""The document model: folding heading-only chapters (one helper for every parser) and the
digest that identifies what will be read."""

from __future__ import annotations

import dataclasses

import pytest

from preprocess.document import Block, BlockKind, Chapter, Cover, Document, fold_heading_only

H, P = BlockKind.HEADING, BlockKind.PARAGRAPH


def chapters(*spec: tuple[str, str]) -> list[Chapter]:
    """Chapters from (title, blocks) where blocks is a string like "H:Part One|P:Text."."""
    out = []
    for title, text in spec:
        blocks = tuple(Block(H if item[0] == "H" else P, item[2:]) for item in text.split("|"))
        out.append(Chapter(index=99, title=title, blocks=blocks))
    return out


def shape(folded: tuple[Chapter, ...]) -> list[tuple[int, str, str]]:
    return [(c.index, c.title, "|".join(f"{b.kind.name[0]}:{b.text}" for b in c.blocks))
            for c in folded]


FOLDS = [
    # a part's divider opens the chapter after it
    ((("Part One", "H:Part One"), ("One", "H:One|P:x")), {},
     [(1, "One", "H:Part One|H:One|P:x")]),
    # runs of heading-only chapters fold together
    ((("Book I", "H:Book I"), ("Part 1", "H:Part 1"), ("One", "P:x")), {},
     [(1, "One", "H:Book I|H:Part 1|P:x")]),
    # by default a heading-only last chapter stays a chapter of its own
    ((("One", "P:x"), ("The End", "H:The End")), {},
     [(1, "One", "P:x"), (2, "The End", "H:The End")]),
    # ... or joins the chapter before it (plain text: "THE END")
    ((("One", "P:x"), ("The End", "H:The End")), {"trailing_joins_previous": True},
     [(1, "One", "P:x|H:The End")]),
    # nothing but headings: one chapter, named after the last
    ((("A", "H:A"), ("B", "H:B")), {"trailing_joins_previous": True}, [(1, "B", "H:A|H:B")]),
    ((("A", "H:A"), ("B", "H:B")), {}, [(1, "B", "H:A|H:B")]),
    # a standalone position is never folded (an EPUB spine file without a TOC entry)
    ((("A", "H:A"), ("B", "P:y")), {"standalone": {0}}, [(1, "A", "H:A"), (2, "B", "P:y")]),
    # chapters with text stay as they are, renumbered from 1
    ((("A", "P:x"), ("B", "H:B|P:y")), {}, [(1, "A", "P:x"), (2, "B", "H:B|P:y")]),
    ((), {}, []),
]


@pytest.mark.parametrize(("spec", "options", "expected"), FOLDS)
def test_fold_heading_only(spec, options, expected) -> None:
    assert shape(fold_heading_only(chapters(*spec), **options)) == expected


def _document(**changes) -> Document:
    document = Document(
        title="The Tide", authors=("Ann Shore",), language="en",
        chapters=(Chapter(1, "One", (Block(H, "One"), Block(P, "Rain came."))),),
    )
    return dataclasses.replace(document, **changes)


def test_digest_is_pinned() -> None:
    # Job identities depend on this value: a change here makes every existing job new.
    assert _document().digest == (
        "62962dbf40c36856b1c01f046e015152086d0f2c9b6d609cd8497b1db5b63d2f"
    )


CHANGES_WHAT_IS_READ = [
    {"title": "The Ebb"},
    {"authors": ("Ann Shore", "Bo Tide")},
    {"language": "en-GB"},
    {"chapters": (Chapter(2, "One", (Block(H, "One"), Block(P, "Rain came."))),)},
    {"chapters": (Chapter(1, "Two", (Block(H, "One"), Block(P, "Rain came."))),)},
    {"chapters": (Chapter(1, "One", (Block(H, "One"), Block(P, "Rain came.")), level=2),)},
    {"chapters": (Chapter(1, "One", (Block(H, "One"), Block(P, "Rain came!"))),)},
    {"chapters": (Chapter(1, "One", (Block(H, "One"), Block(BlockKind.QUOTE, "Rain came."))),)},
    {"chapters": (Chapter(1, "One", (Block(H, "One Rain came."),)),)},
]


@pytest.mark.parametrize("change", CHANGES_WHAT_IS_READ)
def test_digest_changes_with_what_is_read(change) -> None:
    assert _document(**change).digest != _document().digest


@pytest.mark.parametrize("change", [
    {"cover": Cover(b"\xff\xd8\xff", "image/jpeg")},
    {"lexicons": (("en.pls", b"<lexicon/>"),)},
    {"source": None},
    {"publisher": "Harbour Press", "date": "1901"},
])
def test_digest_ignores_what_is_not_read(change) -> None:
    assert _document(**change).digest == _document().digest
