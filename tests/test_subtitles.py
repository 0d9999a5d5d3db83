"""Timing and subtitles without the model: builders against literal text, written-text
matching, the timing builder's arithmetic, job storage and the cache's token ends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kokoro_cli.jobs.cache import ChunkCache
from kokoro_cli.jobs.timing import TimingBuilder
from kokoro_cli.output import OutputOptions
from kokoro_cli.output.metadata import BookMeta
from kokoro_cli.output.plan import ChapterAudio
from kokoro_cli.output.subtitles import (Cue, book_cues, srt, timestamp, vtt, wrap,
                                         write_subtitles)
from kokoro_cli.output.timing import ChapterTiming, SentenceTime, TimedChapter
from preprocess import Chunk, Normalizer, Span, cue_texts, split_sentences
from preprocess.written import written_sentences


def test_timestamps():
    assert timestamp(0) == "00:00:00,000"
    assert timestamp(3723.4567) == "01:02:03,457"
    assert timestamp(72_000.0006, ".") == "20:00:00.001"


@pytest.mark.parametrize("text, parts", [
    ("Short one.", ["Short one."]),
    ("We shipped v2.4.1 on Tuesday, closed fourteen tickets and kept the public API within "
     "its latency budget every day.",
     ["We shipped v2.4.1 on Tuesday,",
      "closed fourteen tickets and kept the public API within its latency budget every day."]),
    ("Average CPU use on the build cluster fell from 71% to 58% after the cache change "
     "described below.",
     ["Average CPU use on the build cluster fell from 71% to 58%",
      "after the cache change described below."]),
])
def test_long_sentences_are_cut_at_clauses_then_words(text, parts):
    assert cue_texts(text) == parts
    assert all(len(p) <= 84 for p in cue_texts(text))


def test_wrap_balances_two_lines():
    assert wrap("Short.") == "Short."
    assert wrap("closed fourteen tickets and kept the public API within its latency") == \
        "closed fourteen tickets and kept\nthe public API within its latency"


CUES = [Cue(1.0, 2.5, "Hello <there> & you.", ((1.0, "Hello"), (1.5, "<there>"), (2.0, "&"),
                                                  (2.2, "you."))),
        Cue(3.0, 4.0, "Bye.", ((3.0, "Bye."),))]


def test_srt_and_vtt_literal():
    assert srt(CUES) == ("1\n00:00:01,000 --> 00:00:02,500\nHello <there> & you.\n\n"
                         "2\n00:00:03,000 --> 00:00:04,000\nBye.\n")
    assert vtt(CUES) == ("WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello &lt;there&gt; &amp; "
                         "you.\n\n00:00:03.000 --> 00:00:04.000\nBye.\n")
    assert vtt(CUES, words=True).splitlines()[3] == (
        "Hello <00:00:01.500>&lt;there&gt; <00:00:02.000>&amp; <00:00:02.200>you.")
    assert srt(CUES, words=True).splitlines()[:3] == ["1", "00:00:01,000 --> 00:00:01,500",
                                                      "Hello"]


def _chapter(path: Path, samples: int, sentences) -> TimedChapter:
    timing = ChapterTiming(24000, samples, (), tuple(SentenceTime(*s) for s in sentences))
    return TimedChapter(ChapterAudio("T", path, samples), timing)


def test_book_cues_count_room_tone_and_earlier_chapters_without_drift(tmp_path):
    # A 20-hour book of 40 chapters: cue times are sample arithmetic, so the last cue is
    # exactly where its samples are, whatever came before.
    hour = 24000 * 3600
    chapters = [_chapter(tmp_path / f"{i}.wav", hour // 2, [(100, 24100, "One."),
                                                            (hour // 2 - 48000, hour // 2 - 24000,
                                                             "Last.")]) for i in range(40)]
    cues = book_cues(chapters, 12000, 24000)
    assert len(cues) == 80
    last = cues[-1]
    assert last.start == (12000 + 39 * hour // 2 + hour // 2 - 48000) / 24000
    assert timestamp(last.end, ".") == "19:59:59.500"
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))


def test_subtitle_files_follow_the_audio_files(tmp_path):
    chapters = [_chapter(tmp_path / "a.wav", 48000, [(0, 24000, "A.")]),
                _chapter(tmp_path / "b.wav", 48000, [(0, 24000, "B.")])]
    meta = BookMeta(title="Book")
    one = write_subtitles(chapters, tmp_path / "book.m4b", meta, OutputOptions(), "srt")
    assert one == (tmp_path / "book.srt",)
    assert "00:00:02,000 --> 00:00:03,000\nB." in one[0].read_text()
    split = write_subtitles(chapters, tmp_path / "out", meta,
                            OutputOptions(split_chapters=True, room_tone_ms=500), "vtt")
    assert [p.name for p in split] == ["01 - T.vtt", "02 - T.vtt"]
    assert "00:00:00.500 --> 00:00:01.500\nB." in split[1].read_text()


@pytest.mark.parametrize("text, written", [
    ("Dr. Smith came at 5 p.m. He ran v2.4.1 of it. See https://example.com/a. The end!",
     ["Dr. Smith came at 5 p.m.", "He ran v2.4.1 of it.", "See https://example.com/a.",
      "The end!"]),
    ("Mr. J. R. Tolkien wrote it. It was 1954.", ["Mr. J. R. Tolkien wrote it.", "It was 1954."]),
    ("One sentence only, v1.2.", ["One sentence only, v1.2."]),
])
def test_written_sentences_match_the_spoken_ones(text, written):
    normalize = Normalizer()
    spoken = split_sentences(normalize(text))
    assert written_sentences(text, spoken, normalize) == written


def test_timing_builder_places_sentences_and_words():
    # Tokens: "ab cd" (5) + space + "ef" (2): token ends 100 samples apart.
    chunk = Chunk("x", "ab cd ef", 8, 250, (Span(0, 5, "Ab cd."), Span(1, 2, "Ef.")))
    builder = TimingBuilder(24000)
    builder.add(chunk, 1000, 800, np.arange(1, 9) * 100)
    builder.add(Chunk("y", "gh", 2, 250, (Span(1, 2, "Ef."),)), 3000, 200, None)
    timing = builder.finish(4000)
    first, second = timing.sentences
    assert (first.start, first.end, first.text) == (1000, 1500, "Ab cd.")
    assert first.words == ((1000, 1200), (1300, 1500))
    assert (second.start, second.end) == (1600, 3200)  # continued into the next piece
    assert not timing.exact  # the second piece had no durations
    assert ChapterTiming.from_json(timing.to_json()) == timing
    assert ChapterTiming.from_json("{}") is None


def test_spoken_words_map_back_to_written_ones():
    # "Run v1.2 now." is spoken as six words: run, version, 1, point, 2, now.
    chunk = Chunk("x", "a b c d e f", 11, 250, (Span(0, 11, "Run v1.2 now.", (1, 4, 1)),))
    builder = TimingBuilder(24000)
    builder.add(chunk, 0, 1100, np.arange(1, 12) * 100)
    (sentence,) = builder.finish(1100).sentences
    assert sentence.words == ((0, 100), (200, 900), (1000, 1100))


def test_cache_keeps_token_ends_and_refuses_damaged_ones(tmp_path):
    cache = ChunkCache(tmp_path)
    key = ChunkCache.key("m", "v", 1.0, "abc")
    cache.put(key, np.zeros(1000, dtype=np.int16))
    assert cache.get_bounds(key, 1000) is None
    cache.put_bounds(key, np.array([100, 400, 1000]))
    assert cache.get_bounds(key, 1000).tolist() == [100, 400, 1000]
    assert cache.get_bounds(key, 900) is None  # not inside the entry
    path = next(tmp_path.rglob("*.t32"))
    path.write_bytes(path.read_bytes()[:-1] + b"\x01")
    assert cache.get_bounds(key, 1000) is None
