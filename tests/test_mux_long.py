"""Books past 24 hours and past 4 GiB of PCM, made of sparse silent WAVs (a header and a
hole: gigabytes of chapter audio in a few kilobytes of disk)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from kokoro_cli.output.encode import stream_book, write_book
from kokoro_cli.output.ffmpeg import probe_chapters, probe_format
from kokoro_cli.output.formats import OutputOptions
from kokoro_cli.output.metadata import BookMeta, wav_header
from kokoro_cli.output.plan import ChapterAudio
from test_mux import needs_ffmpeg

pytestmark = [pytest.mark.slow, needs_ffmpeg]
HOURS = (8.5, 8.5, 8.5)  # 25.5 h: past 24 h, and 4.4 GB of 16-bit PCM at 24 kHz (> 4 GiB)


def silent_book(folder: Path, rate: int) -> list[ChapterAudio]:
    """Chapter WAVs of digital silence: a correct header, then a hole of the data's size."""
    chapters = []
    for i, hours in enumerate(HOURS, 1):
        frames = round(hours * 3600 * rate)
        path = folder / f"night-{i}.wav"
        with open(path, "wb") as f:
            f.write(wav_header(frames, rate))
        os.truncate(path, len(wav_header(frames, rate)) + 2 * frames)
        chapters.append(ChapterAudio(f"Night {i}", path, frames))
    return chapters


class CountingSink:
    """A binary sink that keeps the first bytes and counts the rest (a 4 GB book in no RAM)."""

    def __init__(self) -> None:
        self.head = b""
        self.size = 0
        self.nonzero = False

    def write(self, data: bytes) -> int:
        if len(self.head) < 80:
            self.head += bytes(data[: 80 - len(self.head)])
        else:
            self.nonzero = self.nonzero or any(data[:4096])  # spot check: silence stays silent
        self.size += len(data)
        return len(data)


def test_wav_stream_past_4_gib_gets_an_rf64_header(tmp_path: Path) -> None:
    chapters = silent_book(tmp_path, 24000)
    frames = sum(c.samples for c in chapters)
    assert sum(p.stat().st_blocks for p in tmp_path.iterdir()) * 512 < 1 << 20  # sparse
    sink = CountingSink()
    options = OutputOptions(format="wav", loudness="off")
    report = stream_book(chapters, BookMeta(title="Long"), options, sink)  # type: ignore[arg-type]
    header = wav_header(frames, 24000)
    assert sink.size == len(header) + 2 * frames > 1 << 32
    assert sink.head == header[:80] and sink.head[:4] == b"RF64"
    assert struct.unpack("<Q", sink.head[28:36])[0] == 2 * frames  # ds64 data size
    assert not sink.nonzero
    assert report.duration_s == pytest.approx(sum(HOURS) * 3600)


def test_m4b_chapters_past_24_hours(tmp_path: Path) -> None:
    """At 8 kHz (the muxer is the same; AAC encodes three times faster than at 24 kHz)."""
    rate = 8000
    chapters = silent_book(tmp_path, rate)
    out = tmp_path / "long.m4b"
    options = OutputOptions(loudness="off")
    write_book(chapters, out, BookMeta(title="Long"), options, sample_rate=rate)
    found = probe_chapters(out)
    assert [c["tags"]["title"] for c in found] == ["Night 1", "Night 2", "Night 3"]
    starts = [0.0, 8.5 * 3600, 17 * 3600]
    for chapter, start in zip(found, starts):
        assert abs(float(chapter["start_time"]) - start) < 0.05
    assert abs(float(found[-1]["end_time"]) - 25.5 * 3600) < 0.05
    assert abs(float(probe_format(out)["duration"]) - 25.5 * 3600) < 0.1
