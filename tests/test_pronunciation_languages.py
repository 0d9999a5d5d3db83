"""Pronunciation in every language (#27): TOML ``[lang.fr]`` tables and PLS lexicons in their
``xml:lang`` read the documents, blocks and inline phrases in that language; EPUB 3
``ssml:ph`` gives a word its phonemes; a lexicon declaring entities is one line, nothing
written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kokoro_cli.app import app
from preprocess.lexicon import DictionaryError, Lexicon
from tests.conftest import write_epub

runner = CliRunner()

DICTIONARY = """\
[words]
tomato = "tomahto"

[lang.fr]
chat = "chien"
Bordeaux = { ipa = "bɔʁdo" }

[lang.es]
gato = "perro"
"""
PLS_ES = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
         alphabet="ipa" xml:lang="es">
  <lexeme><grapheme>duerme</grapheme><alias>canta</alias></lexeme>
</lexicon>
"""


def _phonemes(path: Path, *extra: str) -> list[str]:
    result = runner.invoke(app, ["preview", str(path), "--json", *extra])
    assert result.exit_code == 0, result.output
    text = result.stdout
    chapters = json.loads(text[text.index("{"):])["chapters"]
    return [c["phonemes"] for ch in chapters for c in ch["chunks"]]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "dict.toml").write_text(DICTIONARY, encoding="utf-8")
    (tmp_path / "es.pls").write_text(PLS_ES, encoding="utf-8")
    (tmp_path / "fr.txt").write_text("Le chat de Bordeaux dort.\n", encoding="utf-8")
    (tmp_path / "es.txt").write_text("El gato duerme.\n", encoding="utf-8")
    return tmp_path


def test_toml_tables_per_language() -> None:
    lexicon = Lexicon.layered(Lexicon.builtin(), _toml(DICTIONARY), language="en")
    assert lexicon.apply("a tomato") == "a tomahto"
    assert lexicon.apply("le chat") == "le chat"  # French entries do not read English
    assert lexicon.for_language("fr-CA").apply("le chat") == "le chien"
    assert lexicon.for_language("es").apply("el gato") == "el perro"
    assert lexicon.for_language("it").apply("il gatto") == "il gatto"
    french = Lexicon.layered(Lexicon.builtin(), _toml(DICTIONARY), language="fr")
    assert french.apply("le chat") == "le chien"
    assert french.for_language("en").apply("a tomato") == "a tomahto"


def test_digest_counts_other_languages_only_where_there_are_some() -> None:
    builtin = Lexicon.builtin()
    assert Lexicon.layered(builtin, language="en").digest == builtin.digest  # jobs unchanged
    with_french = Lexicon.layered(builtin, _toml(DICTIONARY), language="en")
    changed = _toml(DICTIONARY.replace('"chien"', '"loup"'))
    assert with_french.digest != Lexicon.layered(builtin, changed, language="en").digest


def test_bad_language_table_names_the_file_and_table(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[lang.fr]\nchat = { phonemes = "X!" }\n', encoding="utf-8")
    with pytest.raises(DictionaryError, match=r"bad.toml: \[lang.fr\] 'chat': phonemes"):
        Lexicon.from_toml(path)


def test_french_and_spanish_entries_change_what_is_spoken(files: Path) -> None:
    dictionary = ("--dict", str(files / "dict.toml"), "--dict", str(files / "es.pls"))
    assert _phonemes(files / "fr.txt", "--lang", "fr") == ["lə ʃˈa də bɔʁdˈo dˈɔʁ."]
    assert _phonemes(files / "fr.txt", "--lang", "fr", *dictionary) == ["lə ʃjˈɛ̃ də bɔʁdo dˈɔʁ."]
    assert _phonemes(files / "es.txt", "--lang", "es") == ["el ɣˈato dwˈeɾme."]
    assert _phonemes(files / "es.txt", "--lang", "es", *dictionary) == ["el pˈero kˈanta."]


def test_inline_phrase_is_read_with_its_languages_entries(files: Path) -> None:
    source = files / "mixed.ssml"
    source.write_text('<speak xml:lang="en">A tomato and <lang xml:lang="fr">un chat</lang>.'
                      "</speak>", encoding="utf-8")
    plain = _phonemes(source)[0]
    spoken = _phonemes(source, "--dict", str(files / "dict.toml"))[0]
    assert "ʃˈa" in plain and "ʃjˈɛ̃" in spoken  # chat -> chien inside the French phrase


def test_epub_ssml_ph_is_spoken_and_shown(tmp_path: Path) -> None:
    body = ('<p xmlns:ssml="http://www.w3.org/2001/10/synthesis" ssml:alphabet="x-sampa">I like '
            '<span ssml:ph="t@\'mA:toU">tomato</span> and '
            '<span ssml:alphabet="ipa" ssml:ph="ˈkoʊkəˌɹoʊ">Kokoro</span> soup.</p>')
    book = write_epub(tmp_path / "ph.epub", "en", (("One", body, "en"),), title="Ph")
    result = runner.invoke(app, ["preview", str(book), "--phonemes"])
    assert result.exit_code == 0, result.output
    assert "I like tomato and Kokoro soup." in result.output
    assert "/ˌI lˈIk təmˈɑtO ænd kˈOkəɹˌO sˈup./" in result.output


def test_lexicon_with_entities_is_one_line_and_writes_nothing(files: Path) -> None:
    bad = files / "bad.pls"
    bad.write_text('<?xml version="1.0"?><!DOCTYPE lexicon [<!ENTITY x "y">]>'
                   '<lexicon xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
                   'alphabet="ipa" xml:lang="fr"><lexeme><grapheme>&x;</grapheme>'
                   "<alias>z</alias></lexeme></lexicon>", encoding="utf-8")
    out = files / "book.m4b"
    result = runner.invoke(app, ["convert", str(files / "fr.txt"), "--lang", "fr", "-o", str(out),
                                 "--dict", str(bad), "--work-dir", str(files / "work")])
    assert result.exit_code == 3  # a dictionary that cannot be used: bad input
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "declares XML entities" in lines[0]
    assert not out.exists()
    assert not (files / "work").exists()  # refused before its output was claimed


def _toml(text: str) -> Lexicon:
    from preprocess.lexicon import _lexicon_from_toml

    return _lexicon_from_toml(text, "dict.toml")


def test_unknown_words_are_asked_of_each_language(tmp_path: Path) -> None:
    """English words are listed wherever they are, with their language and that language's
    dictionary; French text (espeak-ng's rules, no word list) is named in a note instead."""
    source = tmp_path / "mixed.md"
    source.write_text('---\nlang: fr\n---\nLe Zorblatt dort. <span lang="en">The Zorblatt and '
                      "the Quibbix waved.</span>\n", encoding="utf-8")
    (tmp_path / "en.toml").write_text('[words]\nQuibbix = { phonemes = "kwˈɪbɪks" }\n', encoding="utf-8")
    result = runner.invoke(app, ["preview", str(source), "--unknown-words", "--json",
                                 "--dict", str(tmp_path / "en.toml")])
    assert result.exit_code == 0, result.output
    text = result.stdout
    rows = json.loads(text[text.index("{"):])["unknown_words"]
    assert rows == [{"word": "Zorblatt", "count": 1, "language": "en"}]
    assert "note: French text is read by its G2P's rules" in result.output
