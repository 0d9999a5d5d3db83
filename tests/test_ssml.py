"""SSML input (#27): every element as ``preview --json`` plans it (table-driven), a break's
pause measured in the real audio, and bad input refused in one line with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from kokoro_cli.app import app
from preprocess import ParseError, parse_file

runner = CliRunner()

SPEAK = ('<speak version="1.1" xmlns="http://www.w3.org/2001/10/synthesis" '
         'xml:lang="{lang}">{body}</speak>')


def _ssml(tmp_path: Path, body: str, lang: str = "en-US", name: str = "doc.ssml") -> Path:
    path = tmp_path / name
    path.write_text(SPEAK.format(lang=lang, body=body), encoding="utf-8")
    return path


def _pieces(path: Path, *extra: str) -> list[dict]:
    result = runner.invoke(app, ["preview", str(path), "--json", *extra])
    assert result.exit_code == 0, result.output
    text = result.stdout
    return [c for ch in json.loads(text[text.index("{"):])["chapters"] for c in ch["chunks"]]


# (SSML body, the piece to look at (its index), what that piece must hold)
CASES = [
    ("<p>One.</p><p>Two.</p>", 0, {"text": "One.", "pause_after_ms": 650}),
    ('<p>Wait<break time="700ms"/>for it.</p>', 0, {"text": "Wait", "pause_after_ms": 700}),
    ('<p>Wait<break time="1.5s"/>for it.</p>', 0, {"pause_after_ms": 1500}),
    ('<p>Wait<break strength="strong"/>for it.</p>', 0, {"pause_after_ms": 650}),
    ('<p>Wait<break/>for it.</p>', 0, {"pause_after_ms": 400}),
    ('<p>One.</p><break time="2s"/><break time="300ms"/><p>Two.</p>', 0,
     {"pause_after_ms": 2300}),
    ("<p><s>Hello there</s><s>Bye</s></p>", 0, {"text": "Hello there. Bye."}),
    ('<p>Me. <voice name="am_adam">Adam speaks.</voice> Me again.</p>', 1,
     {"text": "Adam speaks.", "voice": "am_adam"}),
    ('<p>Me. <voice name="af_bella:0.6,af_sky:0.4">A blend.</voice></p>', 1,
     {"voice": "af_bella:0.6,af_sky:0.4"}),
    ('<p><prosody rate="slow">Slowly.</prosody></p>', 0, {"rate": 0.8}),
    ('<p><prosody rate="+20%">Faster.</prosody></p>', 0, {"rate": 1.2}),
    ('<p><prosody rate="150%">Faster.</prosody></p>', 0, {"rate": 1.5}),
    ('<p>It is <emphasis level="strong">very</emphasis> big.</p>', 1,
     {"text": "very", "rate": 0.85}),
    ('<p>Code <say-as interpret-as="characters">AB2</say-as>.</p>', 0,
     {"text": "Code A B two.", "phonemes": "kˈOd ˈA bˈi tˈu."}),
    ('<p><say-as interpret-as="spell-out">SQL</say-as></p>', 0, {"phonemes": "ˈɛs kjˈu ˈɛl"}),
    ('<p><say-as interpret-as="cardinal">1,234</say-as></p>', 0,
     {"text": "one thousand, two hundred and thirty-four."}),
    ('<p>The <say-as interpret-as="ordinal">3</say-as> one.</p>', 0, {"text": "The third one."}),
    ('<p><say-as interpret-as="digits">123</say-as></p>', 0, {"text": "one two three."}),
    ('<p>On <say-as interpret-as="date" format="dmy">25/12/2024</say-as>.</p>', 0,
     {"text": "On December 25th, 2024."}),
    ('<p>At <say-as interpret-as="time">2:30 pm</say-as>.</p>', 0, {"text": "At 2 30 p.m."}),
    ('<p>Call <say-as interpret-as="telephone">555-0100</say-as>.</p>', 0,
     {"text": "Call five five five, zero one zero zero."}),
    ('<p>The <sub alias="World Wide Web">WWW</sub>.</p>', 0, {"text": "The World Wide Web."}),
    ('<p>A <phoneme alphabet="ipa" ph="təˈmɑːtoʊ">tomato</phoneme>.</p>', 0,
     {"text": "A tomato.", "phonemes": "ɐ təmˈɑtO."}),
    ('<p>A <phoneme alphabet="x-sampa" ph="t@\'mA:toU">tomato</phoneme>.</p>', 0,
     {"phonemes": "ɐ təmˈɑtO."}),
    ('<p>A <phoneme alphabet="misaki" ph="kˈOkəɹO">Kokoro</phoneme>.</p>', 0,
     {"phonemes": "ɐ kˈOkəɹO."}),
    ('<p>Say <lang xml:lang="fr-FR">bonjour</lang> now.</p>', 0,
     {"phonemes": "sˈA bɔ̃ʒˈuʁ nˈW."}),
    ("<p>Some <foo>unknown</foo> words.</p>", 0, {"text": "Some unknown words."}),
]


@pytest.mark.parametrize(("body", "index", "expected"), CASES,
                         ids=[f"{i}-{c[0][:30]}" for i, c in enumerate(CASES)])
def test_ssml_elements_as_preview_plans_them(tmp_path: Path, body: str, index: int,
                                             expected: dict) -> None:
    piece = _pieces(_ssml(tmp_path, body))[index]
    assert {key: piece.get(key) for key in expected} == expected


def test_french_document_and_its_say_as(tmp_path: Path) -> None:
    body = '<p>Le <say-as interpret-as="ordinal">2</say-as> chat.</p>'
    assert _pieces(_ssml(tmp_path, body, "fr-FR"))[0]["text"] == "Le deuxième chat."


def test_unknown_element_is_warned_about(tmp_path: Path) -> None:
    result = runner.invoke(app, ["preview", str(_ssml(tmp_path, "<p>a <foo>b</foo></p>"))])
    assert result.exit_code == 0
    assert "SSML <foo> is not supported; its text is read" in result.output


def test_input_format_flag_reads_ssml_of_any_name(tmp_path: Path) -> None:
    path = _ssml(tmp_path, '<p>Wait<break time="900ms"/>now.</p>', name="doc.xml")
    result = runner.invoke(app, ["preview", str(path), "--json", "--input-format", "ssml"])
    assert result.exit_code == 0, result.output
    assert '"pause_after_ms": 900' in result.output


BAD = [
    ("<speak><p>unclosed</speak>", "not well-formed SSML"),
    ('<!DOCTYPE speak [<!ENTITY x "boom">]><speak>&x;</speak>', "declares XML entities"),
    ("<html><p>hello</p></html>", "not SSML (the root element is <html>, not <speak>)"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=["malformed", "entities", "not-ssml"])
def test_bad_ssml_is_one_line_and_writes_nothing(tmp_path: Path, text: str,
                                                 message: str) -> None:
    source = tmp_path / "bad.ssml"
    source.write_text(text, encoding="utf-8")
    with pytest.raises(ParseError, match="bad"):
        parse_file(source)
    out = tmp_path / "book.m4b"
    result = runner.invoke(app, ["convert", str(source), "-o", str(out),
                                 "--work-dir", str(tmp_path / "work")])
    assert result.exit_code == 3  # bad input (ExitCode.INPUT), as for any unreadable document
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.output
    assert not out.exists() and not (tmp_path / "work").exists()


def test_unknown_voice_in_ssml_is_a_usage_error_before_any_work(tmp_path: Path) -> None:
    source = _ssml(tmp_path, '<p><voice name="nobody_voice">Hi.</voice></p>')
    out = tmp_path / "book.m4b"
    result = runner.invoke(app, ["convert", str(source), "-o", str(out),
                                 "--work-dir", str(tmp_path / "work")])
    assert result.exit_code == 2
    assert "<voice name='nobody_voice'> in the document: unknown voice" in result.output
    assert not out.exists() and not (tmp_path / "work").exists()


def _gap_ms(path: Path) -> float:
    """The longest stretch of silence (under -50 dBFS, 5 ms frames) inside the audio, in ms."""
    samples, rate = sf.read(path, dtype="float32")
    frame = rate // 200
    levels = np.abs(samples[: samples.size // frame * frame]).reshape(-1, frame).max(axis=1)
    quiet = levels < 10 ** (-50 / 20)
    loud = np.flatnonzero(~quiet)
    longest = run = 0
    for q in quiet[loud[0]:loud[-1]]:
        run = run + 1 if q else 0
        longest = max(longest, run)
    return longest * 1000 / 200


def test_break_is_that_much_silence_in_the_audio(tmp_path: Path) -> None:
    """Real synthesis: the silence between two words is the break's, within 20 ms (the model's
    edge silence is trimmed; measured 305 and 1505 ms in 5 ms frames)."""
    gaps = []
    for ms in (300, 1500):
        source = _ssml(tmp_path, f'<p>Hello<break time="{ms}ms"/>world.</p>', name=f"b{ms}.ssml")
        out = tmp_path / f"b{ms}.wav"
        result = runner.invoke(app, ["convert", str(source), "-o", str(out), "--loudness", "off",
                                     "--qc", "off", "--progress", "plain",
                                     "--work-dir", str(tmp_path / "work")])
        assert result.exit_code == 0, result.output
        gaps.append(_gap_ms(out))
    assert abs(gaps[0] - 300) <= 20 and abs(gaps[1] - 1500) <= 20, gaps


def test_voice_may_name_a_role_of_the_cast(tmp_path: Path) -> None:
    """With --cast, <voice name> may be a character, "narrator" or "dialogue"; without one,
    such a name is no voice (exit 2)."""
    body = ('<p>He said. <voice name="Mr. Bennet">No objection.</voice> '
            '<voice name="dialogue">Who?</voice></p>')
    source = _ssml(tmp_path, body)
    cast = str(Path(__file__).parent.parent / "samples" / "pride.cast.toml")
    pieces = _pieces(source, "--cast", cast)
    assert [(p["text"], p["voice"]) for p in pieces] == [
        ("He said.", "bf_emma"), ("No objection.", "bm_george"), ("Who?", "af_sky")]
    assert pieces[1]["rule"] == "ssml voice"
    result = runner.invoke(app, ["preview", str(source)])
    assert result.exit_code == 2 and "<voice name='Mr. Bennet'>" in result.output


@pytest.mark.parametrize(("paragraph", "heard", "not_heard"), [
    ('I like <phoneme alphabet="ipa" ph="təˈmeɪtoʊ">potato</phoneme> soup.', "tomato", "potato"),
    ('The code is <say-as interpret-as="characters">FBK</say-as>.', "fbk", None),
], ids=["phoneme", "characters"])
def test_what_whisper_hears(tmp_path: Path, synth, english_g2p, paragraph: str, heard: str,
                            not_heard: str | None) -> None:
    """Real synthesis judged by Whisper (the --verify listener): a <phoneme> is heard as its
    phonemes, not its text; say-as characters letter by letter."""
    from engine import token_count
    from engine.hearing import hear
    from preprocess import plan

    document = parse_file(_ssml(tmp_path, f"<p>{paragraph}</p>"))
    (chunk,) = plan(document, english_g2p, token_count).__next__().chunks
    (spoken,) = synth.speak([chunk], synth.voice("af_heart"))
    said = hear(spoken.samples, spoken.sample_rate, "base", "en")
    letters = "".join(ch for ch in said.lower() if ch.isalpha())  # "F.B.K." or "FBK": fbk
    assert heard in letters, said
    assert not_heard is None or not_heard not in letters, said


def test_marked_words_survive_the_normalizer_and_become_misaki_markup() -> None:
    from preprocess import Normalizer
    from preprocess.phonemic import plain, pronounce, with_markup

    text = f"DR. Who met {pronounce('New York', 'nˈu jˈɔɹk')} on 3/4."
    said = Normalizer()(text)
    assert plain(said) == "DR. Who met New York on three quarters."  # the word kept whole
    assert "[New York](/nˈu jˈɔɹk/)" in with_markup(said)
    # markers typed into a document cannot break the markup
    assert with_markup("a \ue004x)\ue005k)(\ue006 b") == "a x) b"
