"""The one table of model backends: every list of backends (``--backend``'s help, validation
messages, what Ray actors run) is read from here.

The runtimes are the engine's (:mod:`engine.backends`, which re-exports these names, as does
``engine``); the table lives here because the command line declares its options from it at
start-up, which must load neither numpy nor the engine (tests/test_startup.py).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BACKEND_TABLE", "BACKENDS", "BackendInfo", "backend_help", "backend_names"]


@dataclass(frozen=True)
class BackendInfo:
    """One backend as the user names it."""

    name: str
    description: str  # one line, for --backend's help
    runs_on: tuple[str, ...]  # "cpu", "gpu"
    ray: bool  # Ray actors can run it (they run onnxruntime on the CPU; auto means onnx there)


BACKEND_TABLE = (
    BackendInfo("auto", "torch when a CUDA device is present, else onnx", ("cpu", "gpu"), True),
    BackendInfo("onnx", "onnxruntime on the CPU, the fastest there: the int8 model's decoder in "
                "float with its vocoder on int8 kernels", ("cpu",), True),
    BackendInfo("onnx-float", "onnxruntime with the whole decoder in float", ("cpu",), True),
    BackendInfo("onnx-int8", "onnxruntime running the int8 model as exported", ("cpu",), True),
    BackendInfo("torch", "PyTorch (the kokoro package) with batched synthesis, for a GPU",
                ("cpu", "gpu"), False),
)

BACKENDS = tuple(b.name for b in BACKEND_TABLE)


def backend_names(ray: bool = False) -> tuple[str, ...]:
    """Every backend's name in table order, or with ``ray`` only those Ray actors can run."""
    return tuple(b.name for b in BACKEND_TABLE if b.ray or not ray)


def backend_help() -> str:
    """The help text of ``--backend``: each backend with its one-line description."""
    return "; ".join(f"{b.name}: {b.description}" for b in BACKEND_TABLE) + "."
