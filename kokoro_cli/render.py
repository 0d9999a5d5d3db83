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
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from engine import Synthesizer, Voice, token_count
from engine.audio import silence, trim
from engine.pool import SynthPool
from kokoro_common.atomic import atomic_path
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

    def started(self, chapters: int) -> None: ...
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
    ``preview`` shows and ``convert`` speaks."""
    return list(iter_plans(document, phonemize, options, lexicon))


def iter_plans(document: Document, phonemize: Callable[[str], str],
               options: ChunkOptions = ChunkOptions(),
               lexicon: Lexicon = Lexicon()) -> Iterator[ChapterPlan]:
    """:func:`plan`, one chapter at a time. Dictionary entries are applied per piece, after
    the normalizer, as misaki markup."""
    normalizer = Normalizer()

    def g2p(text: str) -> str:
        return phonemize(lexicon.apply(text))

    for chapter in document.chapters:
        yield ChapterPlan(chapter, tuple(chunk_chapter(chapter, g2p, token_count, normalizer,
                                                       options)))


@dataclass(frozen=True)
class ChapterWork:
    """A planned chapter and what rendering it takes: nothing when ``finished`` (its WAV in the
    job matches ``fingerprint``), else the pieces flagged in ``missing``."""

    plan: ChapterPlan
    fingerprint: str
    finished: int | None  # samples of the finished chapter WAV
    missing: tuple[bool, ...]

    def to_make(self) -> Iterator[Chunk]:
        if self.finished is None:
            yield from (c for c, miss in zip(self.plan.chunks, self.missing) if miss)


class Planner:
    """Plans chapters in a background thread while earlier ones are synthesized, so G2P never
    holds the model up. Iterate it as often as needed: each pass sees the same chapters, in
    order, waiting for the ones not planned yet. An error while planning is raised, in the
    reading thread, at the chapter where it happened."""

    def __init__(self, works: Iterator[ChapterWork]) -> None:
        self._works = works
        self._done: list[ChapterWork] = []
        self._finished = False
        self._error: BaseException | None = None
        self._cancelled = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="planner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for work in self._works:
                with self._changed:
                    if self._cancelled:
                        return
                    self._done.append(work)
                    self._changed.notify_all()
        except BaseException as exc:  # handed to the reader; the thread itself ends quietly
            self._error = exc
        finally:
            with self._changed:
                self._finished = True
                self._changed.notify_all()

    def __iter__(self) -> Iterator[ChapterWork]:
        index = 0
        while True:
            with self._changed:
                self._changed.wait_for(lambda: index < len(self._done) or self._finished)
                if index >= len(self._done):
                    if self._error is not None:
                        raise self._error
                    return
                work = self._done[index]
            yield work
            index += 1

    @property
    def complete(self) -> bool:
        """Every chapter is planned (without waiting)."""
        with self._changed:
            return self._finished and self._error is None

    def all(self) -> list[ChapterWork]:
        """Every chapter, once planning is complete."""
        return list(self)

    def cancel(self) -> None:
        """Stop planning after the chapter in hand (the thread is a daemon: never waited for)."""
        with self._changed:
            self._cancelled = True


class ChapterRenderer:
    """Renders planned chapters into 16-bit WAVs through the shared chunk cache."""

    def __init__(self, synth: Synthesizer, voice: Voice, options: RenderOptions, model_id: str,
                 cache: ChunkCache, progress: Progress, stop: StopFlag,
                 pool: SynthPool | None = None) -> None:
        self.synth, self.voice, self.options = synth, voice, options
        self.model_id, self.cache, self.progress, self.stop = model_id, cache, progress, stop
        self.pool = pool
        self.planner: Planner | None = None
        self.counts = Counts()
        self._announced = False

    def announce_plan(self) -> None:
        """Tell the progress display the whole book's plan, once planning has finished. Called
        from this (the rendering) thread, so displays never see two threads at once."""
        if not self._announced and self.planner is not None and self.planner.complete:
            self._announced = True
            self.progress.planned([work.plan for work in self.planner.all()])

    def chunk_key(self, chunk: Chunk) -> str:
        return ChunkCache.key(self.model_id, self.voice.spec, self.options.speed, chunk.phonemes)

    def fingerprint(self, plan: ChapterPlan) -> str:
        """Identifies the chapter's audio: its pieces and the pauses between them."""
        parts = [f"{self.chunk_key(c)}:{c.pause_after_ms}" for c in plan.chunks]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def is_missing(self, chunk: Chunk) -> bool:
        """The piece must be made (not in the cache, or --force)."""
        return self.options.force or self.chunk_key(chunk) not in self.cache

    def work(self, plan: ChapterPlan, job: Job) -> ChapterWork:
        """What rendering ``plan`` takes, from the job's finished chapters and the cache."""
        fingerprint = self.fingerprint(plan)
        finished = None if self.options.force else job.finished_chapter(plan.chapter.index,
                                                                         fingerprint)
        return ChapterWork(plan, fingerprint, finished,
                           tuple(self.is_missing(c) for c in plan.chunks))

    def made(self, chunks: Iterator[Chunk]) -> Iterator[np.ndarray]:
        """Raw samples for ``chunks`` in order: from the worker pool when there is one (it works
        ahead, across chapter ends, while chapters are written), else from the in-process
        model, which batches pieces of similar length where its backend can (torch)."""
        if self.pool is not None:
            jobs = (Synthesizer.prepare(c.phonemes, self.voice, self.options.speed) for c in chunks)
            return self.pool.map_ordered(jobs)
        return self.synth.synthesize_many((c.phonemes for c in chunks), self.voice,
                                          self.options.speed)

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
        self.announce_plan()
        self.progress.chunk_done(chunk, samples.size / self.synth.sample_rate, False)
        return samples

    def render(self, work: ChapterWork, out: Path, made: Iterator[np.ndarray]) -> int:
        """Write the chapter's WAV atomically, taking its missing pieces from ``made`` in order;
        returns its length in samples."""
        written = 0
        with atomic_path(out, ".wav") as tmp, sf.SoundFile(
                tmp, "w", samplerate=self.synth.sample_rate, channels=1, subtype="PCM_16") as wav:
            for chunk, miss in zip(work.plan.chunks, work.missing):
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
    when complete) or a binary stream such as stdout. The caller holds the job's lock.

    Three things overlap: worker processes start while G2P loads; chapters are planned in a
    thread while earlier ones are synthesized; and the pool is fed one stream of pieces for
    the whole book, so it never drains at a chapter's end."""
    voice = synth.voice(options.voice)
    progress.started(len(document.chapters))
    renderer = ChapterRenderer(synth, voice, options, model_id, cache, progress, stop or StopFlag())
    with _pool_starting(renderer, document, job) as starting:
        phonemize = synth.phonemizer(voice)
        plans = iter_plans(document, phonemize, options.chunking, options.lexicon)
        renderer.planner = planner = Planner(renderer.work(p, job) for p in plans)
        try:
            renderer.pool = starting.result() if starting is not None else None
            made = renderer.made(c for work in planner for c in work.to_make())
            chapters = [_chapter(renderer, job, work, made) for work in planner]
        finally:
            planner.cancel()
        renderer.announce_plan()
    progress.muxing()
    meta = book_meta(document, voice.spec, options.cover)
    if isinstance(out, Path):
        report = write_book(chapters, out, meta, options.output)
        job.record_output(out, output_fingerprint(job, document, meta, options.output), report.files)
    else:
        report = stream_book(chapters, meta, options.output, out)
    return RenderResult(out if isinstance(out, Path) else None,
                        sum(ch.samples for ch in chapters) / synth.sample_rate,
                        sum(len(w.plan.chunks) for w in planner.all()), renderer.counts, report)


# Below this much text to synthesize (about 8 pieces), starting workers (a model load each)
# costs more than it saves.
POOL_MIN_CHARS = 1500


@contextmanager
def _pool_starting(renderer: ChapterRenderer, document: Document,
                   job: Job) -> Iterator[Future | None]:
    """A worker pool starting in the background (its workers load the model while this process
    loads G2P and plans), or None when the work is too small or done. Decided from the text, as
    the exact pieces are known only after planning. The pool is closed on the way out."""
    workers = renderer.options.workers
    recorded = job.manifest.get("chapters", {})
    todo = sum(len(c.text) for c in document.chapters
               if renderer.options.force or str(c.index) not in recorded)
    if workers <= 1 or renderer.synth.model_path is None or todo < POOL_MIN_CHARS:
        if todo:  # a re-mux of finished chapters needs no model at all
            _preload(renderer.synth)
        yield None
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pool-start") as starter:
        starting = starter.submit(SynthPool, renderer.synth.model_path, workers)
        try:
            yield starting
        except BaseException:
            if not starting.cancel():
                _exit_pool(starting, failed=True)
            raise
        _exit_pool(starting, failed=False)


def _preload(synth: Synthesizer) -> None:
    """Start loading the in-process model beside G2P. A failure here is left for the first
    piece to raise again, in the rendering thread, where it is reported."""
    threading.Thread(target=lambda: _quietly(synth.ready), name="model-load", daemon=True).start()


def _quietly(call: Callable[[], object]) -> None:
    try:
        call()
    except Exception:  # noqa: BLE001 (raised again, and reported, by the first piece)
        pass


def _exit_pool(starting: Future, failed: bool) -> None:
    """Close the pool (kill it when the render failed); a pool that failed to start has
    already raised from ``starting.result()``."""
    try:
        pool = starting.result()
    except BaseException:
        if failed:
            return
        raise
    if failed:
        pool.terminate()
    else:
        pool.close()


def _chapter(renderer: ChapterRenderer, job: Job, work: ChapterWork,
             made: Iterator[np.ndarray]) -> ChapterAudio:
    plan, index = work.plan, work.plan.chapter.index
    wav = job.chapter_wav(index)
    renderer.announce_plan()
    renderer.progress.chapter_started(plan)
    samples = work.finished
    if samples is None:
        samples = renderer.render(work, wav, made)
        job.record_chapter(index, plan.chapter.title, work.fingerprint, samples)
        renderer.progress.chapter_done(plan, False)
    else:
        renderer.counts.reused += len(plan.chunks)
        renderer.progress.chapter_done(plan, True)
    return ChapterAudio(plan.chapter.title, wav, samples)
