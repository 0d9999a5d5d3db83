"""The listening check's parts: the comparison (tables of text → errors), French and Japanese
pieces spoken by the real model and heard by the real Whisper base with the right language and
metric, a pool worker hearing the piece it made, and the small builders (split points, the
optional value of --verify, the Whisper locator)."""

from __future__ import annotations

import numpy as np
import pytest

from engine import AssetError, Hearing, SynthPool, Synthesizer, locate_whisper
from engine.hearing import hear
from kokoro_cli.jobs.listening import split_phonemes
from kokoro_cli.jobs.verify import VerifyOptions
from kokoro_cli.settings import optional_values
from preprocess import Chunk, compare, language_of_voice, threshold_for, whisper_language

whisper = pytest.importorskip("faster_whisper", reason="pip install 'kokoro-audiobook[verify]'")

# (language, reference as the text says it, what Whisper writes, errors)
SAME_WORDS = [
    ("en-us", "She paid twelve thousand dollars, seventy-one percent of it, on the 3rd.",
     "She paid 12,000 dollars, 71% of it, on the third.", 0),
    ("en-gb", "The grey harbour", "The gray harbor.", 0),  # one word, two spellings
    ("en-us", "wedded for ever", "wedded forever", 0),  # a compound written as one word
    ("en-us", "Ah! how we consign ourselves", "How we can sign ourselves.", 1),  # "ah" dropped
    ("en-us", "Call me Ishmael.", "Call me.", 1),
    ("en-us", "Call me Ishmael.", "", 3),
    ("fr", "Le premier mai, il a acheté trois kilos de pommes.",
     "Le 1er mai, il a acheté 3 kg de pommes.", 0),
    ("ja", "りんごを三つ買いました。", "林檎を3つ買いました", 0),  # the same reading
    ("zh", "他买了三公斤苹果。", "他買了3公斤蘋果", 0),  # traditional characters, digits
]


@pytest.mark.parametrize(("tag", "reference", "heard", "errors"), SAME_WORDS)
def test_both_sides_are_normalized_the_same_way(tag, reference, heard, errors):
    assert compare(reference, heard, tag).errors == errors


def test_metric_and_whisper_language_follow_the_piece_language():
    assert [compare("a", "a", t).metric for t in ("en-us", "fr", "ja", "zh")] == \
        ["WER", "WER", "CER", "CER"]
    assert [whisper_language(t) for t in ("en-gb", "pt-br", "fr", "ja")] == \
        ["en", "pt", "fr", "ja"]
    assert [language_of_voice(v) for v in ("af_heart", "ff_siwis", "jf_alpha:0.5,af_sky:0.5")] \
        == ["en-us", "fr", "ja"]
    assert threshold_for("fr") > 0 and threshold_for("ja") > 0


def _spoken_and_heard(synth: Synthesizer, voice_name: str, text: str, tag: str) -> str:
    voice = synth.voice(voice_name)
    phonemes = synth.phonemizer(voice)(text)
    piece = Chunk(text, phonemes, len(phonemes), 0)
    spoken, = synth.speak([piece], voice, hearing=lambda _: Hearing("base",
                                                                     whisper_language(tag), 2))
    return spoken.heard


@pytest.mark.parametrize(("tag", "voice", "text"), [
    ("fr", "ff_siwis", "Le phare brillait au-dessus de la mer pendant toute la nuit."),
    ("ja", "jf_alpha", "山田さんは東京へ行きました。"),
])
def test_a_piece_in_another_language_passes_with_its_metric(synth, tag, voice, text):
    heard = _spoken_and_heard(synth, voice, text, tag)
    found = compare(text, heard, tag)
    assert found.metric == ("CER" if tag == "ja" else "WER")
    assert found.score <= threshold_for(tag), heard
    # silence in its place fails in that language
    silent = hear(np.zeros(24_000, np.float32), 24_000, "base", whisper_language(tag))
    assert compare(text, silent, tag).score > threshold_for(tag)


def test_a_pool_worker_hears_the_piece_it_made(resolver, synth):
    voice = synth.voice("af_heart")
    text = "The lighthouse keeper climbed the stairs."
    job = Synthesizer.prepare(synth.phonemizer(voice)(text), voice, 1.0)
    with SynthPool(resolver.model(), workers=2) as pool:  # two pieces at once, one Whisper
        both = list(pool.map_ordered([(*job, Hearing("base", "en"))] * 2, window=2, timed=True))
        plain, = pool.map_ordered([job], timed=True)  # without hearing: two items, as before
    (samples, _, heard), (again, _, heard_again) = both
    assert samples.size > 0 and np.array_equal(samples, again) and len(plain) == 2
    assert heard == heard_again and compare(text, heard, "en-us").errors == 0, heard


@pytest.mark.parametrize(("phonemes", "halves"), [
    ("ðə lˈIt, ænd ðə sˈi", ("ðə lˈIt,", "ænd ðə sˈi")),  # at the clause mark
    ("wˈʌn tˈu θɹˈi fˈɔɹ", ("wˈʌn tˈu", "θɹˈi fˈɔɹ")),  # no mark: the middle space
    ("hˈɛlO", None),  # nowhere to cut
])
def test_split_points(phonemes, halves):
    assert split_phonemes(phonemes) == halves


@pytest.mark.parametrize(("args", "expected"), [
    (["convert", "--verify", "b.md"], ["convert", "--verify=report", "b.md"]),
    (["convert", "b.md", "--verify", "strict"], ["convert", "b.md", "--verify=strict"]),
    (["convert", "b.md", "--verify"], ["convert", "b.md", "--verify=report"]),
    (["convert", "--", "--verify"], ["convert", "--", "--verify"]),
])
def test_verify_takes_an_optional_mode(args, expected):
    assert optional_values(args) == expected


def test_verify_options_and_model_locations(tmp_path):
    with pytest.raises(ValueError, match="strict"):
        VerifyOptions(mode="loud")
    with pytest.raises(AssetError, match="model.bin"):
        locate_whisper(str(tmp_path))  # a folder without a Whisper in it
    with pytest.raises(AssetError, match="no such folder"):
        locate_whisper(str(tmp_path / "missing"))
    assert locate_whisper("small") == "small"  # no wheel: faster-whisper's own download
    assert (tmp_path.__class__(locate_whisper("base")) / "model.bin").is_file()  # the wheels
