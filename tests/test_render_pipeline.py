"""The render pipeline's overlap: planning runs beside synthesis, and the worker pool is fed one
stream of pieces for the whole book. Real model and real files; the Planner's own tests use
fake work items (pure orchestration)."""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext

import numpy as np
import pytest
import soundfile as sf

import preprocess.planning
from engine import Engine, Synthesizer, SynthPool
from kokoro_cli.jobs.planner import Planner
from kokoro_cli.jobs.render import Progress, RenderOptions
from kokoro_cli.jobs.run import ConvertRequest, run_convert
from preprocess import parse_text

PARAGRAPH = ("The keeper climbed the stairs at dusk and lit the lamp, as her mother had done "
             "for thirty years. Ships passed far out at sea, and none of them knew her name. ")


def _book(chapters: int = 3, paragraphs: int = 3) -> str:
    return "\n\n".join(f"# Part {n}\n\n" + "\n\n".join(
        f"{PARAGRAPH}This is paragraph {p} of part {n}." for p in range(1, paragraphs + 1))
        for n in range(1, chapters + 1))


def _convert(resolver, tmp_path, name: str, workers: int):
    document = parse_text(_book(), fmt="markdown")
    out = tmp_path / f"{name}.m4b"
    options = RenderOptions(voice="af_heart", workers=workers)
    request = ConvertRequest(document, document, out, options, work_root=tmp_path / f"work-{name}")
    return run_convert(request, Engine(resolver), lambda: nullcontext(Progress()))


def test_synthesis_starts_before_planning_ends(resolver, tmp_path, monkeypatch):
    events: list[tuple[str, float]] = []
    real_plan, real_infer = preprocess.planning.chunk_chapter, Synthesizer._infer

    def slow_chunk_chapter(*args, **kwargs):
        time.sleep(0.5)  # planning each chapter takes a while
        events.append(("planned", time.perf_counter()))
        return real_plan(*args, **kwargs)

    def recording_synthesize(self, *args, **kwargs):
        events.append(("synthesized", time.perf_counter()))
        return real_infer(self, *args, **kwargs)

    monkeypatch.setattr(preprocess.planning, "chunk_chapter", slow_chunk_chapter)
    monkeypatch.setattr(Synthesizer, "_infer", recording_synthesize)  # each piece spoken
    result = _convert(resolver, tmp_path, "overlap", workers=1)
    first_synthesis = min(t for kind, t in events if kind == "synthesized")
    last_planning = max(t for kind, t in events if kind == "planned")
    assert first_synthesis < last_planning
    assert result.counts.synthesized == result.chunks


@pytest.mark.slow
def test_pool_gets_one_stream_for_the_book_and_the_same_audio(resolver, tmp_path, monkeypatch):
    streams = []
    real_map = SynthPool.map_ordered

    def counting_map(self, jobs, window=None, **kwargs):
        streams.append(1)
        return real_map(self, jobs, window, **kwargs)

    monkeypatch.setattr(SynthPool, "map_ordered", counting_map)
    pooled = _convert(resolver, tmp_path, "pooled", workers=2)
    assert streams == [1]  # not one per chapter: the pool never drains at a chapter's end
    single = _convert(resolver, tmp_path, "single", workers=1)
    assert pooled.counts.synthesized == single.counts.synthesized == pooled.chunks
    pooled_wavs = sorted((tmp_path / "work-pooled").glob("jobs/*/chapters/*.wav"))
    single_wavs = sorted((tmp_path / "work-single").glob("jobs/*/chapters/*.wav"))
    assert [p.name for p in pooled_wavs] == [p.name for p in single_wavs] and len(pooled_wavs) == 3
    for pooled_wav, single_wav in zip(pooled_wavs, single_wavs):
        a, _ = sf.read(pooled_wav, dtype="int16")
        b, _ = sf.read(single_wav, dtype="int16")
        # 1-thread workers vs a 2-thread process: onnxruntime gives the same samples here, but
        # only promises near-equality across thread counts.
        assert a.shape == b.shape
        assert np.max(np.abs(a.astype(np.int32) - b)) <= 2


class _Work:
    """A fake planned chapter: just a number."""

    def __init__(self, n: int) -> None:
        self.n = n


def test_planner_gives_every_reader_the_same_chapters_in_order():
    gate = threading.Event()

    def works():
        yield _Work(1)
        gate.wait(5)  # the second chapter is planned only after a reader has the first
        yield _Work(2)
        yield _Work(3)

    planner = Planner(works())
    first = iter(planner)
    assert next(first).n == 1
    assert not planner.complete
    gate.set()
    assert [w.n for w in first] == [2, 3]
    assert [w.n for w in planner] == [1, 2, 3]
    assert planner.complete


def test_planning_error_reaches_the_reader_at_its_chapter():
    def works():
        yield _Work(1)
        raise ValueError("chapter 2 cannot be read")

    reader = iter(Planner(works()))
    assert next(reader).n == 1
    with pytest.raises(ValueError, match="chapter 2"):
        next(reader)


def test_cancelled_planner_stops_after_the_chapter_in_hand():
    planned = []
    release = threading.Event()

    def works():
        for n in range(1, 100):
            planned.append(n)
            yield _Work(n)
            release.wait(5)

    planner = Planner(works())
    assert next(iter(planner)).n == 1
    planner.cancel()
    release.set()
    assert [w.n for w in planner] == [1]  # waits for the thread to finish
    assert planned == [1, 2]  # the chapter in hand was planned, and dropped
