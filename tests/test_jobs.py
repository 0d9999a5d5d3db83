"""Resumable jobs: kill anywhere and resume to identical audio; edit one paragraph and only its
pieces are synthesized again; locks; the piece cache never trusts a damaged entry."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kokoro_cli.jobs.cache import ChunkCache
from kokoro_cli.jobs.job import Job, JobError, list_jobs
from kokoro_cli.jobs.manifest import ChapterRecord, JobIdentity, Manifest
from kokoro_cli.output.ffmpeg import find_ffmpeg
from tests.conftest import child_pids, cli_script

BOOK = """THE SHORT BOOK

by Test Author


CHAPTER I.
THE HARBOUR

The boats came in before noon, heavy with fish and salt. Gulls followed them
all the way from the point.

Mara counted the crates twice, because her father always lost one.

The harbour master wrote the numbers in a book with a green cover.


CHAPTER II.
THE MARKET

By evening the square was loud with traders. A man sold blue glass from a
cart with one wheel shorter than the others.

Nobody bought anything until the lamps were lit.

Then everyone bought at once, and the man with the cart sold out.


CHAPTER III.
THE ROAD HOME

They walked back along the cliff in the dark. The sea kept talking below them.
"""


def _convert_cmd(book: Path, out: Path, work: Path, *extra: str) -> list[str]:
    return cli_script() + ["convert", str(book), "-o", str(out), "--work-dir", str(work), *extra]


def _decoded(m4b: Path) -> np.ndarray:
    pcm = subprocess.run([find_ffmpeg(), "-v", "error", "-i", str(m4b), "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(pcm, dtype="<i2")


def _chapter_pcm(work: Path) -> list[np.ndarray]:
    (job,) = list_jobs(work)
    wavs = sorted((job.path / "chapters").glob("[0-9]*.wav"))
    assert not list((job.path / "chapters").glob(".*")), "half-written files were left behind"
    return [sf.read(p, dtype="int16")[0] for p in wavs]


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_gives_identical_audio(resolver, tmp_path):
    book = tmp_path / "book.txt"
    book.write_text(BOOK)
    clean = subprocess.run(_convert_cmd(book, tmp_path / "clean.m4b", tmp_path / "w1"),
                           capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr

    rng = np.random.default_rng(7)
    out, work = tmp_path / "resumed.m4b", tmp_path / "w2"
    for _ in range(3):
        # Kill mid-piece: after a new piece, a random fraction of the next one later.
        _kill_after_new_pieces(_convert_cmd(book, out, work, "--progress", "json"),
                               1, float(rng.uniform(0.0, 0.8)))
        assert not out.exists()
    final = subprocess.run(_convert_cmd(book, out, work), capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    assert " 0 reused" not in final.stderr

    for a, b in zip(_chapter_pcm(tmp_path / "w1"), _chapter_pcm(work), strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(_decoded(tmp_path / "clean.m4b"), _decoded(out))


def _kill_after_new_pieces(cmd: list[str], pieces: int, delay: float) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    made = 0
    for line in proc.stderr:
        if '"chunk_done"' in line and '"reused": false' in line:
            made += 1
            if made == pieces:
                break
    time.sleep(delay)
    workers = child_pids(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "orphaned synthesis workers"


def _run(book: Path, out: Path, work: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(_convert_cmd(book, out, work, "--progress", "json", *extra),
                          capture_output=True, text=True, timeout=600)


def _events(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_edit_one_paragraph_resynthesizes_only_it(resolver, tmp_path):
    book, out, work = tmp_path / "book.txt", tmp_path / "book.m4b", tmp_path / "work"
    book.write_text(BOOK)
    first = _events(_run(book, out, work).stderr)
    made = [e for e in first if e["event"] == "chunk_done"]
    assert made and not any(e["reused"] for e in made)

    book.write_text(BOOK.replace("Nobody bought anything", "Nobody sold anything"))
    second = _events(_run(book, out, work).stderr)
    pieces = [e for e in second if e["event"] == "chunk_done"]
    assert sum(not e["reused"] for e in pieces) == 1  # just the edited paragraph
    assert sum(e["reused"] for e in pieces) >= 1

    unchanged = subprocess.run(_convert_cmd(book, out, work), capture_output=True, text=True)
    assert unchanged.returncode == 0 and "up to date" in unchanged.stderr


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_says_how_to_resume(resolver, tmp_path):
    book, out, work = tmp_path / "book.txt", tmp_path / "book.m4b", tmp_path / "work"
    book.write_text(BOOK)
    proc = subprocess.Popen(_convert_cmd(book, out, work, "--progress", "json"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # wait for the first finished piece, then ask it to stop
        if '"chunk_done"' in line:
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 130
    assert "run the same command again to resume" in rest
    assert "Traceback" not in rest and not out.exists()


IDENTITY = JobIdentity("in", "model", "onnx", "af_heart", 1.0, "a", "1", "", "chunks")

HOLD_LOCK = """
import sys, time
from pathlib import Path
from kokoro_cli.jobs.job import Job
from kokoro_cli.jobs.manifest import JobIdentity
job = Job(Path(sys.argv[1]), JobIdentity("in", "model", "onnx", "af_heart", 1.0, "a", "1", "", "chunks"), "t")
with job.locked():
    print("locked", flush=True)
    time.sleep(60)
"""


def test_second_run_is_refused_while_the_first_lives_and_a_dead_lock_is_taken_over(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    job = Job(tmp_path, IDENTITY, "t")
    with pytest.raises(JobError, match=f"pid {holder.pid}"):
        with job.locked():
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with job.locked():  # the stale lock of a killed process does not block
        assert job.manifest.chapters == {}


def test_damaged_manifest_is_rebuilt_not_trusted(tmp_path):
    job = Job(tmp_path, IDENTITY, "t")
    with job.locked():
        job.record_chapter(1, "One", "fp", 10)
    job.manifest_path.write_text('{"format": 1, "identity": ')  # torn write from elsewhere
    with job.locked():
        assert job.manifest.chapters == {}


def test_chapter_wav_must_be_complete_to_be_reused(tmp_path):
    job = Job(tmp_path, IDENTITY, "t")
    with job.locked():
        sf.write(job.chapter_wav(1), np.zeros(100, dtype=np.int16), 24000, subtype="PCM_16")
        job.record_chapter(1, "One", "fp", 100)
        assert job.finished_chapter(1, "fp") == 100
        assert job.finished_chapter(1, "other") is None
        with open(job.chapter_wav(1), "r+b") as f:
            f.truncate(100)
        assert job.finished_chapter(1, "fp") is None


def test_chunk_cache_round_trip_and_damage_detection(tmp_path):
    cache = ChunkCache(tmp_path)
    key = ChunkCache.key("model", "af_heart", 1.0, "hˈɛlO")
    samples = (np.arange(1000) - 500).astype(np.int16)
    assert cache.get(key) is None
    cache.put(key, samples)
    assert np.array_equal(cache.get(key), samples)
    path = next(tmp_path.rglob("*.s16"))
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    assert cache.get(key) is None and not path.exists()
    assert ChunkCache.key("model", "af_heart", 1.1, "hˈɛlO") != key


def test_jobs_command_lists_and_removes(tmp_path):
    from typer.testing import CliRunner

    from kokoro_cli.app import app

    runner = CliRunner()
    job = Job(tmp_path, IDENTITY, "book.txt")
    with job.locked():
        job.record_chapter(1, "One", "fp", 0)
    listed = json.loads(runner.invoke(app, ["jobs", "list", "--json", "--work-dir", str(tmp_path)]).stdout)
    assert [(j["key"], j["state"], j["chapters_done"]) for j in listed] == [(IDENTITY.key, "partial", 1)]
    assert runner.invoke(app, ["jobs", "remove", "nope", "--work-dir", str(tmp_path)]).exit_code == 2
    result = runner.invoke(app, ["jobs", "remove", IDENTITY.key, "--work-dir", str(tmp_path)])
    assert result.exit_code == 0 and not job.dir.exists()


# A manifest exactly as format 1 wrote it before the typed records existed: jobs started then
# must resume.
OLD_MANIFEST = {
    "format": 1, "identity": IDENTITY.to_dict(), "label": "book.md",
    "created": 1700000000.5, "updated": 1700000100.25,
    "chapters": {"1": {"title": "One", "fingerprint": "fp1", "samples": 240, "digest": "ab12"},
                 "12": {"title": "Twelve", "fingerprint": "fp12", "samples": 0, "digest": None}},
    "outputs": {"/books/book.m4b": {"fingerprint": "out", "files": [
        {"path": "/books/book.m4b", "size": 1234, "mtime_ns": 1700000100000000000}]}},
}


def test_manifest_reads_the_format_1_files_and_writes_them_back_unchanged():
    manifest = Manifest.from_json(json.dumps(OLD_MANIFEST))
    assert manifest is not None
    assert manifest.identity == IDENTITY and manifest.label == "book.md"
    assert manifest.chapters[12] == ChapterRecord("Twelve", "fp12", 0, None)
    assert manifest.outputs["/books/book.m4b"].files[0].size == 1234
    assert json.loads(manifest.to_json()) == OLD_MANIFEST


@pytest.mark.parametrize("damage", [
    lambda m: m.update(format=2),
    lambda m: m.update(identity={**m["identity"], "speed": "fast"}),
    lambda m: m["identity"].pop("voice"),
    lambda m: m["chapters"].update({"2": "not a record"}),
    lambda m: m["chapters"].update({"x": m["chapters"]["1"]}),
    lambda m: m["chapters"]["1"].update(samples=-1),
    lambda m: m["chapters"]["1"].update(samples=2.5),
    lambda m: m["outputs"].update({"/b.mp3": 7}),
    lambda m: m["outputs"]["/books/book.m4b"].update(files=[]),
    lambda m: m.update(label=["a"]),
    lambda m: m.update(created="yesterday"),
])
def test_manifest_of_the_wrong_shape_is_not_trusted(damage):
    data = json.loads(json.dumps(OLD_MANIFEST))
    damage(data)
    assert Manifest.from_json(json.dumps(data)) is None
    assert Manifest.from_json(b"\xff\xfe not json") is None
    assert Manifest.from_json("[1, 2]") is None


def test_identity_key_is_stable_json_of_the_fields():
    """The key is a digest of the fields as sorted JSON: the same in every run and version of
    Python, and different when any field changes."""
    expected = hashlib.sha256(json.dumps(IDENTITY.to_dict(), sort_keys=True)
                              .encode()).hexdigest()[:24]
    assert IDENTITY.key == expected
    assert dataclasses.replace(IDENTITY, voices='{"fr": "ff_siwis"}').key != IDENTITY.key
    assert dataclasses.replace(IDENTITY, speed=1.1).key != IDENTITY.key
