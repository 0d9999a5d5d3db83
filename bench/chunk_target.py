"""Listening test for the chunker's merge target (``ChunkOptions.target_tokens``).

For each target the same text is chunked, every piece synthesized (trimmed, joined with the
chunks' pauses) and the whole is transcribed by Whisper tiny.en (see ``asr_check.py``).
Printed per target: pieces, mean/min piece length in tokens, share of pieces under 30
tokens, share of piece boundaries that fall mid-paragraph (a prosody proxy: the model
restarts its intonation there), audio length, model real-time factor (compute / speech
seconds, pauses excluded) and the ASR word error rate against the normalized text.

A piece with the same phonemes is synthesized once and reused by every target, with the
compute time it first took, so identical chunkings cost nothing twice.

A short-piece probe follows: a one-word heading alone, versus the same word opening a
longer piece (Whisper word timestamps), versus the same phonemes spoken with the style row
of a long utterance.

Usage: python bench/chunk_target.py [--chapters N] [--targets 30,60,...] [--voice V]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from asr_check import transcribe_samples, wer, word_timings  # noqa: E402
from engine import AssetResolver, Synthesizer, Voice, token_count, tokenize  # noqa: E402
from engine.audio import silence, trim  # noqa: E402
from kokoro_cli.assets_env import resolver_settings  # noqa: E402
from preprocess import (  # noqa: E402
    Chapter, Chunk, ChunkOptions, Normalizer, Pauses, chunk_chapter, parse_file,
)

SAMPLES = (ROOT / "samples" / "story.txt", ROOT / "samples" / "lighthouse.epub")
TARGETS = (30, 60, 100, 150, 200, 300, 450)
SHORT = 30  # pieces under this many tokens count as "short"


@dataclass(frozen=True)
class Spoken:
    """One synthesized piece: trimmed samples and the model time they took."""

    samples: np.ndarray
    compute_s: float


@dataclass(frozen=True)
class Result:
    """The figures for one merge target."""

    target: int
    pieces: int
    mean_tokens: float
    min_tokens: int
    short_share: float
    mid_paragraph: float
    audio_s: float
    rtf: float
    wer: float


class PieceCache:
    """Synthesizes each distinct phoneme string once, for every target that needs it."""

    def __init__(self, synth: Synthesizer, voice: Voice) -> None:
        self.synth, self.voice = synth, voice
        self._spoken: dict[str, Spoken] = {}

    def get(self, phonemes: str) -> Spoken:
        if phonemes not in self._spoken:
            started = time.perf_counter()
            samples = trim(self.synth.synthesize(phonemes, self.voice))
            self._spoken[phonemes] = Spoken(samples, time.perf_counter() - started)
        return self._spoken[phonemes]


def load_chapters(paths: Sequence[Path], limit: int) -> list[Chapter]:
    """The first ``limit`` chapters of each file (0: all)."""
    chapters = []
    for path in paths:
        found = parse_file(path).chapters
        chapters.extend(found[:limit] if limit else found)
    return chapters


def chunk_all(chapters: Sequence[Chapter], g2p: Callable[[str], str], target: int) -> list[Chunk]:
    """Every chapter chunked with the given merge target, in reading order."""
    options, normalizer = ChunkOptions(target_tokens=target), Normalizer()
    return [c for ch in chapters for c in chunk_chapter(ch, g2p, token_count, normalizer, options)]


def mid_paragraph_share(chunks: Sequence[Chunk], pauses: Pauses = Pauses()) -> float:
    """Share of piece boundaries inside a block (sentence or clause pause) rather than at a
    paragraph, heading or chapter end. The last piece ends the text, not a boundary."""
    inside = {pauses.sentence, pauses.clause}
    boundaries = chunks[:-1]
    return sum(c.pause_after_ms in inside for c in boundaries) / max(len(boundaries), 1)


def render(chunks: Sequence[Chunk], cache: PieceCache) -> tuple[np.ndarray, float, float]:
    """The joined audio (pieces and pauses), model compute seconds and speech seconds."""
    parts, compute, speech = [], 0.0, 0
    for chunk in chunks:
        spoken = cache.get(chunk.phonemes)
        parts += [spoken.samples, silence(chunk.pause_after_ms)]
        compute += spoken.compute_s
        speech += spoken.samples.size
    return np.concatenate(parts), compute, speech / cache.synth.sample_rate


def measure(target: int, chunks: Sequence[Chunk], cache: PieceCache,
            heard: dict[tuple, float]) -> Result:
    """All figures for one target; the ASR pass is shared by identical chunkings."""
    audio, compute, speech = render(chunks, cache)
    key = tuple((c.phonemes, c.pause_after_ms) for c in chunks)
    if key not in heard:
        rate = cache.synth.sample_rate
        heard[key] = wer(" ".join(c.text for c in chunks), transcribe_samples(audio, rate))
    tokens = [c.tokens for c in chunks]
    return Result(target, len(chunks), statistics.mean(tokens), min(tokens),
                  sum(t < SHORT for t in tokens) / len(tokens), mid_paragraph_share(chunks),
                  audio.size / cache.synth.sample_rate, compute / speech, heard[key])


def print_table(results: Sequence[Result]) -> None:
    print(f"{'target':>6} {'pieces':>6} {'mean tok':>8} {'min tok':>7} {'<30 tok':>7} "
          f"{'mid-para':>8} {'audio s':>7} {'RTF':>6} {'WER':>6}")
    for r in results:
        print(f"{r.target:>6} {r.pieces:>6} {r.mean_tokens:>8.0f} {r.min_tokens:>7} "
              f"{r.short_share:>7.0%} {r.mid_paragraph:>8.0%} {r.audio_s:>7.1f} "
              f"{r.rtf:>6.3f} {r.wer:>6.2%}")


def first_word_span(samples: np.ndarray, rate: int, word: str) -> float | None:
    """Seconds Whisper gives the first occurrence of ``word`` in the samples, if heard."""
    for heard, start, end in word_timings(samples, rate):
        if heard.lower().strip(".,!?") == word.lower():
            return end - start
    return None


def short_piece_probe(synth: Synthesizer, voice: Voice, g2p: Callable[[str], str],
                      word: str, sentence: str) -> None:
    """Print how a one-word piece compares with the same word inside a longer piece."""
    rate = synth.sample_rate
    alone_ph = g2p(word)
    alone = trim(synth.synthesize(alone_ph, voice))
    ids = tokenize(alone_ph)
    padded = np.concatenate([[0], ids, [0]]).astype(np.int64)
    long_style = trim(synth.backend.infer(padded, voice.style(len(g2p(sentence))), 1.0))
    inside = trim(synth.synthesize(g2p(f"{word}. {sentence}"), voice))
    span = first_word_span(inside, rate, word)
    print(f"\nshort-piece probe: {word!r} ({token_count(alone_ph)} tokens)")
    print(f"  alone, own style:        {alone.size / rate:.2f} s, ASR hears "
          f"{transcribe_samples(alone, rate)!r}")
    print(f"  alone, long-piece style: {long_style.size / rate:.2f} s, ASR hears "
          f"{transcribe_samples(long_style, rate)!r}")
    print(f"  opening a longer piece:  {'not heard' if span is None else f'{span:.2f} s'} "
          f"(Whisper word timestamp, approximate)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chapters", type=int, default=2,
                        help="first N chapters per file (0: all)")
    parser.add_argument("--targets", default=",".join(map(str, TARGETS)))
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-probe", action="store_true", help="skip the short-piece probe")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    synth = Synthesizer.load(AssetResolver(**resolver_settings(None, None)), threads=args.threads)
    voice = synth.voice(args.voice)
    g2p = synth.phonemizer(voice)
    synth.synthesize(g2p("Warm up."), voice)  # the first call allocates buffers
    chapters = load_chapters(SAMPLES, args.chapters)
    words = sum(len(b.text.split()) for ch in chapters for b in ch.blocks)
    print(f"{len(chapters)} chapters, {words} words, voice {args.voice}\n")
    cache, heard, results = PieceCache(synth, voice), {}, []
    for target in (int(t) for t in args.targets.split(",")):
        results.append(measure(target, chunk_all(chapters, g2p, target), cache, heard))
        print(f"  target {target} done at {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print_table(results)
    if not args.no_probe:
        short_piece_probe(synth, voice, g2p, "Morning",
                          "The storm blew itself out before dawn, and the sea lay grey and flat.")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
