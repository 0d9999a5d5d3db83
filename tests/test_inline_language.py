"""Phrases in another language inside a paragraph (#19): ``<span xml:lang="fr">`` in EPUB XHTML
and inline HTML in Markdown are read with that language's normalizer and G2P. Without a voice for
the language the sentence stays one piece in the book's voice (its phonemes joined: Kokoro's
tokens are one alphabet); with ``--voice-for`` the phrase is a piece of its own in that voice,
joined to its neighbours without a pause, and the sentence's timing stays whole. Documents
without such phrases keep their digest."""

from __future__ import annotations

import json
import logging
import re
import wave
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine import VoiceG2P, token_count
from kokoro_cli.app import app
from preprocess import (Block, BlockKind, Chapter, Document, LanguageRun, parse_file,
                        parse_text, plan)
from preprocess.inline import (Switch, collapse, map_runs, mark, marked_text, read_mixed,
                               segments, unmark)
from tests.conftest import write_epub

runner = CliRunner()
ENGLISH, FRENCH = VoiceG2P("a"), VoiceG2P("a").for_code("f")


def _runs(block: Block) -> list[tuple[str, str]]:
    return [(block.text[r.start:r.end], r.language) for r in block.runs or ()]


def _paragraph(tmp_path: Path, body: str, language: str = "en") -> Block:
    """The first paragraph of a one-chapter EPUB in ``language`` whose chapter is ``body``."""
    document = parse_file(write_epub(tmp_path / "book.epub", language, (("One", body, language),)))
    return next(b for b in document.chapters[0].blocks if b.kind is BlockKind.PARAGRAPH)


def _chunks(document: Document, voices: dict[str, str] | None = None) -> list:
    return [c for p in plan(document, ENGLISH, token_count, voices=voices) for c in p.chunks]


# --- the pure parts: what a parser makes of a buffer, marked text -------------------------


@pytest.mark.parametrize("items, text, runs", [
    (["a ", Switch("fr"), "b c", Switch(None), " d"], "a b c d", [("b c", "fr")]),
    (["  a  ", Switch("fr"), "  b  ", Switch(None), "  d "], "a b d", [("b", "fr")]),
    (["a", Switch("fr"), Switch(None), " b"], "a b", []),  # empty
    (["a ", Switch("fr"), "  ", Switch(None), "b"], "a b", []),  # only spaces
    (["l'", Switch("fr"), "été", Switch(None), "."], "l'été.", [("été", "fr")]),  # in a word
    ([Switch("fr"), "x ", Switch("es"), "y", Switch("fr"), " z", Switch(None)], "x y z",
     [("x", "fr"), ("y", "es"), ("z", "fr")]),  # nested
    ([Switch("fr"), "x", Switch(None), " ", Switch("fr"), "y", Switch(None)], "x y",
     [("x y", "fr")]),  # two spans with a space between: one run
    (["end ", Switch("fr"), "open"], "end open", [("open", "fr")]),  # never closed
])
def test_collapse(items: list, text: str, runs: list) -> None:
    collapsed, found = collapse(items)
    assert collapsed == text == " ".join("".join(i for i in items if isinstance(i, str)).split())
    assert [(collapsed[r.start:r.end], r.language) for r in found] == runs


def test_collapse_starts_in_the_language_in_effect() -> None:
    text, runs = collapse(["rest of it ", Switch(None), "then"], "fr")
    assert [(text[r.start:r.end], r.language) for r in runs] == [("rest of it", "fr")]


def test_segments_of_pieces_cut_inside_a_run() -> None:
    text = f"He said {mark('fr', 'je ne sais quoi')} today."
    assert segments(text) == [(None, "He said "), ("fr", "je ne sais quoi"), (None, " today.")]
    assert unmark(text) == "He said je ne sais quoi today."
    head, tail = text.split(" ne ")  # a cut between words inside the run
    assert segments(head) == [(None, "He said "), ("fr", "je")]
    assert segments(tail) == [("fr", "sais quoi"), (None, " today.")]
    assert segments("half\ue000fr a marker") == [(None, "halffr a marker")]


def test_spaces_at_a_runs_ends_stay_outside_its_markers() -> None:
    assert marked_text("a b  c", (LanguageRun(1, 5, "fr"),)) == f"a {mark('fr', 'b')}  c"
    assert marked_text("a  c", (LanguageRun(1, 3, "fr"),)) == "a  c"


def test_read_mixed_joins_where_the_text_had_a_space() -> None:
    upper = lambda tag: str.upper  # noqa: E731
    assert read_mixed(f"l'{mark('fr', 'été')} x", str, upper, False) == "l'ÉTÉ x"
    assert read_mixed(f"a {mark('fr', 'b')} c", str, upper, True) == f"a {mark('fr', 'B')} c"


def test_map_runs_moves_runs_with_their_text() -> None:
    text, runs = map_runs("a\u00adb c d", (LanguageRun(4, 5, "fr"),),
                          lambda s: s.replace("\u00ad", ""))
    assert (text, [(text[r.start:r.end], r.language) for r in runs]) == ("ab c d", [("c", "fr")])


# --- parsers ---------------------------------------------------------------------------------


def test_epub_span_is_a_run_of_its_block(tmp_path: Path) -> None:
    block = _paragraph(tmp_path, '<p>He said <span xml:lang="fr">Je ne sais quoi</span> today.</p>')
    assert block.text == "He said Je ne sais quoi today."
    assert block.language is None and _runs(block) == [("Je ne sais quoi", "fr")]


def test_epub_nested_empty_unknown_and_same_language_spans(tmp_path: Path, caplog) -> None:
    body = ('<p>A <span lang="fr">un <b xml:lang="es">dos</b> trois</span>, '
            '<span lang="fr"></span>nothing, <span lang="de">Wort</span>, '
            '<em lang="en">same</em> and <span lang="fr"><i>deep</i></span>.</p>')
    with caplog.at_level(logging.WARNING, logger="preprocess"):
        block = _paragraph(tmp_path, body)
    assert block.text == "A un dos trois, nothing, Wort, same and deep."
    assert _runs(block) == [("un", "fr"), ("dos", "es"), ("trois", "fr"), ("deep", "fr")]
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["inline language 'de' is not one Kokoro speaks; "
                        "reading it as the text around it"]
    _chunks(parse_file(tmp_path / "book.epub"))  # plans without a crash


def test_marker_characters_in_the_text_itself_do_not_break_the_reading(tmp_path: Path) -> None:
    # the private-use characters the chunker marks phrases with, written in the book itself
    body = ('<p>Odd \ue000es\ue001 text \ue002. Said <span lang="fr">oui \ue003</span>. '
            + "Go. \ue000" * 2000 + "</p>")
    document = parse_file(write_epub(tmp_path / "b.epub", "en", (("One", body, "en"),)))
    chunks = _chunks(document)
    assert chunks[1].text.startswith("Odd es text. Said oui") and "Go. Go." in chunks[1].text
    assert not any("\ue000" <= ch <= "\ue003" for c in chunks for ch in c.text + c.phonemes)
    assert FRENCH("oui") in chunks[1].phonemes


def test_span_in_the_paragraphs_own_language_is_no_run(tmp_path: Path) -> None:
    plain = write_epub(tmp_path / "plain.epub", "fr", (("Un", "<p>Il a dit bonjour.</p>", "fr"),))
    same = write_epub(tmp_path / "same.epub", "fr",
                      (("Un", '<p>Il a dit <span lang="fr-FR">bonjour</span>.</p>', "fr"),))
    assert parse_file(plain).digest == parse_file(same).digest


def test_a_block_inside_a_span_takes_its_language(tmp_path: Path) -> None:
    document = parse_file(write_epub(tmp_path / "b.epub", "en", (
        ("One", '<div><span lang="fr"><p>Bonjour.</p></span><p>Hello <span lang="fr">'
                '<p lang="es">Hola.</p></span></p></div>', "en"),)))
    blocks = document.chapters[0].blocks[1:]
    assert [(b.text, b.language, b.runs) for b in blocks] == [
        ("Bonjour.", "fr", None), ("Hello", None, None), ("Hola.", "es", None)]


def test_markdown_inline_html_spans(tmp_path: Path, caplog) -> None:
    text = ('---\nlang: en\n---\n# One\n\nHe said <span lang="fr">je ne sais quoi</span> '
            'today, <i lang="en">same</i>, <span lang="zz">odd</span> and <b lang="es">uno '
            '<i lang="fr">deux</i> tres</b>.\n\n- an item <span lang="fr">oui</span>\n')
    with caplog.at_level(logging.WARNING, logger="preprocess"):
        document = parse_text(text, fmt="markdown")
    paragraph, item = document.chapters[0].blocks[1:]
    assert paragraph.text == "He said je ne sais quoi today, same, odd and uno deux tres."
    assert _runs(paragraph) == [("je ne sais quoi", "fr"), ("uno", "es"), ("deux", "fr"),
                                ("tres", "es")]
    assert (item.text, _runs(item)) == ("an item oui.", [("oui", "fr")])
    assert "inline language 'zz'" in caplog.text


def test_documents_without_spans_keep_their_digest() -> None:
    def book(block: Block) -> Document:
        return Document("T", (Chapter(1, "One", (block,)),))

    plain = book(Block(BlockKind.PARAGRAPH, "He said oui."))
    assert plain.digest == book(Block(BlockKind.PARAGRAPH, "He said oui.", runs=None)).digest
    # the digest this document had before inline runs existed (as computed at commit e63cdf4)
    assert plain.digest == "6002054ddf41f95c7a5f91970b40a46ac3701f4ebc23d5d102bfd68c0507a2f4"
    spanned = book(Block(BlockKind.PARAGRAPH, "He said oui.", runs=(LanguageRun(8, 11, "fr"),)))
    assert spanned.digest != plain.digest


# --- reading: phonemes, normalizer, voices -----------------------------------------------


def test_a_french_phrase_gets_french_phonemes_in_one_piece(tmp_path: Path) -> None:
    _paragraph(tmp_path, '<p>He said <span xml:lang="fr">Je ne sais quoi</span> today.</p>')
    heading, piece = _chunks(parse_file(tmp_path / "book.epub"))
    assert piece.text == "He said Je ne sais quoi today." and piece.voice is None
    assert piece.phonemes == f"{ENGLISH('He said')} {FRENCH('Je ne sais quoi')} {ENGLISH('today.')}"
    assert FRENCH("Je ne sais quoi") != ENGLISH("Je ne sais quoi")
    assert piece.tokens == token_count(piece.phonemes)
    span, = piece.spans
    assert (span.written, span.tokens) == ("He said Je ne sais quoi today.", piece.tokens)


def test_the_phrase_uses_its_languages_normalizer(tmp_path: Path) -> None:
    _paragraph(tmp_path, '<p>At 5 pm, <span xml:lang="fr">le 1er mai à 10h30</span>, 3 kg.</p>')
    piece = _chunks(parse_file(tmp_path / "book.epub"))[-1]
    assert piece.text == "At 5 pm, le premier mai à dix heures trente, 3 kilograms."
    assert FRENCH("le premier mai à dix heures trente") in piece.phonemes


def test_an_english_phrase_in_a_french_book(tmp_path: Path) -> None:
    _paragraph(tmp_path, '<p>Il a dit <span xml:lang="en">good morning</span> à 9h.</p>', "fr")
    document = parse_file(tmp_path / "book.epub")
    g2p = VoiceG2P("f")
    piece = [c for p in plan(document, g2p, token_count) for c in p.chunks][-1]
    assert piece.phonemes == f"{g2p('Il a dit')} {ENGLISH('good morning')} {g2p('à neuf heures.')}"


def test_with_a_voice_the_phrase_is_its_own_piece_without_a_pause(tmp_path: Path) -> None:
    _paragraph(tmp_path, '<p>He said <span xml:lang="fr">Je ne sais quoi. Vraiment</span> '
                         'today. Then he left.</p>')
    chunks = _chunks(parse_file(tmp_path / "book.epub"), {"fr": "ff_siwis"})[1:]
    assert [(c.text, c.voice, c.pause_after_ms) for c in chunks] == [
        ("He said", None, 0), ("Je ne sais quoi. Vraiment", "ff_siwis", 0),
        ("today. Then he left.", None, 2000)]
    assert chunks[1].phonemes == f"{FRENCH('Je ne sais quoi.')} {FRENCH('Vraiment')}"
    # A sentence ends inside the phrase. Each piece of a sentence carries it whole as written
    # under one number, so its timing and cue are the sentence's.
    assert [[(s.sentence, s.written) for s in c.spans] for c in chunks] == [
        [(1, "He said Je ne sais quoi.")],
        [(1, "He said Je ne sais quoi."), (2, "Vraiment today.")],
        [(2, "Vraiment today."), (3, "Then he left.")]]
    assert all(c.tokens == sum(s.tokens for s in c.spans) + len(c.spans) - 1 for c in chunks)


def test_preview_shows_the_phrase_in_its_voice(tmp_path: Path) -> None:
    source = write_epub(tmp_path / "b.epub", "en", (
        ("One", '<p>He said <span xml:lang="fr">bonjour</span> twice.</p>', "en"),))
    result = runner.invoke(app, ["preview", str(source), "--json", "--voice-for", "fr=ff_siwis"])
    assert result.exit_code == 0, result.output
    chunks = json.loads(result.stdout)["chapters"][0]["chunks"][1:]
    assert [(c["text"], c.get("voice"), c["pause_after_ms"]) for c in chunks] == [
        ("He said", None, 0), ("bonjour", "ff_siwis", 0), ("twice.", None, 2000)]


def test_unknown_inline_language_is_a_warning_line_in_preview(tmp_path: Path) -> None:
    source = write_epub(tmp_path / "b.epub", "en",
                        (("One", '<p>A <span lang="tlh">Qapla</span> b.</p>', "en"),))
    result = runner.invoke(app, ["preview", str(source)])
    assert result.exit_code == 0, result.output
    assert "warning: inline language 'tlh' is not one Kokoro speaks" in result.stderr


def test_convert_speaks_the_phrase_in_its_voice_with_whole_sentence_cues(tmp_path: Path) -> None:
    """One real synthesis: the French phrase by ff_siwis, the rest by the book's voice, and the
    sentence is one subtitle cue whose words come in reading order inside the audio."""
    source = write_epub(tmp_path / "b.epub", "en", (
        ("One", '<p>He said <span xml:lang="fr">Je ne sais quoi</span> today.</p>', "en"),))
    result = runner.invoke(app, ["convert", str(source), "-o", str(tmp_path / "book.wav"),
                                 "--loudness", "off", "--qc", "off", "--progress", "plain",
                                 "--work-dir", str(tmp_path / "work"),
                                 "--voice-for", "fr=ff_siwis", "--subtitles", "vtt",
                                 "--subtitles-words"])
    assert result.exit_code == 0, result.output
    assert "4 pieces: 4 synthesized" in result.stderr
    with wave.open(str(tmp_path / "book.wav")) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    vtt = (tmp_path / "book.vtt").read_text()
    cue = next(block for block in vtt.split("\n\n") if "today" in block)
    assert re.sub(r"<[^>]*>", "", cue.splitlines()[-1]) == "He said Je ne sais quoi today."
    start, end, *words = [_seconds(t) for t in re.findall(r"\d\d:\d\d:\d\d\.\d\d\d", cue)]
    assert len(words) >= 5 and start <= min(words) and words == sorted(words)
    assert max(words) <= end <= seconds


def _seconds(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)
