"""What the listening check (convert --verify) costs, and how often it cries wolf.

Usage: python bench/verify.py [--chars N] [--model NAME|DIR] [--text FILE] [--show]

The text (default: Moby-Dick chapter 1, fetched once with npm as bench/vs_peer.py does; --chars
cuts it at a paragraph end) is planned into pieces exactly as convert does, each piece is
synthesized by the int8 model in this process (onnxruntime on every core) and then heard by
Whisper (``--model``, default base, the check's default; every core), and the check compares
each transcript with its piece's text as convert --verify does (first take only: no
re-rendering, so a flagged piece here is a false alarm: the model read the text right).

Printed, with the CPU line: pieces, seconds of audio, synthesis and hearing seconds, the cost
of the check relative to synthesis (goal: at most 20 %), and the pieces flagged over the
language's threshold (goal: at most 1 %); ``--show`` lists the flagged pieces.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.cpu import cpu_info  # noqa: E402
from bench.vs_peer import cut_at_paragraph, moby_dick_chapter_1  # noqa: E402
from engine import AssetResolver, Hearing, Synthesizer, hear, token_count  # noqa: E402
from kokoro_cli.assets_env import resolver_settings  # noqa: E402
from preprocess import compare, parse_text, plan, threshold_for, whisper_language  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
VOICE = "af_heart"
TAG = "en-us"


def pieces(text: str, synth: Synthesizer) -> list:
    """The text's pieces as convert plans them (normalized text, phonemes)."""
    voice = synth.voice(VOICE)
    document = parse_text(text, name="bench")
    return [c for p in plan(document, synth.phonemizer(voice), token_count) for c in p.chunks]


def measure(chunks: list, synth: Synthesizer, model: str) -> list[dict]:
    """Each piece synthesized, then heard, with the time each step took."""
    voice, hearing = synth.voice(VOICE), Hearing(model, whisper_language(TAG), os.cpu_count() or 1)
    hear(synth.synthesize("Warm up.", voice), synth.sample_rate, model, hearing.language,
         hearing.threads)  # Whisper loaded (and warm) before the clock starts
    rows = []
    for chunk in chunks:
        started = time.perf_counter()
        spoken, = synth.speak([chunk], voice)
        made = time.perf_counter()
        heard = hear(spoken.samples, synth.sample_rate, model, hearing.language,
                     hearing.threads, min(400, 24 + 2 * len(chunk.text)))
        done = time.perf_counter()
        found = compare(chunk.text, heard, TAG)
        rows.append({"text": chunk.text, "heard": heard, "score": found.score,
                     "audio_s": spoken.seconds, "synth_s": made - started, "hear_s": done - made})
    return rows


def report(rows: list[dict], model: str, show: bool) -> None:
    threshold = threshold_for(TAG)
    flagged = [r for r in rows if r["score"] > threshold]
    synth_s = sum(r["synth_s"] for r in rows)
    hear_s = sum(r["hear_s"] for r in rows)
    audio_s = sum(r["audio_s"] for r in rows)
    print(f"CPU: {cpu_info().line()}; load average {os.getloadavg()[0]:.2f}")
    print(f"Whisper {model}, {os.cpu_count()} threads; Kokoro int8, {VOICE}")
    print(f"pieces {len(rows)}, audio {audio_s:.1f} s, synthesis {synth_s:.1f} s "
          f"(RTF {synth_s / audio_s:.3f}), hearing {hear_s:.1f} s (RTF {hear_s / audio_s:.3f})")
    print(f"cost of the check: {hear_s / synth_s:.1%} of synthesis time (goal <= 20 %)")
    print(f"false alarms: {len(flagged)} of {len(rows)} pieces = "
          f"{len(flagged) / len(rows):.1%} over the {threshold:.0%} WER threshold "
          f"(goal <= 1 %); mean WER {sum(r['score'] for r in rows) / len(rows):.1%}")
    if show:
        for r in flagged:
            print(f"  {r['score']:.0%}  {r['text']!r}\n        heard {r['heard']!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, help="only the first N characters (at a paragraph)")
    parser.add_argument("--model", default="base", help="Whisper NAME or folder")
    parser.add_argument("--text", type=Path, help="another text file")
    parser.add_argument("--show", action="store_true", help="list the flagged pieces")
    args = parser.parse_args()
    text = args.text.read_text("utf-8") if args.text else moby_dick_chapter_1()
    synth = Synthesizer.load(AssetResolver(**resolver_settings(None, None)))
    chunks = pieces(cut_at_paragraph(text, args.chars), synth)
    report(measure(chunks, synth, args.model), args.model, args.show)


if __name__ == "__main__":
    main()
