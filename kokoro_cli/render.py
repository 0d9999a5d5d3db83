"""The conversion pipeline: document → chunks → audio per chapter → muxed audiobook.

It consumes streams and writes files: each piece goes into the shared chunk cache as soon as it
is made, each chapter's audio into its own WAV in the job folder, and nothing holds a whole
book's samples in memory. A run interrupted at any point resumes from what those files hold.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from typing import BinaryIO
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from engine import Synthesizer, Voice, token_count
from engine.audio import silence, trim
from engine.pool import SynthPool
from kokoro_cli.atomic import atomic_path
from kokoro_cli.cache import ChunkCache, to_pcm16
from kokoro_cli.jobs import Interrupted, Job
from kokoro_cli.mux import (COVER_CODECS, BookMeta, ChapterAudio, OutputOptions, OutputReport,
                            stream_book, write_book)
from preprocess import Chapter, Chunk, ChunkOptions, Document, Normalizer, chunk_chapter
from preprocess.lexicon import Lexicon


@dataclass(frozen=True)
class RenderOptions:
    voice: str = "af_heart"
    speed: float = 1.0
    chunking: ChunkOptions = field(default_factory=ChunkOptions)
    lexicon: Lexicon = field(default_factory=Lexicon)  # the layered pronunciation dictionary
    force: bool = False  # synthesize every piece again, ignoring (and refreshing) the cache
    output: OutputOptions = field(default_factory=OutputOptions)  # format, loudness, splitting
    workers: int = 1  # synthesis processes; 1 synthesizes in this process with every core
    cover: bytes | None = field(default=None, repr=False)  # --cover, replacing the document's


@dataclass(frozen=True)
class ChapterPlan:
    chapter: Chapter
    chunks: tuple[Chunk, ...]

    @property
    def tokens(self) -> int:
        return sum(chunk.tokens for chunk in self.chunks)


@dataclass
class Counts:
    synthesized: int = 0
    reused: int = 0
    synthesized_seconds: float = 0.0  # audio made by the model in this run
    compute_seconds: float = 0.0


@dataclass(frozen=True)
class RenderResult:
    output: Path | None  # None when streamed
    audio_seconds: float  # of the whole output
    chunks: int
    counts: Counts = field(default_factory=Counts)
    report: OutputReport | None = None

    @property
    def real_time_factor(self) -> float:
        """Model compute seconds per second of audio it made in this run."""
        c = self.counts
        return c.compute_seconds / c.synthesized_seconds if c.synthesized_seconds else 0.0


class Progress:
    """What the runner reports; the CLI decides how to show it."""

    def planned(self, plans: Sequence[ChapterPlan]) -> None: ...
    def chapter_started(self, plan: ChapterPlan) -> None: ...
    def chunk_done(self, chunk: Chunk, audio_seconds: float, reused: bool) -> None: ...
    def chapter_done(self, plan: ChapterPlan, reused: bool) -> None: ...
    def muxing(self) -> None: ...


class StopFlag:
    """Set from a signal handler; the runner stops after the piece in flight."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Interrupted("stopped after the piece in flight; run the same command again to resume")


def plan(document: Document, phonemize: Callable[[str], str],
         options: ChunkOptions = ChunkOptions(), lexicon: Lexicon = Lexicon()) -> list[ChapterPlan]:
    """Chunk every chapter exactly as it will be spoken (text and phonemes, no audio): what
    ``preview`` shows and ``convert`` speaks. Dictionary entries are applied per piece, after
    the normalizer, as misaki markup."""
    normalizer = Normalizer()

    def g2p(text: str) -> str:
        return phonemize(lexicon.apply(text))

    return [ChapterPlan(chapter, tuple(chunk_chapter(chapter, g2p, token_count, normalizer, options)))
            for chapter in document.chapters]


class ChapterRenderer:
    """Renders planned chapters into 16-bit WAVs through the shared chunk cache."""

    def __init__(self, synth: Synthesizer, voice: Voice, options: RenderOptions, model_id: str,
                 cache: ChunkCache, progress: Progress, stop: StopFlag,
                 pool: SynthPool | None = None) -> None:
        self.synth, self.voice, self.options = synth, voice, options
        self.model_id, self.cache, self.progress, self.stop = model_id, cache, progress, stop
        self.pool = pool
        self.counts = Counts()

    def chunk_key(self, chunk: Chunk) -> str:
        return ChunkCache.key(self.model_id, self.voice.spec, self.options.speed, chunk.phonemes)

    def fingerprint(self, plan: ChapterPlan) -> str:
        """Identifies the chapter's audio: its pieces and the pauses between them."""
        parts = [f"{self.chunk_key(c)}:{c.pause_after_ms}" for c in plan.chunks]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def is_missing(self, chunk: Chunk) -> bool:
        """The piece must be made (not in the cache, or --force)."""
        return self.options.force or self.chunk_key(chunk) not in self.cache

    def made(self, chunks: Sequence[Chunk]) -> Iterator[np.ndarray]:
        """Raw samples for ``chunks`` in order: from the worker pool when there is one (it works
        ahead while the chapter is written), else from the in-process model, one at a time."""
        if self.pool is not None and chunks:
            jobs = (Synthesizer.prepare(c.phonemes, self.voice, self.options.speed) for c in chunks)
            return self.pool.map_ordered(jobs)
        return (self.synth.synthesize(c.phonemes, self.voice, self.options.speed) for c in chunks)

    def piece(self, chunk: Chunk, made: Iterator[np.ndarray] | None) -> np.ndarray:
        """The trimmed 16-bit samples of one piece: from the cache, or the next of ``made``
        (the pieces planned as missing), or the model when a cache entry proved damaged."""
        key = self.chunk_key(chunk)
        cached = None if made is not None else self.cache.get(key)
        if cached is not None:
            self.counts.reused += 1
            self.progress.chunk_done(chunk, cached.size / self.synth.sample_rate, True)
            return cached
        self.stop.check()
        started = time.perf_counter()
        raw = next(made) if made is not None else self.synth.synthesize(
            chunk.phonemes, self.voice, self.options.speed)
        samples = to_pcm16(trim(raw))
        self.counts.compute_seconds += time.perf_counter() - started
        self.counts.synthesized_seconds += samples.size / self.synth.sample_rate
        self.cache.put(key, samples)
        self.counts.synthesized += 1
        self.progress.chunk_done(chunk, samples.size / self.synth.sample_rate, False)
        return samples

    def render(self, plan: ChapterPlan, out: Path) -> int:
        """Write the chapter's WAV atomically; returns its length in samples."""
        written = 0
        missing = [self.is_missing(c) for c in plan.chunks]
        made = self.made([c for c, miss in zip(plan.chunks, missing) if miss])
        with atomic_path(out, ".wav") as tmp, sf.SoundFile(
                tmp, "w", samplerate=self.synth.sample_rate, channels=1, subtype="PCM_16") as wav:
            for chunk, miss in zip(plan.chunks, missing):
                audio = self.piece(chunk, made if miss else None)
                pause = to_pcm16(silence(chunk.pause_after_ms))
                wav.write(audio)
                wav.write(pause)
                written += audio.size + pause.size
        return written


def book_meta(document: Document, voice_spec: str, cover: bytes | None = None) -> BookMeta:
    """Tags from the document; ``cover`` (image bytes from --cover) replaces its cover."""
    own = document.cover
    cover_type = None
    if cover is None and own is not None and own.media_type in COVER_CODECS:
        # A cover MP4 cannot carry (an SVG, say) is left out rather than failing the book.
        cover, cover_type = own.data, own.media_type
    return BookMeta(title=document.title, authors=document.authors, narrator=voice_spec,
                    year=(document.date or "")[:4] or None, language=document.language,
                    cover=cover, cover_type=cover_type)


def output_fingerprint(job: Job, document: Document, meta: BookMeta,
                       output: OutputOptions) -> str:
    """What the final files depend on: the job (input + audio settings), the chapters chosen,
    the tags and the output options. Known without G2P or the model, so an unchanged re-run is
    a quick no-op."""
    parts = [job.identity.key, repr([(c.index, c.title) for c in document.chapters]), repr(meta),
             repr(output)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def render_job(document: Document, out: Path | BinaryIO, synth: Synthesizer, job: Job,
               cache: ChunkCache, model_id: str, options: RenderOptions,
               progress: Progress = Progress(), stop: StopFlag | None = None) -> RenderResult:
    """Render ``document`` into ``job`` and write it to ``out``: a path (files replaced only
    when complete) or a binary stream such as stdout. The caller holds the job's lock."""
    voice = synth.voice(options.voice)
    plans = plan(document, synth.phonemizer(voice), options.chunking, options.lexicon)
    progress.planned(plans)
    renderer = ChapterRenderer(synth, voice, options, model_id, cache, progress, stop or StopFlag())
    with _pool_for(renderer, plans, job) as renderer.pool:
        chapters = [_chapter(renderer, job, p) for p in plans]
    progress.muxing()
    meta = book_meta(document, voice.spec, options.cover)
    if isinstance(out, Path):
        report = write_book(chapters, out, meta, options.output)
        job.record_output(out, output_fingerprint(job, document, meta, options.output), report.files)
    else:
        report = stream_book(chapters, meta, options.output, out)
    return RenderResult(out if isinstance(out, Path) else None,
                        sum(ch.samples for ch in chapters) / synth.sample_rate,
                        sum(len(p.chunks) for p in plans), renderer.counts, report)


# Below this many pieces to make, worker start-up (a model load each) costs more than it saves.
POOL_MIN_PIECES = 8


def _pool_for(renderer: ChapterRenderer, plans: Sequence[ChapterPlan], job: Job):
    """A worker pool when there is enough to synthesize, else a null context (in-process)."""
    workers = renderer.options.workers
    if workers <= 1 or renderer.synth.model_path is None:
        return nullcontext()
    todo = sum(1 for p in plans
               if renderer.options.force or job.finished_chapter(p.chapter.index,
                                                                 renderer.fingerprint(p)) is None
               for c in p.chunks if renderer.is_missing(c))
    if todo < POOL_MIN_PIECES:
        return nullcontext()
    return SynthPool(renderer.synth.model_path, workers)


def _chapter(renderer: ChapterRenderer, job: Job, plan: ChapterPlan) -> ChapterAudio:
    index, fingerprint = plan.chapter.index, renderer.fingerprint(plan)
    wav = job.chapter_wav(index)
    samples = None if renderer.options.force else job.finished_chapter(index, fingerprint)
    renderer.progress.chapter_started(plan)
    if samples is None:
        samples = renderer.render(plan, wav)
        job.record_chapter(index, plan.chapter.title, fingerprint, samples)
        renderer.progress.chapter_done(plan, False)
    else:
        renderer.counts.reused += len(plan.chunks)
        renderer.progress.chapter_done(plan, True)
    return ChapterAudio(plan.chapter.title, wav, samples)
