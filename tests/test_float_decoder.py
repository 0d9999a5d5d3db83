"""The onnx backend's float decoder (engine/float_decoder.py) against the int8 export it is
derived from: the real model, real synthesis."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from engine import BackendError, Synthesizer, model_id
from engine.float_decoder import DECODER_SCOPE, to_float_decoder
from tests.conftest import assert_same_timing_close_sound

onnx = pytest.importorskip("onnx")

SENTENCE = ("Call me Ishmael. Some years ago, never mind how long precisely, having little or no "
            "money in my purse, I thought I would sail about a little.")


@pytest.fixture(scope="module")
def int8(one_thread):
    return one_thread("onnx-int8")


@pytest.fixture(scope="module")
def floating(one_thread):
    return one_thread("onnx-float")


def _ops(graph, scope: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in graph.node:
        if node.name.startswith(scope):
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def test_the_rewrite_replaces_the_decoders_integer_convolutions_only(resolver):
    model = onnx.load(str(resolver.model()))
    before_decoder = _ops(model.graph, DECODER_SCOPE)
    before_encoder = _ops(model.graph, "/encoder/")
    replaced = to_float_decoder(model)
    after_decoder, after_encoder = _ops(model.graph, DECODER_SCOPE), _ops(model.graph, "/encoder/")
    assert replaced == before_decoder["ConvInteger"] > 50
    assert "ConvInteger" not in after_decoder  # (its AdaIN MatMulIntegers stay int8)
    # Text encoder, duration and pitch predictors as they were, less the one quantizer that fed
    # a decoder convolution with a predictor's output.
    quantizers = "DynamicQuantizeLinear"
    assert after_encoder.pop(quantizers) == before_encoder.pop(quantizers) - 1
    assert after_encoder == before_encoder
    onnx.checker.check_model(model)
    assert to_float_decoder(onnx.load(str(resolver.model()), load_external_data=False)) > 0


def test_same_durations_and_length_and_nearly_the_same_sound(int8, floating):
    """Durations come from the untouched predictors, so they are equal to the frame; the sound
    differs only by the decoder's 8-bit rounding (log-spectrogram correlation 0.96-0.99 over
    Moby-Dick's first chapter)."""
    assert_same_timing_close_sound(int8, floating, SENTENCE)


def test_the_backends_are_told_apart_in_ids_and_files(resolver, int8, floating):
    assert floating.model_id == model_id(resolver, "onnx-float") != model_id(resolver, "onnx-int8")
    assert floating.model_id.startswith(int8.model_id)
    assert floating.model_path != int8.model_path
    assert "float-decoder" in floating.model_path.name


def test_a_cache_that_cannot_take_the_derived_model_is_one_clear_error(resolver, monkeypatch):
    """Fake: the derivation raises as a read-only file system would (root ignores chmod)."""
    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("engine.synth.timed_model", read_only)
    with pytest.raises(BackendError, match="onnx-int8"):
        Synthesizer.load(resolver, backend="onnx-float")
    assert Synthesizer.load(resolver, backend="onnx-int8").model_path == resolver.model()


def test_cli_speaks_with_each_onnx_backend(tmp_path):
    outs = []
    for backend in ("onnx", "onnx-float", "onnx-int8"):
        out = tmp_path / f"{backend}.wav"
        done = subprocess.run([sys.executable, "-m", "kokoro_cli", "say", "Hello there.", "-o",
                               str(out), "--backend", backend], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        outs.append(sf.read(out)[0])
    assert all(abs(o.size - outs[0].size) < 2400 for o in outs)  # 0.1 s: the same durations
    assert all(np.sqrt(np.mean(o**2)) > 0.01 for o in outs)
    assert not any(np.array_equal(a, b) for a, b in ((outs[0], outs[1]), (outs[1], outs[2])))


def test_an_integer_convolution_outside_the_exports_pattern_is_refused_in_words():
    """A hand-made graph: one ConvInteger in the decoder with no quantizer before it."""
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((1, 1, 3), np.uint8), "w")
    node = helper.make_node("ConvInteger", ["x", "w"], ["y"], name="/decoder/odd/Conv_quant")
    graph = helper.make_graph(
        [node], "odd", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, None)], [weight])
    with pytest.raises(ValueError, match="/decoder/odd/Conv_quant"):
        to_float_decoder(helper.make_model(graph))
