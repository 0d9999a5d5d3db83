"""preprocess.plan (preprocess/planning.py): normalize, dictionary, phonemize, chunk, one chapter at a time; and the
public surface the application imports (preprocess.__all__)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import preprocess
from preprocess import (Block, BlockKind, Chapter, ChapterPlan, ChunkOptions, Document, Lexicon,
                        Normalizer, chunk_chapter, lexicon_for, plan)
from preprocess.lexicon import DictionaryError, Entry

P = BlockKind.PARAGRAPH


def _document(*texts: str, language: str = "en", lexicons=()) -> Document:
    chapters = tuple(Chapter(i, f"Chapter {i}", (Block(P, text),))
                     for i, text in enumerate(texts, start=1))
    return Document(title="Book", chapters=chapters, language=language, lexicons=lexicons)


def _phonemes(text: str) -> str:
    """A stand-in for G2P: one "phoneme" per character that is not a space."""
    return "".join(text.split())


def test_plan_is_lazy() -> None:
    seen: list[str] = []

    def phonemize(text: str) -> str:
        seen.append(text)
        return _phonemes(text)

    plans = plan(_document("First chapter.", "Second chapter."), phonemize, len)
    assert seen == []  # nothing is planned before it is asked for
    first = next(plans)
    assert seen == ["First chapter."] and first.chapter.index == 1
    assert [p.chapter.index for p in plans] == [2]


def test_plan_is_chunk_chapter_with_the_normalizer() -> None:
    document = _document("Dr. Smith paid $5 at 10:30.", "Chapter two. " * 60)
    options = ChunkOptions(target_tokens=50)
    plans = list(plan(document, _phonemes, len, options))
    assert all(isinstance(p, ChapterPlan) for p in plans)
    for chapter_plan, chapter in zip(plans, document.chapters, strict=True):
        expected = tuple(chunk_chapter(chapter, _phonemes, len, Normalizer(), options))
        assert chapter_plan.chunks == expected
        assert chapter_plan.tokens == sum(c.tokens for c in expected)
    assert plans[0].chunks[0].text.startswith("Doctor Smith")


def test_dictionary_reaches_phonemize_as_markup_after_the_normalizer() -> None:
    seen: list[str] = []
    lexicon = Lexicon((Entry("Kokoro", phonemes="kˈOkəɹO"), Entry("Dr", respelling="Dee")))

    def phonemize(text: str) -> str:
        seen.append(text)
        return _phonemes(text)

    (only,) = plan(_document("Dr. Kokoro reads."), phonemize, len, lexicon=lexicon)
    # The normalizer has read "Dr." as "Doctor" first, so the "Dr" entry never matches.
    assert seen == ["Doctor [Kokoro](/kˈOkəɹO/) reads."]
    assert only.chunks[0].text == "Doctor Kokoro reads."  # the chunk text stays readable


def test_token_counter_is_the_one_given() -> None:
    (only,) = plan(_document("Rain came."), _phonemes, lambda phonemes: 7)
    assert only.tokens == 7


# --- lexicon_for -----------------------------------------------------------------------------

PLS = ('<lexicon version="1.0" alphabet="ipa" xml:lang="{lang}" '
       'xmlns="http://www.w3.org/2005/01/pronunciation-lexicon">'
       '<lexeme><grapheme>{word}</grapheme><alias>{alias}</alias></lexeme></lexicon>')


def test_lexicon_for_layers_builtin_book_then_files(tmp_path: Path) -> None:
    book_pls = PLS.format(lang="en", word="Nguyen", alias="book").encode()
    toml = tmp_path / "mine.toml"
    toml.write_text('[words]\nNguyen = "mine"\nGandalf = "gandalf"\n', "utf-8")
    pls = tmp_path / "last.pls"
    pls.write_text(PLS.format(lang="en", word="Gandalf", alias="last"), "utf-8")
    document = _document("x", lexicons=(("book.pls", book_pls),))
    lexicon = lexicon_for(document, [toml, pls])
    assert lexicon.apply("Nguyen met Gandalf.") == "mine met last."
    assert lexicon_for(document).apply("Nguyen") == "book"
    builtin = Lexicon.layered(Lexicon.builtin(), language="en")
    assert set(builtin.entries) <= set(lexicon_for(_document("x")).entries)


def test_lexicon_for_takes_the_documents_language(tmp_path: Path) -> None:
    french = PLS.format(lang="fr", word="Paris", alias="paree").encode()
    assert lexicon_for(_document("x", lexicons=(("fr.pls", french),))).apply("Paris") == "Paris"
    document = _document("x", language="fr", lexicons=(("fr.pls", french),))
    assert lexicon_for(document).language == "fr"
    assert lexicon_for(document).apply("Paris") == "paree"


def test_lexicon_for_refuses_a_bad_dictionary(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[words\n", "utf-8")
    with pytest.raises(DictionaryError, match="bad.toml: not valid TOML"):
        lexicon_for(_document("x"), [bad])


# --- the public surface ----------------------------------------------------------------------

CLI_NAMES = {
    "ChapterPlan", "plan", "lexicon_for", "Lexicon", "read_dictionary", "DictionaryError",
    "normalizer_identity", "MAX_TEXT_BYTES", "parse_bytes", "decode_text", "parse_file",
    "parse_text", "InputError", "ParseError", "Document", "Chunk", "ChunkOptions",
    "CODE_POLICIES",
}


def test_public_names() -> None:
    assert CLI_NAMES <= set(preprocess.__all__)
    for name in preprocess.__all__:
        assert getattr(preprocess, name) is not None, name


def test_import_is_cheap() -> None:
    heavy = ("misaki", "spacy", "engine", "torch", "onnxruntime")
    code = ("import sys, preprocess; "
            f"print([m for m in sys.modules if m.split('.')[0] in {heavy!r}])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.strip() == "[]"
