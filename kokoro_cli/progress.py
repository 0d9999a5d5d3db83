"""Progress for people: Rich bars on a terminal, one plain line per chapter otherwise."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn,
                           TimeRemainingColumn)

from kokoro_cli.render import ChapterPlan, Progress
from preprocess import Chunk


class BarProgress(Progress):
    """Two Rich bars: the whole book (by tokens) and the current chapter."""

    def __init__(self, bars: RichProgress) -> None:
        self.bars = bars
        self.book = bars.add_task("book", total=1)
        self.chapter = bars.add_task("chapter", total=1, visible=False)
        self.audio_seconds = 0.0
        self.started = time.perf_counter()

    def planned(self, plans: Sequence[ChapterPlan]) -> None:
        self.bars.update(self.book, total=sum(p.tokens for p in plans) or 1)

    def chapter_started(self, plan: ChapterPlan) -> None:
        self.bars.reset(self.chapter, total=plan.tokens or 1, visible=True,
                        description=f"{plan.chapter.index}. {plan.chapter.title[:40]}")

    def chunk_done(self, chunk: Chunk, audio_seconds: float) -> None:
        self.audio_seconds += audio_seconds
        rtf = (time.perf_counter() - self.started) / self.audio_seconds
        self.bars.advance(self.chapter, chunk.tokens)
        self.bars.update(self.book, advance=chunk.tokens,
                         description=f"book · {self.audio_seconds / 60:.1f} min audio · RTF {rtf:.2f}")

    def muxing(self) -> None:
        self.bars.update(self.chapter, visible=False)
        self.bars.update(self.book, description="muxing")


class LineProgress(Progress):
    """For logs and pipes: a line when a chapter starts, nothing per chunk."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.total = 0

    def planned(self, plans: Sequence[ChapterPlan]) -> None:
        self.total = len(plans)

    def chapter_started(self, plan: ChapterPlan) -> None:
        self.console.print(f"chapter {plan.chapter.index}/{self.total}: {plan.chapter.title} "
                           f"({len(plan.chunks)} chunks)", markup=False)

    def muxing(self) -> None:
        self.console.print("muxing")


@contextmanager
def progress_for(console: Console) -> Iterator[Progress]:
    """Bars when ``console`` is a terminal, plain lines otherwise."""
    if not console.is_terminal:
        yield LineProgress(console)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with RichProgress(*columns, console=console, transient=True) as bars:
        yield BarProgress(bars)
