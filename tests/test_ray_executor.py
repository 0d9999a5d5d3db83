"""``convert --executor ray`` on a real local Ray cluster (2 CPUs, so 2 actors): the same PCM
and the same job as the local executor; an actor killed mid-run is restarted by Ray and the
run completes; a killed driver is resumed by the next run; a stopped run leaves no Ray
process behind; bad input fails in one line before any work; starting the actors (in a
render's background thread) imports nothing, and a failure there is one line, exit 4.

One cluster, started in this process, serves the module; each conversion is the installed
script in a subprocess that joins it with ``--ray-address``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from kokoro_cli.jobs.job import list_jobs
from tests.conftest import SHORT_BOOK, cli_script

BOOK = SHORT_BOOK

ACTOR_TITLE = b"ray::KokoroSynthActor"
# The conversions compare Ray's PCM with a local run of this small book, which synthesizes in
# process with 2 onnxruntime threads. The int8 export gives the same samples at any thread
# count; the default backend's float decoder does only at the same count (its sums are split
# differently), so for it the pools are compared, 1 thread a process on both sides, below.
BACKEND = ("--backend", "onnx-int8")


@pytest.fixture(scope="module")
def cluster(resolver):
    """A local Ray cluster with 2 CPUs; its address for ``--ray-address``."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("book") / "book.txt"
    path.write_text(BOOK)
    return path


@pytest.fixture(scope="module")
def local_pcm(book, resolver, tmp_path_factory) -> list[np.ndarray]:
    """The chapters as the local executor makes them (the reference for every Ray run)."""
    folder = tmp_path_factory.mktemp("local")
    done = _run(book, folder / "book.m4b", folder / "work")
    assert done.returncode == 0, done.stderr
    return _chapter_pcm(folder / "work")


def _cmd(book: Path, out: Path, work: Path, *extra: str, progress: str = "json") -> list[str]:
    return cli_script() + ["convert", str(book), "-o", str(out), "--work-dir", str(work),
                        "--progress", progress, *BACKEND, *extra]


def _run(book: Path, out: Path, work: Path, *extra: str,
         progress: str = "json") -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(book, out, work, *extra, progress=progress),
                          capture_output=True, text=True, timeout=300)


def _chapter_pcm(work: Path) -> list[np.ndarray]:
    (job,) = list_jobs(work)
    return [sf.read(p, dtype="int16")[0]
            for p in sorted((job.path / "chapters").glob("[0-9]*.wav"))]


def _counts(stderr: str) -> tuple[int, int]:
    """(synthesized, reused) pieces from the run's JSON progress events."""
    pieces = [json.loads(line) for line in stderr.splitlines() if '"chunk_done"' in line]
    return sum(not e["reused"] for e in pieces), sum(e["reused"] for e in pieces)


def _actor_pids() -> set[int]:
    """Live Ray actor processes of ours on this machine (by Ray's process title)."""
    pids = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(ACTOR_TITLE):
                pids.add(int(cmdline.parent.name))
        except OSError:
            continue
    return pids


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


def _wait_gone(pids: set[int], seconds: float = 20) -> set[int]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(pids)


def _until_new_piece(proc: subprocess.Popen) -> None:
    """Read the run's JSON events until a piece was synthesized (not reused)."""
    for line in proc.stderr:
        if '"chunk_done"' in line and '"reused": false' in line:
            return
    pytest.fail(f"the run ended before making a piece (exit {proc.wait()})")


@pytest.mark.slow
def test_ray_gives_the_local_pcm_and_the_same_job(cluster, book, local_pcm, tmp_path):
    out, work = tmp_path / "book.m4b", tmp_path / "work"
    done = _run(book, out, work, "--executor", "ray", "--ray-address", cluster)
    assert done.returncode == 0, done.stderr
    assert _counts(done.stderr)[0] >= 4 and _counts(done.stderr)[1] == 0
    for ray_pcm, reference in zip(_chapter_pcm(work), local_pcm, strict=True):
        assert np.array_equal(ray_pcm, reference)
    # The executor is not part of the job: the local executor finds the Ray run's job done.
    again = _run(book, out, work, progress="plain")
    assert again.returncode == 0 and "up to date" in again.stderr, again.stderr


@pytest.mark.slow
def test_an_actor_killed_mid_run_is_restarted_and_the_run_completes(cluster, book, local_pcm,
                                                                    tmp_path):
    before = _actor_pids()
    proc = subprocess.Popen(_cmd(book, tmp_path / "book.m4b", tmp_path / "work", "--executor",
                                 "ray", "--ray-address", cluster),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _until_new_piece(proc)
    ours = _actor_pids() - before
    assert len(ours) == 2, "two actors hold the model"
    victim = min(ours)
    subprocess.run(["kill", "-KILL", str(victim)], check=True)  # mid-piece: both are busy
    restarted = set()
    while not restarted and proc.poll() is None:  # Ray starts the actor again for its piece
        restarted = _actor_pids() - before - ours
        time.sleep(0.1)
    rest = proc.stderr.read()
    assert proc.wait(timeout=300) == 0, rest
    assert restarted, "Ray did not restart the killed actor"
    assert not _wait_gone(ours | restarted), "the run's actors outlived it"
    synthesized, reused = _counts(rest)
    assert synthesized >= 4 and reused == 0
    for ray_pcm, reference in zip(_chapter_pcm(tmp_path / "work"), local_pcm, strict=True):
        assert np.array_equal(ray_pcm, reference)


@pytest.mark.slow
def test_a_killed_driver_is_resumed_by_the_next_run(cluster, book, local_pcm, tmp_path):
    out, work = tmp_path / "book.m4b", tmp_path / "work"
    before = _actor_pids()
    proc = subprocess.Popen(_cmd(book, out, work, "--executor", "ray", "--ray-address", cluster),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _until_new_piece(proc)
    ours = _actor_pids() - before
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    assert not _wait_gone(ours), "the dead driver's actors were left running"

    resumed = _run(book, out, work, "--executor", "ray", "--ray-address", cluster)
    assert resumed.returncode == 0, resumed.stderr
    assert _counts(resumed.stderr)[1] >= 1, "the pieces made before the kill were reused"
    for ray_pcm, reference in zip(_chapter_pcm(work), local_pcm, strict=True):
        assert np.array_equal(ray_pcm, reference)


def _maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""  # ended


@pytest.mark.slow
def test_verify_on_ray_hears_each_piece_in_the_actor_that_made_it(cluster, book, tmp_path):
    """--verify with Ray: Whisper loads in the actors, beside the audio, never in the driver
    (only transcripts come back), and every piece is heard and passes."""
    pytest.importorskip("faster_whisper", reason="pip install 'kokoro-audiobook[verify]'")
    out, work, qc = tmp_path / "book.m4b", tmp_path / "work", tmp_path / "qc.json"
    before = _actor_pids()
    proc = subprocess.Popen(_cmd(book, out, work, "--executor", "ray", "--ray-address", cluster,
                                 "--verify", "--qc-json", str(qc)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    hearing_actors, driver_heard = set(), False
    for line in proc.stderr:  # each event is a moment to look at who has Whisper loaded
        if '"chunk_done"' not in line:
            continue
        hearing_actors |= {pid for pid in _actor_pids() - before
                           if "ctranslate2" in _maps(pid)}
        driver_heard |= "ctranslate2" in _maps(proc.pid)
    assert proc.wait(timeout=300) == 0
    assert hearing_actors, "no Ray actor loaded Whisper"
    assert not driver_heard, "the driver loaded Whisper: the audio travelled to it"
    report = json.loads(qc.read_text("utf-8"))["verification"]
    assert report["passed"] and report["pieces_failing"] == 0
    assert sum(c["checked"] for c in report["chapters"]) >= 6  # every paragraph was heard


@pytest.mark.slow
def test_sigterm_stops_a_run_on_its_own_ray_and_leaves_no_process(book, resolver, tmp_path):
    """Without --ray-address the run starts Ray on this machine; SIGTERM stops it after the
    piece in flight (exit 130, as locally) and every Ray process it started ends with it."""
    pytest.importorskip("ray")
    out, work = tmp_path / "book.m4b", tmp_path / "work"
    proc = subprocess.Popen(_cmd(book, out, work, "--executor", "ray"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _until_new_piece(proc)
    started = _descendants(proc.pid)
    assert len(started) >= 3, "Ray's processes (GCS, raylet, actors) run under the driver"
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, rest
    assert "run the same command again to resume" in rest and "Traceback" not in rest
    assert not _wait_gone(started), "Ray processes outlived the run"


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def test_actors_give_the_local_pools_samples_with_the_default_backend(cluster, synth):
    from engine import RayPool, SynthPool

    voice = synth.voice("af_heart")
    g2p = synth.phonemizer(voice)
    jobs = [synth.prepare(g2p(text), voice, 1.0) for text in BOOK.split("\n\n")[3:6]]
    with SynthPool(synth.model_path, 2) as pool:
        local = list(pool.map_ordered(jobs, timed=True))
    with RayPool(synth.model_path, 2, resolver=synth.resolver) as pool:
        remote = list(pool.map_ordered(jobs, timed=True))
    for (samples, durations), (ray_samples, ray_durations) in zip(local, remote, strict=True):
        assert samples.size > 0 and np.array_equal(samples, ray_samples)
        assert np.array_equal(durations, ray_durations)


def test_a_node_without_the_model_gets_it_once_through_the_object_store(cluster, synth,
                                                                       tmp_path, monkeypatch):
    import tempfile

    import ray

    from engine import BackendError
    from engine.assets import sha256_file
    from engine.ray_pool import _model_on_node

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a node keeps shipped models
    model = synth.model_path
    shipped = ray.cloudpickle.dumps(ray.put(model.read_bytes()))
    elsewhere = tmp_path / "not-on-this-node.onnx"
    path, how = _model_on_node(elsewhere, sha256_file(model), None, shipped)
    assert how == "object store" and path.read_bytes() == model.read_bytes()
    # The published model comes from the node's own cache instead, without the object store.
    path, how = _model_on_node(elsewhere, sha256_file(model), "onnx", b"not a reference")
    assert how == "node's cache" and path == model
    # A driver that started Ray on its own machine ships nothing; a node without the file
    # then says so in words.
    with pytest.raises(BackendError, match="shipped no copy"):
        _model_on_node(elsewhere, "0" * 64, None, b"")


STARTS_A_POOL_IN_A_THREAD = """
import sys, threading
from pathlib import Path
from engine.ray_pool import RayExecutor

with RayExecutor(sys.argv[1]) as executor:
    before = set(sys.modules)
    starter = threading.Thread(target=executor.pool, args=(Path(sys.argv[2]), 1))
    starter.start()
    starter.join()
    assert executor._pool is not None, "the pool did not start"
    print(*sorted(set(sys.modules) - before))
"""


def test_starting_the_actors_imports_nothing(cluster, resolver):
    """Joining the cluster imports what Ray loads on first use (pydantic, for its
    serializers) in the joining thread, so the pool that a render starts in a background
    thread imports nothing while the main thread goes on importing (#26: imports racing
    across threads failed once with ``KeyError: 'pydantic.v1'``). Deterministic where the
    race was not: any import left for the pool's thread is listed."""
    from engine import runtime_model

    model = runtime_model(resolver, "onnx-int8")
    done = subprocess.run([sys.executable, "-c", STARTS_A_POOL_IN_A_THREAD, cluster,
                           str(model)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []


def test_a_pool_that_fails_to_start_in_its_thread_is_one_line(cluster, book, tmp_path,
                                                               monkeypatch):
    """Whatever breaks while the actors start (in the render's background thread) is
    BackendError: one line and exit 4, never a traceback."""
    import engine.ray_pool
    from kokoro_cli.app import app

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("pydantic.v1")

    monkeypatch.setattr(engine.ray_pool, "RayPool", broken)
    result = CliRunner().invoke(app, ["convert", str(book), "-o", str(tmp_path / "b.m4b"),
                                      "--work-dir", str(tmp_path / "work"), *BACKEND,
                                      "--progress", "plain", "--executor", "ray",
                                      "--ray-address", cluster])
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1] == \
        "error: the Ray actors failed to start: KeyError: 'pydantic.v1'"


def test_an_unreachable_address_fails_in_one_line_before_any_work(book, tmp_path):
    pytest.importorskip("ray")
    work = tmp_path / "work"
    done = _run(book, tmp_path / "book.m4b", work, "--executor", "ray", "--ray-address",
                "127.0.0.1:1")
    assert done.returncode == 4
    assert done.stderr.strip().splitlines() == [
        "error: cannot reach the Ray cluster at 127.0.0.1:1: Connection refused"]
    assert not work.exists(), "job state was written"


def test_a_gcs_port_given_as_ray_client_fails_in_one_line(cluster, book, tmp_path):
    """A real GCS asked as a Ray Client server (``ray://``) answers "no such method": said
    at once, where Ray Client would wait for 30 s."""
    started = time.monotonic()
    done = _run(book, tmp_path / "book.m4b", tmp_path / "work", "--executor", "ray",
                "--ray-address", f"ray://{cluster}")
    assert done.returncode == 4
    assert done.stderr.strip().splitlines() == [
        f"error: ray://{cluster} answers but is not a Ray Client server: give the head's GCS "
        "port (6379 by default) or ray://HOST:PORT for Ray Client (10001)"]
    assert time.monotonic() - started < 30
    assert not (tmp_path / "work").exists(), "job state was written"


def test_a_token_the_cluster_refuses_fails_in_one_line(cluster, book, tmp_path):
    """Ray turns token authentication on for a cluster it starts; a wrong token is refused
    at once, where Ray would retry for 20 s, printing a warning a second."""
    from ray._private.authentication.authentication_utils import is_token_auth_enabled

    if not is_token_auth_enabled():
        pytest.skip("this Ray started its cluster without token authentication")
    env = {**os.environ, "RAY_AUTH_TOKEN": "0123456789abcdef" * 2}
    env.pop("RAY_AUTH_MODE", None)
    started = time.monotonic()
    done = subprocess.run(_cmd(book, tmp_path / "book.m4b", tmp_path / "work", "--executor",
                               "ray", "--ray-address", cluster),
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 4
    assert done.stderr.strip().splitlines() == [
        f"error: the Ray cluster at {cluster} refused this machine's token (or it has none): "
        "copy the head's ~/.ray/auth_token here, or set RAY_AUTH_TOKEN"]
    assert time.monotonic() - started < 30


def test_without_ray_installed_the_error_names_the_extra(book, tmp_path, monkeypatch):
    from kokoro_cli.app import app

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    result = CliRunner().invoke(app, ["convert", str(book), "-o", str(tmp_path / "b.m4b"),
                                      "--work-dir", str(tmp_path / "work"), "--executor", "ray"])
    assert result.exit_code == 4
    assert "pip install 'kokoro-audiobook[ray]'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "work").exists()


def test_ray_address_without_the_ray_executor_is_a_usage_error(book, tmp_path):
    from kokoro_cli.app import app

    result = CliRunner().invoke(app, ["convert", str(book), "--ray-address", "auto",
                                      "--work-dir", str(tmp_path / "work")])
    assert result.exit_code == 2 and "--executor ray" in result.output
