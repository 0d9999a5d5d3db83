"""Hostile and broken input: every case ends in one error line and its documented exit code,
with no traceback, no output written, earlier outputs and job state untouched, and nothing read
or fetched from outside what the user named.

Documents come from the crafted corpus in ``tests/hostile/make_corpus.py`` (built here, in a
temporary folder). Options, the environment (missing model, damaged voices, missing ffmpeg, a
full disk) and damaged job state are tables below; the cases that need the model run the
installed console script on a one-sentence document.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_common import KokoroError
from preprocess import parse_file
from tests.hostile.make_corpus import SECRET, Case, build, cases
from tests.conftest import cli_script

runner = CliRunner()
TINY = "# The Harbour\n\nThe boats came in before noon.\n"
CACHE = Path(os.environ.get("KOKORO_CLI_CACHE") or Path.home() / ".cache/kokoro-audiobook/models")


# --- fixtures ------------------------------------------------------------------------------------


class Canary:
    """A local port that entity and DTD tricks point at: any connection is a failure."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture(scope="module")
def canary():
    watch = Canary()
    yield watch
    watch.server.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, canary) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    build(folder, port=canary.port)
    return folder


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and mtime (links not followed)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        out[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return out


def _check_one_line(result, code: int, message: str) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    if code:
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ")
        assert lines[0].isprintable()
        assert message.lower() in lines[0].lower(), lines[0]
    else:
        assert not lines, result.stderr


# --- documents -----------------------------------------------------------------------------------

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_document(case: Case, corpus: Path, canary: Canary, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = _tree(corpus)
    result = runner.invoke(app, [case.command, str(corpus / case.name), *case.args])
    _check_one_line(result, case.code, case.message)
    for text in (*case.absent, SECRET):
        assert text not in result.stdout + result.stderr
    assert all(line.isprintable() for line in result.stdout.splitlines())  # no escapes
    assert _tree(corpus) == before, "the corpus changed"
    assert not list(tmp_path.iterdir()), "a file was written"
    assert canary.connections == 0, "XML parsing reached the network"


@pytest.mark.parametrize("case", [c for c in CASES if c.code], ids=lambda c: c.name)
def test_document_error_class(case: Case, corpus: Path) -> None:
    """The parser raises the project's own error class for the case (nothing else escapes)."""
    with pytest.raises(KokoroError) as raised:
        parse_file(corpus / case.name)
    assert type(raised.value).__name__ == case.error


def test_readable_oddities_keep_their_text(corpus: Path) -> None:
    """What is odd but readable is read whole: nothing silently dropped."""
    words = parse_file(corpus / "huge-text-node.epub").words
    assert words >= 1_800_000
    nested = parse_file(corpus / "nested-30.md")
    assert "item 29." in [b.text for c in nested.chapters for b in c.blocks]
    assert "quoted" in [b.text for c in nested.chapters for b in c.blocks]
    odd = parse_file(corpus / "bidi-and-zero-width.txt")
    assert "The boats came in before noon." in [b.text for c in odd.chapters for b in c.blocks]
    assert parse_file(corpus / "spine-repeats.epub").words < 20  # read once, not 5,000 times


def test_failed_convert_leaves_the_earlier_output(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "book.m4b"
    out.write_bytes(b"an earlier audiobook")
    for name in ("xxe-chapter.epub", "bomb-ratio.epub", "yaml-aliases.md", "fifo.txt"):
        result = runner.invoke(app, ["convert", str(corpus / name), "-o", str(out),
                                     "--work-dir", str(tmp_path / "work")])
        _check_one_line(result, 3, "")
    assert out.read_bytes() == b"an earlier audiobook"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.m4b"]  # no job folder either


def test_console_script_prints_no_traceback(corpus: Path, tmp_path: Path) -> None:
    """The installed command, in a real process, on a few cases of each family."""
    exe = Path(sys.executable).with_name("kokoro-cli")
    script = [str(exe)] if exe.exists() else [sys.executable, "-m", "kokoro_cli"]
    for name, code in (("billion-laughs.epub", 3), ("fifo.txt", 3), ("yaml-deep.md", 3),
                       ("terminal-escapes.txt", 0)):
        done = subprocess.run([*script, "inspect", str(corpus / name)], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == code, done.stderr
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == (1 if code else 0)
        assert "\x1b" not in done.stdout


# --- stdin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("data, code, message", [
    (b"Caf\xe9 \xff\xfe na\xefve.\n", 0, ""),                   # not UTF-8: decoded, not a crash
    (b"\x00\x01binary" * 100, 3, "binary"),
    (b"\xe2\x80\x8b" * 50, 3, "no text to read"),              # zero-width spaces only
    (b"word " * (17 << 18), 3, "too large"),                   # over 16 MB
])
def test_stdin(data: bytes, code: int, message: str) -> None:
    result = runner.invoke(app, ["inspect", "-"], input=data)
    _check_one_line(result, code, message)


def test_output_equal_to_input_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    book = tmp_path / "book.m4b"
    book.write_text(TINY)  # a text file with an audio name, read as text
    result = runner.invoke(app, ["convert", str(book), "--input-format", "text", "-o", "book.m4b",
                                 "--work-dir", str(tmp_path / "work")])
    _check_one_line(result, 2, "the output path is the input file")
    assert book.read_text() == TINY


def test_voice_of_a_language_without_its_g2p() -> None:
    result = runner.invoke(app, ["preview", "-", "--voice", "jf_alpha"], input=TINY)
    assert result.exit_code in (0, 2), result.stderr  # 0 where the ja extra is installed
    if result.exit_code:
        _check_one_line(result, 2, "kokoro-audiobook[ja]")


def test_markdown_work_is_bounded(monkeypatch) -> None:
    """Input made of nothing but tiny blocks or markup stops at the token limits (lowered here
    to keep the test fast) with a clear error, not gigabytes of parser tokens."""
    import preprocess.markdown as markdown

    monkeypatch.setattr(markdown, "MAX_BLOCK_TOKENS", 3_000)
    monkeypatch.setattr(markdown, "MAX_INLINE_STEPS", 3_000)
    for text in ("a\n\n" * 2_000, "*a* " * 2_000):
        result = runner.invoke(app, ["inspect", "-", "--input-format", "markdown"], input=text)
        _check_one_line(result, 3, "too complex")


def test_jobs_list_survives_any_manifest(tmp_path: Path) -> None:
    for name, content in (("a", "[1, 2]"), ("b", '{"chapters": 5, "updated": []}'),
                          ("c", "\x00\xff not json"), ("d", '{"label": {"x": 1}}')):
        (tmp_path / "jobs" / name).mkdir(parents=True)
        (tmp_path / "jobs" / name / "manifest.json").write_text(content)
    result = runner.invoke(app, ["jobs", "list", "--work-dir", str(tmp_path)])
    _check_one_line(result, 0, "")
    assert result.stdout.count("unreadable") >= 3


def test_models_status_on_a_damaged_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KOKORO_CLI_CACHE", str(tmp_path))
    monkeypatch.delenv("KOKORO_CLI_MODEL", raising=False)
    monkeypatch.delenv("KOKORO_CLI_VOICES", raising=False)
    (tmp_path / "voices").mkdir()
    (tmp_path / "voices" / "af_heart.bin").write_bytes(b"\x00" * 100)
    result = runner.invoke(app, ["models", "status"])
    assert result.exit_code == 4 and "Traceback" not in result.stderr
    assert "corrupt" in result.stdout and "missing" in result.stdout


# --- options -------------------------------------------------------------------------------------

OPTIONS = [
    (["--voice", ""], 2, "malformed voice spec"),
    (["--voice", "af_heart:"], 2, "malformed voice spec"),
    (["--voice", "af_heart:0"], 2, "positive"),
    (["--voice", "af_heart:-1"], 2, "malformed voice spec"),
    (["--voice", "af_heart:nan"], 2, "malformed voice spec"),
    (["--voice", "af_heart:1e999"], 2, "malformed voice spec"),
    (["--voice", "af_heart,,af_bella"], 2, "malformed voice spec"),
    (["--voice", "af_heart;rm -rf /"], 2, "malformed voice spec"),
    (["--voice", "xx_nobody"], 2, "unknown voice"),
    (["--voice", "af_heart:" + "9" * 400], 2, "positive"),
    (["--speed", "0"], 2, "speed"),
    (["--speed", "-1"], 2, "speed"),
    (["--speed", "nan"], 2, "speed"),
    (["--speed", "inf"], 2, "speed"),
    (["--speed", "1e308"], 2, "speed"),
    (["--speed", "2.01"], 2, "speed"),
    (["--speed", "fast"], 2, "invalid value for '--speed'"),
    (["--chapters", "0"], 2, "outside"),
    (["--chapters", "99"], 2, "outside"),
    (["--chapters", "x-2"], 2, "chapter selection"),
    (["--input-format", "klingon"], 2, "--input-format"),
    (["--code", "evil"], 2, "--code"),
    (["--split-level", "0"], 2, "--split-level"),
    (["--format", "exe"], 2, "format"),
    (["--loudness", "loud"], 2, "loudness"),
    (["--qc", "maybe"], 2, "--qc"),
    (["--bitrate", "fast"], 2, "bit rate"),
    (["--max-part-hours", "nan"], 2, "max part hours"),
    (["--max-part-hours", "-1"], 2, "max part hours"),
    (["--room-tone-ms", "-5"], 2, "room tone"),
    (["--workers", "0"], 2, "--workers"),
    (["--progress", "loud"], 2, "--progress"),
    (["--no-such-option"], 2, "no such option"),
    (["--dict", "/dev/zero"], 3, "not a regular file"),
    (["--dict", "{tmp}/missing.toml"], 3, "no such file"),
    (["--dict", "{tmp}/binary.toml"], 3, "dictionary"),
    (["--cover", "/dev/zero"], 3, "not a regular file"),
    (["--cover", "{tmp}/in.md"], 3, "not a jpeg or png"),
    (["-o", "{tmp}/in.md", "--input-format", "markdown", "--format", "m4b"], 2, "does not end in"),
    (["-o", "{tmp}/nowhere/out.m4b"], 5, "does not exist"),
    (["-o", "/proc/out.m4b"], 5, "cannot write"),
    (["-o", "{tmp}/folder.m4b"], 5, "not a regular file"),
    (["-o", "{tmp}/binary.toml", "--split-chapters"], 5, "not a folder"),
    (["-o", "-", "--format", "m4b"], 2, "cannot be streamed"),
    (["--work-dir", "{tmp}/in.md"], 2, "is a file"),
    (["--work-dir", "{tmp}/in.md/work"], 5, "cannot write in the work area"),
    (["--work-dir", "/proc/kokoro-work"], 5, "cannot write in the work area"),
]


@pytest.mark.parametrize("args, code, message", OPTIONS, ids=[" ".join(a)[:40] for a, _, _ in OPTIONS])
def test_option(args, code, message, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KOKORO_CLI_SOURCES", "none")  # nothing is ever fetched here
    (tmp_path / "in.md").write_text(TINY)
    (tmp_path / "binary.toml").write_bytes(b"\x00\xff\xfe" * 10)
    (tmp_path / "folder.m4b").mkdir()
    before = _tree(tmp_path)
    command = ["convert", str(tmp_path / "in.md"), "-o", str(tmp_path / "out.m4b"),
               "--work-dir", str(tmp_path / "work")]
    result = runner.invoke(app, command + [a.replace("{tmp}", str(tmp_path)) for a in args])
    _check_one_line(result, code, message)
    after = {k: v for k, v in _tree(tmp_path).items() if not k.startswith("work")}
    assert after == before, "a file was written or changed"


# --- the environment: model, voices, ffmpeg, disk --------------------------------------------------


def _run(args: list[str], env: dict[str, str], cwd: Path, file_limit: int | None = None):
    def limit() -> None:  # a full disk, for this process and its children (ffmpeg)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run([*cli_script(), *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**os.environ, **env},
                          preexec_fn=limit if file_limit else None)


def _assert_error(done, code: int, message: str) -> None:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert message.lower() in lines[0].lower(), lines[0]


def _cache_files() -> dict[str, tuple[int, int]]:
    files = [CACHE / "kokoro-v1.0.int8.onnx", *sorted((CACHE / "voices").glob("*.bin"))]
    return {str(f): (f.stat().st_size, f.stat().st_mtime_ns) for f in files}


@pytest.fixture(scope="module")
def model_cache(resolver) -> dict[str, tuple[int, int]]:
    """The real model and voices, which these tests must leave exactly as they were."""
    before = _cache_files()
    yield before
    assert _cache_files() == before, "the model cache was changed"


def _assets(tmp: Path) -> dict[str, Path]:
    """Damaged copies of the model and a voice, and caches holding them."""
    model = CACHE / "kokoro-v1.0.int8.onnx"
    voice = CACHE / "voices" / "af_heart.bin"
    (tmp / "short-voices").mkdir()
    (tmp / "short-voices" / "af_heart.bin").write_bytes(voice.read_bytes()[:100_000])
    (tmp / "nan-voices").mkdir()
    pack = np.fromfile(voice, dtype="<f4")
    pack[1000] = np.nan
    pack.tofile(tmp / "nan-voices" / "af_heart.bin")
    (tmp / "pt-voices").mkdir()
    (tmp / "pt-voices" / "af_heart.pt").write_bytes(b"PK\x03\x04 not a torch file")
    (tmp / "truncated.onnx").write_bytes(model.read_bytes()[:1_000_000])
    (tmp / "bad-hash").mkdir()
    with open(tmp / "bad-hash" / model.name, "wb") as f:  # right size, wrong content (sparse)
        f.truncate(model.stat().st_size)
    (tmp / "half-fetched").mkdir()
    (tmp / "half-fetched" / f".{model.name}.x1y2.part").write_bytes(model.read_bytes()[:2_000_000])
    (tmp / "half-fetched" / ".fetch-abc").mkdir()
    return {"model": model, "voices": CACHE / "voices"}


ENVIRONMENT = [
    ("model missing", {"KOKORO_CLI_MODEL": "{tmp}/nowhere.onnx"}, 4, "does not exist"),
    ("model truncated", {"KOKORO_CLI_MODEL": "{tmp}/truncated.onnx"}, 4, "as an ONNX model"),
    ("model not a model", {"KOKORO_CLI_MODEL": "{tmp}/in.md"}, 4, "as an ONNX model"),
    ("model is a folder", {"KOKORO_CLI_MODEL": "{tmp}"}, 4, "not a regular file"),
    ("model fails its hash", {"KOKORO_CLI_CACHE": "{tmp}/bad-hash", "KOKORO_CLI_SOURCES": "none",
                              "KOKORO_CLI_VOICES": "{voices}"}, 4, "sha256"),
    ("fetch interrupted", {"KOKORO_CLI_CACHE": "{tmp}/half-fetched", "KOKORO_CLI_SOURCES": "none",
                           "KOKORO_CLI_VOICES": "{voices}"}, 4, "not in the cache"),
    ("voice truncated", {"KOKORO_CLI_VOICES": "{tmp}/short-voices"}, 4, "not a kokoro voice pack"),
    ("voice not finite", {"KOKORO_CLI_VOICES": "{tmp}/nan-voices"}, 4, "not finite"),
    ("voice .pt damaged", {"KOKORO_CLI_VOICES": "{tmp}/pt-voices"}, 4, "pytorch voice pack"),
    ("ffmpeg missing", {"KOKORO_CLI_FFMPEG": "{tmp}/no-ffmpeg"}, 5, "ffmpeg not found"),
]


@pytest.mark.parametrize("name, env, code, message", ENVIRONMENT, ids=[e[0] for e in ENVIRONMENT])
def test_environment(name, env, code, message, tmp_path: Path, model_cache) -> None:
    paths = _assets(tmp_path)
    (tmp_path / "in.md").write_text(TINY)
    out = tmp_path / "out.m4b"
    out.write_bytes(b"earlier")
    values = {k: v.replace("{tmp}", str(tmp_path)).replace("{voices}", str(paths["voices"]))
              for k, v in env.items()}
    done = _run(["convert", "in.md", "-o", str(out), "--work-dir", str(tmp_path / "work"), "-q",
                 "--backend", "onnx"], values, tmp_path)
    _assert_error(done, code, message)
    assert out.read_bytes() == b"earlier"
    if name == "fetch interrupted":  # what the killed fetch left is cleaned, never trusted
        assert sorted(p.name for p in (tmp_path / "half-fetched").iterdir()) == [
            ".fetch.lock", "voices"]


# --- a full disk, and damaged job state ------------------------------------------------------------


def _decoded(path: Path) -> np.ndarray:
    from kokoro_cli.output.ffmpeg import find_ffmpeg

    pcm = subprocess.run([find_ffmpeg(), "-v", "error", "-i", str(path), "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(pcm, dtype="<i2")


@pytest.fixture(scope="module")
def clean_job(tmp_path_factory, model_cache):
    """One clean conversion of a one-sentence document: its work area and output."""
    tmp = tmp_path_factory.mktemp("clean")
    (tmp / "in.md").write_text(TINY)
    done = _run(["convert", "in.md", "-o", "clean.m4b", "--work-dir", "work", "-q",
                 "--backend", "onnx"], {}, tmp)
    assert done.returncode == 0, done.stderr
    return tmp


def _copy_job(clean: Path, tmp: Path) -> Path:
    shutil.copytree(clean, tmp / "job")
    return tmp / "job"


def _no_partial_files(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if ".part" in p.name], "half-written files were left"


def test_disk_full_while_synthesizing(clean_job: Path, tmp_path: Path) -> None:
    (tmp_path / "in.md").write_text(TINY + "\nA second sentence that is not in the cache yet.\n")
    out = tmp_path / "book.m4b"
    out.write_bytes(b"earlier")
    shutil.copytree(clean_job / "work", tmp_path / "work")  # the cached pieces and their job
    (earlier_job,) = (tmp_path / "work" / "jobs").iterdir()
    state = _tree(earlier_job)
    done = _run(["convert", "in.md", "-o", "book.m4b", "--work-dir", "work", "-q",
                 "--backend", "onnx"], {}, tmp_path, file_limit=40_000)
    _assert_error(done, 5, "disk full")
    assert out.read_bytes() == b"earlier"
    _no_partial_files(tmp_path / "work")
    assert _tree(earlier_job) == state  # the earlier job's state is untouched
    again = _run(["convert", "in.md", "-o", "book.m4b", "--work-dir", "work", "-q",
                  "--backend", "onnx"], {}, tmp_path)
    assert again.returncode == 0, again.stderr  # and the next run completes


def test_disk_full_while_muxing(clean_job: Path, tmp_path: Path) -> None:
    job = _copy_job(clean_job, tmp_path)
    (job / "book.wav").write_bytes(b"earlier")
    done = _run(["convert", "in.md", "-o", "book.wav", "--work-dir", "work", "-q",
                 "--backend", "onnx"], {}, job, file_limit=60_000)
    _assert_error(done, 5, "file size limit")
    assert (job / "book.wav").read_bytes() == b"earlier"
    _no_partial_files(job)


def test_closed_output_pipe(clean_job: Path, tmp_path: Path) -> None:
    """A reader that stops early (``| head -c 100``) ends the run with one line and exit 5."""
    job = _copy_job(clean_job, tmp_path)
    proc = subprocess.Popen([*cli_script(), "convert", "in.md", "-o", "-", "--format", "wav",
                             "--work-dir", "work", "-q", "--backend", "onnx",
                             "--loudness", "off"], cwd=job, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=False)
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 5, stderr
    assert stderr.strip().splitlines() == ["error: the output pipe was closed before the audio "
                                           "was all written"]


def _damage_manifest(job: Path) -> None:
    (manifest,) = job.glob("work/jobs/*/manifest.json")
    manifest.write_text('{"format": 1, "identity": ')  # torn


def _wrong_shape_manifest(job: Path) -> None:
    (manifest,) = job.glob("work/jobs/*/manifest.json")
    data = json.loads(manifest.read_text())
    data["chapters"] = {"1": "not a record", "2": [1, 2]}
    data["outputs"] = {str(job / "clean.m4b"): 7}
    manifest.write_text(json.dumps(data))


def _damage_chapter_wav(job: Path) -> None:
    (wav,) = job.glob("work/jobs/*/chapters/0001.wav")
    data = bytearray(wav.read_bytes())
    data[len(data) // 2: len(data) // 2 + 400] = b"\x7f" * 400  # same size, wrong samples
    wav.write_bytes(bytes(data))


def _damage_cache_entries(job: Path) -> None:
    for entry in job.glob("work/chunks/*/*.s16"):
        data = bytearray(entry.read_bytes())
        data[-10:] = b"\x00" * 10
        entry.write_bytes(bytes(data))
    for wav in job.glob("work/jobs/*/chapters/*.wav"):
        wav.unlink()  # so the pieces are needed again


@pytest.mark.parametrize("damage", [_damage_manifest, _wrong_shape_manifest, _damage_chapter_wav,
                                    _damage_cache_entries], ids=lambda f: f.__name__.strip("_"))
def test_damaged_job_state_is_rebuilt_not_trusted(damage, clean_job: Path, tmp_path: Path) -> None:
    job = _copy_job(clean_job, tmp_path)
    damage(job)
    done = _run(["convert", "in.md", "-o", "again.m4b", "--work-dir", "work", "-q",
                 "--backend", "onnx"], {}, job)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert np.array_equal(_decoded(job / "again.m4b"), _decoded(clean_job / "clean.m4b"))
    _no_partial_files(job)
