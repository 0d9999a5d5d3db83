"""The conversion pipeline: document → chunks → audio per chapter → muxed audiobook.

It consumes streams and writes files: each chapter's audio goes straight into its own WAV, and
nothing holds a whole book's samples in memory.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from engine import Synthesizer, Voice, token_count
from engine.audio import silence, trim
from kokoro_cli.mux import COVER_CODECS, BookMeta, ChapterAudio, write_m4b
from preprocess import Chapter, Chunk, ChunkOptions, Document, Normalizer, chunk_chapter


@dataclass(frozen=True)
class RenderOptions:
    voice: str = "af_heart"
    speed: float = 1.0
    chunking: ChunkOptions = field(default_factory=ChunkOptions)


@dataclass(frozen=True)
class ChapterPlan:
    chapter: Chapter
    chunks: tuple[Chunk, ...]

    @property
    def tokens(self) -> int:
        return sum(chunk.tokens for chunk in self.chunks)


@dataclass(frozen=True)
class RenderResult:
    output: Path
    audio_seconds: float
    compute_seconds: float
    chunks: int

    @property
    def real_time_factor(self) -> float:
        return self.compute_seconds / self.audio_seconds if self.audio_seconds else 0.0


class Progress:
    """What the runner reports; the CLI decides how to show it."""

    def planned(self, plans: Sequence[ChapterPlan]) -> None: ...
    def chapter_started(self, plan: ChapterPlan) -> None: ...
    def chunk_done(self, chunk: Chunk, audio_seconds: float) -> None: ...
    def muxing(self) -> None: ...


def plan(document: Document, synth: Synthesizer, voice: Voice,
         options: ChunkOptions = ChunkOptions()) -> list[ChapterPlan]:
    """Chunk every chapter (text only; cheap next to synthesis) so progress has a total."""
    g2p, normalizer = synth.phonemizer(voice), Normalizer()
    return [ChapterPlan(chapter, tuple(chunk_chapter(chapter, g2p, token_count, normalizer, options)))
            for chapter in document.chapters]


def render_chapter(plan: ChapterPlan, synth: Synthesizer, voice: Voice, speed: float,
                   out: Path, on_chunk: Callable[[Chunk, float], None]) -> int:
    """Synthesize one chapter into a 16-bit WAV; returns its length in samples."""
    written = 0
    with sf.SoundFile(out, "w", samplerate=synth.sample_rate, channels=1, subtype="PCM_16") as wav:
        for chunk in plan.chunks:
            audio = trim(synth.synthesize(chunk.phonemes, voice, speed))
            pause = silence(chunk.pause_after_ms)
            wav.write(audio)
            wav.write(pause)
            written += audio.size + pause.size
            on_chunk(chunk, audio.size / synth.sample_rate)
    return written


def convert(document: Document, out: Path, synth: Synthesizer, options: RenderOptions,
            progress: Progress = Progress()) -> RenderResult:
    """Render ``document`` to an M4B at ``out`` (replaced only once the new file is complete)."""
    voice = synth.voice(options.voice)
    plans = plan(document, synth, voice, options.chunking)
    progress.planned(plans)
    started = time.perf_counter()
    chapters: list[ChapterAudio] = []
    with tempfile.TemporaryDirectory(prefix=".kokoro-", dir=out.parent) as work:
        for p in plans:
            progress.chapter_started(p)
            wav = Path(work) / f"chapter-{p.chapter.index:04d}.wav"
            samples = render_chapter(p, synth, voice, options.speed, wav, progress.chunk_done)
            chapters.append(ChapterAudio(p.chapter.title, wav, samples))
        compute = time.perf_counter() - started
        progress.muxing()
        write_m4b(chapters, out, _meta(document, voice))
    audio_seconds = sum(c.samples for c in chapters) / synth.sample_rate
    return RenderResult(out, audio_seconds, compute, sum(len(p.chunks) for p in plans))


def _meta(document: Document, voice: Voice) -> BookMeta:
    # A cover MP4 cannot carry (an SVG, say) is left out rather than failing the book.
    cover = document.cover if document.cover and document.cover.media_type in COVER_CODECS else None
    return BookMeta(title=document.title, authors=document.authors, narrator=voice.spec,
                    year=(document.date or "")[:4] or None, language=document.language,
                    cover=cover.data if cover else None, cover_type=cover.media_type if cover else None)
