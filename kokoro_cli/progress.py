"""Progress for people and machines: Rich bars on a terminal, one plain line per chapter in
logs and pipes, JSON events with ``--progress json``, nothing with ``--quiet``."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn

from kokoro_cli.jobs.render import Progress
from preprocess import ChapterPlan, Chunk

__all__ = ["MODES", "BarProgress", "JsonProgress", "LineProgress", "progress_for"]

MODES = ("auto", "bars", "plain", "json", "none")


class _Tally:
    """Audio done and the real-time factor of what the model made in this run."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.audio = self.made = 0.0

    def add(self, seconds: float, reused: bool) -> None:
        self.audio += seconds
        if not reused:
            self.made += seconds

    @property
    def rtf(self) -> float:
        return (time.perf_counter() - self.started) / self.made if self.made else 0.0


class BarProgress(Progress):
    """Two Rich bars: the whole book and the current chapter, by phoneme tokens."""

    def __init__(self, bars: RichProgress) -> None:
        self.bars, self.tally = bars, _Tally()
        # No total until planning has finished (planning runs alongside synthesis).
        self.book = bars.add_task("book", total=None)
        self.chapter = bars.add_task("chapter", total=1, visible=False)

    def planned(self, plans: Sequence[ChapterPlan]) -> None:
        self.bars.update(self.book, total=sum(p.tokens for p in plans) or 1)

    def chapter_started(self, plan: ChapterPlan) -> None:
        self.bars.reset(self.chapter, total=plan.tokens or 1, visible=True,
                        description=f"  {plan.chapter.index}. {plan.chapter.title[:40]}")

    def chunk_done(self, chunk: Chunk, audio_seconds: float, reused: bool) -> None:
        self.tally.add(audio_seconds, reused)
        self.bars.advance(self.chapter, chunk.tokens)
        self.bars.update(self.book, advance=chunk.tokens, description=(
            f"book · {self.tally.audio / 60:.1f} min audio · RTF {self.tally.rtf:.2f}"))

    def chapter_done(self, plan: ChapterPlan, reused: bool) -> None:
        if reused:
            self.bars.update(self.book, advance=plan.tokens)

    def muxing(self) -> None:
        self.bars.update(self.chapter, visible=False)
        self.bars.update(self.book, description="muxing")


class LineProgress(Progress):
    """For logs and pipes: one line per finished chapter, no control characters."""

    def __init__(self, console: Console) -> None:
        self.console, self.total, self.done, self.tally = console, 0, 0, _Tally()

    def started(self, chapters: int) -> None:
        self.total = chapters

    def chunk_done(self, chunk: Chunk, audio_seconds: float, reused: bool) -> None:
        self.tally.add(audio_seconds, reused)

    def chapter_done(self, plan: ChapterPlan, reused: bool) -> None:
        self.done += 1
        how = "reused" if reused else f"{self.tally.audio / 60:.1f} min audio so far"
        self.console.print(f"[{self.done}/{self.total}] chapter {plan.chapter.index} done: "
                           f"{plan.chapter.title} ({how})", markup=False, highlight=False)

    def muxing(self) -> None:
        self.console.print("muxing", markup=False)


class JsonProgress(Progress):
    """One JSON object per event on stderr, for programs that drive this one."""

    def __init__(self) -> None:
        self.tally = _Tally()

    @staticmethod
    def _emit(**event: object) -> None:
        sys.stderr.write(json.dumps(event, ensure_ascii=False) + "\n")
        sys.stderr.flush()

    def planned(self, plans: Sequence[ChapterPlan]) -> None:
        self._emit(event="planned", chapters=len(plans), chunks=sum(len(p.chunks) for p in plans),
                   tokens=sum(p.tokens for p in plans))

    def chapter_started(self, plan: ChapterPlan) -> None:
        self._emit(event="chapter_started", index=plan.chapter.index, title=plan.chapter.title,
                   chunks=len(plan.chunks))

    def chunk_done(self, chunk: Chunk, audio_seconds: float, reused: bool) -> None:
        self.tally.add(audio_seconds, reused)
        self._emit(event="chunk_done", tokens=chunk.tokens, audio_seconds=round(audio_seconds, 3),
                   reused=reused, rtf=round(self.tally.rtf, 3))

    def chapter_done(self, plan: ChapterPlan, reused: bool) -> None:
        self._emit(event="chapter_done", index=plan.chapter.index, reused=reused)

    def muxing(self) -> None:
        self._emit(event="muxing")


@contextmanager
def progress_for(console: Console, mode: str = "auto") -> Iterator[Progress]:
    """The progress display for ``mode``; "auto" is bars on a terminal, plain lines otherwise."""
    if mode == "auto":
        mode = "bars" if console.is_terminal else "plain"
    if mode == "json":
        yield JsonProgress()
    elif mode == "none":
        yield Progress()
    elif mode == "plain":
        yield LineProgress(console)
    else:
        columns = (TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn())
        with RichProgress(*columns, console=console, transient=True) as bars:
            yield BarProgress(bars)
