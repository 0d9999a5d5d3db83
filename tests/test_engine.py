"""The real int8 Kokoro model, real voices, real G2P."""

from __future__ import annotations

import numpy as np
import pytest

from engine import MAX_PHONEMES, BackendError, VoiceError, catalogue, parse_spec, tokenize
from engine.audio import trim
from engine.voices import load_voice


def test_sentence_is_speech_of_plausible_length(synth, english_g2p):
    text = "The lighthouse keeper climbed the stairs and lit the lamp."
    voice = synth.voice("af_heart")
    audio = synth.synthesize(english_g2p(text), voice, 1.0)
    seconds = audio.size / synth.sample_rate
    assert audio.dtype == np.float32
    # About 2.5 words per second for a narrator; 11 words.
    assert 2.5 < seconds < 7.0
    assert np.sqrt(np.mean(audio**2)) > 0.02, "audio is (nearly) silent"
    assert np.isfinite(audio).all()


def test_speed_scales_duration(synth, english_g2p):
    phonemes = english_g2p("A short sentence to measure speaking speed.")
    voice = synth.voice("af_heart")
    normal = trim(synth.synthesize(phonemes, voice, 1.0)).size
    fast = trim(synth.synthesize(phonemes, voice, 1.5)).size
    assert 0.55 < fast / normal < 0.8


def test_same_input_same_samples(synth, english_g2p):
    phonemes = english_g2p("Determinism matters for resumable jobs.")
    voice = synth.voice("am_michael")
    assert np.array_equal(synth.synthesize(phonemes, voice), synth.synthesize(phonemes, voice))


def test_over_long_piece_is_refused_not_truncated(synth):
    with pytest.raises(BackendError, match="510"):
        synth.synthesize("a" * (MAX_PHONEMES + 1), synth.voice("af_heart"))


def test_tokenize_maps_each_symbol():
    assert tokenize("hˈɛloʊ").tolist() == [50, 156, 86, 54, 57, 135]


def test_catalogue_has_54_voices_with_language_and_gender():
    voices = catalogue()
    assert len(voices) == 54
    by_name = {v.name: v for v in voices}
    assert (by_name["af_heart"].language, by_name["af_heart"].gender) == ("en-us", "female")
    assert (by_name["bm_george"].language, by_name["bm_george"].gender) == ("en-gb", "male")
    assert by_name["zf_xiaobei"].language == "zh"


@pytest.mark.parametrize("spec, expected", [
    ("af_heart", [("af_heart", 1.0)]),
    ("af_bella:0.6,af_sky:0.4", [("af_bella", 0.6), ("af_sky", 0.4)]),
    ("af_bella:3, af_sky:1", [("af_bella", 0.75), ("af_sky", 0.25)]),
])
def test_blend_specs(spec, expected):
    assert [(n, pytest.approx(w)) for n, w in parse_spec(spec)] == expected


@pytest.mark.parametrize("spec", ["", "af_nobody", "af_bella:", "af_bella:-1", "af_bella:0",
                                  "af_bella;af_sky", "AF_BELLA"])
def test_bad_specs_are_voice_errors(spec):
    with pytest.raises(VoiceError):
        parse_spec(spec)


def test_blend_is_weighted_mean_of_packs(resolver):
    from engine.voices import read_pack

    blend = load_voice("af_bella:0.6,af_sky:0.4", resolver)
    expected = 0.6 * read_pack(resolver.voice("af_bella")) + 0.4 * read_pack(resolver.voice("af_sky"))
    assert np.allclose(blend.pack, expected)
    assert blend.info.name == "af_bella"


def test_style_row_follows_phoneme_count(synth):
    voice = synth.voice("af_heart")
    assert np.array_equal(voice.style(10), voice.pack[9])
    assert np.array_equal(voice.style(600), voice.pack[509])


def test_british_g2p_differs_from_american():
    from engine.g2p import phonemizer_for

    assert phonemizer_for("a")("tomato") != phonemizer_for("b")("tomato")


def test_trim_removes_edge_silence_and_keeps_speech():
    sr = 24000
    speech = 0.5 * np.sin(np.linspace(0, 2000, sr)).astype(np.float32)
    padded = np.concatenate([np.zeros(sr // 2, np.float32), speech, np.zeros(sr // 2, np.float32)])
    out = trim(padded)
    assert abs(out.size - speech.size) < 0.03 * sr
    assert out[0] == 0.0 and out[-1] == 0.0  # faded edges: no click at the join


def test_speak_yields_each_piece_in_order_with_its_pause(synth, english_g2p):
    """The public seam: pieces in, AudioChunks out, in reading order, each carrying its piece;
    the samples are the piece's own, trimmed, and the pause follows the piece's setting."""
    from dataclasses import dataclass

    from engine import AudioChunk, to_pcm16

    @dataclass(frozen=True)
    class Piece:
        phonemes: str
        pause_after_ms: int

    pieces = [Piece(english_g2p(text), pause) for text, pause in
              (("First, a short one.", 300), ("Then a somewhat longer second sentence.", 650),
               ("", 0))]
    voice = synth.voice("af_heart")
    spoken = list(synth.speak(iter(pieces), voice, 1.0))
    assert [type(a) for a in spoken] == [AudioChunk] * 3
    assert [a.piece for a in spoken] == pieces
    for chunk, piece in zip(spoken, pieces):
        alone = trim(synth.synthesize(piece.phonemes, voice, 1.0))
        assert np.array_equal(chunk.samples, alone)
        assert np.array_equal(chunk.pcm16, to_pcm16(alone))
        assert chunk.pause_pcm16.size == piece.pause_after_ms * synth.sample_rate // 1000
    assert spoken[2].samples.size == 0 and spoken[0].seconds > 0.5
