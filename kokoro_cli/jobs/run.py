"""Runs one conversion as a resumable job: identity, lock, no-op check, signals, render."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine import (BACKENDS, AssetResolver, Engine, SettingError, SynthOptions, describe_spec,
                    model_id, resolve_backend)
from kokoro_cli.jobs.cache import ChunkCache
from kokoro_cli.jobs.job import Job, default_work_root
from kokoro_cli.jobs.manifest import JobIdentity
from kokoro_cli.jobs.render import (RenderOptions, RenderResult, book_meta, output_fingerprint,
                                    render_job)
from kokoro_cli.jobs.signals import stop_on_signals
from kokoro_cli.jobs.verify import VerifyReport
from kokoro_cli.output import OutputReport, require_ffmpeg
from preprocess import Document, normalizer_identity, resolve_language

__all__ = ["ConvertRequest", "identity_for", "run_convert"]


@dataclass(frozen=True)
class ConvertRequest:
    """One conversion: the parsed document (all chapters), the chosen ones, and settings."""

    document: Document
    selected: Document
    output: Path | BinaryIO  # a file (or folder, when split) or a stream such as stdout
    options: RenderOptions
    work_root: Path | None = None
    backend: str = "auto"  # auto, onnx or torch (engine.backends)

    def __post_init__(self) -> None:
        SynthOptions(voice=self.options.voice, speed=self.options.speed)  # validates
        if self.backend not in BACKENDS:
            raise SettingError(f"unknown backend {self.backend!r}: use {', '.join(BACKENDS)}")


def identity_for(request: ConvertRequest, resolver: AssetResolver) -> JobIdentity:
    """The job's identity. The backend is resolved (auto → onnx or torch) and the model id
    differs per backend, so jobs and cached pieces of different backends never mix."""
    voice, info = describe_spec(request.options.voice)
    backend = resolve_backend(resolver, request.backend)
    return JobIdentity(
        input_sha256=request.document.digest, model_sha256=model_id(resolver, backend),
        backend=backend, voice=voice, speed=float(request.options.speed), language=info.lang_code,
        normalizer=normalizer_identity(), lexicon=request.options.lexicon.digest,
        chunking=json.dumps(dataclasses.asdict(request.options.chunking), sort_keys=True),
        voices=_voices(request.options.voices),
        cast=request.options.cast.digest if request.options.cast is not None else "")


def _voices(pairs: tuple[tuple[str, str], ...]) -> str:
    """The --voice-for map as it enters the identity: canonical tags and voice specs, sorted
    JSON, empty without one (so jobs without it keep their identity). A run with another map
    is another job; its pieces of unchanged voices are still found in the shared cache."""
    if not pairs:
        return ""
    voices = {resolve_language(tag)[0].tag: describe_spec(voice)[0] for tag, voice in pairs}
    return json.dumps(voices, sort_keys=True)


def run_convert(request: ConvertRequest, engine: Engine,
                progress_factory: Callable[[], object],
                check: Callable[[OutputReport], None] | None = None,
                verified: Callable[[VerifyReport], None] | None = None) -> RenderResult | None:
    """Convert, resuming the job if one exists, with the command's ``engine`` (its model and
    workers, loaded once for every conversion of the command). Returns None when the output is
    already up to date (nothing to do). ``check`` sees the output's report before it replaces
    anything (to a stream: once written) and may raise to refuse it; ``verified`` sees the
    listening check's report (``--verify``) before the output stage, and may raise too."""
    root = request.work_root or default_work_root()
    job = Job(root, identity_for(request, engine.resolver),
              label=str(request.document.source or "stdin"))
    with job.locked():
        meta = book_meta(request.selected, job.identity.voice, request.options.cover)
        if isinstance(request.output, Path) and not request.options.force and job.output_is_current(
                request.output, output_fingerprint(job, request.selected, meta,
                                                   request.options)):
            return None
        require_ffmpeg()  # a missing ffmpeg fails now, not after hours of synthesis
        synth = engine.synthesizer(job.identity.backend)
        cache = ChunkCache(root / "chunks")
        with stop_on_signals() as stop, progress_factory() as progress:
            return render_job(request.selected, request.output, synth, job, cache,
                              job.identity.model_sha256,
                              dataclasses.replace(request.options, pools=engine), progress,
                              stop, check, verified)
