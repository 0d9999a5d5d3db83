"""The ONNX model with its token durations as a second output, for subtitles and read-along.

Kokoro's exports compute the frames each token lasts (``round(duration / speed)`` clipped to at
least one frame) inside the graph and expose only the audio. The tensor is still there: adding
it to the graph's outputs changes nothing in the audio (checked sample for sample in
tests/test_timing.py) and costs nothing, because onnxruntime computes it anyway. The derived
file is made once per model (about 1 s) in the asset cache, beside the torch weights.

One frame is :data:`SAMPLES_PER_FRAME` samples at 24 kHz (the decoder upsamples the aligned
frames by 2 and the generator by 300).
"""

from __future__ import annotations

import logging
from pathlib import Path

from kokoro_common import made_once

__all__ = ["DURATIONS_OUTPUT", "SAMPLES_PER_FRAME", "duration_tensor", "timed_model"]

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


def timed_model(model: Path, model_sha256: str, cache_dir: Path) -> Path | None:
    """The derived model with a ``durations`` output, made on first use in ``cache_dir``; None
    when the ``onnx`` package is missing or the graph has no durations tensor (synthesis then
    goes on without timing). Concurrent first uses wait on a lock."""
    dest = cache_dir / f"{model.stem}.timed-{model_sha256[:16]}.v{TIMED_VERSION}.onnx"

    def make(tmp: Path) -> bool:
        data = _with_durations(model)
        if data is not None:
            tmp.write_bytes(data)
        return data is not None

    return dest if made_once(dest, make) else None


def _with_durations(model: Path) -> bytes | None:
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
        return None
    # An Identity gives the tensor a stable public name whatever the export called it.
    graph_model.graph.node.append(onnx.helper.make_node("Identity", [name], [DURATIONS_OUTPUT]))
    graph_model.graph.output.append(
        onnx.helper.make_tensor_value_info(DURATIONS_OUTPUT, onnx.TensorProto.FLOAT, None))
    return graph_model.SerializeToString()
