"""Rendering a planned book into a job: chapter WAVs through the piece cache, then the output.

It consumes streams and writes files: each piece goes into the shared chunk cache as soon as it
is made, each chapter's audio into its own WAV in the job folder, and nothing holds a whole
book's samples in memory. A run interrupted at any point resumes from what those files hold.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import soundfile as sf

from engine import AudioChunk, Synthesizer, SynthPool, Voice, silence, to_pcm16, token_count
from kokoro_cli.jobs.cache import ChunkCache
from kokoro_cli.jobs.job import Job
from kokoro_cli.jobs.listening import PieceChecker
from kokoro_cli.jobs.planner import ChapterWork, Planner
from kokoro_cli.jobs.signals import StopFlag
from kokoro_cli.jobs.timing import ChapterTiming, TimingBuilder
from kokoro_cli.jobs.verify import (ChapterCheck, VerifyOptions, VerifyReport,
                                    save_chapter_checks, stored_checks)
from kokoro_cli.output import (COVER_CODECS, BookMeta, ChapterAudio, OutputOptions, OutputReport,
                               TimedChapter, stream_book, write_book, write_subtitles)
from kokoro_common import atomic_path
from preprocess import Cast, ChapterPlan, Chunk, ChunkOptions, Document, Lexicon, plan

__all__ = ["Counts", "Progress", "RenderOptions", "RenderResult", "book_meta",
           "output_fingerprint", "render_job"]


@dataclass(frozen=True)
class RenderOptions:
    voice: str = "af_heart"
    speed: float = 1.0
    # --voice-for: (language tag, voice) pairs; text in such a language (an EPUB chapter or
    # block) is spoken by that voice instead of ``voice``
    voices: tuple[tuple[str, str], ...] = ()
    chunking: ChunkOptions = field(default_factory=ChunkOptions)
    lexicon: Lexicon = field(default_factory=Lexicon)  # the layered pronunciation dictionary
    force: bool = False  # synthesize every piece again, ignoring (and refreshing) the cache
    output: OutputOptions = field(default_factory=OutputOptions)  # format, loudness, splitting
    workers: int = 1  # synthesis processes; 1 synthesizes in this process with every core
    # Where pieces go: the command's pools (an engine.Engine: local workers or Ray actors that
    # live for the whole command and are lent to each book); None starts a local SynthPool per
    # book when the book is big enough.
    pools: PoolSource | None = field(default=None, repr=False)
    cover: bytes | None = field(default=None, repr=False)  # --cover, replacing the document's
    subtitles: str | None = None  # "srt" or "vtt": a subtitle file beside each output file
    subtitle_words: bool = False  # word-level subtitles (VTT word timestamps, SRT cue per word)
    read_along: Path | None = None  # an EPUB 3 with media overlays, beside the audio
    # --cast: voices per chapter and character (its narrator is ``voice``), checked
    cast: Cast | None = None
    verify: VerifyOptions = field(default_factory=VerifyOptions)  # the listening check


class PoolSource(Protocol):
    """Lends a book the workers of a longer-lived owner (:class:`engine.Engine`)."""

    def warm(self, model_path: Path, workers: int) -> bool:
        """Whether lending that pool now costs nothing (it is running)."""

    def lend(self, model_path: Path, workers: int) -> SynthPool:
        """The pool for one book; its ``close`` keeps it, ``terminate`` ends it."""


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
    chapters: tuple[TimedChapter, ...] = ()  # the chapters' audio and timing, in order
    verification: VerifyReport | None = None  # --verify: the listening check

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


class ChapterRenderer:
    """Renders planned chapters into 16-bit WAVs through the shared chunk cache."""

    def __init__(self, synth: Synthesizer, voice: Voice, options: RenderOptions, model_id: str,
                 cache: ChunkCache, progress: Progress, stop: StopFlag,
                 pool: SynthPool | None = None) -> None:
        self.synth, self.voice, self.options = synth, voice, options
        self.model_id, self.cache, self.progress, self.stop = model_id, cache, progress, stop
        self.pool = pool
        self.checker: PieceChecker | None = None  # --verify
        self.checks: dict[int, tuple[str, ChapterCheck]] = {}  # chapter: fingerprint, check
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
        """The piece's cache key, by the voice that speaks it (its own, from --voice-for, or
        the book's) and its speed (SSML prosody rate), so such pieces never share an entry."""
        speed = self.options.speed if chunk.rate is None else self.options.speed * chunk.rate
        return ChunkCache.key(self.model_id, chunk.voice or self.voice.spec, speed,
                              chunk.phonemes)

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
        finished = None if self.options.force else job.finished_chapter(
            plan.chapter.index, fingerprint, timed=True)
        checked = self.checks.get(plan.chapter.index, ("", None))[0] == fingerprint
        if self.checker is not None and not checked:
            finished = None  # rendered again from the cache, hearing the pieces not yet heard
        return ChapterWork(plan, fingerprint, finished,
                           tuple(self.is_missing(c) for c in plan.chunks))

    def made(self, chunks: Iterator[Chunk]) -> Iterator[AudioChunk[Chunk]]:
        """``chunks`` spoken in order: by the worker pool when there is one (it works ahead,
        across chapter ends, while chapters are written), else by the in-process model, which
        batches pieces of similar length where its backend can (torch)."""
        hearing = self.checker.hearing if self.checker is not None else None
        return self.synth.speak(chunks, self.voice, self.options.speed, self.pool, hearing)

    def retake(self, chunks: Iterator[Chunk], speed: float) -> Iterator[AudioChunk[Chunk]]:
        """Another take of a piece that failed the listening check, at ``speed``, by the
        pool when there is one (each piece heard where it is made)."""
        return self.synth.speak(chunks, self.voice, speed, self.pool, self.checker.hearing)

    def piece(self, chunk: Chunk, made: Iterator[AudioChunk[Chunk]] | None
              ) -> tuple[np.ndarray, np.ndarray | None, str | None]:
        """The trimmed 16-bit samples of one piece, where its tokens end in them (None when
        unknown) and what the listening check heard in it where it was made (else None):
        from the cache, or the next of ``made`` (the pieces planned as missing), or the model
        when a cache entry proved damaged."""
        key = self.chunk_key(chunk)
        cached = None if made is not None else self.cache.get(key)
        if cached is not None:
            self.counts.reused += 1
            self.progress.chunk_done(chunk, cached.size / self.synth.sample_rate, True)
            return cached, self.cache.get_bounds(key, cached.size), None
        self.stop.check()
        started = time.perf_counter()
        spoken = next(made if made is not None else self.made(iter([chunk])))
        assert spoken.piece is chunk, "pieces came back out of reading order"
        samples, bounds = spoken.pcm16, spoken.token_bounds()
        self.counts.compute_seconds += time.perf_counter() - started
        self.counts.synthesized_seconds += samples.size / self.synth.sample_rate
        self.cache.put(key, samples)
        if bounds is not None:
            self.cache.put_bounds(key, bounds)
        self.counts.synthesized += 1
        self.announce_plan()
        self.progress.chunk_done(chunk, samples.size / self.synth.sample_rate, False)
        return samples, bounds, spoken.heard

    def render(self, work: ChapterWork, out: Path,
               made: Iterator[AudioChunk[Chunk]]) -> tuple[int, ChapterTiming]:
        """Write the chapter's WAV atomically, taking its missing pieces from ``made`` in order;
        returns its length in samples and its timing."""
        written = 0
        timing = TimingBuilder(self.synth.sample_rate)
        tally = self.checker.tally() if self.checker is not None else None
        with atomic_path(out, ".wav") as tmp, _wav_writer(tmp, out, self.synth.sample_rate) as wav:
            for chunk, miss in zip(work.plan.chunks, work.missing):
                audio, bounds, heard = self.piece(chunk, made if miss else None)
                if tally is not None:
                    settled = self.checker.settle(chunk, self.chunk_key(chunk), audio, bounds,
                                                  heard)
                    audio, bounds = settled.audio, settled.bounds
                    tally.add(chunk, settled.check, written / self.synth.sample_rate)
                timing.add(chunk, written, audio.size, bounds)
                pause = to_pcm16(silence(chunk.pause_after_ms))
                wav.write(audio)
                wav.write(pause)
                written += audio.size + pause.size
        if tally is not None:
            check = tally.finish(work.plan.chapter.index, work.plan.chapter.title)
            self.checks[work.plan.chapter.index] = (work.fingerprint, check)
        return written, timing.finish(written)

    def verification(self, planned: Sequence[ChapterWork], job: Job) -> VerifyReport | None:
        """The book's listening check (its chapters' checks, stored in the job), or None."""
        if self.checker is None:
            return None
        verify = self.options.verify
        save_chapter_checks(job.dir, verify, self.checks)
        wanted = [self.checks[w.plan.chapter.index][1] for w in planned]
        return VerifyReport(verify.model, verify.mode, tuple(wanted))


# libsndfile keeps no errno: with less than this free where a chapter WAV failed, the disk is
# full (one piece, 510 tokens, is at most about 1.5 MB of 16-bit audio).
_FULL_BELOW_BYTES = 2 << 20


@contextmanager
def _wav_writer(tmp: Path, dest: Path, sample_rate: int) -> Iterator[sf.SoundFile]:
    """A 16-bit mono WAV open for writing at ``tmp``. libsndfile says only "System error."
    when a write fails; with no room left there, that is raised as the full disk it is (an
    OSError naming ``dest``, exit 5), while the temp file still holds its space."""
    try:
        with sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=1, subtype="PCM_16") as wav:
            yield wav
    except sf.LibsndfileError as exc:
        if not _no_room(tmp.parent):
            raise
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dest)) from exc


def _no_room(folder: Path) -> bool:
    """Whether the file system holding ``folder`` has (next to) no space left."""
    try:
        room = os.statvfs(folder)
    except OSError:
        return False
    return room.f_bavail * room.f_frsize < _FULL_BELOW_BYTES


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
                       options: RenderOptions) -> str:
    """What the final files depend on: the job (input + audio settings), the chapters chosen,
    the tags and the output options. Known without G2P or the model, so an unchanged re-run is
    a quick no-op."""
    described = {
        "job": job.identity.key, "chapters": [[c.index, c.title] for c in document.chapters],
        # The cover by its digest: the bytes can be megabytes, and only a change matters.
        "meta": {**dataclasses.asdict(meta), "cover": _sha256(meta.cover)},
        "output": dataclasses.asdict(options.output)}
    if options.verify.on:  # absent when off, so outputs written before it stay current
        described["verify"] = dataclasses.asdict(options.verify)
    if options.subtitles is not None or options.read_along is not None:
        # Absent otherwise, so outputs written before these options existed stay current.
        described["follow"] = [options.subtitles, options.subtitle_words,
                               str(options.read_along)]
    return _sha256(json.dumps(described, sort_keys=True).encode("utf-8"))


def _sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def render_job(document: Document, out: Path | BinaryIO, synth: Synthesizer, job: Job,
               cache: ChunkCache, model_id: str, options: RenderOptions,
               progress: Progress = Progress(), stop: StopFlag | None = None,
               check: Callable[[OutputReport], None] | None = None,
               verified: Callable[[VerifyReport], None] | None = None) -> RenderResult:
    """Render ``document`` into ``job`` and write it to ``out``: a path (files replaced only
    when complete, and only when ``check`` accepts their report) or a binary stream such as
    stdout. The caller holds the job's lock. With ``options.verify`` on, ``verified`` sees
    the listening check's report before the output stage, and may raise to keep it back.

    Three things overlap: worker processes start while G2P loads; chapters are planned in a
    thread while earlier ones are synthesized; and the pool is fed one stream of pieces for
    the whole book, so it never drains at a chapter's end."""
    voice = synth.voice(options.voice)
    progress.started(len(document.chapters))
    renderer = ChapterRenderer(synth, voice, options, model_id, cache, progress, stop or StopFlag())
    if options.verify.on:
        renderer.checker = PieceChecker(options.verify, cache, voice.spec, options.speed,
                                        synth.sample_rate, renderer.retake,
                                        lambda: renderer.pool is not None)
        renderer.checks = stored_checks(job.dir, options.verify)
    with _pool_starting(renderer, document, job) as starting:
        phonemize = synth.phonemizer(voice)
        plans = plan(document, phonemize, token_count, options.chunking, options.lexicon,
                     voices=dict(options.voices), cast=options.cast)
        renderer.planner = planner = Planner(renderer.work(p, job) for p in plans)
        try:
            renderer.pool = starting.result() if starting is not None else None
            made = renderer.made(c for work in planner for c in work.to_make())
            timed = [_chapter(renderer, job, work, made) for work in planner]
        finally:
            planner.close()
        renderer.announce_plan()
    verification = renderer.verification(planner.all(), job)
    if verification is not None and verified is not None:
        verified(verification)
    progress.muxing()
    report = _write(timed, out, job, document, book_meta(document, voice.spec, options.cover),
                    options, check)
    return RenderResult(out if isinstance(out, Path) else None,
                        sum(ch.audio.samples for ch in timed) / synth.sample_rate,
                        sum(len(w.plan.chunks) for w in planner.all()), renderer.counts, report,
                        tuple(timed), verification)


def _write(timed: Sequence[TimedChapter], out: Path | BinaryIO, job: Job, document: Document,
           meta: BookMeta, options: RenderOptions,
           check: Callable[[OutputReport], None] | None) -> OutputReport:
    """The output stage: the audio files (or stream), then the subtitles beside them."""
    chapters = [t.audio for t in timed]
    if not isinstance(out, Path):
        report = stream_book(chapters, meta, options.output, out)
        if check is not None:
            check(report)
        return report
    report = write_book(chapters, out, meta, options.output, check=check)
    if options.subtitles is not None:
        files = write_subtitles(timed, out, meta, options.output, options.subtitles,
                                words=options.subtitle_words)
        report = dataclasses.replace(report, files=report.files + files)
    job.record_output(out, output_fingerprint(job, document, meta, options), report.files)
    if options.read_along is not None:  # after the audio is in place: a bad EPUB spares it
        from kokoro_cli.readalong import write_read_along

        book = write_read_along(document, timed, options.read_along, options.output, meta)
        job.record_output(out, output_fingerprint(job, document, meta, options),
                          report.files + (book,))
        report = dataclasses.replace(report, files=report.files + (book,))
    return report


# Below this much text to synthesize (about 8 pieces), starting workers (a model load each)
# costs more than it saves.
POOL_MIN_CHARS = 1500


@contextmanager
def _pool_starting(renderer: ChapterRenderer, document: Document,
                   job: Job) -> Iterator[Future | None]:
    """A worker pool starting in the background (its workers load the model while this process
    loads G2P and plans), or None when the work is too small or done. Decided from the text, as
    the exact pieces are known only after planning. The pool is given back on the way out
    (closed; an engine's pool stays for its next book unless this one failed)."""
    workers, pools = renderer.options.workers, renderer.options.pools
    model = renderer.synth.model_path
    recorded = job.manifest.chapters
    todo = sum(len(c.text) for c in document.chapters
               if renderer.options.force or c.index not in recorded)
    # A running pool costs nothing more to use; one to start must pay for its start.
    warm = pools is not None and model is not None and pools.warm(model, workers)
    small = not warm and (workers <= 1 or todo < POOL_MIN_CHARS)
    if model is None or not todo or small:
        # A re-mux of finished chapters needs no model at all.
        loading = _preload(renderer.synth) if todo else None
        try:
            yield None
        finally:
            if loading is not None:  # never exit under a half-made onnxruntime session: the
                loading.join()       # C++ runtime aborts the process (SIGABRT, no exit code)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pool-start") as starter:
        starting = starter.submit(pools.lend if pools is not None else SynthPool, model, workers)
        try:
            yield starting
        except BaseException:
            if not starting.cancel():
                _exit_pool(starting, failed=True)
            raise
        _exit_pool(starting, failed=False)


def _preload(synth: Synthesizer) -> threading.Thread:
    """Start loading the in-process model beside G2P. A failure here is left for the first
    piece to raise again, in the rendering thread, where it is reported."""
    thread = threading.Thread(target=lambda: _quietly(synth.ready), name="model-load", daemon=True)
    thread.start()
    return thread


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
             made: Iterator[AudioChunk[Chunk]]) -> TimedChapter:
    planned, index = work.plan, work.plan.chapter.index
    wav = job.chapter_wav(index)
    renderer.announce_plan()
    renderer.progress.chapter_started(planned)
    samples, timing = work.finished, job.chapter_timing(index)
    if samples is None or timing is None:
        samples, timing = renderer.render(work, wav, made)
        job.record_chapter(index, planned.chapter.title, work.fingerprint, samples, timing)
        renderer.progress.chapter_done(planned, False)
    else:
        renderer.counts.reused += len(planned.chunks)
        renderer.progress.chapter_done(planned, True)
    return TimedChapter(ChapterAudio(planned.chapter.title, wav, samples), timing)
