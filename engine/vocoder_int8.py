"""The vocoder's residual convolutions on int8 kernels: the ``onnx`` backend's speed.

With the decoder in float (:mod:`engine.float_decoder`), most of the model's time is the
vocoder's 48 residual convolutions (``resblocks`` and ``noise_res``: 128 and 256 channels,
kernels 3 to 11, at up to 4,800 frames a second). onnxruntime's ``QLinearConv`` runs a
convolution as uint8 × int8 on the CPU's VNNI instructions, about 2.7 times as fast as its best
float kernel, where the export's own ``ConvInteger`` (uint8 × uint8) is no faster than float
(measured on AVX-512 VNNI). CPUs without VNNI add pairs of products in int16, which
saturates with 8-bit weights: there the weights have 7 bits (:data:`WEIGHT_BITS`,
:mod:`engine.cpu`), a derived file and model id of their own.
Each such convolution becomes ``QuantizeLinear → QLinearConv → DequantizeLinear`` with
*static* ranges, measured once over many voices and texts (``bench/calibrate_vocoder.py``) and
shipped per model in ``engine/data/vocoder-ranges-<sha256[:16]>.json``:

- **weights**: int8 per output channel (the float kernels, themselves the export's int8
  weights dequantized per tensor);
- **input**: each of these convolutions reads ``Snake(AdaIN(x))``, whose channels differ in
  range by 2–12×. A per-channel scale ``t`` is folded into what makes the input (the AdaIN's
  ``1 + γ`` and ``β`` vectors times ``t``, the Snake's ``α`` by ``1/t`` inside the sine and
  ``t/α`` outside) and into the kernel (÷ ``t``), so one uint8 scale serves every channel
  with no extra pass over the activations;
- **output**: ``QLinearConv`` has one output scale, so each channel's own scale rides in its
  weight scale (the requantization multiplier is ``x_scale · w_scale / y_scale``) and its zero
  point in its bias; a per-channel ``DequantizeLinear`` gives the floats back.

The text encoder, the predictors (durations, pitch, energy) and the rest of the decoder are
the float decoder's, so timing is the int8 export's. Measured on Moby-Dick pieces in three
voices against the float decoder: 11.4 dB signal-to-noise and 0.975 log-spectrogram correlation,
where the int8 export itself gets 11.0 dB and 0.977; one thread runs the model 1.65× as fast as
the float decoder and 2.0× as fast as the int8 export (README, Speed).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

__all__ = ["INPUT_HEADROOM", "OUTPUT_HEADROOM", "VOCODER_INT8_VERSION", "WEIGHT_BITS",
           "activation_ranges", "channel_gains", "load_vocoder_ranges", "quantize_vocoder",
           "quantized_range", "vocoder_convolutions", "vocoder_ranges_file"]

VOCODER_INT8_VERSION = 1  # part of the derived file's name and of the model id
_SCOPES = ("/decoder/decoder/generator/resblocks.", "/decoder/decoder/generator/noise_res.")
_DATA = Path(__file__).parent / "data"
_ZERO = 128  # QLinearConv's own (scalar) output zero point; each channel's is in its bias
# Room beyond the calibrated extremes, as a fraction of the range added on each side: a short
# exclamation's pitch drives the noise branch past what 278 calibration pieces reached (inputs by
# up to a quarter of a channel's reach). Clipping would distort; the room costs under half a bit.
INPUT_HEADROOM = 0.15
OUTPUT_HEADROOM = 0.1
# Weight bits → the largest weight magnitude. onnxruntime multiplies uint8 activations by int8
# weights; without VNNI (AVX2, AVX-512 without VNNI) its kernels add pairs of products into
# int16 first (vpmaddubsw), which saturates when 2 · 255 · |w| > 32,767, i.e. for |w| > 64.
# Seven-bit weights (±63, onnxruntime's ``reduce_range``) never saturate there; VNNI
# (vpdpbusd) adds into int32 and takes the full eight bits (engine.cpu).
WEIGHT_BITS = {8: 127, 7: 63}


def vocoder_ranges_file(model_sha256: str) -> Path:
    """Where the calibrated ranges for the model with this sha256 are shipped."""
    return _DATA / f"vocoder-ranges-{model_sha256[:16]}.json"


@functools.lru_cache(maxsize=4)
def load_vocoder_ranges(model_sha256: str) -> dict | None:
    """The calibrated ranges for this model, or None for a model nobody calibrated (a user's
    own export: the ``onnx`` backend then runs the float decoder alone). Read-only."""
    path = vocoder_ranges_file(model_sha256)
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("model_sha256") != model_sha256:
        return None
    return data["convolutions"]


def vocoder_convolutions(graph: onnx.GraphProto) -> list:
    """The vocoder's residual float convolutions with constant kernels, in graph order: the
    1-D ``Conv`` nodes of :func:`engine.float_decoder.to_float_decoder` (before its 2-D step),
    or the ``…/2d`` ones after it."""
    constants = {init.name for init in graph.initializer}
    return [node for node in graph.node
            if node.op_type == "Conv" and node.name.startswith(_SCOPES)
            and len(node.input) > 1 and node.input[1] in constants]


def _key(node) -> str:
    return node.name.removesuffix("/2d")


def activation_ranges(model: onnx.ModelProto, feeds: Iterable[dict],
                      threads: int = 1) -> dict:
    """Per-channel minimum and maximum of every vocoder convolution's input and output over
    ``feeds`` (the model's input dicts), run through onnxruntime on a copy of ``model`` (a
    float decoder): ``{convolution: {"in": [lows, highs], "out": [lows, highs]}}``."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    convolutions = vocoder_convolutions(probe.graph)
    watched = list(dict.fromkeys(name for node in convolutions
                                 for name in (node.input[0], node.output[0])))
    present = {out.name for out in probe.graph.output}
    probe.graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                                                 None)
                              for name in watched if name not in present)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    lows: dict[str, np.ndarray] = {}
    highs: dict[str, np.ndarray] = {}
    for feed in feeds:
        values = dict(zip(watched, session.run(watched, feed)))
        for name, value in values.items():
            per_channel = np.moveaxis(value, 1, 0).reshape(value.shape[1], -1)
            low, high = per_channel.min(axis=1), per_channel.max(axis=1)
            lows[name] = np.minimum(lows.get(name, low), low)
            highs[name] = np.maximum(highs.get(name, high), high)
    if not lows:
        raise ValueError("no feeds to measure ranges on")
    return {_key(node): {side: [lows[name].tolist(), highs[name].tolist()]
                         for side, name in (("in", node.input[0]), ("out", node.output[0]))}
            for node in convolutions}


def quantize_vocoder(model: onnx.ModelProto, ranges: dict, weight_bits: int = 8) -> int:
    """Rewrite ``model``'s vocoder convolutions (1-D float ``Conv`` nodes, as
    :func:`engine.float_decoder.to_float_decoder` makes them, and then prunes) in place as
    described in the module docstring; the number rewritten. ``weight_bits`` 7 keeps every
    weight within ±63 (see :data:`WEIGHT_BITS`). ValueError when ``ranges`` do not fit the
    graph."""
    if weight_bits not in WEIGHT_BITS:
        raise ValueError(f"weight_bits {weight_bits}: use one of {sorted(WEIGHT_BITS)}")
    graph = model.graph
    convolutions = vocoder_convolutions(graph)
    if len(convolutions) != len(ranges) or any(_key(n) not in ranges for n in convolutions):
        raise ValueError(f"the calibrated ranges ({len(ranges)} convolutions) do not fit this "
                         f"graph's {len(convolutions)} vocoder convolutions")
    weights = {init.name: init for init in graph.initializer}
    # One index serves every conv: folding swaps inputs of that conv's own AdaIN and Snake only,
    # which no other conv's pattern reads.
    made_by = {out: node for node in graph.node for out in node.output}
    users: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1
    # Keyed by a node's first output: protobuf hands out new Python wrappers for the same node.
    inserted: dict[str, list] = {}
    replaced: dict[str, list] = {}
    for conv in convolutions:
        measured = ranges[_key(conv)]
        scale = _fold_input_scale(graph, conv, measured["in"], (made_by, users, weights),
                                  inserted)
        replaced[conv.output[0]] = _quantized(conv, (measured, WEIGHT_BITS[weight_bits]), scale,
                                              weights, graph)
    nodes = []
    for node in graph.node:
        nodes.extend(inserted.get(node.output[0], []))
        nodes.extend(replaced.get(node.output[0], [node]))
    del graph.node[:]
    graph.node.extend(nodes)  # (the float kernels, now unread, are the caller's to drop)
    return len(replaced)


def _fold_input_scale(graph, conv, measured_in, index, inserted) -> np.ndarray:
    """Fold a per-channel scale ``t`` into ``Snake(AdaIN(x))`` before ``conv`` (see the module
    docstring) and return it; ones when the graph around ``conv`` is not that pattern.
    ``index``: (producer of each tensor, how many nodes read it, initializers by name)."""
    low, high = (np.asarray(v, np.float64) for v in measured_in)
    ones = np.ones(low.size)
    made_by, users, weights = index
    try:
        snake = made_by[conv.input[0]]
        adain = next(made_by[i] for i in snake.input
                     if i in made_by and made_by[i].op_type == "Add")
        outer = made_by[next(i for i in snake.input if i != adain.output[0])]
        reciprocal = next(i for i in outer.input if i in weights)
        sine = made_by[made_by[next(i for i in outer.input if i != reciprocal)].input[0]]
        inner = made_by[sine.input[0]]
        alpha = next(i for i in inner.input if i in weights)
        affine = next(made_by[i] for i in adain.input
                      if i in made_by and made_by[i].op_type == "Mul")
        beta = next(i for i in adain.input if i != affine.output[0])
        gain = next(i for i in affine.input
                    if i in made_by and made_by[i].op_type == "Add")
        pattern = (snake.op_type == "Add" and outer.op_type == "Mul" and sine.op_type == "Sin"
                   and inner.op_type == "Mul" and adain.output[0] in inner.input
                   and users[adain.output[0]] == 2 and users[conv.input[0]] == 1)
    except (KeyError, StopIteration, IndexError):
        pattern = False
    if not pattern:
        return ones
    from onnx import helper, numpy_helper

    alphas = numpy_helper.to_array(weights[alpha]).astype(np.float64)
    if alphas.size != low.size:
        return ones
    t = channel_gains(low, high).reshape(alphas.shape)
    prefix = f"{conv.name}/int8_input"
    for suffix, value in (("t", t), ("alpha", alphas / t), ("reciprocal", t / alphas)):
        graph.initializer.append(numpy_helper.from_array(value.astype(np.float32),
                                                         f"{prefix}/{suffix}"))
    _swap_input(inner, alpha, f"{prefix}/alpha")
    _swap_input(outer, reciprocal, f"{prefix}/reciprocal")
    _swap_input(affine, gain, f"{prefix}/gain")
    _swap_input(adain, beta, f"{prefix}/beta")
    inserted.setdefault(affine.output[0], []).extend([
        helper.make_node("Mul", [gain, f"{prefix}/t"], [f"{prefix}/gain"], name=f"{prefix}/gain"),
        helper.make_node("Mul", [beta, f"{prefix}/t"], [f"{prefix}/beta"], name=f"{prefix}/beta"),
    ])
    return t.reshape(-1)


def _swap_input(node, old: str, new: str) -> None:
    node.input[list(node.input).index(old)] = new


def _quantized(conv, how: tuple[dict, int], input_scale: np.ndarray, weights, graph) -> list:
    """``QuantizeLinear → QLinearConv → DequantizeLinear`` computing what ``conv`` did;
    ``how``: its calibrated ranges and the largest weight magnitude."""
    from onnx import helper, numpy_helper

    measured, top = how
    kernel = numpy_helper.to_array(weights[conv.input[1]]).astype(np.float64)
    channels = kernel.shape[0]
    kernel = kernel / input_scale.reshape(1, -1, *([1] * (kernel.ndim - 2)))
    w_scale = np.abs(kernel).reshape(channels, -1).max(axis=1) / top
    w_scale[w_scale == 0] = 1e-12
    w_q = np.clip(np.round(kernel / w_scale.reshape(-1, *([1] * (kernel.ndim - 1)))),
                  -top, top).astype(np.int8)
    low, high = (np.asarray(v, np.float64) * input_scale for v in measured["in"])
    x_scale, x_zero = _affine(*quantized_range(low.min(), high.max(), INPUT_HEADROOM))
    y_scales, y_zeros = _affine(*quantized_range(*measured["out"], OUTPUT_HEADROOM))
    bias = (numpy_helper.to_array(weights[conv.input[2]]).astype(np.float64)
            if len(conv.input) > 2 else np.zeros(channels))
    unit = np.float64(np.float32(x_scale)) * w_scale.astype(np.float32).astype(np.float64)
    # The kernel requantizes channel c by x_scale · w_scale[c] / y_scale with y_scale = 1:
    # telling it w_scale[c] / y_scales[c] quantizes each channel on its own scale; shifting
    # the bias by (zero[c] − 128) · y_scales[c] moves it to its own zero point.
    b_q = np.round((bias + (y_zeros.astype(np.float64) - _ZERO) * y_scales) / unit)
    b_q = np.clip(b_q, -2**31, 2**31 - 1).astype(np.int32)
    p = conv.name
    constants = {
        "x_scale": np.array(x_scale, np.float32), "x_zero": np.array(x_zero, np.uint8),
        "w": w_q, "w_scale": (w_scale / y_scales).astype(np.float32),
        "w_zero": np.zeros(channels, np.int8), "y_scale": np.array(1.0, np.float32),
        "y_zero": np.array(_ZERO, np.uint8), "bias": b_q,
        "out_scale": y_scales.astype(np.float32), "out_zero": y_zeros.astype(np.uint8),
    }
    graph.initializer.extend(numpy_helper.from_array(value, f"{p}/{name}")
                             for name, value in constants.items())
    qconv = helper.make_node(
        "QLinearConv", [f"{p}/x_q"] + [f"{p}/{name}" for name in (
            "x_scale", "x_zero", "w", "w_scale", "w_zero", "y_scale", "y_zero", "bias")],
        [f"{p}/y_q"], name=f"{p}/int8")
    qconv.attribute.extend(conv.attribute)
    return [
        helper.make_node("QuantizeLinear", [conv.input[0], f"{p}/x_scale", f"{p}/x_zero"],
                         [f"{p}/x_q"], name=f"{p}/quantize"),
        qconv,
        helper.make_node("DequantizeLinear", [f"{p}/y_q", f"{p}/out_scale", f"{p}/out_zero"],
                         list(conv.output), name=f"{p}/dequantize", axis=1),
    ]


def channel_gains(low, high) -> np.ndarray:
    """The per-channel gain folded into a convolution's input: each channel's calibrated reach
    becomes 1."""
    reach = np.maximum(np.abs(np.asarray(low, np.float64)), np.abs(np.asarray(high, np.float64)))
    return 1.0 / np.maximum(reach, 1e-3)


def quantized_range(low, high, headroom: float):
    """What a quantizer calibrated to [low, high] represents: the range with 0 in it, widened
    by ``headroom`` of its span on each side (elementwise for per-channel arrays)."""
    low = np.minimum(np.asarray(low, np.float64), 0.0)
    high = np.maximum(np.asarray(high, np.float64), 0.0)
    room = (high - low) * headroom
    return low - room, high + room


def _affine(low, high):
    """uint8 scale(s) and zero point(s) covering [low, high] (0 inside)."""
    scale = np.maximum((np.asarray(high) - np.asarray(low)) / 255.0, 1e-8)
    zero = np.clip(np.round(-np.asarray(low) / scale), 0, 255)
    if np.ndim(scale) == 0:
        return np.float32(scale), np.uint8(zero)
    return scale, zero.astype(np.uint8)
