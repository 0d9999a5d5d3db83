"""The int8 export's decoder rewritten to run in float: the same weights, faster on a CPU.

Kokoro's int8 ONNX export quantizes every convolution dynamically: each ``ConvInteger`` rounds
its input to 8 bits at run time (``DynamicQuantizeLinear``), multiplies 8-bit integers and scales
the int32 result back to float. On x86, onnxruntime runs those 1-D uint8 × uint8 convolutions
through im2col and an integer GEMM that is hardly faster than float, and the decoder (the
vocoder) spends about 90% of the model's time in them. The rewrite, in the decoder only:

- each chain ``DynamicQuantizeLinear → ConvInteger → (bias Add) → Cast → Mul(scale)`` becomes
  one float ``Conv`` whose weights are the int8 weights dequantized, ``(q − zero_point) · scale``
  (exactly the numbers the int8 model multiplies by), with the float bias;
- every 1-D float ``Conv`` is written as a 1 × k 2-D convolution between ``Unsqueeze`` and
  ``Squeeze``, which onnxruntime runs with its blocked (NCHWc) float kernels.

The text encoder and the duration and pitch predictors are untouched, so token durations, pitch
and the audio's length are those of the int8 model; the decoder just no longer rounds its
activations to 8 bits. Measured in ``bench/backends_cpu.py`` (one thread, Moby-Dick prose).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

__all__ = ["DECODER_SCOPE", "FLOAT_DECODER_VERSION", "to_float_decoder"]

DECODER_SCOPE = "/decoder/"  # node names of the export's decoder (the predictors are /encoder/)
# Part of the derived file's name and of the model id. 2: every float convolution 2-D (1 missed
# the converted ones).
FLOAT_DECODER_VERSION = 2
_SQUEEZE_AXES = "float_decoder_axis_2"


def to_float_decoder(model: onnx.ModelProto, *, vocoder_ranges: dict | None = None,
                     weight_bits: int = 8) -> int:
    """Rewrite ``model``'s decoder in place (see the module docstring); the number of integer
    convolutions it replaced (0 for a graph that has none, such as a float export). Raises
    ValueError for an integer convolution that is not in the export's pattern.

    With ``vocoder_ranges`` (:func:`engine.vocoder_int8.load_vocoder_ranges`), the vocoder's
    residual convolutions then run on int8 kernels instead (:mod:`engine.vocoder_int8`), with
    ``weight_bits``-bit weights (:mod:`engine.cpu`)."""
    graph = model.graph
    made_by = {out: node for node in graph.node for out in node.output}
    users: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    weights = {init.name: init for init in graph.initializer}
    replaced: dict[int, onnx.NodeProto] = {}
    for node in graph.node:
        if node.op_type == "ConvInteger" and node.name.startswith(DECODER_SCOPE):
            try:
                last, conv = _float_conv(node, made_by, users, weights, graph)
            except (KeyError, ValueError, StopIteration) as exc:  # not the export's pattern
                raise ValueError(f"{node.name} is not a quantized convolution this rewrite "
                                 f"knows ({type(exc).__name__}: {exc})") from exc
            replaced[id(last)] = conv
    _keep_used(graph, [replaced.get(id(node), node) for node in graph.node])
    if vocoder_ranges is not None:
        from engine.vocoder_int8 import quantize_vocoder

        quantize_vocoder(model, vocoder_ranges, weight_bits)
    weights = {init.name: init for init in graph.initializer}  # with the new float kernels
    _keep_used(graph, _two_dimensional(list(graph.node), weights, graph))
    return len(replaced)


def _float_conv(node, made_by, users, weights, graph):
    """(the chain's last node, the float Conv that replaces the whole chain)."""
    from onnx import helper, numpy_helper

    quantized_x, w_q, _, w_zero = node.input
    source = made_by[quantized_x].input[0]  # DynamicQuantizeLinear's float input
    (after,) = users[node.output[0]]
    bias = None
    if after.op_type == "Add":  # the int32 bias, quantized at run time from the float one
        (cast,) = users[after.output[0]]
        bias_q = next(i for i in after.input if i != node.output[0])
        bias = _bias_source(made_by, bias_q)
    else:
        cast = after
    (scale_mul,) = users[cast.output[0]]
    scale = made_by[next(i for i in scale_mul.input if i != cast.output[0])]
    w_scale = next(i for i in scale.input if i in weights)  # x_scale · w_scale
    dequantized = ((_array(weights[w_q]).astype(np.float32) - _array(weights[w_zero]))
                   * _array(weights[w_scale]).astype(np.float32))
    name = f"{node.name}/float_weight"
    graph.initializer.append(numpy_helper.from_array(dequantized.astype(np.float32), name))
    conv = helper.make_node("Conv", [source, name] + ([bias] if bias else []),
                            list(scale_mul.output), name=f"{node.name}/float")
    conv.attribute.extend(node.attribute)
    return scale_mul, conv


def _bias_source(made_by, bias_q: str) -> str:
    """The float bias behind ``Reshape(Cast(Floor(Div(bias, scale))))``."""
    node = made_by[bias_q]
    while node.op_type != "Div":
        node = made_by[node.input[0]]
    return node.input[0]


def _two_dimensional(nodes, weights, graph) -> list:
    """Every decoder Conv with a constant 1-D kernel as Unsqueeze → 1 × k Conv → Squeeze."""
    from onnx import helper, numpy_helper

    out = []
    for node in nodes:
        kernel = weights.get(node.input[1]) if node.op_type == "Conv" else None
        if (kernel is None or len(kernel.dims) != 3
                or not node.name.startswith(DECODER_SCOPE)):
            out.append(node)
            continue
        if _SQUEEZE_AXES not in weights:
            weights[_SQUEEZE_AXES] = numpy_helper.from_array(np.array([2], np.int64),
                                                             _SQUEEZE_AXES)
            graph.initializer.append(weights[_SQUEEZE_AXES])
        kernel.CopyFrom(numpy_helper.from_array(_array(kernel)[:, :, None, :], kernel.name))
        wide_in, wide_out = f"{node.name}/in_2d", f"{node.name}/out_2d"
        out.append(helper.make_node("Unsqueeze", [node.input[0], _SQUEEZE_AXES], [wide_in],
                                    name=f"{node.name}/unsqueeze"))
        out.append(helper.make_node("Conv", [wide_in, *node.input[1:]], [wide_out],
                                    name=f"{node.name}/2d", **_attributes_2d(node)))
        out.append(helper.make_node("Squeeze", [wide_out, _SQUEEZE_AXES], list(node.output),
                                    name=f"{node.name}/squeeze"))
    return out


def _attributes_2d(node) -> dict:
    from onnx import helper

    given = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if given.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ValueError(f"{node.name}: auto_pad is not supported")
    attributes = {"group": given["group"]} if "group" in given else {}
    for key in ("kernel_shape", "dilations", "strides"):
        if key in given:
            attributes[key] = [1, given[key][0]]
    if "pads" in given:
        attributes["pads"] = [0, given["pads"][0], 0, given["pads"][1]]
    return attributes


def _keep_used(graph, nodes) -> None:
    """Set the graph's nodes, dropping those whose outputs nothing reads any more (the
    quantizers of the replaced chains) and initializers no node reads."""
    outputs = {o.name for o in graph.output}
    while True:
        read = {name for node in nodes for name in node.input} | outputs
        kept = [node for node in nodes if any(out in read for out in node.output)]
        if len(kept) == len(nodes):
            break
        nodes = kept
    del graph.node[:]
    graph.node.extend(nodes)
    read = {name for node in nodes for name in node.input}
    initializers = [init for init in graph.initializer if init.name in read]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def _array(tensor) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(tensor)
