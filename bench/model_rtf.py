"""Model-only speed: real-time factor (compute s / audio s) of the Synthesizer on the chunks of
a document, after one warm-up call. Usage: python bench/model_rtf.py [FILE] [--voice V]"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from engine import AssetResolver, Synthesizer, token_count
from kokoro_cli.assets_env import resolver_settings
from preprocess import Normalizer, chunk_chapter, parse_file

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", nargs="?", type=Path, default=ROOT / "samples" / "story.txt")
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    started = time.perf_counter()
    synth = Synthesizer.load(AssetResolver(**resolver_settings(None, None)), threads=args.threads)
    voice = synth.voice(args.voice)
    g2p = synth.phonemizer(voice)
    g2p("Warm up.")
    load_seconds = time.perf_counter() - started

    chunks = [c for ch in parse_file(args.file).chapters
              for c in chunk_chapter(ch, g2p, token_count, Normalizer())]
    synth.synthesize(chunks[0].phonemes, voice)  # warm-up: first call allocates buffers
    compute = audio = 0.0
    per_chunk = []
    for chunk in chunks:
        t = time.perf_counter()
        samples = synth.synthesize(chunk.phonemes, voice)
        dt = time.perf_counter() - t
        compute += dt
        audio += samples.size / synth.sample_rate
        per_chunk.append(dt / (samples.size / synth.sample_rate))
    words = sum(len(c.text.split()) for c in chunks)
    print(f"file {args.file.name}: {len(chunks)} chunks, mean {statistics.mean(c.tokens for c in chunks):.0f} tokens")
    print(f"load (model + G2P + voice): {load_seconds:.2f} s")
    print(f"audio {audio:.1f} s, compute {compute:.1f} s, real-time factor {compute / audio:.3f} "
          f"(median per chunk {statistics.median(per_chunk):.3f})")
    print(f"pace: {words / audio:.2f} words per second of audio")


if __name__ == "__main__":
    main()
