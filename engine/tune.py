"""``kokoro-cli models tune``: measure the ``onnx`` vocoder's weight variants on this CPU and
record the choice (:mod:`engine.cpu`).

For each variant (8-bit and 7-bit weights) it runs a saturation probe, one convolution whose
output channels span ranges 1,000× apart (the case that showed onnxruntime's int16 pair sums
on CPUs without VNNI, issue #29), and the real model on one sentence, one thread, best of a few
runs. The fastest variant whose probe stays exact (every channel within :data:`EXACT` of its
range) is recorded beside the model, for this CPU model, its flags and this onnxruntime;
``onnx-float`` is timed too, for the table. It takes some seconds (the first time also the
derived models, a few seconds each).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import numpy as np

from engine.assets import AssetResolver
from engine.cpu import cpu_info, rule_weight_bits, tune_record
from kokoro_common.atomic import write_atomic

__all__ = ["EXACT", "TuneRow", "TuneResult", "saturation_probe", "tune"]

EXACT = 0.03  # largest error allowed in the probe, as a fraction of a channel's range
SENTENCE = ("It was a bright cold day in April, and the clocks were striking thirteen; "
            "nobody in the square looked up.")
_PROBE_NAME = "/decoder/decoder/generator/resblocks.0/probe"


@dataclass(frozen=True)
class TuneRow:
    """One variant as measured: its probe error (None for the float decoder) and its speed
    (compute seconds per audio second, one thread, best run)."""

    stack: str
    weight_bits: int | None
    probe_error: float | None
    rtf: float

    @property
    def exact(self) -> bool:
        return self.probe_error is None or self.probe_error < EXACT


@dataclass(frozen=True)
class TuneResult:
    """The table, the choice and where it was recorded."""

    cpu: str
    runtime: str
    rows: tuple[TuneRow, ...]
    weight_bits: int
    record: str
    bound: float = EXACT  # a probe error under this is exact


def saturation_probe(weight_bits: int) -> float:
    """The largest error of a quantized convolution (the vocoder's rewrite with these weight
    bits) against float, as a fraction of each output channel's range, run by onnxruntime."""
    from onnx import TensorProto, helper, numpy_helper

    from engine.vocoder_int8 import activation_ranges, quantize_vocoder

    rng = np.random.default_rng(1)
    spread = np.logspace(-3, 0, 8)
    weight = (rng.standard_normal((8, 8, 5)) * spread[:, None, None]).astype(np.float32)
    bias = (rng.standard_normal(8) * spread).astype(np.float32)
    x = (rng.standard_normal((1, 8, 400)) + 0.7).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], dilations=[2], pads=[4, 4],
                            name=_PROBE_NAME)
    graph = helper.make_graph(
        [node], "probe", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    expected = _run_once(model.SerializeToString(), x)
    quantize_vocoder(model, activation_ranges(model, [{"x": x}]), weight_bits)
    got = _run_once(model.SerializeToString(), x)
    span = expected.max(axis=2) - expected.min(axis=2)
    return float((np.abs(got - expected).max(axis=2) / span).max())


def _run_once(model: bytes, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def tune(resolver: AssetResolver, runs: int = 3) -> TuneResult:
    """Measure, choose and record (see the module docstring)."""
    from importlib import metadata

    from engine.synth import Synthesizer

    version = metadata.version("onnxruntime")
    rows = []
    for stack, bits in (("onnx", 8), ("onnx", 7), ("onnx-float", None)):
        synth = Synthesizer.load(resolver, backend=stack, threads=1, weight_bits=bits)
        rows.append(TuneRow(stack, bits, None if bits is None else saturation_probe(bits),
                            _rtf(synth, runs)))
    exact = [row for row in rows if row.weight_bits is not None and row.exact]
    info = cpu_info()
    chosen = (min(exact, key=lambda row: row.rtf).weight_bits if exact
              else rule_weight_bits(info))
    record = tune_record(resolver.cache_dir, info, version)
    result = TuneResult(info.line(), version, tuple(rows), chosen, str(record))
    record.parent.mkdir(parents=True, exist_ok=True)  # OSError: the caller's to report
    text = json.dumps({**asdict(result), "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                   time.gmtime())}, indent=1)
    write_atomic(record, text.encode("utf-8"))
    return result


def _rtf(synth, runs: int) -> float:
    voice = synth.voice("af_heart")
    prepared = synth.prepare(synth.phonemizer(voice)(SENTENCE), voice, 1.0)
    synth.backend.infer(*prepared)  # the first call allocates
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        audio = synth.backend.infer(*prepared)
        best = min(best, time.perf_counter() - start)
    return best / (audio.size / synth.sample_rate)
