"""Model runtimes on the CPU, compared interleaved on the same pieces (issue #15).

Each configuration runs in its own worker process (spawned, so peak RSS is its own); the
driver asks the workers for piece after piece in turn (A, B, C, A, B, C, ...) and the whole
sweep is repeated ``--rounds`` times, so a shared machine's drift hits every configuration
alike. Per configuration it prints: RTF (compute s / audio s over the pieces) median and
min-max over the rounds; speed ratio to the baseline (median of the per-round paired ratios,
and their min-max); model load / compile time and the first call; peak RSS; and audio
equivalence with the baseline on round 1 (token durations equal, total frames, log-spectrogram
correlation after aligning each token's frames, as tests/test_torch_backend.py).

Configurations (``--configs`` picks; the first named is the baseline):
  ort-int8           engine.backends.OnnxBackend on the timed int8 model (--backend onnx-int8)
  ort-float-decoder  the same with the decoder in float (engine/float_decoder.py;
                     --backend onnx-float)
  ort-vocoder-int8   the float decoder with its vocoder on static int8 kernels
                     (engine/vocoder_int8.py; --backend onnx, the default), with the
                     weight bits chosen for this CPU (engine/cpu.py)
  ort-vocoder-int8-w8  ... with 8-bit weights (chosen where the CPU has VNNI)
  ort-vocoder-int8-w7  ... with 7-bit weights (chosen elsewhere: exact without VNNI)
  ort-int8-ext       + graph_optimization_level ORT_ENABLE_EXTENDED (the default is ALL)
  ort-int8-nospin    + session.intra_op.allow_spinning 0
  ort-int8-noarena   + enable_cpu_mem_arena False, enable_mem_pattern False
  ort-int8-keep      without the per-piece arena shrinkage
  ort-int8-saved     the graph optimized once and saved (optimized_model_filepath), loaded
  ort-fp32           the fp32 export (bench/derived_models.py) on onnxruntime
  ov-fp32            OpenVINO on the fp32 export, FP32
  ov-bf16            ... INFERENCE_PRECISION_HINT bf16
  ov-f16             ... INFERENCE_PRECISION_HINT f16
  ov-wc8             NNCF compress_weights (int8 weights, fp32 compute)
  ov-q8gen           NNCF static int8 (weights and activations) on the vocoder's generator only
  ov-q8gen-mixed     the same with the MIXED preset (asymmetric activations)
                     (2026-11-25: with NNCF 3.4 / OpenVINO 2026.4 these give EMPTY outputs, see
                     bench/derived_models.py; unresolved, so not in the measured table)
Append ``@2`` for 2 inference threads (``ort-int8@2``, ``ov-q8gen@2``); 1 otherwise.

Usage: python bench/backends_cpu.py [--text FILE] [--pieces 4,9,12] [--rounds 3]
       [--configs ort-int8,ort-fp32,ov-fp32] (OpenVINO configurations need openvino and nncf
       importable, e.g. PYTHONPATH=DIR after pip install --target DIR openvino nncf)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SAMPLE_RATE = 24_000


# --- configurations (run inside the worker) --------------------------------------------------

def _ort_session(model: Path, threads: int, *, level=None, spin=None, arena=True,
                 saved: Path | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    if level is not None:
        options.graph_optimization_level = level
    if spin is not None:
        options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    if not arena:
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
    if saved is not None:
        options.optimized_model_filepath = str(saved)
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def build(config: str):
    """(load seconds, run(ids, style, speed) -> (audio, durations)) for a configuration."""
    import derived_models as dm
    from engine import AssetResolver, Synthesizer
    from kokoro_cli.assets_env import resolver_settings

    name, _, threads = config.partition("@")
    threads = int(threads or 1)
    resolver = AssetResolver(**resolver_settings(None, None))
    started = time.perf_counter()
    backends = {"ort-int8": "onnx-int8", "ort-float-decoder": "onnx-float",
                "ort-vocoder-int8": "onnx", "ort-vocoder-int8-w8": "onnx",
                "ort-vocoder-int8-w7": "onnx"}
    if name in backends:  # the timed models, as convert runs them
        bits = {"ort-vocoder-int8-w8": 8, "ort-vocoder-int8-w7": 7}.get(name)
        synth = Synthesizer.load(resolver, threads=threads, backend=backends[name],
                                 weight_bits=bits)
        backend = synth.backend.load()
        return time.perf_counter() - started, backend.infer_timed
    if name.startswith("ort-"):
        import onnxruntime as ort

        model = dm.fp32_onnx(resolver) if name == "ort-fp32" else dm.timed_int8(resolver)
        started = time.perf_counter()
        kwargs = {}
        if name == "ort-int8-ext":
            kwargs["level"] = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        elif name == "ort-int8-nospin":
            kwargs["spin"] = "0"
        elif name == "ort-int8-noarena":
            kwargs["arena"] = False
        elif name == "ort-int8-saved":
            saved = dm.ort_optimized(resolver, model)
            started = time.perf_counter()
            model, kwargs["level"] = saved, ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = _ort_session(model, threads, **kwargs)
        run_options = ort.RunOptions()
        if name not in ("ort-int8-keep", "ort-int8-noarena"):  # no arena: nothing to shrink
            run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        ids_name = "tokens" if "tokens" in {i.name for i in session.get_inputs()} else "input_ids"
        load = time.perf_counter() - started

        def run(ids, style, speed):
            out = session.run(None, {ids_name: ids[None], "style": style.reshape(1, -1),
                                     "speed": np.array([speed], np.float32)}, run_options)
            return out[0].reshape(-1), np.asarray(out[1]).reshape(-1).astype(np.int64)

        return load, run
    if name.startswith("ov-"):
        import openvino as ov

        variant = name[3:]
        precision = {"bf16": "bf16", "f16": "f16"}.get(variant, "f32")
        model_file = dm.openvino_model(resolver, {"bf16": "fp32", "f16": "fp32"}.get(variant,
                                                                                       variant))
        core = ov.Core()
        started = time.perf_counter()
        compiled = core.compile_model(str(model_file), "CPU", {
            "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": precision})
        request = compiled.create_infer_request()
        load = time.perf_counter() - started

        def run(ids, style, speed):
            out = request.infer({"tokens": ids[None], "style": style.reshape(1, -1),
                                 "speed": np.array([speed], np.float32)})
            return (np.array(out[compiled.output(0)]).reshape(-1),
                    np.array(out[compiled.output(1)]).reshape(-1).astype(np.int64))

        return load, run
    raise SystemExit(f"unknown configuration {config}")


def worker(config: str, jobs, conn) -> None:
    load, run = build(config)
    started = time.perf_counter()
    run(*jobs[0])  # the first call sizes buffers (and for OpenVINO, compiles shapes)
    conn.send(("ready", load, time.perf_counter() - started))
    while True:
        message = conn.recv()
        if message is None:
            break
        index, keep = message
        started = time.perf_counter()
        audio, durations = run(*jobs[index])
        seconds = time.perf_counter() - started
        conn.send((seconds, audio.size, (audio, durations) if keep else None))
    conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


# --- equivalence ---------------------------------------------------------------------------

def log_spec(audio: np.ndarray) -> np.ndarray:
    import torch

    spec = torch.stft(torch.from_numpy(np.ascontiguousarray(audio, np.float32)), 1024, 300,
                      window=torch.hann_window(1024), return_complex=True).abs()
    return torch.log(spec + 1e-4).numpy()


def aligned_correlation(ref_audio, ref_durations, audio, durations) -> float:
    """tests/test_torch_backend.py's measure: log-spectrogram correlation once each token's
    frames are mapped onto the reference's (a frame is 600 samples, two hops of 300)."""
    ref, other = log_spec(ref_audio), log_spec(audio)
    ref_start = np.concatenate([[0], np.cumsum(ref_durations)]) * 2
    start = np.concatenate([[0], np.cumsum(durations)]) * 2
    index = np.concatenate([start[t] + (np.arange(ref_start[t + 1] - ref_start[t]) * durations[t])
                            // ref_durations[t] for t in range(len(durations))])
    n = min(len(index), ref.shape[1])
    index = np.minimum(index[:n], other.shape[1] - 1)
    return float(np.corrcoef(ref[:, :n].ravel(), other[:, index].ravel())[0, 1])


def equivalence(ref, out) -> tuple[float, int, int, float, float]:
    """(share of durations equal, max duration difference, total frames difference,
    aligned log-spectrogram correlation, RMS level ratio out/ref) over the pieces."""
    equal, worst, frames, corr, level = [], 0, 0, [], []
    for (ra, rd), (a, d) in zip(ref, out):
        equal.append(np.mean(rd == d))
        worst = max(worst, int(np.abs(rd - d).max()))
        frames = max(frames, abs(int(d.sum()) - int(rd.sum())), key=abs)
        corr.append(aligned_correlation(ra, rd, a, d))
        level.append(np.sqrt(np.mean(a**2)) / np.sqrt(np.mean(ra**2)))
    return float(np.mean(equal)), worst, frames, min(corr), float(np.mean(level))


# --- driver --------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", type=Path, default=ROOT / "bench" / "moby_like.txt")
    parser.add_argument("--voice", default="af_heart")
    parser.add_argument("--pieces", default="3,6,9,12",
                        help="indices of the planned pieces to time (comma-separated)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--configs", default="ort-int8,ort-fp32,ov-fp32")
    args = parser.parse_args()

    from speed import pieces  # bench/speed.py: the pieces convert makes, planned as it plans them

    from engine.cpu import cpu_info
    print(f"CPU: {cpu_info().line()}", flush=True)
    jobs = pieces(args.text, args.voice)
    chosen = [int(i) for i in args.pieces.split(",")]
    configs = args.configs.split(",")
    print(f"{args.text.name}: {len(jobs)} pieces planned; timing pieces {chosen} "
          f"({[int(jobs[i][0].size - 2) for i in chosen]} tokens), {args.rounds} rounds, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}", flush=True)

    context = mp.get_context("spawn")
    workers = {}
    for config in configs:  # started one at a time, so load times do not overlap
        parent, child = context.Pipe()
        process = context.Process(target=worker, args=(config, [jobs[i] for i in chosen], child))
        process.start()
        tag, load, first = parent.recv()
        workers[config] = (process, parent, load, first)
        print(f"  {config}: loaded in {load:.2f} s, first call {first:.2f} s", flush=True)

    seconds = {c: [[0.0] * len(chosen) for _ in range(args.rounds)] for c in configs}
    samples = {c: [0] * len(chosen) for c in configs}
    outputs = {c: [] for c in configs}
    for r in range(args.rounds):
        for k in range(len(chosen)):
            order = configs if (r + k) % 2 == 0 else configs[::-1]  # alternate who goes first
            for config in order:
                conn = workers[config][1]
                conn.send((k, r == 0))
                dt, size, out = conn.recv()
                seconds[config][r][k] = dt
                samples[config][k] = size
                if out is not None:
                    outputs[config].append(out)
        print(f"  round {r + 1} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    peaks = {}
    for config, (process, conn, _, _) in workers.items():
        conn.send(None)
        peaks[config] = conn.recv()
        process.join()

    base = configs[0]
    audio = {c: sum(samples[c]) / SAMPLE_RATE for c in configs}
    rtf = {c: [sum(seconds[c][r]) / audio[c] for r in range(args.rounds)] for c in configs}
    print(f"\naudio per round: {audio[base]:.1f} s; RTF = compute s / audio s, 1 process")
    print(f"{'config':18s} {'RTF med':>8s} {'min-max':>13s} {'speed vs base':>14s} "
          f"{'min-max':>11s} {'load s':>7s} {'1st call':>8s} {'peak MB':>8s}  "
          "dur= maxΔ Δframes corr_min level")
    for c in configs:
        ratios = [rtf[base][r] / rtf[c][r] for r in range(args.rounds)]
        eq, worst, frames, corr, level = equivalence(outputs[base], outputs[c])
        process, conn, load, first = workers[c]
        print(f"{c:18s} {statistics.median(rtf[c]):8.3f} {min(rtf[c]):6.3f}-{max(rtf[c]):.3f} "
              f"{statistics.median(ratios):13.2f}x {min(ratios):5.2f}-{max(ratios):.2f} "
              f"{load:7.2f} {first:8.2f} {peaks[c]:8.0f}  {eq:4.0%} {worst:4d} {frames:7d} "
              f"{corr:8.3f} {level:5.2f}")
    per_piece = {c: [min(seconds[c][r][k] for r in range(args.rounds)) /
                     (samples[c][k] / SAMPLE_RATE) for k in range(len(chosen))] for c in configs}
    print("\nbest-of-rounds RTF per piece (tokens: " +
          ", ".join(str(int(jobs[i][0].size - 2)) for i in chosen) + ")")
    for c in configs:
        print(f"{c:18s} " + " ".join(f"{x:6.3f}" for x in per_piece[c]))


if __name__ == "__main__":
    main()
