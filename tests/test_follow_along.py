"""Subtitles from a real conversion: the model's durations, the job's timing sidecars, the
output's room tone, and a re-mux that writes them again without synthesizing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_cli.output.ffmpeg import find_ffmpeg as ffmpeg_path

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


def test_the_timed_model_gives_durations_without_changing_the_audio(synth, resolver):
    from engine.backends import OnnxBackend
    from engine.timed_model import SAMPLES_PER_FRAME

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
