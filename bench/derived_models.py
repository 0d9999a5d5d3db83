"""Derived model files for backend measurements (bench/backends_cpu.py), made once each in
the asset cache (never in the repository), named by the int8 model's sha256:

- ``fp32_onnx``: an fp32 ONNX export of Kokoro. The weights are the int8 ONNX model's,
  dequantized into KModel (engine/torch_weights.py), with weight norm folded and the
  generator's STFT replaced by kokoro's conv-based ``CustomSTFT`` (``disable_complex``: no
  complex tensors). The alignment is built from the durations' cumulative sum instead of
  ``repeat_interleave`` (which exports as sequence ops OpenVINO cannot read). Inputs as the
  int8 export (``tokens`` int64 (1, n), ``style`` (1, 256), ``speed`` (1,)); outputs ``audio``
  and ``durations`` (frames per token of ``[0, *ids, 0]``, as engine.timed_model).
- ``timed_int8``: the product's int8 model with its durations output (engine.timed_model).
- ``ort_optimized``: onnxruntime's optimized graph of a model, saved (optimized_model_filepath).
- ``openvino_model(variant)``: OpenVINO IR of the fp32 export (``fp32``), with NNCF int8
  weight compression (``wc8``), or NNCF static int8 quantization of the vocoder's generator
  convolutions only (``q8gen``, ``q8gen-mixed``), calibrated on pieces of bench/moby_like.txt
  that the benchmark does not time. Known problem (2026-11-25, NNCF 3.4.0, OpenVINO 2026.4.1):
  the q8gen models come out with empty ``audio`` and ``durations`` (zero-length outputs) even
  after the If nodes are removed; NNCF on the whole model (no ignored scope) gave audio, but
  with the duration predictor quantized (66 % of durations equal), which is not acceptable.

Usage: python bench/derived_models.py [fp32|wc8|q8gen|q8gen-mixed ...] [--force]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine import AssetResolver  # noqa: E402
from kokoro_cli.assets_env import resolver_settings  # noqa: E402

EXPORT_VERSION = 2


OV_VERSION = 1
# Pieces of bench/moby_like.txt for NNCF calibration (the benchmark times 3, 6, 9, 12).
CALIBRATION_PIECES = (1, 2, 7, 10, 13, 16, 19, 22)


def _name(resolver: AssetResolver, what: str, version: int, suffix: str) -> Path:
    return resolver.cache_dir / f"kokoro-v1_0.{what}-{resolver.model_sha256()[:16]}.v{version}{suffix}"


def fp32_path(resolver: AssetResolver) -> Path:
    return _name(resolver, "fp32-from-onnx", EXPORT_VERSION, ".onnx")


def fp32_onnx(resolver: AssetResolver) -> Path:
    dest = fp32_path(resolver)
    if not dest.is_file():
        export(dest, resolver)
    return dest


def timed_int8(resolver: AssetResolver) -> Path:
    from engine.timed_model import timed_model

    return timed_model(resolver.model(), resolver.model_sha256(), resolver.cache_dir)


def ort_optimized(resolver: AssetResolver, model: Path) -> Path:
    """The model as onnxruntime optimizes it (level ALL, 1 thread, this CPU), saved once."""
    import onnxruntime as ort

    dest = model.with_name(model.stem + ".ort-opt.onnx")
    if not dest.is_file():
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        options.optimized_model_filepath = str(dest)
        ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return dest


def openvino_model(resolver: AssetResolver, variant: str) -> Path:
    """OpenVINO IR (``.xml`` beside its ``.bin``) for ``fp32``, ``wc8``, ``q8gen`` or
    ``q8gen-mixed``, made on first use."""
    dest = _name(resolver, f"ov-{variant}", OV_VERSION, ".xml")
    if dest.is_file():
        return dest
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(fp32_onnx(resolver)))
    if variant == "wc8":
        import nncf

        model = nncf.compress_weights(model)
    elif variant in ("q8gen", "q8gen-mixed"):
        model = _quantize_generator(model, resolver, mixed=variant.endswith("mixed"))
    elif variant != "fp32":
        raise SystemExit(f"unknown OpenVINO variant {variant}")
    tmp = dest.with_name(dest.stem + ".tmp.xml")
    ov.save_model(model, str(tmp), compress_to_fp16=False)
    tmp.with_suffix(".bin").replace(dest.with_suffix(".bin"))
    tmp.replace(dest)
    return dest


def _quantize_generator(model, resolver: AssetResolver, *, mixed: bool):
    """NNCF static int8 (weights per channel, activations per tensor) on the convolutions of
    the generator's resblocks, noise_res, noise_convs and ups: 90 % of the compute. The text
    side (durations), the decoder's first blocks, the source and conv_post stay fp32."""
    import logging

    import nncf
    import numpy as np

    from speed import pieces  # bench/speed.py: the pieces convert makes

    logging.getLogger("nncf").setLevel(logging.WARNING)
    jobs = pieces(ROOT / "bench" / "moby_like.txt", "af_heart")
    data = [{"tokens": jobs[i][0][None], "style": jobs[i][1].reshape(1, -1),
             "speed": np.array([jobs[i][2]], np.float32)} for i in CALIBRATION_PIECES]
    keep = r"^(?!.*/decoder/generator/(resblocks|noise_res|noise_convs|ups)[./]).*$"
    preset = nncf.QuantizationPreset.MIXED if mixed else nncf.QuantizationPreset.PERFORMANCE
    return nncf.quantize(model, nncf.Dataset(data), subset_size=len(data), preset=preset,
                         ignored_scope=nncf.IgnoredScope(patterns=[keep], validate=False),
                         fast_bias_correction=True)


def kmodel_for_export(resolver: AssetResolver):
    """KModel with the dequantized weights, weight norm folded, conv STFT, eval mode."""
    import torch
    from kokoro.istftnet import CustomSTFT

    from engine.torch_backend import _fold_weight_norm
    from engine.torch_weights import build_kmodel, derived_weights

    weights = derived_weights(resolver.model(), resolver.model_sha256(), resolver.cache_dir)
    model = build_kmodel(weights)
    gen = model.decoder.generator
    old = gen.stft
    gen.stft = CustomSTFT(filter_length=old.filter_length, hop_length=old.hop_length,
                          win_length=old.win_length)
    _fold_weight_norm(model)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()




def export(dest: Path, resolver: AssetResolver) -> Path:
    import torch

    model = kmodel_for_export(resolver)

    class KokoroExport(torch.nn.Module):
        def __init__(self, kmodel):
            super().__init__()
            self.kmodel = kmodel

        def forward(self, tokens, style, speed):
            """KModel.forward_with_tokens for batch 1, with the alignment built from the
            durations' cumulative sum (repeat_interleave exports as sequence ops that
            OpenVINO cannot read)."""
            m = self.kmodel
            n = tokens.shape[-1]
            lengths = torch.full((1,), n, dtype=torch.long)
            text_mask = torch.zeros((1, n), dtype=torch.bool)
            bert_dur = m.bert(tokens, attention_mask=torch.ones_like(tokens, dtype=torch.int32))
            d_en = m.bert_encoder(bert_dur).transpose(-1, -2)
            s = style[:, 128:]
            d = m.predictor.text_encoder(d_en, s, lengths, text_mask)
            x, _ = m.predictor.lstm(d)
            duration = torch.sigmoid(m.predictor.duration_proj(x)).sum(dim=-1) / speed
            pred_dur = torch.round(duration).clamp(min=1).long().reshape(-1)
            ends = torch.cumsum(pred_dur, dim=0)
            starts = ends - pred_dur
            frame = torch.arange(ends[-1])
            aln = ((frame[None, :] >= starts[:, None]) & (frame[None, :] < ends[:, None]))
            aln = aln.to(torch.float32).unsqueeze(0)
            en = d.transpose(-1, -2) @ aln
            f0, noise = m.predictor.F0Ntrain(en, s)
            t_en = m.text_encoder(tokens, lengths, text_mask)
            asr = t_en @ aln
            audio = m.decoder(asr, f0, noise, style[:, :128]).reshape(-1)
            return audio, pred_dur

    wrapper = KokoroExport(model).eval()
    tokens = torch.zeros((1, 60), dtype=torch.long)
    tokens[0, 1:-1] = torch.randint(1, 170, (58,))
    style = torch.randn(1, 256)
    speed = torch.ones(1)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, (tokens, style, speed), str(tmp), dynamo=False,
            input_names=["tokens", "style", "speed"], output_names=["audio", "durations"],
            dynamic_axes={"tokens": {1: "n_tokens"}, "audio": {0: "n_samples"},
                          "durations": {0: "n_tokens"}},
            opset_version=20, do_constant_folding=True)
    _drop_squeeze_ifs(tmp)
    tmp.replace(dest)
    return dest


def _drop_squeeze_ifs(path: Path) -> None:
    """F0Ntrain's ``squeeze(1)`` exports as ``If(dim == 1, Squeeze, Identity)``; the dimension
    is always 1 (one F0 / noise channel), so the If becomes its Squeeze. NNCF's quantization
    breaks the model with the Ifs in it (empty outputs)."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    for index, node in enumerate(list(graph.node)):
        if node.op_type != "If":
            continue
        then = next(a.g for a in node.attribute if a.name == "then_branch")
        squeeze = next(n for n in then.node if n.op_type == "Squeeze")
        axes = next(n for n in then.node if n.op_type == "Constant")
        axes_name = node.name.strip("/") + "_axes"
        graph.node.remove(node)
        new = [onnx.helper.make_node("Constant", [], [axes_name], value=axes.attribute[0].t),
               onnx.helper.make_node("Squeeze", [squeeze.input[0], axes_name],
                                     list(node.output), name=node.name + "_squeeze")]
        for offset, n in enumerate(new):
            graph.node.insert(index + offset, n)
    onnx.save(model, str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", default=["fp32"])
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    resolver = AssetResolver(**resolver_settings(None, None))
    for variant in args.variants:
        t = time.perf_counter()
        if variant == "fp32":
            dest = fp32_path(resolver)
            if args.force or not dest.is_file():
                export(dest, resolver)
        else:
            dest = _name(resolver, f"ov-{variant}", OV_VERSION, ".xml")
            if args.force:
                dest.unlink(missing_ok=True)
            dest = openvino_model(resolver, variant)
        print(f"{dest} ({time.perf_counter() - t:.1f} s)")


if __name__ == "__main__":
    main()
