"""Weights for the PyTorch backend: the official ``kokoro-v1_0.pth``, or the same network
dequantized from the int8 ONNX export when the hub is out of reach.

Order of lookup (:func:`resolve_weights`): an explicit ``.pth`` (the resolver's ``model`` or
``torch_model``: :attr:`AssetResolver.torch_weights`), then ``hexgrad/Kokoro-82M`` on the
Hugging Face hub, then a state dict derived from the ONNX model the asset resolver provides.
The derived file is cached beside the models, named by the ONNX file's sha256 and the
converter version, and written atomically.

Dequantization (every rule checked by loading strictly into ``KModel``, 688 tensors):

- MatMulInteger weights are ``(in, out)`` int8 with one scale and zero point per output column;
  the torch ``Linear`` weight is the transpose of ``(q - zero_point) * scale``.
- ConvInteger weights are uint8 with one scale and zero point per tensor. Weight norm is folded
  in the export (``g * v / ‖v‖`` became one constant), so ``weight_v = W`` and
  ``weight_g = ‖W‖`` over every dimension but 0; an output channel that quantization zeroed gets
  ``v = 1, g = 0`` (``v = 0`` would divide zero by zero and fill the audio with NaN).
- DynamicQuantizeLSTM weights are ``(directions, in, 4·hidden)`` with a scale per direction, in
  ONNX gate order i, o, f, c; torch wants ``(4·hidden, in)`` in order i, f, c(g), o, and the
  bias ``[Wb, Rb]`` split into ``bias_ih`` and ``bias_hh``.
- Embeddings are int8 per tensor (Gather + DequantizeLinear). Float initializers already carry
  torch names (``encoder.`` / ``decoder.decoder.`` prefixes aside).
- The torch module of a node follows from the node's name (``/encoder/F0.0/conv1/Conv_quant`` is
  ``predictor.F0.0.conv1``). The export drops InstanceNorm's affine parameters (unused in
  inference: weight 1, bias 0) and ALBERT's pooler (its output is discarded): neutral values.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import warnings
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.assets import (HF_REPO, TORCH_SUFFIXES, AssetResolver, HuggingFaceSource,
                           sha256_file)
from engine.errors import AssetError, BackendError
from kokoro_common import made_once

if TYPE_CHECKING:
    import torch

__all__ = ["CONVERTER_VERSION", "HF_WEIGHTS", "INSTALL_HINT", "PARTS", "TORCH_SUFFIXES",
           "TorchWeights", "build_kmodel", "derive_state_dict", "derived_weights",
           "kmodel_config", "load_strict", "module_path", "require_runtime", "resolve_weights",
           "weights_file"]

log = logging.getLogger(__name__)

HF_WEIGHTS = "kokoro-v1_0.pth"
CONVERTER_VERSION = 1  # bump when the dequantization changes: derived files are named by it
PARTS = ("bert", "bert_encoder", "predictor", "text_encoder", "decoder")
INSTALL_HINT = ("install it with: pip install torch transformers loguru onnx && "
                "pip install --no-deps kokoro==0.9.4 (scripts/setup.sh does this)")

# Scopes the export placed directly under /encoder/ although they belong to the predictor
# (KModel calls predictor.F0Ntrain, whose modules were traced in the caller's scope).
_PREDICTOR_SCOPES = {"F0", "N", "F0_proj", "N_proj", "shared"}
_ONNX_GATES = "iofc"
_TORCH_GATES = "ifco"  # torch's i, f, g, o: g is ONNX's c


def require_runtime() -> None:
    """Raise BackendError with the install hint unless torch and kokoro import."""
    try:
        import torch  # noqa: F401
        import kokoro.model  # noqa: F401
    except ImportError as exc:
        raise BackendError(f"the torch backend needs {exc.name or 'torch and kokoro'}; "
                           f"{INSTALL_HINT}") from exc


@cache
def kmodel_config() -> dict[str, Any]:
    """KModel's config: the published hyperparameters plus the phoneme vocabulary."""
    data = resources.files("engine").joinpath("data")
    config = json.loads(data.joinpath("kmodel_config.json").read_text("utf-8"))
    config.pop("_comment", None)
    config["vocab"] = json.loads(data.joinpath("vocab.json").read_text("utf-8"))["vocab"]
    return config


@dataclass(frozen=True)
class TorchWeights:
    """Where the PyTorch weights come from. ``path`` is the ``.pth`` file, or for
    ``origin == "onnx"`` the ONNX model the state dict is derived from on first use."""

    origin: str  # "explicit", "huggingface" or "onnx"
    path: Path
    model_id: str  # decides the samples: part of job identities and piece-cache keys

    def describe(self) -> str:
        if self.origin == "onnx":
            return f"dequantized from {self.path.name}"
        return f"{self.path} ({self.origin})"


def resolve_weights(resolver: AssetResolver) -> TorchWeights:
    """The weights to use: explicit ``.pth``, the hub, else derived from the ONNX model."""
    explicit = resolver.torch_weights
    if explicit is not None:
        if not explicit.is_file():
            raise AssetError(f"PyTorch weights {explicit} do not exist")
        return TorchWeights("explicit", explicit, f"torch:{_file_sha256(explicit)}")
    # HF_HUB_OFFLINE is the hub client's own switch, read here so an offline process never
    # imports the client (and so it holds even when set after the client was imported).
    if "huggingface" in resolver.sources and not os.environ.get("HF_HUB_OFFLINE"):
        path = _hub_weights()
        if path is not None:
            return TorchWeights("huggingface", path, f"torch:{_hub_sha256(path)}")
    onnx = resolver.model()
    return TorchWeights("onnx", onnx,
                        f"torch:onnx-v{CONVERTER_VERSION}:{resolver.model_sha256()}")


@cache
def _hub_weights() -> Path | None:
    """The official weights from the hub (its cache, or a download), or None when the hub is
    out of reach; asked once per process."""
    try:
        return HuggingFaceSource._download(HF_WEIGHTS)
    except AssetError as exc:
        log.info("the official PyTorch weights are out of reach; using weights dequantized "
                 "from the ONNX model instead")
        log.debug("hub: %s", exc)
        return None


def _hub_sha256(path: Path) -> str:
    """The hub cache names large files by their sha256; hash the file only when it is not."""
    blob = Path(os.path.realpath(path)).name
    return blob if re.fullmatch(r"[0-9a-f]{64}", blob) else _file_sha256(path)


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@cache
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:  # noqa: ARG001 (cache key)
    return sha256_file(Path(path))


def weights_file(weights: TorchWeights, cache_dir: Path, notify=None) -> Path:
    """The ``.pth`` for ``weights``, deriving (once, cached) when they come from the ONNX."""
    if weights.origin != "onnx":
        return weights.path
    onnx_sha = weights.model_id.rsplit(":", 1)[1]
    return derived_weights(weights.path, onnx_sha, cache_dir, notify)


def derived_weights(onnx_path: Path, onnx_sha256: str, cache_dir: Path, notify=None) -> Path:
    """The derived state dict for this ONNX model in ``cache_dir``, made on first use.

    Concurrent first uses wait on a lock; the file appears only complete (atomic rename)."""
    dest = cache_dir / f"kokoro-v1_0.from-onnx-{onnx_sha256[:16]}.v{CONVERTER_VERSION}.pth"

    def make(tmp: Path) -> bool:
        import torch

        (notify or log.info)(f"Deriving PyTorch weights from {onnx_path.name} (once; cached as "
                             f"{dest.name})")
        torch.save(derive_state_dict(onnx_path), tmp)
        return True

    made_once(dest, make)
    return dest


def build_kmodel(state: dict[str, dict[str, torch.Tensor]] | Path):
    """A KModel in eval mode with ``state`` (or the file holding it) loaded strictly.

    KModel's own loader retries with ``strict=False`` on any mismatch, which would leave
    random weights in place silently; here every tensor must match by name and shape."""
    require_runtime()
    import torch

    if isinstance(state, Path):
        try:
            state = torch.load(state, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many kinds for a bad file
            raise BackendError(f"cannot read PyTorch weights {state}: {exc}") from exc
    model = _new_kmodel()
    load_strict(model, state)
    return model.eval()


def _new_kmodel():
    """KModel with its initial weights, built from the local config (no download)."""
    import torch
    from kokoro.model import KModel

    empty = io.BytesIO()
    torch.save({}, empty)
    empty.seek(0)
    with warnings.catch_warnings():
        # kokoro's own modules: the deprecated weight_norm, LSTM dropout with one layer.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        return KModel(repo_id=HF_REPO, config=kmodel_config(), model=empty)


def load_strict(model, state: dict[str, dict[str, torch.Tensor]]) -> None:
    """Load the five parts of a Kokoro state dict; any missing, extra or misshapen tensor
    raises BackendError. Keys saved from DataParallel (``module.`` prefix) are accepted."""
    missing = [part for part in PARTS if part not in state]
    if missing or set(state) - set(PARTS):
        raise BackendError(f"not a Kokoro state dict: parts {sorted(state)}, expected {PARTS}")
    for part in PARTS:
        tensors = state[part]
        if tensors and all(k.startswith("module.") for k in tensors):
            tensors = {k[len("module."):]: v for k, v in tensors.items()}
        try:
            getattr(model, part).load_state_dict(tensors, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise BackendError(f"weights do not fit KModel.{part}: "
                               f"{' '.join(first[:3])[:300]}") from exc


# --- dequantizing the int8 ONNX export -------------------------------------------------------

def derive_state_dict(onnx_path: Path) -> dict[str, dict[str, torch.Tensor]]:
    """KModel's state dict (official layout: one dict per part) from the int8 ONNX model."""
    require_runtime()
    try:
        import onnx
    except ImportError as exc:
        raise BackendError(f"deriving PyTorch weights from ONNX needs the onnx package; "
                           f"{INSTALL_HINT}") from exc
    import torch

    graph = _Graph(onnx.load(str(onnx_path)))
    targets = _target_shapes()
    flat: dict[str, np.ndarray] = {}
    flat.update(graph.float_parameters(targets))
    flat.update(graph.node_parameters(targets))
    flat.update(_neutral(targets, flat))
    _check_complete(flat, targets)
    state: dict[str, dict[str, torch.Tensor]] = {part: {} for part in PARTS}
    for key, value in flat.items():
        part, name = key.split(".", 1)
        state[part][name] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    return state


@cache
def _target_shapes() -> dict[str, tuple[int, ...]]:
    """Every tensor KModel expects (``part.name``) with its shape, from a model built on the
    meta device (no memory, no random init)."""
    import torch

    with torch.device("meta"):
        model = _new_kmodel()
    return {f"{part}.{k}": tuple(v.shape)
            for part in PARTS for k, v in getattr(model, part).state_dict().items()}


class _Graph:
    """The ONNX graph's initializers and the nodes that consume weights."""

    def __init__(self, model) -> None:
        from onnx import numpy_helper

        self.inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.nodes = list(model.graph.node)
        self.consumers: dict[str, list] = {}
        for node in self.nodes:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def float_parameters(self, targets: dict) -> dict[str, np.ndarray]:
        """Float initializers whose names, less the export's prefixes, are KModel tensors."""
        found = {}
        for name, value in self.inits.items():
            key = _torch_name(name)
            if key in targets and value.dtype == np.float32:
                found[key] = value
        return found

    def node_parameters(self, targets: dict) -> dict[str, np.ndarray]:
        """Weights read by quantized (and a few float) operators, placed by node name."""
        found: dict[str, np.ndarray] = {}
        for node in self.nodes:
            handler = _HANDLERS.get(node.op_type)
            if handler is None:
                continue
            module = module_path(node.name)
            if module is None:
                continue
            for key, value in handler(self, node, module, targets).items():
                if key in found and not np.array_equal(found[key], value):
                    raise BackendError(f"ONNX nodes disagree about {key}")
                found[key] = value
        return found

    def init(self, name: str) -> np.ndarray:
        try:
            return self.inits[name]
        except KeyError:
            raise BackendError(f"ONNX model lacks initializer {name}") from None

    def scale_of(self, quantized: str) -> np.ndarray:
        """The scale stored beside a quantized weight (``X_quantized`` → ``X_scale``)."""
        if not quantized.endswith("_quantized"):
            raise BackendError(f"unexpected quantized weight name {quantized}")
        return self.init(quantized[: -len("_quantized")] + "_scale").astype(np.float64)


def module_path(node_name: str) -> str | None:
    """``/encoder/F0.0/conv1/Conv_quant`` → ``predictor.F0.0.conv1`` (None: no KModel module).

    Repeated calls of a shared module get ``_1``, ``_2`` suffixes (ALBERT's one layer runs 12
    times); a nested Sequential repeats its parent's name (``cnn.0/cnn.0.0``)."""
    parts: list[str] = []
    for segment in node_name.strip("/").split("/")[:-1]:
        segment = re.sub(r"_\d+$", "", segment)
        if parts and segment.startswith(parts[-1] + "."):
            parts[-1] = segment
        else:
            parts.append(segment)
    if parts[:2] == ["decoder", "decoder"]:
        return ".".join(parts[1:])
    if len(parts) >= 2 and parts[0] == "encoder":
        rest = parts[1:]
        if rest[0].split(".")[0] in _PREDICTOR_SCOPES:
            rest = ["predictor", *rest]
        return ".".join(rest)
    return None


def _torch_name(initializer: str) -> str:
    if initializer.startswith("decoder.decoder."):
        return initializer[len("decoder."):]
    if initializer.startswith("encoder."):
        return initializer[len("encoder."):]
    return initializer


def _matmul_integer(graph: _Graph, node, module: str, targets: dict) -> dict[str, np.ndarray]:
    key = f"{module}.weight"
    if key not in targets:
        return {}
    q = graph.init(node.input[1]).astype(np.float64)  # (in, out)
    zero = graph.init(node.input[3]).astype(np.float64)
    weight = (q - zero) * graph.scale_of(node.input[1])  # per output column, broadcast
    return {key: weight.T}


def _conv_integer(graph: _Graph, node, module: str, targets: dict) -> dict[str, np.ndarray]:
    q = graph.init(node.input[1]).astype(np.float64)
    zero = graph.init(node.input[3]).astype(np.float64)
    return _conv_weight(module, (q - zero) * graph.scale_of(node.input[1]), targets)


def _float_conv(graph: _Graph, node, module: str, targets: dict) -> dict[str, np.ndarray]:
    if node.input[1] not in graph.inits:
        return {}
    return _conv_weight(module, graph.inits[node.input[1]].astype(np.float64), targets)


def _conv_weight(module: str, weight: np.ndarray, targets: dict) -> dict[str, np.ndarray]:
    """A convolution's weight, re-split into weight norm's (g, v) where KModel uses it."""
    if f"{module}.weight" in targets:
        return {f"{module}.weight": weight}
    if f"{module}.weight_v" not in targets:
        return {}
    axes = tuple(range(1, weight.ndim))
    norm = np.sqrt((weight**2).sum(axis=axes, keepdims=True))
    zeroed = norm == 0  # channels that quantization wiped out
    v = np.where(zeroed, 1.0, weight)
    g = np.where(zeroed, 0.0, norm)
    return {f"{module}.weight_v": v, f"{module}.weight_g": g}


def _float_matmul(graph: _Graph, node, module: str, targets: dict) -> dict[str, np.ndarray]:
    key = f"{module}.weight"
    if key not in targets or node.input[1] not in graph.inits:
        return {}
    return {key: graph.inits[node.input[1]].T}


def _gather(graph: _Graph, node, module: str, targets: dict) -> dict[str, np.ndarray]:
    key = f"{module}.weight"
    if key not in targets or node.input[0] not in graph.inits:
        return {}
    dequant = [c for c in graph.consumers.get(node.output[0], []) if c.op_type == "DequantizeLinear"]
    if len(dequant) != 1:
        raise BackendError(f"{node.name}: expected one DequantizeLinear after the Gather")
    scale = graph.init(dequant[0].input[1]).astype(np.float64)
    zero = graph.init(dequant[0].input[2]).astype(np.float64)
    return {key: (graph.init(node.input[0]).astype(np.float64) - zero) * scale}


def _lstm(graph: _Graph, node, module: str, targets: dict) -> dict[str, np.ndarray]:
    """DynamicQuantizeLSTM inputs: X, W, R, B, seq_lens, h0, c0, P, W_scale, W_zero_point,
    R_scale, R_zero_point."""
    if f"{module}.weight_ih_l0" not in targets:
        return {}
    w = _per_direction(graph, node.input[1], node.input[8], node.input[9])
    r = _per_direction(graph, node.input[2], node.input[10], node.input[11])
    bias = graph.init(node.input[3]).astype(np.float64)  # (directions, 8·hidden)
    found = {}
    for direction, suffix in enumerate(("", "_reverse")):
        wb, rb = np.split(bias[direction], 2)
        found[f"{module}.weight_ih_l0{suffix}"] = _reorder_gates(w[direction].T)
        found[f"{module}.weight_hh_l0{suffix}"] = _reorder_gates(r[direction].T)
        found[f"{module}.bias_ih_l0{suffix}"] = _reorder_gates(wb)
        found[f"{module}.bias_hh_l0{suffix}"] = _reorder_gates(rb)
    return found


def _per_direction(graph: _Graph, weight: str, scale: str, zero: str) -> np.ndarray:
    q = graph.init(weight).astype(np.float64)  # (directions, in, 4·hidden)
    s = graph.init(scale).astype(np.float64).reshape(-1, 1, 1)
    z = graph.init(zero).astype(np.float64).reshape(-1, 1, 1)
    return (q - z) * s


def _reorder_gates(x: np.ndarray) -> np.ndarray:
    """Rows in ONNX gate order (i, o, f, c) → torch's (i, f, g, o)."""
    gates = dict(zip(_ONNX_GATES, np.split(x, 4, axis=0)))
    return np.concatenate([gates[g] for g in _TORCH_GATES], axis=0)


_HANDLERS = {
    "MatMulInteger": _matmul_integer,
    "ConvInteger": _conv_integer,
    "Conv": _float_conv,
    "ConvTranspose": _float_conv,
    "MatMul": _float_matmul,
    "Gather": _gather,
    "DynamicQuantizeLSTM": _lstm,
}


def _neutral(targets: dict, found: dict) -> dict[str, np.ndarray]:
    """Values for the tensors the export dropped because inference never uses them."""
    fill = {}
    for key, shape in targets.items():
        if key in found:
            continue
        if re.search(r"\.norm\.weight$", key):  # InstanceNorm affine scale
            fill[key] = np.ones(shape)
        elif re.search(r"\.norm\.bias$", key) or key.startswith("bert.pooler."):
            fill[key] = np.zeros(shape)
    return fill


def _check_complete(found: dict, targets: dict) -> None:
    missing = sorted(set(targets) - set(found))
    if missing:
        raise BackendError(f"the ONNX model lacks {len(missing)} KModel tensor(s), e.g. "
                           f"{', '.join(missing[:4])}")
    for key, value in found.items():
        if tuple(value.shape) != targets[key]:
            raise BackendError(f"{key}: ONNX gives shape {value.shape}, KModel needs "
                               f"{targets[key]}")
