"""The onnx backend's int8 vocoder (engine/vocoder_int8.py): the real model and its shipped
calibration, real synthesis; plus the quantization arithmetic on a hand-made convolution."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Synthesizer, model_id
from engine.vocoder_int8 import (INPUT_HEADROOM, OUTPUT_HEADROOM, VOCODER_INT8_VERSION,
                                 activation_ranges, channel_gains, load_vocoder_ranges,
                                 quantize_vocoder, quantized_range, vocoder_convolutions)
from tests.conftest import assert_same_timing_close_sound

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

SENTENCE = ("It was a bright cold day in April, and the clocks were striking thirteen; "
            "nobody in the square looked up.")


def test_the_published_model_ships_its_ranges_and_every_vocoder_convolution_uses_them(
        resolver, one_thread):
    fast = one_thread("onnx")
    ranges = load_vocoder_ranges(resolver.model_sha256())
    assert ranges is not None and len(ranges) == 48
    graph = onnx.load(str(fast.model_path), load_external_data=False).graph
    ops = [node.op_type for node in graph.node]
    assert ops.count("QLinearConv") == 48
    assert vocoder_convolutions(graph) == []  # no float one left among them
    # Each input's per-channel scale went into its AdaIN and Snake: two small Muls per conv.
    assert sum(node.name.endswith("/int8_input/gain") for node in graph.node) == 48
    assert "vocoder-int8" in fast.model_path.name


def test_same_durations_and_nearly_the_float_decoders_sound(one_thread):
    """Durations come from the same predictors; the sound differs by the 8-bit kernels
    (log-spectrogram correlation about 0.98, as close as the int8 export is)."""
    audio_f, audio_q = assert_same_timing_close_sound(one_thread("onnx-float"),
                                                      one_thread("onnx"), SENTENCE)
    snr = 10 * np.log10(np.sum(audio_f**2) / np.sum((audio_f - audio_q) ** 2))
    assert snr > 8  # dB; 11.4 on average over Moby-Dick pieces, as the int8 export's 11.0


def test_the_three_onnx_backends_have_their_own_ids_and_files(resolver, one_thread):
    fast, floating = one_thread("onnx"), one_thread("onnx-float")
    ids = {name: model_id(resolver, name) for name in ("onnx", "onnx-float", "onnx-int8")}
    assert len(set(ids.values())) == 3
    version = f"+vocoder-int8-v{VOCODER_INT8_VERSION}"
    assert fast.model_id == ids["onnx"] == ids["onnx-float"] + version
    assert fast.model_path != floating.model_path


def test_a_model_nobody_calibrated_runs_the_float_decoder(resolver, monkeypatch):
    """Fake: no ranges for this model, as for a user's own export."""
    monkeypatch.setattr("engine.synth.load_vocoder_ranges", lambda sha: None)
    assert model_id(resolver, "onnx") == model_id(resolver, "onnx-float")
    assert Synthesizer.load(resolver, backend="onnx").model_path == \
        Synthesizer.load(resolver, backend="onnx-float").model_path


def test_short_exclamations_are_not_clipped(resolver, one_thread):
    """The calibration and its headroom cover what they are for: no activation of these lines
    falls outside what the quantizers can represent (exclamations drive the noise branch
    hardest)."""
    floating = one_thread("onnx-float")
    feeds = []
    for name, text in (("af_heart", "Good morning."), ("am_michael", "No! Ha ha ha!")):
        voice = floating.voice(name)
        ids, style, speed = Synthesizer.prepare(floating.phonemizer(voice)(text), voice, 1.0)
        feeds.append({"tokens": ids[None], "style": style.reshape(1, -1),
                      "speed": np.array([speed], np.float32)})
    measured = activation_ranges(onnx.load(str(floating.model_path)), feeds)
    shipped = load_vocoder_ranges(resolver.model_sha256())
    assert measured.keys() == shipped.keys()
    for conv, sides in measured.items():
        gains = channel_gains(*shipped[conv]["in"])  # each channel's own scale, folded in
        bottom, top = quantized_range((np.asarray(shipped[conv]["in"][0]) * gains).min(),
                                      (np.asarray(shipped[conv]["in"][1]) * gains).max(),
                                      INPUT_HEADROOM)
        low, high = (np.asarray(v) * gains for v in sides["in"])
        assert bottom <= low.min() and high.max() <= top, conv
        bottom, top = quantized_range(*shipped[conv]["out"], OUTPUT_HEADROOM)
        low, high = (np.asarray(v) for v in sides["out"])
        assert np.all(bottom <= low) and np.all(high <= top), conv


def _one_convolution(weight, bias, dilation):
    from onnx import TensorProto, helper, numpy_helper

    pad = dilation * (weight.shape[2] - 1) // 2
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], dilations=[dilation],
                            pads=[pad, pad], name="/decoder/decoder/generator/resblocks.0/c")
    graph = helper.make_graph(
        [node], "one", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, x):
    return ort.InferenceSession(model.SerializeToString(),
                                providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def test_per_channel_output_ranges_through_one_output_scale():
    """A convolution whose output channels span ranges 1,000× apart, with a bias and an
    asymmetric input: each output channel keeps 8 bits of its own range (the rewrite carries
    the channel's scale in its weight scale and its zero point in its bias)."""
    rng = np.random.default_rng(1)
    weight = (rng.standard_normal((8, 8, 5)) * np.logspace(-3, 0, 8)[:, None, None])
    weight = weight.astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32) * np.logspace(-3, 0, 8).astype(np.float32)
    x = (rng.standard_normal((1, 8, 400)) + 0.7).astype(np.float32)
    model = _one_convolution(weight, bias, dilation=2)
    expected = _run(model, x)
    ranges = activation_ranges(model, [{"x": x}])
    assert quantize_vocoder(model, ranges) == 1
    assert [n.op_type for n in model.graph.node] == [
        "QuantizeLinear", "QLinearConv", "DequantizeLinear"]  # no AdaIN/Snake here to fold into
    got = _run(model, x)
    span = expected.max(axis=2) - expected.min(axis=2)
    error = np.abs(got - expected).max(axis=2)
    assert np.all(error < span * 0.03), error / span  # a few steps of 1/255 of each range


def test_ranges_that_do_not_fit_the_graph_are_refused():
    model = _one_convolution(np.ones((8, 8, 3), np.float32), np.zeros(8, np.float32), 1)
    with pytest.raises(ValueError, match="calibrated ranges"):
        quantize_vocoder(model, {})
