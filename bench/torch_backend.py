"""PyTorch backend figures: real-time factor (compute s / audio s) one piece at a time and in
batches of similar length, the ONNX backend on the same pieces for reference, peak memory.

    python bench/torch_backend.py                  # CPU: torch unbatched vs batched, ONNX, RSS
    python bench/torch_backend.py --jemalloc       # the same with jemalloc (see DESIGN.md)
    python bench/torch_backend.py --device cuda    # GPU: batched vs one-at-a-time throughput

The pieces are the chunker's first ``--pieces`` pieces of a document (samples/story.txt by
default). Each figure is the median of ``--repeats`` passes over them after one warm-up piece.
The ONNX reference runs in a child process so each peak RSS belongs to one runtime. Weights:
whatever the torch backend resolves (the official .pth when reachable, else dequantized from
the int8 ONNX model).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    args = _parser().parse_args()
    if args.jemalloc and "LD_PRELOAD" not in os.environ:
        _rerun_with_jemalloc()
    if args.onnx_reference:
        print(json.dumps(_onnx_reference(args)))
        return
    _torch_figures(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", type=Path, default=ROOT / "samples" / "story.txt")
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    parser.add_argument("--batch", type=int, default=None,
                        help="pieces per batch (default 4 on CPU, 16 on CUDA)")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="padded tokens per batch (default: 512 per piece of --batch)")
    parser.add_argument("--pieces", type=int, default=6, help="use the first N pieces")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--jemalloc", action="store_true", help="run under jemalloc")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX reference")
    parser.add_argument("--onnx-reference", action="store_true", help=argparse.SUPPRESS)
    return parser


def _rerun_with_jemalloc() -> None:
    from engine.pool import jemalloc_env

    env = jemalloc_env()
    if not env:
        sys.exit("jemalloc not found: apt-get install libjemalloc2")
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **env})


def _pieces(args) -> tuple[list[str], object, object]:
    """The phonemes of the document's first ``--pieces`` chunks, the voice and the resolver."""
    from engine import AssetResolver, token_count
    from kokoro_cli.assets_env import resolver_settings
    from engine.g2p import phonemizer_for
    from engine.voices import load_voice
    from preprocess import Normalizer, chunk_chapter, parse_file

    resolver = AssetResolver(**resolver_settings(None, None))
    voice = load_voice(args.voice, resolver)
    g2p = phonemizer_for(voice.info.lang_code)
    chunks = [c for ch in parse_file(args.file).chapters
              for c in chunk_chapter(ch, g2p, token_count, Normalizer())]
    return [c.phonemes for c in chunks[: args.pieces]], voice, resolver


def _timed(run, repeats: int, sync=lambda: None) -> tuple[float, list]:
    """Median seconds of ``repeats`` calls of ``run`` and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        sync()
        started = time.perf_counter()
        result = run()
        sync()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _peak_rss_mb() -> float:
    """This process image's peak RSS: VmHWM (unlike ru_maxrss, it restarts at exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _onnx_reference(args) -> dict:
    from engine import Synthesizer

    phonemes, voice, resolver = _pieces(args)
    synth = Synthesizer.load(resolver, backend="onnx", threads=args.threads)
    synth.synthesize(phonemes[0], voice)
    seconds, audio = _timed(lambda: [synth.synthesize(p, voice) for p in phonemes], args.repeats)
    audio_s = sum(a.size for a in audio) / synth.sample_rate
    return {"rtf": seconds / audio_s, "peak_rss_mb": _peak_rss_mb()}


def _torch_figures(args) -> None:
    import numpy as np
    import torch

    from engine import Synthesizer
    from engine.torch_backend import BatchLimits, TorchBackend

    phonemes, voice, resolver = _pieces(args)
    started = time.perf_counter()
    synth = Synthesizer.load(resolver, backend="torch", device=args.device, threads=args.threads)
    backend: TorchBackend = synth.backend  # type: ignore[assignment]
    load_s = time.perf_counter() - started
    items = [synth.prepare(p, voice, 1.0) for p in phonemes]
    cuda = backend.device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    batch = args.batch or (16 if cuda else 4)
    limits = BatchLimits(max_items=batch, max_tokens=args.max_tokens or 512 * batch)

    backend.infer(*items[0])  # warm-up
    single_s, single = _timed(lambda: [backend.infer(*item) for item in items], args.repeats, sync)
    backend.limits = limits
    batched_s, batched = _timed(lambda: backend.infer_many(items), args.repeats, sync)
    audio_s = sum(a.size for a in single) / synth.sample_rate
    worst = max(20 * np.log10(np.linalg.norm(a - b) / np.linalg.norm(a) + 1e-30)
                for a, b in zip(single, batched))

    tokens = [len(item[0]) - 2 for item in items]
    print(f"{len(items)} pieces of {args.file.name}, {min(tokens)}-{max(tokens)} tokens "
          f"(mean {statistics.mean(tokens):.0f}), {audio_s:.1f} s of audio; device "
          f"{backend.device}, {torch.get_num_threads()} CPU threads; load {load_s:.1f} s")
    print(f"torch unbatched: RTF {single_s / audio_s:.3f}")
    print(f"torch batched (<= {limits.max_items} pieces, <= {limits.max_tokens} padded tokens): "
          f"RTF {batched_s / audio_s:.3f}; throughput x{single_s / batched_s:.2f} vs unbatched; "
          f"batched vs alone: worst {worst:.1f} dB")
    if cuda:
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")
    print(f"torch peak RSS {_peak_rss_mb():.0f} MB")
    if not args.no_onnx:
        _print_onnx(args)


def _print_onnx(args) -> None:
    cmd = [sys.executable, __file__, str(args.file), "--voice", args.voice, "--pieces",
           str(args.pieces), "--repeats", str(args.repeats), "--onnx-reference"]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    ref = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"onnx (int8, onnxruntime) reference: RTF {ref['rtf']:.3f}; peak RSS "
          f"{ref['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
