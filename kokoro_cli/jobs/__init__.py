"""Resumable conversion jobs: one room per concern.

- ``manifest``: the job's typed state (identity, finished chapters, written outputs).
- ``job``: the job folder, its lock, listing and removal.
- ``cache``: the content-addressed piece cache shared by every job.
- ``planner``: chapters planned in a thread while earlier ones are spoken.
- ``render``: pieces → chapter WAVs → the output stage.
- ``signals``: stopping after the piece in flight.
- ``run``: one conversion from request to result (identity, lock, no-op check, render).

Names are imported from their modules on first use, so ``kokoro-cli jobs list`` does not load
the audio stack.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "ChunkCache": "cache", "Interrupted": "job", "Job": "job", "JobError": "job",
    "JobIdentity": "manifest", "JobInfo": "job", "JobStateError": "job", "Manifest": "manifest",
    "ConvertRequest": "run", "Progress": "render", "RenderOptions": "render",
    "RenderResult": "render", "StopFlag": "signals", "default_work_root": "job",
    "list_jobs": "job", "remove_job": "job", "run_convert": "run",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
