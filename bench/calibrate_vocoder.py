"""Measure the ranges the ``onnx`` backend's int8 vocoder is built with (engine/vocoder_int8.py).

Usage: python bench/calibrate_vocoder.py [--out engine/data/vocoder-ranges-<sha16>.json]
                                         [--voices all|af_heart,am_michael,...] [--threads 2]

Runs the float decoder (engine/float_decoder.py) over every voice of the catalogue, each
speaking pieces of the bundled samples (English) or the language paragraphs of
``bench/languages.py`` (its own language), at speeds 0.8, 1.0 and 1.25, and records each vocoder
convolution's per-channel input and output minimum and maximum (pieces of at most 250 phonemes,
the chunker's usual size, so the probe's copies of every activation stay under a few GB). The ranges are the extremes
seen, so a louder or stranger voice than any here is clipped at the edge of what was measured
rather than wrapped. Writes the JSON that ``engine.vocoder_int8.load_vocoder_ranges`` reads;
about 4 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine import AssetResolver, Synthesizer  # noqa: E402
from engine.float_decoder import to_float_decoder  # noqa: E402
from engine.vocoder_int8 import activation_ranges, vocoder_ranges_file  # noqa: E402
from engine.voices import catalogue, load_voice  # noqa: E402
from kokoro_cli.assets_env import resolver_settings  # noqa: E402

SPEEDS = (0.8, 1.0, 1.25)
PIECE = 250  # phonemes at most: the probe keeps ~100 activations of a piece in memory at once
ENGLISH = ("a", "b")  # lang codes read from the bundled English samples


def english_pieces() -> list[str]:
    text = (ROOT / "samples" / "story.txt").read_text(encoding="utf-8")
    text += "\n\n" + re.sub(r"[#*`>|-]", " ", (ROOT / "samples" / "report.md").read_text())
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if len(p.split()) > 3]
    return paragraphs + ["Yes!", "What? No, never. Never again!", "Hmm."]


def feeds(synth: Synthesizer, resolver: AssetResolver, voices: list[str]):
    from languages import PARAGRAPHS  # bench/languages.py

    english = english_pieces()
    by_code = {"e": "es", "f": "fr", "i": "it", "p": "pt-br", "h": "hi", "j": "ja", "z": "zh"}
    for n, name in enumerate(voices):
        voice = load_voice(name, resolver)
        code = voice.info.lang_code
        texts = english[n % 3::3] if code in ENGLISH else [PARAGRAPHS[by_code[code]]]
        g2p = synth.phonemizer(voice)
        for k, text in enumerate(texts):
            phonemes = g2p(text)[:PIECE]
            if not phonemes.strip():
                continue
            ids, style, _ = Synthesizer.prepare(phonemes, voice, 1.0)
            speed = SPEEDS[(n + k) % len(SPEEDS)]
            yield {"tokens": ids[None], "style": style.reshape(1, -1).astype(np.float32),
                   "speed": np.array([speed], np.float32)}


def ranges_json(data: dict) -> str:
    """Compact JSON, one line per convolution (a readable diff when ranges are re-measured)."""
    head = {k: v for k, v in data.items() if k != "convolutions"}
    lines = [json.dumps(head, separators=(",", ":"))[:-1] + ',"convolutions":{']
    lines += [f"{json.dumps(conv)}:{json.dumps(measured, separators=(',', ':'))},"
              for conv, measured in data["convolutions"].items()]
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join(lines) + "\n}}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--voices", default="all")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import onnx

    resolver = AssetResolver(**resolver_settings(None, None))
    sha = resolver.model_sha256()
    synth = Synthesizer.load(resolver, backend="onnx-int8", threads=1)
    voices = ([info.name for info in catalogue()] if args.voices == "all"
              else args.voices.split(","))
    model = onnx.load(str(resolver.model()))
    to_float_decoder(model)
    started = time.perf_counter()
    pieces = list(feeds(synth, resolver, voices))
    ranges = activation_ranges(model, pieces, threads=args.threads)
    out = args.out or vocoder_ranges_file(sha)
    rounded = {conv: {side: [[float(f"{v:.5g}") for v in values] for values in pair]
                      for side, pair in measured.items()} for conv, measured in ranges.items()}
    out.write_text(ranges_json({
        "model_sha256": sha, "made_by": "bench/calibrate_vocoder.py", "voices": voices,
        "pieces": len(pieces), "speeds": list(SPEEDS), "convolutions": rounded,
    }), encoding="utf-8")
    print(f"{len(ranges)} convolutions, {len(pieces)} pieces, {len(voices)} voices, "
          f"{time.perf_counter() - started:.0f} s -> {out}")


if __name__ == "__main__":
    main()
