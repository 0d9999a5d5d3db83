"""The chunker: sentence boundaries, the 510-token limit, nothing lost, pauses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from engine import MAX_PHONEMES, token_count
from preprocess import Block, BlockKind, Chapter, ChunkOptions, Pauses, chunk_chapter, split_sentences


def fake_g2p(text: str) -> str:
    """A stand-in G2P for pure chunking logic: one 'phoneme' per character."""
    return text


SENTENCES = [
    ("One. Two! Three? Four.", ["One.", "Two!", "Three?", "Four."]),
    ('He said "Stop!" Then he left.', ['He said "Stop!"', "Then he left."]),
    ("J. R. R. Tolkien wrote it. Then more.", ["J. R. R. Tolkien wrote it.", "Then more."]),
    ("It cost 3.5 dollars. Cheap.", ["It cost 3.5 dollars.", "Cheap."]),
    ("Wait… Really? Yes.", ["Wait…", "Really?", "Yes."]),
    ("(A remark.) Another.", ["(A remark.)", "Another."]),
    ("no capital. so one sentence", ["no capital. so one sentence"]),
    ("In 2024. 2025 was next.", ["In 2024.", "2025 was next."]),
]


@pytest.mark.parametrize("text, expected", SENTENCES)
def test_sentence_boundaries(text, expected):
    assert split_sentences(text) == expected


def _chapter(*texts: str, heading: str | None = None) -> Chapter:
    blocks = [Block(BlockKind.HEADING, heading)] if heading else []
    blocks += [Block(BlockKind.PARAGRAPH, t) for t in texts]
    return Chapter(1, heading or "Untitled", tuple(blocks))


def test_short_sentences_merge_up_to_target_and_pauses_follow_structure():
    pauses = Pauses(clause=1, sentence=2, paragraph=3, heading=4, chapter=5)
    options = ChunkOptions(target_tokens=30, pauses=pauses)
    chunks = list(chunk_chapter(_chapter("Aa aa. Bb bb. Cc cc. Dd dd dd dd dd dd.", "Ee.",
                                         heading="Title"), fake_g2p, len, options=options))
    assert [c.text for c in chunks] == ["Title", "Aa aa. Bb bb. Cc cc.", "Dd dd dd dd dd dd.", "Ee."]
    assert [c.pause_after_ms for c in chunks] == [4, 2, 3, 5]


def test_long_sentence_is_cut_at_clauses_then_words():
    sentence = ", ".join(["word " * 20] * 6).strip() + "."
    options = ChunkOptions(target_tokens=150, max_tokens=200)
    chunks = list(chunk_chapter(_chapter(sentence), fake_g2p, len, options=options))
    assert all(c.tokens <= 200 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == sentence.split()
    assert all(c.text.endswith(",") for c in chunks[:-1])


def test_single_enormous_word_is_split_not_truncated():
    word = "x" * 1300
    chunks = list(chunk_chapter(_chapter(word), fake_g2p, len))
    assert "".join(c.text for c in chunks) == word
    assert all(c.tokens <= MAX_PHONEMES for c in chunks)


paragraphs = st.lists(st.text(alphabet=st.sampled_from("abcde fgh.,;!?XYZ\n"), min_size=1,
                              max_size=1500), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(paragraphs, st.integers(min_value=1, max_value=510))
def test_property_limits_hold_and_no_text_is_lost(texts, target):
    chapter = _chapter(*texts)
    chunks = list(chunk_chapter(chapter, fake_g2p, len, options=ChunkOptions(target_tokens=target)))
    assert all(0 < c.tokens <= MAX_PHONEMES for c in chunks)
    assert all(c.tokens == len(c.phonemes) for c in chunks)
    spoken = "".join(c.text for c in chunks).replace(" ", "").replace("\n", "")
    written = "".join(texts).replace(" ", "").replace("\n", "")
    assert spoken == written


def test_real_g2p_chunks_fit_and_carry_their_phonemes(english_g2p):
    text = ("The storm came in from the west, and the keeper's daughter watched the lamp turn. "
            * 12)
    chunks = list(chunk_chapter(_chapter(text), english_g2p, token_count))
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.tokens == token_count(chunk.phonemes) <= MAX_PHONEMES
        assert chunk.phonemes == " ".join(english_g2p(s) for s in split_sentences(chunk.text))


def test_a_cut_never_falls_between_a_number_and_its_unit():
    sentence = " ".join(f"walk {n} kilometres" for n in range(1, 60)) + "."
    chunks = list(chunk_chapter(_chapter(sentence), fake_g2p, len,
                                options=ChunkOptions(target_tokens=40, max_tokens=60)))
    assert len(chunks) > 3
    for chunk in chunks:
        assert not chunk.text.startswith("kilometres")
        assert not chunk.text.rstrip(".").split()[-1].isdigit()
