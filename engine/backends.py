"""Model runtimes behind one protocol: ``infer(token_ids, style, speed) -> samples``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

import numpy as np

from engine.errors import BackendError

log = logging.getLogger(__name__)


class Backend(Protocol):
    name: str

    def infer(self, token_ids: np.ndarray, style: np.ndarray, speed: float) -> np.ndarray:
        """Audio (24 kHz mono float32) for ``[0, *ids, 0]`` with a (1, 256) style row."""


class OnnxBackend:
    """Kokoro ONNX exports on onnxruntime's CPU provider, using every core by default."""

    name = "onnx"

    def __init__(self, model: Path, *, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendError("onnxruntime is missing: pip install onnxruntime") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(model), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise BackendError(f"cannot load {model.name} as an ONNX model: {exc}") from exc
        inputs = {i.name for i in self.session.get_inputs()}
        # kokoro-onnx exports name the ids "tokens"; onnx-community exports "input_ids".
        self._ids_name = "tokens" if "tokens" in inputs else "input_ids"
        if {self._ids_name, "style", "speed"} - inputs:
            raise BackendError(f"{model.name} does not look like a Kokoro model (inputs {inputs})")

    def infer(self, token_ids: np.ndarray, style: np.ndarray, speed: float) -> np.ndarray:
        feeds = {
            self._ids_name: np.asarray(token_ids, dtype=np.int64).reshape(1, -1),
            "style": np.asarray(style, dtype=np.float32).reshape(1, -1),
            "speed": np.array([speed], dtype=np.float32),
        }
        try:
            audio = self.session.run(None, feeds)[0]
        except Exception as exc:
            raise BackendError(f"onnxruntime failed: {exc}") from exc
        return np.asarray(audio, dtype=np.float32).reshape(-1)
