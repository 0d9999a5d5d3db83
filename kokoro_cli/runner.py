"""Runs one conversion as a resumable job: identity, lock, no-op check, signals, render."""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine import AssetResolver, SettingError, Synthesizer, describe_spec
from engine.backends import BACKENDS
from engine.synth import SynthOptions, model_id, resolve_backend
from kokoro_cli.cache import ChunkCache
from kokoro_cli.ffmpeg import require_ffmpeg
from kokoro_cli.jobs import Job, JobIdentity, default_work_root
from kokoro_cli.render import (RenderOptions, RenderResult, StopFlag, book_meta,
                               output_fingerprint, render_job)
from preprocess import Document
from preprocess.normalize import normalizer_identity
from preprocess.lexicon import DictionaryError, Lexicon, read_dictionary


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


def document_digest(document: Document) -> str:
    """A digest of what will be read (metadata and every chapter's blocks), so an edit to the
    text makes a new job while a touched-but-unchanged file does not."""
    content = repr((document.title, document.authors, document.language,
                    [(c.index, c.title, c.level, c.blocks) for c in document.chapters]))
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def lexicon_for(document: Document, dictionaries: tuple[Path, ...] = ()) -> Lexicon:
    """The pronunciation layers in order: built-in, the book's own PLS lexicons, then each
    ``--dict`` file (TOML or PLS); later layers win."""
    layers = [Lexicon.builtin()]
    layers += [Lexicon.from_pls(data, name) for name, data in document.lexicons]
    layers += [_dictionary_file(path) for path in dictionaries]
    return Lexicon.layered(*layers, language=document.language or "en")


def _dictionary_file(path: Path) -> Lexicon:
    if path.suffix.lower() == ".pls":
        return Lexicon.from_pls(read_dictionary(path), str(path))  # a regular file, size-bounded
    return Lexicon.from_toml(path)


def identity_for(request: ConvertRequest, resolver: AssetResolver) -> JobIdentity:
    """The job's identity. The backend is resolved (auto → onnx or torch) and the model id
    differs per backend, so jobs and cached pieces of different backends never mix."""
    voice, info = describe_spec(request.options.voice)
    backend = resolve_backend(resolver, request.backend)
    return JobIdentity(
        input_sha256=document_digest(request.document), model_sha256=model_id(resolver, backend),
        backend=backend, voice=voice, speed=float(request.options.speed), language=info.lang_code,
        normalizer=normalizer_identity(), lexicon=request.options.lexicon.digest,
        chunking=repr(request.options.chunking))


def run_convert(request: ConvertRequest, resolver: AssetResolver,
                progress_factory: Callable[[], object]) -> RenderResult | None:
    """Convert, resuming the job if one exists. Returns None when the output is already up to
    date (nothing to do)."""
    root = request.work_root or default_work_root()
    job = Job(root, identity_for(request, resolver), label=str(request.document.source or "stdin"))
    with job.locked():
        meta = book_meta(request.selected, job.identity.voice, request.options.cover)
        if isinstance(request.output, Path) and not request.options.force and job.output_is_current(
                request.output, output_fingerprint(job, request.selected, meta,
                                                   request.options.output)):
            return None
        require_ffmpeg()  # a missing ffmpeg fails now, not after hours of synthesis
        synth = Synthesizer.load(resolver, backend=job.identity.backend)
        cache = ChunkCache(root / "chunks")
        with stop_on_signals() as stop, progress_factory() as progress:
            return render_job(request.selected, request.output, synth, job, cache,
                              job.identity.model_sha256, request.options, progress, stop)


@contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """SIGINT and SIGTERM ask the run to stop after the piece in flight; a second SIGINT
    interrupts at once."""
    stop = StopFlag()
    previous = {}

    def handler(signum, frame):  # noqa: ARG001 (signal handler signature)
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
