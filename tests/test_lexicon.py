"""Pronunciation dictionaries: TOML and PLS files, layering, apply() tables, misaki markup."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from preprocess.lexicon import DictionaryError, Entry, Lexicon, epub_lexicons, ipa_to_misaki

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
ACCESSIBLE_EPUB = CORPUS / "accessible_epub_3.epub"
needs_corpus = pytest.mark.skipif(not ACCESSIBLE_EPUB.exists(), reason="shared corpus absent")

DICTIONARY = """\
language = "en"

[words]
Kokoro = { phonemes = "kˈOkəɹO" }
Nguyen = "win"                 # a plain string is a respelling
"New  York" = "noo york"
Hermione = { ipa = "/hɜːˈmaɪ.ə.ni/" }
sql = { phonemes = "/ˈɛs kjˈu ˈɛl/" }

[words.SQL]
respelling = "sequel"
"""

PLS = """\
<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" alphabet="ipa" xml:lang="en-US"
         xmlns="http://www.w3.org/2005/01/pronunciation-lexicon">
  <lexeme>
    <grapheme>Notre Dame</grapheme>
    <phoneme>ˌnoʊtrə ˈdeɪm</phoneme>
  </lexeme>
  <lexeme>
    <grapheme>tomato</grapheme>
    <grapheme>tomatoes</grapheme>
    <phoneme>təˈmeɪtoʊ</phoneme>
    <phoneme prefer="true">təˈmɑːtəʊ</phoneme>
  </lexeme>
  <lexeme>
    <grapheme>W3C</grapheme>
    <alias>World Wide Web Consortium</alias>
  </lexeme>
  <lexeme>
    <grapheme>judge</grapheme>
    <phoneme alphabet="x-sampa">"dZVdZ</phoneme>
  </lexeme>
</lexicon>
"""


def _toml(tmp_path: Path, text: str, name: str = "words.toml") -> Lexicon:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return Lexicon.from_toml(path)


def _pls(body: str, head: str = 'alphabet="ipa" xml:lang="en"') -> bytes:
    namespace = 'xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"'
    return f'<lexicon version="1.0" {head} {namespace}>{body}</lexicon>'.encode()


# --- TOML ---------------------------------------------------------------------------------


def test_toml_reads_every_kind_of_entry(tmp_path):
    lexicon = _toml(tmp_path, DICTIONARY)
    assert lexicon.language == "en"
    assert lexicon.entries == (
        Entry("Kokoro", phonemes="kˈOkəɹO"),
        Entry("Nguyen", respelling="win"),
        Entry("New York", respelling="noo york"),
        Entry("Hermione", phonemes="hɜɹmˈIəni"),
        Entry("sql", phonemes="ˈɛs kjˈu ˈɛl"),
        Entry("SQL", respelling="sequel"),
    )
    assert len(lexicon) == 6


def test_builtin_dictionary_loads_and_speaks_kokoro():
    lexicon = Lexicon.builtin()
    assert len(lexicon) > 0
    assert lexicon.apply("Kokoro reads.") == "[Kokoro](/kˈOkəɹO/) reads."


MALFORMED_TOML = [
    ("[words]\nKokoro = \n", "words.toml: not valid TOML: Invalid value (at line 2, column 10)"),
    ('lingo = "en"\n', "words.toml: unknown key 'lingo' (expected language, words, lang)"),
    ('lang = "en"\n', "words.toml: [lang] holds one table of words per language, such as [lang.fr]"),
    ('words = "x"\n', "words.toml: 'language' must be a string and [words] a table"),
    ('[words]\nSQL = { respelling = "sequel", phonemes = "sˈikwəl" }\n',
     "words.toml: [words] 'SQL': give exactly one of respelling, phonemes or ipa as a string "
     "(has respelling, phonemes)"),
    ("[words]\nSQL = {}\n",
     "words.toml: [words] 'SQL': give exactly one of respelling, phonemes or ipa as a string "
     "(has none)"),
    ('[words]\nSQL = { respeling = "sequel" }\n',
     "words.toml: [words] 'SQL': give exactly one of respelling, phonemes or ipa as a string "
     "(unknown key 'respeling')"),
    ("[words]\nSQL = 3\n",
     "words.toml: [words] 'SQL': use a string (respelling) or a table with respelling, "
     "phonemes or ipa"),
    ('[words]\nKokoro = { phonemes = "kˈOkəɬO" }\n',
     "words.toml: [words] 'Kokoro': phonemes 'kˈOkəɬO' use 'ɬ', outside Kokoro's vocabulary "
     "(write misaki's symbols, or give ipa = \"...\" to have IPA converted)"),
    ('[words]\nKokoro = { phonemes = "kˈOk(əɹ)O" }\n',
     "words.toml: [words] 'Kokoro': phonemes 'kˈOk(əɹ)O' use '()', outside Kokoro's vocabulary "
     "(write misaki's symbols, or give ipa = \"...\" to have IPA converted)"),
    ('[words]\nKokoro = { ipa = "ˈkʘkoro" }\n',
     "words.toml: [words] 'Kokoro': ipa symbols 'ʘ' have no Kokoro equivalent"),
    ('[words]\nKokoro = ""\n', "words.toml: [words] 'Kokoro': the respelling is empty"),
    ('[words]\n"[x]" = "y"\n',
     "words.toml: [words] '[x]': no brackets, no spaces at the ends, one between words"),
    ('[words]\n"--" = "dash"\n', "words.toml: [words] '--': the word or phrase has no letters"),
]


@pytest.mark.parametrize("text, message", MALFORMED_TOML)
def test_malformed_toml_is_one_line_naming_file_and_key(tmp_path, text, message):
    with pytest.raises(DictionaryError) as caught:
        _toml(tmp_path, text)
    assert str(caught.value) == f"{tmp_path}/{message}"


def test_missing_toml_file_is_a_dictionary_error(tmp_path):
    with pytest.raises(DictionaryError, match="cannot read the dictionary"):
        Lexicon.from_toml(tmp_path / "absent.toml")


# --- layering -----------------------------------------------------------------------------

BUILT_IN = Lexicon((Entry("Kokoro", phonemes="kˈOkəɹO"), Entry("SQL", respelling="sequel")))
USER = Lexicon((Entry("kokoro", respelling="coco"), Entry("Nguyen", respelling="win")))
BOOK = Lexicon((Entry("Nguyen", respelling="nwin"), Entry("sql", respelling="S Q L")))
FRENCH = Lexicon((Entry("Nguyen", respelling="ngwienne"),), language="fr")
COMMAND_LINE = Lexicon((Entry("SQL", respelling="squeal"),), language="en-GB")

LAYERING = [
    # a lowercase entry overrides every capitalization below it
    ((BUILT_IN, USER), "Kokoro and KOKORO", "coco and coco"),
    # a capitalized entry overrides only its spelling; the lowercase one keeps the others
    ((BOOK, COMMAND_LINE), "SQL or Sql", "squeal or S Q L"),
    ((BUILT_IN, USER, BOOK, COMMAND_LINE), "Nguyen uses SQL", "nwin uses squeal"),
    ((BUILT_IN, USER, BOOK), "Nguyen uses SQL", "nwin uses S Q L"),
    ((BOOK, USER), "Nguyen", "win"),
    # layers for another language are left out of an English lexicon
    ((USER, FRENCH), "Nguyen", "win"),
]


@pytest.mark.parametrize("layers, text, spoken", LAYERING)
def test_later_layers_override_earlier_ones(layers, text, spoken):
    assert Lexicon.layered(*layers).apply(text) == spoken


def test_layering_for_another_language_uses_its_entries():
    # every G2P reads the phoneme markup (engine.g2p.MisakiG2P for the non-English ones)
    french = Lexicon.layered(USER, FRENCH, Lexicon((Entry("Kokoro", phonemes="kˈOkəɹO"),), "fr"),
                             language="fr")
    assert french.apply("Nguyen et Kokoro") == "ngwienne et [Kokoro](/kˈOkəɹO/)"


def test_same_key_within_one_lexicon_keeps_the_last():
    lexicon = Lexicon((Entry("SQL", respelling="sequel"), Entry("SQL", respelling="squeal")))
    assert lexicon.entries == (Entry("SQL", respelling="squeal"),)


def test_digest_follows_entries_not_their_order():
    a, b = Entry("SQL", respelling="sequel"), Entry("Kokoro", phonemes="kˈOkəɹO")
    assert Lexicon((a, b)).digest == Lexicon((b, a)).digest
    assert Lexicon((a, b)).digest != Lexicon((a,)).digest
    assert Lexicon((a,)).digest != Lexicon((Entry("SQL", respelling="squeal"),)).digest
    assert Lexicon((a,)).digest != Lexicon((a,), language="en-GB").digest
    assert len(Lexicon((a, b)).digest) == 64


# --- apply() ------------------------------------------------------------------------------

LEXICON = Lexicon((
    Entry("Kokoro", phonemes="kˈOkəɹO"),
    Entry("Nguyen", respelling="win"),
    Entry("New York", phonemes="nˈu jˈɔɹk"),
    Entry("New York City", respelling="the big apple"),
    Entry("cat", respelling="kitty"),
    Entry("don", respelling="dawn"),
    Entry("C++", respelling="C plus plus"),
    Entry("US", respelling="United States"),
))

APPLY = [
    # whole words only
    ("Kokoro speaks.", "[Kokoro](/kˈOkəɹO/) speaks."),
    ("Kokoros and MyKokoro", "Kokoros and MyKokoro"),
    ("a cat in a catalog, a bobcat", "a kitty in a catalog, a bobcat"),
    # case: lowercase keys match any capitalization, capitalized keys only themselves
    ("Cat, CAT, cat.", "kitty, kitty, kitty."),
    ("KOKORO and kokoro", "KOKORO and kokoro"),
    ("the US and us", "the United States and us"),
    # punctuation next to words
    ("(Kokoro); Kokoro!", "([Kokoro](/kˈOkəɹO/)); [Kokoro](/kˈOkəɹO/)!"),
    ("“Kokoro,” he said", "“[Kokoro](/kˈOkəɹO/),” he said"),
    ("Kokoro's voice", "[Kokoro](/kˈOkəɹO/)'s voice"),
    ("Kokoro’s voice", "[Kokoro](/kˈOkəɹO/)’s voice"),
    ("don't, Don.", "don't, dawn."),
    ("York-based Kokoro-like", "York-based [Kokoro](/kˈOkəɹO/)-like"),
    ("I write C++ daily, and C++.", "I write C plus plus daily, and C plus plus."),
    # phrases: longest first, across any whitespace, one markup per phrase
    ("New York City is in New York.", "the big apple is in [New York](/nˈu jˈɔɹk/)."),
    ("From New\n  York.", "From [New York](/nˈu jˈɔɹk/)."),
    ("Newer York", "Newer York"),
    # no double markup, no rewriting inside existing markup, replacements not matched again
    ("[Kokoro](/kəkˈɔɹO/) and Kokoro", "[Kokoro](/kəkˈɔɹO/) and [Kokoro](/kˈOkəɹO/)"),
    ("[the cat](/ðə kˈæt/) cat", "[the cat](/ðə kˈæt/) kitty"),
    ("Mr. Nguyen", "Mr. win"),
    ("", ""),
]


@pytest.mark.parametrize("text, expected", APPLY)
def test_apply(text, expected):
    assert LEXICON.apply(text) == expected


def test_apply_is_idempotent():
    once = LEXICON.apply("Kokoro in New York")
    assert LEXICON.apply(once) == once


def test_an_empty_lexicon_changes_nothing():
    assert Lexicon().apply("Kokoro [x](/y/)") == "Kokoro [x](/y/)"
    assert len(Lexicon()) == 0


# --- markup reaches misaki ----------------------------------------------------------------

MISAKI = [
    ("Say Kokoro now.", "kˈOkəɹO"),
    ("Kokoro's voice.", "kˈOkəɹOs"),  # misaki adds the possessive as written
    ("Flights to New York, daily.", "nˈu jˈɔɹk,"),
    ("(Kokoro)", "(kˈOkəɹO)"),
]


@pytest.mark.parametrize("text, phonemes", MISAKI)
def test_misaki_reads_the_markup(english_g2p, text, phonemes):
    assert phonemes in english_g2p(LEXICON.apply(text))


# --- PLS ----------------------------------------------------------------------------------


def test_pls_from_a_string():
    lexicon = Lexicon.from_pls(PLS.encode(), "words.pls")
    assert lexicon.language == "en-US"
    assert lexicon.entries == (
        Entry("Notre Dame", phonemes="nˌOtɹə dˈAm"),
        Entry("tomato", phonemes="təmˈɑtO"),
        Entry("tomatoes", phonemes="təmˈɑtO"),
        Entry("W3C", respelling="World Wide Web Consortium"),
        Entry("judge", phonemes="ʤˈʌʤ"),
    )
    assert lexicon.notes == ()


def test_british_pls_converts_to_british_symbols():
    data = _pls("<lexeme><grapheme>tomato</grapheme><phoneme>təˈmɑːtəʊ</phoneme></lexeme>",
                'alphabet="ipa" xml:lang="en-GB"')
    assert Lexicon.from_pls(data, "gb.pls").entries == (Entry("tomato", phonemes="təmˈɑːtQ"),)


def test_language_argument_overrides_xml_lang():
    data = _pls("<lexeme><grapheme>Paris</grapheme><alias>Pari</alias></lexeme>")
    assert Lexicon.from_pls(data, "fr.pls", language="fr").language == "fr"


IPA = [
    ("ˈkoʊkəˌɹoʊ", False, "kˈOkəɹˌO"),
    ("ˈbʌɾɚ", False, "bˈʌTəɹ"),
    ("ˈbɜːrd", False, "bˈɜɹd"),
    ("ˈbɜːd", True, "bˈɜːd"),
    ("ˈt͡ʃɜːt͡ʃ", False, "ʧˈɜɹʧ"),
    ("ˈbɒt.l̩", False, "bˈɑtᵊl"),
    ("ˈbɒt.l̩", True, "bˈɒtᵊl"),
    ("ˈɡɪf", False, "ɡˈɪf"),
    ("ˈgɪf", False, "ɡˈɪf"),
    ("beɪs", False, "bˈAs"),  # no stress mark: misaki's default, the first vowel
    ("ˈpʰɪn", False, "pˈɪn"),
]


@pytest.mark.parametrize("ipa, british, phonemes", IPA)
def test_ipa_to_misaki(ipa, british, phonemes):
    assert ipa_to_misaki(ipa, british) == (phonemes, "")


def test_ipa_symbols_kokoro_lacks_are_dropped_and_noted():
    data = _pls("<lexeme><grapheme>click</grapheme><phoneme>ˈʘɪk</phoneme></lexeme>")
    lexicon = Lexicon.from_pls(data, "clicks.pls")
    assert lexicon.entries == (Entry("click", phonemes="ˈɪk"),)
    assert lexicon.notes == ("clicks.pls: 'click': dropped 'ʘ', which Kokoro cannot say",)


MALFORMED_PLS = [
    (b"<lexicon", "not well-formed XML"),
    (b"<speak/>", "not a PLS lexicon (root element <speak>)"),
    (_pls("", 'alphabet="ipa"'), "the <lexicon> has no xml:lang"),
    (_pls("", 'xml:lang="en"'), "no alphabet attribute (ipa or x-sampa)"),
    (_pls("<lexeme><grapheme>a</grapheme><phoneme>b</phoneme></lexeme>",
          'alphabet="x-klingon" xml:lang="en"'),
     "alphabet 'x-klingon' is not supported: use ipa or x-sampa"),
]


@pytest.mark.parametrize("data, message", MALFORMED_PLS)
def test_malformed_pls_is_a_dictionary_error(data, message):
    with pytest.raises(DictionaryError) as caught:
        Lexicon.from_pls(data, "bad.pls")
    assert str(caught.value).startswith("bad.pls: ") and message in str(caught.value)


def test_unusable_lexemes_are_noted_not_fatal():
    data = _pls("<lexeme><grapheme>lonely</grapheme></lexeme>"
                "<lexeme><grapheme>[x]</grapheme><alias>x</alias></lexeme>"
                "<lexeme><grapheme>ok</grapheme><alias>okay</alias></lexeme>")
    lexicon = Lexicon.from_pls(data, "odd.pls")
    assert lexicon.entries == (Entry("ok", respelling="okay"),)
    assert len(lexicon.notes) == 2


def test_entity_expansion_is_refused():
    # libxml2 may stop the amplification itself; either way the file is refused unexpanded.
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    data = (f'<?xml version="1.0"?><!DOCTYPE lexicon [<!ENTITY l0 "lol">{laughs}]>'
            .encode() + _pls("<lexeme><grapheme>lol</grapheme><alias>&l9;</alias></lexeme>"))
    refused = r"^laughs\.pls: (declares XML entities|not well-formed)"
    with pytest.raises(DictionaryError, match=refused):
        Lexicon.from_pls(data, "laughs.pls")


def test_external_entities_and_dtds_are_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", "utf-8")
    lexeme = "<lexeme><grapheme>word</grapheme><alias>&secret;</alias></lexeme>"
    external_entity = (f'<!DOCTYPE lexicon [<!ENTITY secret SYSTEM "{secret.as_uri()}">]>'
                       .encode() + _pls(lexeme))
    with pytest.raises(DictionaryError, match="declares XML entities"):
        Lexicon.from_pls(external_entity, "xxe.pls")
    external_dtd = (f'<!DOCTYPE lexicon SYSTEM "{secret.as_uri()}">'.encode()
                    + _pls("<lexeme><grapheme>word</grapheme><alias>wurd</alias></lexeme>"))
    lexicon = Lexicon.from_pls(external_dtd, "dtd.pls")
    assert lexicon.entries == (Entry("word", respelling="wurd"),)
    assert "TOP-SECRET" not in repr(lexicon)


# --- PLS inside a real EPUB 3 -------------------------------------------------------------


@needs_corpus
def test_pls_inside_the_accessible_epub_converts():
    with zipfile.ZipFile(ACCESSIBLE_EPUB) as book:
        data = book.read("EPUB/lexicon/en.pls")
    lexicon = Lexicon.from_pls(data, "en.pls")  # alphabet="x-sampa": noUt@r 'deIm, beIs
    assert lexicon.language == "en"
    assert lexicon.entries == (
        Entry("bass", phonemes="bˈAs"),
        Entry("Notre Dame", phonemes="nˈOtəɹ dˈAm"),
    )
    assert lexicon.notes == ()


@needs_corpus
def test_epub_manifest_lexicons_are_found():
    lexicons = epub_lexicons(ACCESSIBLE_EPUB)
    assert [len(lexicon) for lexicon in lexicons] == [2, 1]  # en.pls, fr.pls (says xml:lang="en")


@needs_corpus
def test_epub_lexicon_reaches_misaki(english_g2p):
    lexicon = Lexicon.layered(Lexicon.builtin(), *epub_lexicons(ACCESSIBLE_EPUB))
    text = "The guitarist played a bass shaped like a bass, in Notre Dame."
    phonemes = english_g2p(lexicon.apply(text))
    assert phonemes.count("bˈAs") == 2
    assert "nˈOtəɹ dˈAm" in phonemes
    assert "bˈæs" not in english_g2p(lexicon.apply("a bass"))


# --- PLS inside an EPUB made here: read through the checked archive ------------------------


def _epub_with_lexicon(path: Path, pls: bytes) -> Path:
    """The small valid EPUB of the hostile corpus, with ``pls`` as a manifest lexicon."""
    from tests.hostile.make_corpus import _epub_files

    item = '<item id="lex" href="lexicon/en.pls" media-type="application/pls+xml"/>'
    files = {**_epub_files(items=item), "OEBPS/lexicon/en.pls": pls}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def test_epub_lexicon_of_a_made_book(tmp_path):
    lexeme = "<lexeme><grapheme>Kokoro</grapheme><alias>ko ko ro</alias></lexeme>"
    path = _epub_with_lexicon(tmp_path / "book.epub", _pls(lexeme))
    (lexicon,) = epub_lexicons(path)
    assert lexicon.entries == (Entry("Kokoro", respelling="ko ko ro"),)


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lexicon [<!ENTITY l0 "lol">'
          + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)) + "]>")
HOSTILE_LEXICONS = [
    # a lexicon that inflates 1,000 to 1: refused from the ZIP directory, before it is inflated
    pytest.param(_pls("<!--" + " " * (4 << 20) + "-->"), "decompression bomb", id="bomb"),
    # entity expansion: refused before any XML parser sees the file
    pytest.param(LAUGHS.encode() + _pls("<lexeme><grapheme>l</grapheme><alias>&l9;</alias>"
                                        "</lexeme>"), "declares XML entities", id="entities"),
]


@pytest.mark.parametrize(("pls", "refusal"), HOSTILE_LEXICONS)
def test_hostile_epub_lexicon_is_refused_like_the_chapters(tmp_path, pls, refusal):
    from preprocess import InputError, parse_file

    path = _epub_with_lexicon(tmp_path / "hostile.epub", pls)
    with pytest.raises(DictionaryError, match=f"cannot read its pronunciation lexicons.*{refusal}"):
        epub_lexicons(path)
    with pytest.raises(InputError, match=refusal):
        parse_file(path)
