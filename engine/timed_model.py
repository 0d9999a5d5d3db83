"""The ONNX graph onnxruntime runs: the model with its token durations as a second output, for
subtitles and read-along, and (for the ``onnx`` backend) its decoder in float
(:mod:`engine.float_decoder`), with its vocoder's convolutions on int8 kernels
(:mod:`engine.vocoder_int8`).

Kokoro's exports compute the frames each token lasts (``round(duration / speed)`` clipped to at
least one frame) inside the graph and expose only the audio. The tensor is still there: adding
it to the graph's outputs changes nothing in the audio (checked sample for sample in
tests/test_timing.py) and costs nothing, because onnxruntime computes it anyway. The derived
file is made once per model and variant (1 to 5 s) in the asset cache, beside the torch weights.

One frame is :data:`SAMPLES_PER_FRAME` samples at 24 kHz (the decoder upsamples the aligned
frames by 2 and the generator by 300).
"""

from __future__ import annotations

import logging
from pathlib import Path

from engine.float_decoder import FLOAT_DECODER_VERSION, to_float_decoder
from engine.vocoder_int8 import VOCODER_INT8_VERSION
from kokoro_common import made_once

__all__ = ["DURATIONS_OUTPUT", "SAMPLES_PER_FRAME", "derivation", "duration_tensor",
           "timed_model"]

log = logging.getLogger(__name__)

SAMPLES_PER_FRAME = 600
DURATIONS_OUTPUT = "durations"  # what the derived model calls its second output
TIMED_VERSION = 1


def duration_tensor(graph) -> str | None:
    """The name of the durations tensor: the ``Clip`` fed by the ``Round`` of the duration
    predictor (the only Round → Clip chain in Kokoro's graph), or None in another graph."""
    made_by = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.op_type == "Clip" and node.input:
            source = made_by.get(node.input[0])
            if source is not None and source.op_type == "Round":
                return node.output[0]
    return None


def derivation(float_decoder: bool, vocoder_int8: bool, weight_bits: int = 8) -> str:
    """What a derived graph changes beyond the durations output, with the versions of those
    rewrites: ``""``, ``float-decoder-v2``, ``float-decoder-v2+vocoder-int8-v1`` (8-bit
    weights) or ``float-decoder-v2+vocoder-int8-v1-w7`` (7-bit, :mod:`engine.cpu`). It names
    the derived file and is the model id's suffix (:func:`engine.synth.model_id`)."""
    if not float_decoder:
        return ""
    label = f"float-decoder-v{FLOAT_DECODER_VERSION}"
    if not vocoder_int8:
        return label
    bits = "" if weight_bits == 8 else f"-w{weight_bits}"
    return f"{label}+vocoder-int8-v{VOCODER_INT8_VERSION}{bits}"


def timed_model(model: Path, model_sha256: str, cache_dir: Path, *,
                float_decoder: bool = False, vocoder_ranges: dict | None = None,
                weight_bits: int = 8) -> Path | None:
    """The derived model with a ``durations`` output (and with ``float_decoder``, the decoder
    in float; with ``vocoder_ranges`` as well, its vocoder on int8 kernels with ``weight_bits``
    bits of weights), made on first use in ``cache_dir``; None when the ``onnx`` package is
    missing or the graph has nothing to derive (synthesis then goes on with ``model`` as it is,
    without timing). Concurrent first uses wait on a lock."""
    label = derivation(float_decoder, vocoder_ranges is not None, weight_bits)
    variant = f".{label}" if label else ""
    dest = cache_dir / f"{model.stem}.timed-{model_sha256[:16]}.v{TIMED_VERSION}{variant}.onnx"

    def make(tmp: Path) -> bool:
        data = _derived(model, float_decoder, (vocoder_ranges, weight_bits))
        if data is not None:
            tmp.write_bytes(data)
        return data is not None

    return dest if made_once(dest, make) else None


def _derived(model: Path, with_float_decoder: bool,
             vocoder: tuple[dict | None, int]) -> bytes | None:
    try:
        import onnx
    except ImportError:
        log.info("onnx is not installed: synthesis without token durations (pip install onnx)")
        return None
    from google.protobuf.message import DecodeError  # onnx's own dependency

    try:
        graph_model = onnx.load(str(model))
    except DecodeError as exc:  # not an ONNX model: onnxruntime says so, in words, when it loads
        log.info("%s does not parse as ONNX (%s): no timed model", model.name, exc)
        return None
    name = duration_tensor(graph_model.graph)
    if name is None:
        log.info("%s has no durations tensor: synthesis without token timing", model.name)
    else:
        # An Identity gives the tensor a stable public name whatever the export called it.
        graph_model.graph.node.append(
            onnx.helper.make_node("Identity", [name], [DURATIONS_OUTPUT]))
        graph_model.graph.output.append(
            onnx.helper.make_tensor_value_info(DURATIONS_OUTPUT, onnx.TensorProto.FLOAT, None))
    rewritten = (to_float_decoder(graph_model, vocoder_ranges=vocoder[0],
                                  weight_bits=vocoder[1])
                 if with_float_decoder else 0)
    if name is None and not rewritten:
        return None
    return graph_model.SerializeToString()
