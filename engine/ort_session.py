"""onnxruntime sessions that start from a saved, already optimized graph.

Creating a session on the ``onnx`` backend's derived model spends about 0.3 s (of 0.6) in
onnxruntime's graph optimizations, every time a process starts (each ``say``, each worker).
The first session on a derived model (one this project made in its model cache, named
``*.timed-*.onnx``) saves the optimized graph beside it (``optimized_model_filepath``); later
sessions load that with optimizations off, which gives the same samples, bit for bit (checked in
tests/test_engine.py's start-up test). The optimized graph holds kernels laid out for this
CPU's vector width (onnxruntime's NCHWc blocks), so it is named after the CPU model, its flags
and onnxruntime's version (:meth:`engine.cpu.CpuInfo.key`); another CPU or runtime makes its
own. A model elsewhere (a user's own file, possibly in a read-only folder) is never written
beside.
"""

from __future__ import annotations

import logging
from pathlib import Path

from engine.cpu import cpu_info
from kokoro_common import made_once

__all__ = ["open_session", "optimized_graph"]

log = logging.getLogger(__name__)


def optimized_graph(model: Path, runtime_version: str) -> Path | None:
    """Where the optimized graph of ``model`` for this CPU and runtime is kept, or None for a
    model that is not one of the derived models in the cache."""
    if ".timed-" not in model.name or model.suffix != ".onnx":
        return None
    return model.with_name(f"{model.stem}.ort-{cpu_info().key(runtime_version)}.onnx")


def open_session(model: Path, options):
    """An ``InferenceSession`` on ``model`` with ``options`` (a ``SessionOptions``, changed
    here), from the saved optimized graph when there is one (see the module docstring)."""
    import onnxruntime as ort

    saved = optimized_graph(model, ort.__version__)
    if saved is None:
        return _session(model, options)
    if not saved.is_file():
        made = []

        def make(tmp: Path) -> bool:
            options.optimized_model_filepath = str(tmp)
            made.append(_session(model, options))
            return True

        try:
            made_once(saved, make)
        except OSError as exc:  # a read-only cache, a full disk: optimize in memory
            log.info("cannot save the optimized graph (%s)", exc)
            options.optimized_model_filepath = ""
            return made[0] if made else _session(model, options)
        options.optimized_model_filepath = ""
        if made:
            return made[0]
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return _session(saved, options)


def _session(model: Path, options):
    import onnxruntime as ort

    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
