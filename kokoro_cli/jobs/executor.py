"""Where a command's pieces are spoken: ``local`` (this machine: in process, or worker
processes) or ``ray`` (actors on a Ray cluster); either way one pool, held by the command's
:class:`engine.Engine`, is lent to every book of the command.

The executor never enters a job's identity: pieces, chapter WAVs and manifests are written by
this process whichever executor spoke them, so a run started on one resumes on the other.
"""

from __future__ import annotations

from engine import SettingError

__all__ = ["EXECUTORS", "backend_for"]

EXECUTORS = ("local", "ray")


def backend_for(executor: str, address: str | None, backend: str) -> str:
    """Check the executor options before any work; returns the backend to run. Ray actors run
    onnxruntime on the CPU, so ``auto`` means ``onnx`` there (``onnx-float`` and ``onnx-int8``
    are kept) and ``torch`` is refused."""
    if executor not in EXECUTORS:
        raise SettingError(f"--executor {executor!r}: use {' or '.join(EXECUTORS)}")
    if executor == "local":
        if address is not None:
            raise SettingError("--ray-address goes with --executor ray")
        return backend
    if backend == "torch":
        from engine import backend_names

        *names, last = backend_names(ray=True)
        raise SettingError(f"--executor ray runs onnxruntime in its actors: use --backend "
                           f"{', '.join(names)} or {last}")
    return "onnx" if backend == "auto" else backend
