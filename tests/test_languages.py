"""Every language Kokoro speaks (#19): language tags, each language's spoken forms (tables of
input → what a native narrator says, written from each language's conventions), sentence ends,
the language and voice the CLI picks, warnings for what cannot be read, the real G2P and model
per language, and a French EPUB and a Spanish Markdown file converted to M4B."""

from __future__ import annotations

import dataclasses
import json
import sys
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from engine import VoiceG2P, describe_spec, token_count
from kokoro_cli.app import app
from kokoro_cli.jobs.render import Progress, RenderOptions
from kokoro_cli.jobs.run import ConvertRequest, run_convert
from kokoro_cli.output import probe_chapters, probe_format, probe_streams
from preprocess import (Normalizer, parse_file, parse_text, plan, resolve_language,
                        split_sentences)
from tests.conftest import write_epub

runner = CliRunner()


@pytest.mark.parametrize("tag, canonical, warned", [
    ("fr", "fr", False), ("fr-CA", "fr", False), ("es_MX", "es", False), ("pt", "pt-br", False),
    ("pt-PT", "pt-br", False), ("en-GB", "en-gb", False), ("en-US", "en-us", False),
    ("en", "en", False), ("zh-Hant-TW", "zh", False), ("jpn", "ja", False), ("hi-IN", "hi", False),
    ("it", "it", False), ("de", "en", True), ("und", "en", True), ("not a tag", "en", True),
])
def test_language_tags(tag: str, canonical: str, warned: bool) -> None:
    language, warning = resolve_language(tag)
    assert language.tag == canonical
    assert (warning is not None) == warned
    if warned:
        assert "reading it as English" in warning


def test_default_voices_are_female_voices_of_their_language() -> None:
    from preprocess import languages

    for language in languages().values():
        _, info = describe_spec(language.voice)
        assert (info.lang_code, info.gender) == (language.code, "female"), language.tag


# Each language: a number, a date and an abbreviation (and its money, time, ordinal and Roman
# numeral conventions), as a narrator of that language reads them.
SPOKEN = {
    "fr": [
        ("Le 1er mai 2024, M. Dupont a payé 12,50 € pour 3 kg de pommes.",
         "Le premier mai deux mille vingt-quatre, Monsieur Dupont a payé douze euros cinquante "
         "pour trois kilos de pommes."),
        ("Rendez-vous à 10h30 au n° 5.", "Rendez-vous à dix heures trente au numéro cinq."),
        ("Louis XIV régna au XVIIe siècle.", "Louis quatorze régna au dix-septième siècle."),
        ("François Ier, chapitre IV.", "François premier, chapitre quatre."),
        ("Soit 15 % de plus, 3,5 fois, -5 degrés.",
         "Soit quinze pour cent de plus, trois virgule cinq fois, moins cinq degrés."),
        ("1 234 567 habitants, etc.",
         "un million deux cent trente-quatre mille cinq cent soixante-sept habitants, et cetera"),
        ("Le 06/05/2024.", "Le six mai deux mille vingt-quatre."),
        ("Voir https://www.exemple.fr/page et la version 2.1.",
         "Voir exemple point fr slash page et la version deux point un."),
    ],
    "es": [
        ("El Sr. García pagó 3,5 € el 6/5/2024.",
         "El señor García pagó tres euros con cincuenta el seis de mayo de dos mil veinticuatro."),
        ("Nos vemos a las 10:30 en la pág. 12.",
         "Nos vemos a las diez y treinta en la página doce."),
        ("Felipe II y Alfonso XIII, siglo XIX.",
         "Felipe segundo y Alfonso trece, siglo diecinueve."),
        ("El 1.er premio, la 2.ª vez, un 15 % más.",
         "El primer premio, la segunda vez, un quince por ciento más."),
        ("Hay 1.234.567 personas, etc.",
         "Hay un millón doscientos treinta y cuatro mil quinientos sesenta y siete personas, "
         "etcétera"),
    ],
    "it": [
        ("Il 6 maggio 2024 il Sig. Rossi ha pagato 12,50 € per 3 km.",
         "Il sei maggio duemilaventiquattro il signor Rossi ha pagato dodici euro e cinquanta "
         "per tre chilometri."),
        ("Alle 10:30, pag. 7, Vittorio Emanuele II.",
         "Alle dieci e trenta, pagina sette, Vittorio Emanuele secondo."),
        ("Il 1º maggio, il 15% in più, ecc.", "Il primo maggio, il quindici per cento in più, eccetera"),
    ],
    "pt-br": [
        ("Em 06/05/2024 o Sr. Silva pagou R$ 12,50 por 3 kg.",
         "Em seis de maio de dois mil e vinte e quatro o senhor Silva pagou doze reais e "
         "cinquenta centavos por três quilos."),
        ("Às 10:30, pág. 7, Dom Pedro II.", "Às dez horas e trinta, página sete, Dom Pedro segundo."),
        ("O 1º lugar, 15% a mais, etc.", "O primeiro lugar, quinze por cento a mais, etcétera"),
    ],
    "hi": [
        # num2words has no Hindi: digits stay for espeak-ng, which reads them in Hindi.
        ("डॉ. शर्मा ने 6/5/2024 को ₹ 500 दिए, 15% अधिक।",
         "डॉक्टर शर्मा ने 6 मई 2024 को 500 रुपये दिए, 15 प्रतिशत अधिक।"),
    ],
    "ja": [
        # misaki's Japanese G2P reads digits itself; dates, units and percentages in Japanese.
        ("2024-05-06に(株)山田で3kgを買いました。",
         "2024年5月6日に株式会社山田で3キログラムを買いました。"),
        ("10:30に15%引き。", "10時30分に15パーセント引き。"),
    ],
    "zh": [
        ("2024-05-06我们买了3kg苹果，便宜15%。", "2024年5月6日我们买了3公斤苹果，便宜百分之15。"),
        ("10:30见。", "10点30分见。"),
    ],
}


@pytest.mark.parametrize("language, written, spoken",
                         [(lang, w, s) for lang, rows in SPOKEN.items() for w, s in rows])
def test_spoken_forms(language: str, written: str, spoken: str) -> None:
    assert Normalizer(language=language)(written) == spoken


@pytest.mark.parametrize("tag", ["en", "en-US", "en-GB", "de"])
def test_english_text_keeps_the_english_normalizer(tag: str) -> None:
    text = "On 2024-05-06 Dr. Smith paid $12.50 for v2.4.1 at 10:30 (see example.com)."
    assert Normalizer(language=tag)(text) == Normalizer()(text)


@pytest.mark.parametrize("language, text, sentences", [
    ("fr", "« Bonjour ! » dit-il. Ça va ? Oui, très bien… Élodie arrive.",
     ["« Bonjour ! » dit-il.", "Ça va ?", "Oui, très bien…", "Élodie arrive."]),
    ("es", "¿Qué hora es? ¡Son las diez! El señor García llegó. J. R. Tolkien escribió.",
     ["¿Qué hora es?", "¡Son las diez!", "El señor García llegó.", "J. R. Tolkien escribió."]),
    ("ja", "今日は晴れです。明日は雨！本当？「はい。」",
     ["今日は晴れです。", "明日は雨！", "本当？", "「はい。」"]),
    ("zh", "我们去北京。你好吗？好！", ["我们去北京。", "你好吗？", "好！"]),
])
def test_sentence_ends(language: str, text: str, sentences: list[str]) -> None:
    assert split_sentences(text, language) == sentences


def test_abbreviations_do_not_end_sentences() -> None:
    for language, text in (("fr", "M. Dupont est là. Il attend."),
                           ("es", "El Sr. García llegó. Luego se fue.")):
        spoken = Normalizer(language=language)(text)
        assert len(split_sentences(spoken, language)) == 2, spoken


def _preview(*args: str, text: str):
    result = runner.invoke(app, ["preview", "-", "--json", *args], input=text)
    assert result.exit_code == 0, result.output
    chunks = json.loads(result.stdout)["chapters"][0]["chunks"]
    return chunks, result.stderr


PARAGRAPHS = {  # a number, a date, an abbreviation: preview --json with each language's G2P
    "fr": SPOKEN["fr"][0], "es": SPOKEN["es"][0], "it": SPOKEN["it"][0],
    "pt-br": SPOKEN["pt-br"][0], "hi": SPOKEN["hi"][0], "ja": SPOKEN["ja"][0],
    "zh": SPOKEN["zh"][0],
    "en-gb": ("Dr. Smith arrived on 2024-05-06 with 3 bags.",
              "Doctor Smith arrived on May 6th, 2024 with 3 bags."),
}


@pytest.mark.parametrize("language", PARAGRAPHS)
def test_preview_reads_each_language_with_its_g2p(language: str) -> None:
    written, spoken = PARAGRAPHS[language]
    chunks, stderr = _preview("--lang", language, text=written)
    assert " ".join(c["text"] for c in chunks) == spoken
    assert "warning" not in stderr  # the default voice is the language's own
    phonemes = " ".join(c["phonemes"] for c in chunks)
    assert phonemes.strip() and "❓" not in phonemes
    assert all(c["tokens"] == token_count(c["phonemes"]) > 0 for c in chunks)


def test_language_comes_from_markdown_front_matter(tmp_path: Path) -> None:
    book = tmp_path / "nota.md"
    book.write_text("---\ntitle: Nota\nlang: es\n---\n\nEl Sr. García llegó.\n", "utf-8")
    result = runner.invoke(app, ["preview", str(book), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["chapters"][0]["chunks"][0]["text"] == \
        "El señor García llegó."


def test_unknown_language_falls_back_to_english_with_a_warning() -> None:
    chunks, stderr = _preview("--lang", "xx-YY", text="Dr. Smith came.")
    assert chunks[0]["text"] == "Doctor Smith came."
    assert "warning: language 'xx-YY' is not one Kokoro speaks; reading it as English" in stderr


def test_a_voice_of_another_language_is_allowed_with_a_warning() -> None:
    chunks, stderr = _preview("--lang", "fr", "--voice", "af_heart", text="Bonjour M. Dupont.")
    assert chunks[0]["text"] == "Bonjour Monsieur Dupont."
    assert "bɔ̃ʒ" in chunks[0]["phonemes"]  # French G2P, American voice
    assert "af_heart speaks American English but the text is French" in stderr


def test_text_without_a_language_follows_the_chosen_voice() -> None:
    chunks, stderr = _preview("--voice", "ff_siwis", text="M. Dupont a 3 chats.")
    assert chunks[0]["text"] == "Monsieur Dupont a trois chats."
    assert "warning" not in stderr


def test_letters_the_g2p_cannot_read_are_skipped_with_a_count() -> None:
    chunks, stderr = _preview("--lang", "fr", text="Il a dit Привет à Élodie.")
    assert "skipped 6 letters in a script French cannot read (cyrillic)" in stderr
    assert chunks[0]["phonemes"].replace("ˈ", "") == "il a di a elodi."  # Привет left out


def test_a_missing_language_extra_is_one_line_naming_it(monkeypatch) -> None:
    import misaki

    import engine.g2p as g2p

    g2p._build.cache_clear()
    monkeypatch.setitem(sys.modules, "misaki.ja", None)  # as if the ja extra were absent
    monkeypatch.delattr(misaki, "ja", raising=False)
    try:
        result = runner.invoke(app, ["preview", "-", "--lang", "ja"], input="今日は。")
    finally:
        g2p._build.cache_clear()
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'kokoro-audiobook[ja]'" in lines[0], result.stderr
    assert "Traceback" not in result.output


FRENCH_PLS = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
         alphabet="ipa" xml:lang="fr">
  <lexeme><grapheme>Dupont</grapheme><phoneme>dy.\u02c8p\u0254\u0303</phoneme></lexeme>
</lexicon>""".encode("utf-8")
ENGLISH_PLS = b"""<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
         alphabet="ipa" xml:lang="en">
  <lexeme><grapheme>Dupont</grapheme><alias>doo pawnt</alias></lexeme>
</lexicon>"""


def test_pls_lexicons_apply_to_their_language_only(tmp_path: Path) -> None:
    (tmp_path / "fr.pls").write_bytes(FRENCH_PLS)
    (tmp_path / "en.pls").write_bytes(ENGLISH_PLS)
    text = "M. Dupont arrive."
    dicts = ["--dict", str(tmp_path / "en.pls"), "--dict", str(tmp_path / "fr.pls")]
    french, _ = _preview("--lang", "fr", "--phonemes", *dicts, text=text)
    # espeak-ng alone says "dypˈɔ̃t", with the t; the French lexicon's IPA is used instead
    assert "dyˈpɔ̃ aʁˈiv" in french[0]["phonemes"]
    english, _ = _preview(*dicts, text="Mr. Dupont arrives.")
    plain, _ = _preview(text="Mr. Dupont arrives.")
    assert english[0]["phonemes"] != plain[0]["phonemes"]  # the English respelling applies
    assert "ɔ̃" not in english[0]["phonemes"]  # and the French lexicon does not


SENTENCES = {  # one short sentence per language the conversions below and English tests leave out
    "it": "La lampada si accese alle otto.", "pt-br": "A lâmpada acendeu às oito.",
    "hi": "दीपक आठ बजे जलाया गया।", "ja": "ランプは八時に灯されました。", "zh": "灯在八点点亮了。",
}


def test_real_model_speaks_every_language(synth) -> None:
    for tag, sentence in SENTENCES.items():
        language = resolve_language(tag)[0]
        document = parse_text(sentence, name=tag)
        document = document.__class__(**{**document.__dict__, "language": tag})
        voice = synth.voice(language.voice)
        g2p = VoiceG2P(voice.info.lang_code)
        pieces = [c for p in plan(document, g2p, token_count) for c in p.chunks]
        assert pieces and all(p.tokens > 5 for p in pieces), tag
        audio = np.concatenate([a.samples for a in synth.speak(pieces, voice)])
        seconds = audio.size / synth.sample_rate
        assert 0.7 < seconds < 6.0, (tag, seconds)
        assert float(np.sqrt(np.mean(audio ** 2))) > 0.01, tag  # speech, not silence


def test_an_epub_chapter_in_another_language_is_read_in_it(tmp_path: Path) -> None:
    source = tmp_path / "mixed.epub"
    write_epub(source, "en", (("One", "Dr. Martin came on 2024-05-06.", "en"),
                         ("Deux", "Le 1er mai, M. Martin arriva.", "fr-FR")))
    assert [c.language for c in parse_file(source).chapters] == [None, "fr-FR"]
    result = runner.invoke(app, ["preview", str(source), "--json"])
    assert result.exit_code == 0, result.output
    english, french = (ch["chunks"][-1] for ch in json.loads(result.stdout)["chapters"])
    assert english["text"] == "Doctor Martin came on May 6th, 2024."
    assert french["text"] == "Le premier mai, Monsieur Martin arriva."
    assert "pʁəmjˈe" in french["phonemes"]  # French G2P for the French chapter


def test_a_paragraph_in_another_language_is_read_in_it(tmp_path: Path) -> None:
    source = tmp_path / "quote.epub"
    write_epub(source, "en", (("One", '<p>Dr. Martin said:</p><blockquote xml:lang="fr" lang="fr">'
                                 '<p>Le 1er mai, M. Martin arriva.</p></blockquote>'
                                 '<p>Then he left.</p>', "en"),))
    blocks = parse_file(source).chapters[0].blocks
    assert [b.language for b in blocks] == [None, None, "fr", None]  # heading, p, quote, p
    result = runner.invoke(app, ["preview", str(source), "--json"])
    assert result.exit_code == 0, result.output
    texts = [c["text"] for c in json.loads(result.stdout)["chapters"][0]["chunks"]]
    assert texts[-3:] == ["Doctor Martin said:", "Le premier mai, Monsieur Martin arriva.",
                          "Then he left."]


def test_voice_for_a_language_speaks_its_chapters(tmp_path: Path, synth) -> None:
    source = tmp_path / "mixed.epub"
    write_epub(source, "en", (("One", "Hello there.", "en"), ("Deux", "Bonjour à tous.", "fr")))
    result = runner.invoke(app, ["preview", str(source), "--json", "--voice-for", "fr=ff_siwis"])
    assert result.exit_code == 0, result.output
    chapters = json.loads(result.stdout)["chapters"]
    assert [c.get("voice") for ch in chapters for c in ch["chunks"]] == \
        [None, None, "ff_siwis", "ff_siwis"]
    # the engine speaks a piece with its own voice by that voice, the others by the book's
    french = [c for p in plan(parse_file(source), VoiceG2P("a"), token_count,
                              voices={"fr": "ff_siwis"}) for c in p.chunks][-1]
    own, = synth.speak([french], synth.voice("af_heart"))
    direct, = synth.speak([dataclasses.replace(french, voice=None)], synth.voice("ff_siwis"))
    assert np.array_equal(own.samples, direct.samples)


def test_blocks_without_a_language_keep_their_digest() -> None:
    from preprocess import Block, BlockKind, Chapter, Document

    def book(block: Block) -> Document:
        return Document("T", (Chapter(1, "One", (block,)),))

    plain = book(Block(BlockKind.PARAGRAPH, "Hello."))
    assert plain.digest == book(Block(BlockKind.PARAGRAPH, "Hello.", None)).digest
    assert plain.digest != book(Block(BlockKind.PARAGRAPH, "Hello.", "fr")).digest


def _convert(source: Path, tmp_path: Path):
    result = runner.invoke(app, ["convert", str(source), "-o", str(tmp_path / "book.m4b"),
                                 "--work-dir", str(tmp_path / "work"), "--progress", "none",
                                 "--qc", "off"])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    return tmp_path / "book.m4b"


@pytest.mark.slow
def test_french_epub_to_m4b(tmp_path: Path) -> None:
    source = tmp_path / "phare.epub"
    write_epub(source, "fr", (("La Tempête", "Le 1er mai, M. Martin alluma la lampe.", "fr"),
                         ("Le Signal", "Il était 10h30.", "fr")))
    assert parse_file(source).language == "fr"
    m4b = _convert(source, tmp_path)
    assert [c["tags"]["title"] for c in probe_chapters(m4b)] == ["La Tempête", "Le Signal"]
    tags = probe_format(m4b)["tags"]
    assert tags["composer"] == "ff_siwis"  # the narrator: French's default voice
    audio = [s for s in probe_streams(m4b) if s["codec_type"] == "audio"]
    assert audio[0]["tags"]["language"] in ("fra", "fre")  # ISO 639-2, either form


@pytest.mark.slow
def test_spanish_markdown_to_m4b(tmp_path: Path) -> None:
    source = tmp_path / "faro.md"
    source.write_text("---\ntitle: El Faro\nlang: es-MX\n---\n\n# La Tormenta\n\n"
                      "El Sr. García llegó el 6/5/2024.\n\n# La Señal\n\n¿Qué hora es? "
                      "¡Son las 10:30!\n", "utf-8")
    m4b = _convert(source, tmp_path)
    assert [c["tags"]["title"] for c in probe_chapters(m4b)] == ["La Tormenta", "La Señal"]
    assert probe_format(m4b)["tags"]["composer"] == "ef_dora"
    audio = [s for s in probe_streams(m4b) if s["codec_type"] == "audio"]
    assert audio[0]["tags"]["language"] == "spa"
