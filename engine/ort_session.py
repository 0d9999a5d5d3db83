"""onnxruntime sessions that start from a saved, already optimized graph whose weights are
mapped from a file instead of read.

Creating a session on the ``onnx`` backend's derived model spends about 0.3 s (of 0.6) in
onnxruntime's graph optimizations, every time a process starts (each ``say``, each worker).
The first session on a derived model (one this project made in its model cache, named
``*.timed-*.onnx``) saves the optimized graph beside it (``optimized_model_filepath``); later
sessions load that with optimizations off, which gives the same samples, bit for bit (checked in
tests/test_cold_start.py). The optimized graph holds kernels laid out for this CPU's vector
width (onnxruntime's NCHWc blocks), so it is named after the CPU model, its flags and
onnxruntime's version (:meth:`engine.cpu.CpuInfo.key`); another CPU or runtime makes its own.
A model elsewhere (a user's own file, possibly in a read-only folder) is never written beside.

The saved graph keeps its 185 MB of weights in a file of their own beside it (onnxruntime's
external initializers, those of 1 MB and more page-aligned), which onnxruntime maps into memory
instead of parsing them out of the graph's protobuf and copying them: a session starts in about
0.16 s instead of 0.36 s, with ~30 MB less resident (the pages are the file's, shared by every
process that maps it). The weights file is written before the graph that names it, under the
same lock, so a graph on disk always has its weights; a saved graph that does not load (its
weights deleted, a disk error) is made again, or, in a cache this process cannot write,
skipped for a graph optimized in memory.
"""

from __future__ import annotations

import logging
import os
from contextlib import suppress
from pathlib import Path

from engine.cpu import cpu_info
from kokoro_common import made_once

__all__ = ["open_session", "optimized_graph", "optimized_weights"]

log = logging.getLogger(__name__)

# Every weight of the optimized graph goes to the mapped file (the graph keeps only scalars).
_MAPPED_MIN_BYTES = 1024


def optimized_graph(model: Path, runtime_version: str) -> Path | None:
    """Where the optimized graph of ``model`` for this CPU and runtime is kept, or None for a
    model that is not one of the derived models in the cache."""
    if ".timed-" not in model.name or model.suffix != ".onnx":
        return None
    return model.with_name(f"{model.stem}.ort-{cpu_info().key(runtime_version)}.mapped.onnx")


def optimized_weights(graph: Path) -> Path:
    """The weights file beside the saved optimized ``graph``, which the graph names."""
    return graph.with_suffix(".weights")


def open_session(model: Path, options):
    """An ``InferenceSession`` on ``model`` with ``options`` (a ``SessionOptions``, changed
    here), from the saved optimized graph when there is one (see the module docstring)."""
    import onnxruntime as ort

    saved = optimized_graph(model, ort.__version__)
    if saved is None:
        return _session(model, options)
    if saved.is_file():
        level = options.graph_optimization_level
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return _session(saved, options)
        except Exception as exc:  # onnxruntime's own untyped errors: make it again below
            log.info("the saved optimized graph %s does not load (%s)", saved.name, exc)
            options.graph_optimization_level = level
            try:
                saved.unlink(missing_ok=True)
            except OSError:  # a cache this process cannot write
                return _session(model, options)
    return _saved_and_opened(model, saved, options)


def _saved_and_opened(model: Path, saved: Path, options):
    """Optimize ``model`` once, saving the graph and its weights (another process making them
    at the same moment is waited for), and return a session."""
    import onnxruntime as ort

    weights = optimized_weights(saved)
    made = []

    def make(tmp: Path) -> bool:
        weights.unlink(missing_ok=True)  # a process still mapping an old one keeps its copy
        options.optimized_model_filepath = str(tmp)
        options.add_session_config_entry(
            "session.optimized_model_external_initializers_file_name", weights.name)
        options.add_session_config_entry(
            "session.optimized_model_external_initializers_min_size_in_bytes",
            str(_MAPPED_MIN_BYTES))
        made.append(_session(model, options))
        _fsync(weights)  # on disk before the graph that names it is renamed into place
        with suppress(OSError):  # disk space back; the saved graph is made all the same
            _embedded(saved).unlink(missing_ok=True)
        return True

    try:
        made_once(saved, make)
    except Exception as exc:  # noqa: BLE001  a read-only cache, a full disk (onnxruntime's
        # own error when the weights do not fit): optimize in memory, as without a cache; a
        # model that does not load at all raises again from that.
        log.info("cannot save the optimized graph (%s)", exc)
        options.optimized_model_filepath = ""
        if not saved.is_file():
            with suppress(OSError):
                weights.unlink(missing_ok=True)  # what a full disk left of it
        return made[0] if made else _session(model, options)
    options.optimized_model_filepath = ""
    if made:
        return made[0]
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return _session(saved, options)  # another process made it while this one waited


def _embedded(saved: Path) -> Path:
    """The saved graph as earlier versions wrote it, weights inside (replaced by ``saved``)."""
    return saved.with_name(saved.name.replace(".mapped.onnx", ".onnx"))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _session(model: Path, options):
    import onnxruntime as ort

    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
