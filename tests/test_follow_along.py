"""Subtitles from a real conversion: the model's durations, the job's timing sidecars, the
output's room tone, a re-mux that writes them again without synthesizing, and a long book whose
last cue is where its audio is in the loudness-normalized M4B."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_cli.output.ffmpeg import find_ffmpeg as ffmpeg_path
from kokoro_cli.output.timing import ChapterTiming

BOOK = """# One

The lighthouse stood on the rock. Dr. Smith climbed v2.4.1 of its stairs, slowly.

# Two

Morning came at last, and the sea was calm again.
"""
CUE = r"(\d\d:\d\d:\d\d[.,]\d\d\d) --> (\d\d:\d\d:\d\d[.,]\d\d\d)"


def _seconds(stamp: str) -> float:
    h, m, s = stamp.replace(",", ".").split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def _cues(path: Path) -> list[tuple[float, float, str]]:
    blocks = path.read_text().strip().split("\n\n")
    cues = []
    for block in blocks:
        lines = block.splitlines()
        at = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if at is not None:
            start, end = lines[at].split(" --> ")
            cues.append((_seconds(start), _seconds(end), " ".join(lines[at + 1:])))
    return cues


def _decode(path: Path) -> np.ndarray:
    raw = subprocess.run([ffmpeg_path(), "-v", "error", "-i", str(path), "-f", "s16le", "-ac",
                          "1", "-ar", "24000", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768


@pytest.fixture(scope="module")
def converted(tmp_path_factory, resolver):
    root = tmp_path_factory.mktemp("follow")
    (root / "book.md").write_text(BOOK)
    args = ["convert", str(root / "book.md"), "-o", str(root / "book.m4b"), "--work-dir",
            str(root / "work"), "--room-tone-ms", "700", "--subtitles", "vtt"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return root, args


def test_vtt_cues_are_sentences_as_written_in_order_inside_the_audio(converted):
    root, _ = converted
    cues = _cues(root / "book.vtt")
    assert [c[2] for c in cues] == ["One", "The lighthouse stood on the rock.",
                                    "Dr. Smith climbed v2.4.1 of its stairs, slowly.", "Two",
                                    "Morning came at last, and the sea was calm again."]
    audio = _decode(root / "book.m4b")
    assert cues[0][0] >= 0.69  # after the room tone
    assert all(a[1] <= b[0] and a[0] < a[1] for a, b in zip(cues, cues[1:]))
    assert cues[-1][1] <= audio.size / 24000
    # The speech is inside the cues: nearly every loud 20 ms frame falls in one (within 30 ms).
    frames = audio[:audio.size // 480 * 480].reshape(-1, 480)
    loud = np.flatnonzero(np.sqrt(np.mean(frames ** 2, axis=1)) > 0.03) * 0.02 + 0.01
    covered = [any(s - 0.03 <= t <= e + 0.03 for s, e, _ in cues) for t in loud]
    assert loud.size > 100 and np.mean(covered) > 0.97
    for start, end, _ in cues:
        inside = audio[int(start * 24000):int(end * 24000)]
        assert np.sqrt(np.mean(inside ** 2)) > 0.03


def test_ffmpeg_reads_the_vtt(converted):
    root, _ = converted
    out = subprocess.run([ffmpeg_path(), "-v", "error", "-i", str(root / "book.vtt"), "-f", "srt",
                          "-"], capture_output=True, text=True, check=True).stdout
    assert "Morning came at last" in out


def test_a_remux_writes_the_same_times_as_srt_without_synthesizing(converted):
    root, args = converted
    result = CliRunner().invoke(app, [*args[:-1], "srt"])
    assert result.exit_code == 0, result.output
    assert "0 synthesized" in result.output
    vtt, srt = _cues(root / "book.vtt"), _cues(root / "book.srt")
    assert [(round(a, 3), round(b, 3)) for a, b, _ in vtt] == \
        [(round(a, 3), round(b, 3)) for a, b, _ in srt]
    timing = sorted((root / "work").rglob("*.timing.json"))
    assert len(timing) == 2


def test_say_writes_word_subtitles_beside_the_clip(tmp_path, resolver):
    out = tmp_path / "hi.wav"
    result = CliRunner().invoke(app, ["say", "Hello there, friend.", "-o", str(out),
                                      "--subtitles", "vtt", "--subtitles-words"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "hi.vtt").read_text()
    assert text.startswith("WEBVTT\n\n00:00:00.000 --> ")
    assert "Hello <00:00:00." in text and ">friend." in text


def test_the_timed_model_gives_durations_without_changing_the_audio(resolver):
    from engine import Synthesizer
    from engine.backends import OnnxBackend
    from engine.timed_model import SAMPLES_PER_FRAME

    synth = Synthesizer.load(resolver, backend="onnx-int8")  # the export as it is, plus timing
    voice = synth.voice("af_heart")
    padded, style, speed = synth.prepare("ðə lˈIthˌWs stˈʊd.", voice, 1.1)
    audio, durations = synth.backend.infer_timed(padded, style, speed)
    plain = OnnxBackend(resolver.model(), threads=1).infer(padded, style, speed)
    assert np.array_equal(audio, plain)
    assert durations.size == padded.size and durations.sum() * SAMPLES_PER_FRAME == audio.size


def test_bad_follow_options_are_usage_errors(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nText.\n")
    for extra in (["--subtitles", "ass"], ["--subtitles-words"], ["--subtitles", "srt", "-o", "-"],
                  ["--read-along", str(tmp_path / "a.zip")]):
        result = CliRunner().invoke(app, ["convert", str(tmp_path / "a.md"), *extra])
        assert result.exit_code == 2, (extra, result.output)
    result = CliRunner().invoke(app, ["convert", str(tmp_path / "a.md"), str(tmp_path / "a.md"),
                                      "--read-along", str(tmp_path / "a.epub")])
    assert result.exit_code == 2 and "one input" in result.output


PARAGRAPH = ("The keeper climbed the stairs and lit the lamp. Far out, a ship turned toward the "
             "light. Nobody slept that night on the rock.")
LAST = "The end came at last, quietly."


def _best_lag(window: np.ndarray, reference: np.ndarray) -> int:
    """The shift of ``reference`` inside ``window`` with the highest correlation (by FFT)."""
    n = 1 << int(np.ceil(np.log2(window.size + reference.size)))
    spectrum = np.fft.rfft(window, n) * np.conj(np.fft.rfft(reference, n))
    return int(np.argmax(np.fft.irfft(spectrum, n)[:window.size - reference.size + 1]))


def _long_book(folder: Path) -> tuple[Path, str]:
    """A quarter of an hour through the real path at the cost of a few pieces: a short book
    fills the piece cache, then a long one made of the same paragraph takes every piece from
    it (same phonemes, same key), and is planned, rendered, measured, normalized (one gain, the
    limiter where needed), encoded to M4B with 500 ms of room tone, and timed. Its last
    sentence is said nowhere else. Returns the work folder and the long run's output."""
    (folder / "warm.md").write_text(f"# One\n\n{PARAGRAPH}\n\n{LAST}\n")
    (folder / "long.md").write_text("".join(
        f"# Part {c}\n\n" + f"{PARAGRAPH}\n\n" * 50 for c in (1, 2)) + f"{LAST}\n")
    for name in ("warm", "long"):
        result = CliRunner().invoke(app, [
            "convert", str(folder / f"{name}.md"), "-o", str(folder / f"{name}.m4b"),
            "--work-dir", str(folder / "work"), "--loudness", "audiobook", "--room-tone-ms",
            "500", "--subtitles", "vtt"])
        assert result.exit_code == 0, result.output
    return folder / "work", result.output


def test_the_last_cue_of_a_long_book_is_where_its_audio_is(tmp_path, resolver):
    # bench/drift.py does the same for 20 hours.
    work, output = _long_book(tmp_path)
    pieces, synthesized = map(int, re.search(r"(\d+) pieces: (\d+) synthesized", output).groups())
    assert pieces > 100 and synthesized <= 2, output
    job = max({p.parent for p in work.rglob("chapters/*.wav")},
              key=lambda folder: sum(w.stat().st_size for w in folder.glob("*.wav")))
    timings = [ChapterTiming.from_json(p.read_bytes()) for p in sorted(job.glob("*.timing.json"))]
    last = timings[-1].sentences[-1]
    head, before = 12000, sum(t.samples for t in timings[:-1])  # 500 ms of room tone
    start, end, text = _cues(tmp_path / "long.vtt")[-1]
    assert text == last.text == LAST
    assert abs(start - (head + before + last.start) / 24000) <= 0.0005
    assert abs(end - (head + before + last.end) / 24000) <= 0.0005
    assert start > 720  # twelve minutes in
    # Its samples in the chapter WAV are heard in the M4B exactly where the cue starts (the
    # search window reaches a second either side).
    reference, _ = sf.read(sorted(job.glob("*.wav"))[-1], start=last.start, stop=last.end,
                           dtype="float32")
    raw = subprocess.run([ffmpeg_path(), "-v", "error", "-ss", f"{start - 1:.3f}", "-i",
                          str(tmp_path / "long.m4b"), "-t", f"{end - start + 2:.3f}", "-f",
                          "s16le", "-ac", "1", "-ar", "24000", "-"],
                         capture_output=True, check=True).stdout
    window = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768
    lag = _best_lag(window, reference)
    assert abs(lag - 24000) <= 24, lag  # within a millisecond of the cue's (rounded) start
    heard = window[lag:lag + reference.size]
    assert np.corrcoef(heard, reference)[0, 1] > 0.99  # the same speech, only louder
    # And the file is as long as the chapters and room tone: nothing stretched or dropped.
    total = sum(t.samples for t in timings) + 2 * head
    assert abs(_decode(tmp_path / "long.m4b").size - total) < 2048
