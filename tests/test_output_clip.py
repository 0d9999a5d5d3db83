"""``say``'s clips: the same codec table and loudness preset as ``convert``, to a file or stdout,
down to clips too short for a loudness measurement. Real ffmpeg on a second of audio."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kokoro_cli.errors import UsageError
from kokoro_cli.output.clip import CLIP_FORMATS, clip_format, write_clip
from kokoro_cli.output.encode import measure_file
from kokoro_cli.output.ffmpeg import probe_format, probe_streams
from kokoro_cli.output.formats import FORMATS
from kokoro_cli.output.metadata import BookMeta
from test_mux import SR, needs_ffmpeg
from test_mux_formats import decode


@pytest.mark.parametrize(("output", "explicit", "fmt"), [
    ("hello.wav", None, "wav"),
    ("hello.MP3", None, "mp3"),
    ("hello.opus", None, "opus"),
    ("hello.flac", None, "flac"),
    ("hello.m4a", None, "m4a"),
    ("hello.m4b", None, "m4a"),  # a clip is no audiobook
    ("hello.wav", "FLAC", "flac"),
    ("-", None, "wav"),
    ("-", "mp3", "mp3"),
])  # fmt: skip
def test_clip_format(output: str, explicit: str | None, fmt: str) -> None:
    assert clip_format(output, explicit) == fmt


@pytest.mark.parametrize(("output", "explicit", "message"), [
    ("hello.txt", None, "cannot write 'txt' audio; use one of wav, flac, mp3, opus, m4a"),
    ("hello", None, "cannot write '' audio"),
    ("-", "m4a", "m4a cannot be written to stdout .* use wav, flac, mp3, opus"),
])  # fmt: skip
def test_clip_format_refuses_with_the_fix(output: str, explicit: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        clip_format(output, explicit)


def test_clip_formats_are_rows_of_the_one_codec_table() -> None:
    assert set(CLIP_FORMATS) <= set(FORMATS)
    m4a, m4b = FORMATS["m4a"], FORMATS["m4b"]
    assert (m4a.muxer, m4a.audio_codec, m4a.tags, m4b.tags) == (
        "ipod", "aac", (), (("media_type", "2"),))  # fmt: skip


def tone(seconds: float, amplitude: float = 0.1) -> np.ndarray:
    """int16 samples of a 220 Hz tone: RMS 3 dB under ``amplitude``."""
    t = np.arange(round(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)


@needs_ffmpeg
@pytest.mark.parametrize("fmt", CLIP_FORMATS)
def test_write_clip_to_a_file_at_the_default_loudness(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"hello.{fmt}"
    out.write_bytes(b"an earlier clip")
    report = write_clip(tone(1.0), SR, str(out), None, io.BytesIO(), BookMeta(title="Hello"))
    assert report.files == (out,) and report.format == fmt
    (audio,) = [s for s in probe_streams(out) if s["codec_type"] == "audio"]
    codec = {"wav": "pcm_s16le", "mp3": "mp3", "m4a": "aac"}.get(fmt, fmt)
    assert (audio["codec_name"], int(audio["sample_rate"])) == (
        codec, 48000 if fmt == "opus" else SR)  # fmt: skip
    assert abs(float(probe_format(out)["duration"]) - 1.0) < 0.1
    assert abs(measure_file(out).book.integrated_lufs + 18) <= 1.0  # the audiobook preset
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    if fmt == "m4a":
        tags = pytest.importorskip("mutagen.mp4").MP4(out).tags
        assert "stik" not in tags and tags["©nam"] == ["Hello"]


@needs_ffmpeg
@pytest.mark.parametrize(("fmt", "magic"), [("wav", b"RIFF"), ("mp3", b"ID3"), ("flac", b"fLaC"),
                                            ("opus", b"OggS")])  # fmt: skip
def test_write_clip_to_stdout(fmt: str, magic: bytes) -> None:
    sink = io.BytesIO()
    samples = tone(0.8).astype(np.float32) / 32768  # float samples work as well
    report = write_clip(samples, SR, "-", None if fmt == "wav" else fmt, sink)
    data = sink.getvalue()
    assert data.startswith(magic) and report.files == ()
    assert abs(decode(data).size / SR - 0.8) < 0.1  # a stream may not say its length: decode it
    if fmt == "wav":
        assert sf.info(io.BytesIO(data)).frames == samples.size


@needs_ffmpeg
@pytest.mark.parametrize("seconds", [0.05, 0.3, 0.39])
def test_clips_too_short_to_gate_get_a_sane_gain(tmp_path: Path, seconds: float) -> None:
    """Under 400 ms ebur128 reports its -70 LUFS gate: the gain was +104 dB through a limiter,
    a square wave at the ceiling; now the clip is aimed by its RMS (-23 dB here)."""
    out = tmp_path / "short.flac"
    report = write_clip(tone(seconds), SR, str(out), None, io.BytesIO())
    assert report.gain_db == pytest.approx(5.0, abs=0.2)
    levels = measure_file(out).book
    assert abs(levels.rms_dbfs + 18) <= 0.5 and levels.sample_peak_dbfs < -14


@needs_ffmpeg
def test_an_empty_clip_is_written_without_gain() -> None:
    sink = io.BytesIO()
    report = write_clip(np.zeros(0, dtype=np.int16), SR, "-", "wav", sink)
    assert report.gain_db == 0.0 and sf.info(io.BytesIO(sink.getvalue())).frames == 0


def test_write_clip_takes_mono_int16_or_float() -> None:
    with pytest.raises(ValueError, match="mono"):
        write_clip(np.zeros((10, 2), dtype=np.int16), SR, "-", "wav", io.BytesIO())
    with pytest.raises(ValueError, match="int16 or float"):
        write_clip(np.zeros(10, dtype=np.int32), SR, "-", "wav", io.BytesIO())
