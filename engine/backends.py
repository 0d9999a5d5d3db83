"""Model runtimes behind one protocol: ``infer(token_ids, style, speed) -> samples``.

Two runtimes: onnxruntime on the CPU (the default: fastest there, small, quick to start) and
PyTorch through the official ``kokoro`` package (``engine.torch_backend``), which adds batched
inference and is the one to use on a CUDA GPU. The names a user picks from (``onnx``,
``onnx-float``, ``onnx-int8``, ``torch``, ``auto``) are described once, in
:mod:`kokoro_common.backends`; ``auto`` is decided here without importing torch on a machine
with no NVIDIA driver.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from engine.errors import BackendError, SettingError
from engine.ort_session import open_session
from kokoro_common.backends import BACKENDS, backend_help, backend_names

__all__ = ["BACKENDS", "Backend", "BatchBackend", "OnnxBackend", "backend_help",
           "backend_names", "choose_backend", "cuda_available"]

log = logging.getLogger(__name__)

_NVIDIA_DRIVER = Path("/proc/driver/nvidia/version")


class Backend(Protocol):
    name: str

    def infer(self, token_ids: np.ndarray, style: np.ndarray, speed: float) -> np.ndarray:
        """Audio (24 kHz mono float32) for ``[0, *ids, 0]`` with a (1, 256) style row."""


@runtime_checkable
class BatchBackend(Backend, Protocol):
    """A backend that also speaks several pieces at once, each as it would alone."""

    def infer_many(self, items: Sequence[tuple[np.ndarray, np.ndarray, float]]) -> list[np.ndarray]:
        """Audio for each ``(ids, style, speed)``, in order, batched as the backend sees fit."""


def choose_backend(name: str, *, torch_weights_given: bool = False) -> str:
    """The backend to run for a requested name of :data:`BACKENDS`: the name itself, or for
    ``auto`` ``torch`` or ``onnx``.

    ``auto`` is ``torch`` when PyTorch weights were given explicitly, or when a CUDA device is
    present and the PyTorch runtime is installed; otherwise ``onnx``."""
    if name not in BACKENDS:
        raise SettingError(f"unknown backend {name!r}: use {', '.join(backend_names())}")
    if name != "auto":
        return name
    if torch_weights_given or cuda_available():
        return "torch"
    return "onnx"


def cuda_available() -> bool:
    """A CUDA device usable by an installed PyTorch. torch (slow to import) is imported only
    where an NVIDIA driver is loaded, so CPU-only machines answer at once."""
    if not _NVIDIA_DRIVER.exists():
        return False
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("kokoro") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


class OnnxBackend:
    """Kokoro ONNX exports on onnxruntime's CPU provider, using every core by default.

    The session is created on first use (or by :meth:`load`), so a process that hands its
    pieces to worker processes, or finds them all cached, never pays for a model it does not
    run. Memory: onnxruntime's arena grows to what the longest piece needs (about 0.95 GB of
    resident memory at the 510-token limit, one thread) and is shrunk back after every piece
    (to about 230 MB), so a worker holds its peak only while it speaks a long piece; measured
    with no cost in speed (tests/test_engine.py, bench/speed.py)."""

    name = "onnx"

    def __init__(self, model: Path, *, threads: int | None = None) -> None:
        self.model = Path(model)
        self.threads = threads or os.cpu_count() or 1
        self._session = None
        self._lock = threading.Lock()
        self.timed = False  # the model also gives token durations (engine.timed_model)

    def load(self) -> OnnxBackend:
        """Create the session now (idempotent, thread-safe); a bad model raises BackendError."""
        with self._lock:
            if self._session is None:
                self._session, self._ids_name, self._run_options = self._open()
                self.timed = "durations" in {o.name for o in self._session.get_outputs()}
        return self

    def _open(self):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendError("onnxruntime is missing: pip install onnxruntime") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = open_session(self.model, options)  # from a saved optimized graph
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise BackendError(f"cannot load {self.model.name} as an ONNX model: {exc}") from exc
        inputs = {i.name for i in session.get_inputs()}
        # kokoro-onnx exports name the ids "tokens"; onnx-community exports "input_ids".
        ids_name = "tokens" if "tokens" in inputs else "input_ids"
        if {ids_name, "style", "speed"} - inputs:
            raise BackendError(f"{self.model.name} does not look like a Kokoro model "
                               f"(inputs {sorted(inputs)})")
        run_options = ort.RunOptions()
        run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        return session, ids_name, run_options

    @property
    def session(self):
        return self.load()._session

    def infer(self, token_ids: np.ndarray, style: np.ndarray, speed: float) -> np.ndarray:
        return self.infer_timed(token_ids, style, speed)[0]

    def infer_timed(self, token_ids: np.ndarray, style: np.ndarray,
                    speed: float) -> tuple[np.ndarray, np.ndarray | None]:
        """The audio and the frames each of the ``[0, *ids, 0]`` tokens lasts (None when the
        model does not give them; see :mod:`engine.timed_model`)."""
        session = self.session
        feeds = {
            self._ids_name: np.asarray(token_ids, dtype=np.int64).reshape(1, -1),
            "style": np.asarray(style, dtype=np.float32).reshape(1, -1),
            "speed": np.array([speed], dtype=np.float32),
        }
        try:
            outputs = session.run(None, feeds, self._run_options)
        except Exception as exc:
            raise BackendError(f"onnxruntime failed: {exc}") from exc
        audio = np.asarray(outputs[0], dtype=np.float32).reshape(-1)
        durations = np.asarray(outputs[1]).reshape(-1).astype(np.int64) if self.timed else None
        return audio, durations
