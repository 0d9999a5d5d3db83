"""The PyTorch backend on the CPU: weights dequantized from the int8 ONNX model, agreement
with onnxruntime, batched == unbatched, backend choice.

The official ``kokoro-v1_0.pth`` cannot be downloaded here, so the torch path runs the real
Kokoro weights dequantized from the cached int8 ONNX export (engine/torch_weights.py); the
derived state dict is made once and cached beside the model in the user cache.

Measured (af_heart, am_michael, bf_emma; 15-121 tokens): durations equal to onnxruntime's on
98-100 % of tokens and within one frame on all; log-spectrogram correlation 0.965-0.987 once
each token's frames are aligned; total length within one frame. Batched vs alone: the same
durations and lengths, samples within -48 dB (relative L2), the level at which KModel itself
differs between 1 and 2 threads (-53 dB).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("kokoro")
pytest.importorskip("onnx")

from engine import BackendError, SettingError, Synthesizer, token_count  # noqa: E402
from engine.backends import choose_backend  # noqa: E402
from engine.torch_backend import (BatchLimits, TorchBackend, forward_batch,  # noqa: E402
                                  plan_batches)
from engine.torch_weights import (_conv_weight, _reorder_gates, build_kmodel,  # noqa: E402
                                  derived_weights, module_path)

SENTENCE = "The lighthouse keeper climbed the stairs and lit the lamp."
# Batched output must match each item alone to this relative L2 error (and max abs).
BATCH_TOLERANCE_DB = -40.0
BATCH_MAX_ABS = 0.02


@pytest.fixture(scope="session")
def weights_path(resolver):
    return derived_weights(resolver.model(), resolver.model_sha256(), resolver.cache_dir)


@pytest.fixture(scope="session")
def torch_backend(weights_path):
    return TorchBackend(weights_path, device="cpu")


@pytest.fixture(scope="session")
def onnx_with_durations(resolver):
    """onnxruntime on the same int8 model, also returning its predicted durations."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(resolver.model()))
    model.graph.output.extend([onnx.helper.make_tensor_value_info(
        "/encoder/Clip_output_0", onnx.TensorProto.FLOAT, None)])
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])

    def run(item):
        ids, style, speed = item
        audio, durations = session.run(None, {"tokens": ids[None], "style": style.reshape(1, -1),
                                              "speed": np.array([speed], np.float32)})
        return audio.reshape(-1), np.asarray(durations).reshape(-1).astype(np.int64)

    return run


def _item(resolver, english_g2p, text, voice="af_heart", speed=1.0):
    from engine.voices import load_voice

    return Synthesizer.prepare(english_g2p(text), load_voice(voice, resolver), speed)


def _relative_db(reference, other):
    return 20 * np.log10(np.linalg.norm(reference - other) / np.linalg.norm(reference))


# --- weights -----------------------------------------------------------------------------------

def test_derived_weights_load_strictly_into_kmodel(weights_path):
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    assert sum(len(part) for part in state.values()) == 688
    assert all(torch.isfinite(t).all() for part in state.values() for t in part.values())
    build_kmodel(state)  # every tensor by name and shape, nothing left at random init
    del state["decoder"]["generator.conv_post.bias"]
    with pytest.raises(BackendError, match="KModel.decoder.*generator.conv_post.bias"):
        build_kmodel(state)


@pytest.mark.parametrize("node, module", [
    ("/encoder/F0.0/conv1/Conv_quant", "predictor.F0.0.conv1"),
    ("/encoder/shared/LSTM_quant", "predictor.shared"),
    ("/encoder/text_encoder/cnn.1/cnn.1.0/Conv_quant", "text_encoder.cnn.1.0"),
    ("/encoder/bert/encoder/albert_layer_groups.0/albert_layers.0/attention/query_7/MatMul_quant",
     "bert.encoder.albert_layer_groups.0.albert_layers.0.attention.query"),
    ("/encoder/predictor/duration_proj/linear_layer/MatMul_quant", "predictor.duration_proj.linear_layer"),
    ("/decoder/decoder/generator/ups.1/ConvTranspose", "decoder.generator.ups.1"),
    ("/decoder/decoder/generator/m_source/l_linear/MatMul", "decoder.generator.m_source.l_linear"),
    ("/decoder/Slice", None),
])
def test_node_names_map_to_kmodel_modules(node, module):
    assert module_path(node) == module


def test_lstm_gates_reorder_from_onnx_to_torch():
    onnx_rows = np.array([[0], [1], [2], [3]])  # i, o, f, c
    assert _reorder_gates(onnx_rows).ravel().tolist() == [0, 2, 3, 1]  # i, f, c(g), o


def test_folded_weight_norm_splits_back_and_zeroed_channels_stay_finite():
    weight = np.array([[[3.0, 4.0]], [[0.0, 0.0]]])  # (out 2, in 1, k 2); channel 1 zeroed
    targets = {"m.weight_v": (2, 1, 2), "m.weight_g": (2, 1, 1)}
    split = _conv_weight("m", weight, targets)
    v, g = split["m.weight_v"], split["m.weight_g"]
    assert g.ravel().tolist() == [5.0, 0.0]
    rebuilt = g * v / np.sqrt((v**2).sum(axis=(1, 2), keepdims=True))
    assert np.allclose(rebuilt, weight) and np.isfinite(rebuilt).all()


# --- agreement ---------------------------------------------------------------------------------

def _log_spec(audio):
    spec = torch.stft(torch.from_numpy(audio), 1024, 300, window=torch.hann_window(1024),
                      return_complex=True).abs()
    return torch.log(spec + 1e-4).numpy()


def _aligned_correlation(ref_audio, ref_durations, audio, durations):
    """Log-spectrogram correlation after mapping each token's frames onto the reference's
    (a duration frame is 600 samples, two spectrogram hops), so a token one frame longer does
    not shift everything after it."""
    ref, other = _log_spec(ref_audio), _log_spec(audio)
    ref_start = np.concatenate([[0], np.cumsum(ref_durations)]) * 2
    start = np.concatenate([[0], np.cumsum(durations)]) * 2
    index = np.concatenate([start[t] + (np.arange(ref_start[t + 1] - ref_start[t]) * durations[t])
                            // ref_durations[t] for t in range(len(durations))])
    n = min(len(index), ref.shape[1])
    index = np.minimum(index[:n], other.shape[1] - 1)
    return np.corrcoef(ref[:, :n].ravel(), other[:, index].ravel())[0, 1]


def test_torch_agrees_with_onnxruntime(torch_backend, onnx_with_durations, resolver, english_g2p):
    item = _item(resolver, english_g2p, SENTENCE)
    ref_audio, ref_durations = onnx_with_durations(item)
    ((audio, durations),) = forward_batch(torch_backend.model, [item], [0])
    off = np.abs(durations - ref_durations)
    assert off.max() <= 1 and np.mean(off == 0) >= 0.95
    assert abs(int(durations.sum()) - int(ref_durations.sum())) <= 2
    assert _aligned_correlation(ref_audio, ref_durations, audio, durations) >= 0.95
    # The int8 export's iSTFT scales its output by 1.5 (DESIGN.md).
    level = np.sqrt(np.mean(ref_audio**2)) / np.sqrt(np.mean(audio**2))
    assert 1.3 < level < 1.7


def test_one_item_reproduces_kmodel_forward(torch_backend, resolver, english_g2p):
    """The batched implementation on one item is KModel's own forward (same noise draws)."""
    ids, style, speed = _item(resolver, english_g2p, "Hello there, lighthouse keeper.")
    torch.manual_seed(7)
    ref_audio, ref_durations = torch_backend.model.forward_with_tokens(
        torch.from_numpy(ids)[None], torch.from_numpy(style.reshape(1, -1)), speed)
    torch.manual_seed(7)
    ((audio, durations),) = forward_batch(torch_backend.model, [(ids, style, speed)], [None])
    assert np.array_equal(durations, ref_durations.numpy())
    assert audio.size == ref_audio.numel()
    assert _relative_db(ref_audio.numpy(), audio) < BATCH_TOLERANCE_DB


def test_batched_equals_unbatched(torch_backend, resolver, english_g2p):
    items = [
        _item(resolver, english_g2p, "Hello world.", "af_heart", 1.0),
        _item(resolver, english_g2p, "The lamp burned all night above the dark water.",
              "am_michael", 1.2),
        _item(resolver, english_g2p, SENTENCE, "bf_emma", 0.9),
    ]
    assert len({len(ids) for ids, _, _ in items}) == 3
    alone = [forward_batch(torch_backend.model, [item], [0])[0] for item in items]
    together = forward_batch(torch_backend.model, items, [0, 0, 0])
    for (audio, durations), (batched, batched_durations) in zip(alone, together):
        assert np.array_equal(durations, batched_durations)
        assert batched.size == audio.size == 600 * durations.sum()
        assert _relative_db(audio, batched) < BATCH_TOLERANCE_DB
        assert np.abs(audio - batched).max() < BATCH_MAX_ABS
    # infer_many (one-item batches on the CPU) restores the order and, with per-item seeded
    # noise, repeats each piece's samples exactly.
    many = torch_backend.infer_many(items[1::-1])
    assert np.array_equal(many[0], alone[1][0]) and np.array_equal(many[1], alone[0][0])


# --- batching and choice -----------------------------------------------------------------------

@pytest.mark.parametrize("lengths, limits, expected", [
    ([30, 10, 20, 11], BatchLimits(max_items=2, max_tokens=1000), [[1, 3], [2, 0]]),
    ([30, 10, 20, 11], BatchLimits(max_items=8, max_tokens=60), [[1, 3, 2], [0]]),
    ([30, 10, 20, 11], BatchLimits(max_items=8, max_tokens=40), [[1, 3], [2], [0]]),
    ([500, 600], BatchLimits(max_items=8, max_tokens=100), [[0], [1]]),
    ([], BatchLimits(), []),
])
def test_plan_batches_groups_similar_lengths(lengths, limits, expected):
    assert plan_batches(lengths, limits) == expected


class _FakeBatchBackend:
    name = "fake"
    limits = BatchLimits(max_items=2, max_tokens=10_000)

    def __init__(self) -> None:
        self.calls: list[int] = []

    def infer(self, ids, style, speed):
        return self.infer_many([(ids, style, speed)])[0]

    def infer_many(self, items):
        self.calls.append(len(items))
        return [np.full(len(ids), float(len(ids)), np.float32) for ids, _, _ in items]


def test_synthesize_many_keeps_order_and_empty_pieces(resolver):
    backend = _FakeBatchBackend()
    synth = Synthesizer(backend, resolver)
    voice = synth.voice("af_heart")
    pieces = ["hˈɛloʊ", "", "ə", "wˈɜːld", "ðə kˈæt"] * 3
    out = list(synth.synthesize_many(pieces, voice))
    assert [a.size for a in out] == [token_count(p) + 2 if p else 0 for p in pieces]
    # Windows of LOOKAHEAD (4) batches of 2 pieces: 8 pieces, then 7; empty ones never reach
    # the model.
    assert backend.calls == [6, 6]


def test_auto_picks_onnx_without_cuda(monkeypatch, tmp_path):
    import engine.backends as backends

    monkeypatch.setattr(backends, "_NVIDIA_DRIVER", tmp_path / "no-driver")
    assert choose_backend("auto") == "onnx"
    assert choose_backend("auto", torch_weights_given=True) == "torch"
    assert choose_backend("torch") == "torch"
    with pytest.raises(SettingError, match="auto, onnx, onnx-float, onnx-int8, torch"):
        choose_backend("tensorflow")


@pytest.mark.skipif(sys.platform != "linux", reason="checks the Linux NVIDIA driver file")
def test_auto_on_a_cpu_machine_never_imports_torch(resolver):
    from engine.backends import _NVIDIA_DRIVER

    if _NVIDIA_DRIVER.exists():
        pytest.skip("this machine has an NVIDIA driver")
    code = ("import sys; from engine import AssetResolver, Synthesizer; "
            "from kokoro_cli.assets_env import resolver_settings; "
            "s = Synthesizer.load(AssetResolver(**resolver_settings(None, None)), backend='auto'); "
            "print(s.backend.name, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["onnx", "False"], out.stderr


def test_missing_runtime_raises_backend_error_with_install_hint(monkeypatch):
    from engine.torch_weights import require_runtime

    monkeypatch.setitem(sys.modules, "kokoro.model", None)  # import fails as if not installed
    with pytest.raises(BackendError, match="pip install --no-deps kokoro"):
        require_runtime()


def test_backends_never_share_a_model_id(resolver, monkeypatch):
    from engine.synth import model_id

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never download the official weights in tests
    ids = {name: model_id(resolver, name) for name in ("torch", "onnx", "onnx-int8")}
    assert ids["torch"].startswith("torch:") and len(set(ids.values())) == 3
    assert ids["onnx-int8"] == resolver.model_sha256()
    assert ids["onnx"].startswith(resolver.model_sha256() + ":float-decoder-v")


@pytest.mark.slow
def test_cli_speaks_and_converts_with_the_torch_backend(weights_path, tmp_path):
    """The installed script end to end: ``say`` (where the model loads beside G2P) and a
    ``convert`` job whose identity records the torch backend."""
    import json

    import soundfile as sf

    exe = [sys.executable, "-m", "kokoro_cli"]
    said = tmp_path / "said.wav"
    subprocess.run([*exe, "say", SENTENCE, "-o", str(said), "--backend", "torch"], check=True,
                   capture_output=True)
    audio, rate = sf.read(said)
    assert rate == 24_000 and 2.0 < audio.size / rate < 8.0
    book = tmp_path / "book.md"
    book.write_text(f"# One\n\n{SENTENCE}\n", "utf-8")
    work = tmp_path / "work"
    subprocess.run([*exe, "convert", str(book), "-o", str(tmp_path / "book.wav"), "--backend",
                    "torch", "--work-dir", str(work), "--progress", "none"], check=True,
                   capture_output=True)
    assert 2.0 < sf.info(tmp_path / "book.wav").duration < 10.0
    [manifest] = work.glob("jobs/*/manifest.json")
    identity = json.loads(manifest.read_text())["identity"]
    assert identity["backend"] == "torch" and identity["model_sha256"].startswith("torch:")
