"""``kokoro-cli serve`` on the real model: a ``say`` it answers writes the same bytes, messages
and exit codes as a ``say`` on its own, through the client's own streams; without a server
(none, a stale socket, turned off) ``say`` runs on its own."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import cli_script

ROOT = Path(__file__).resolve().parents[1]
# Runs the entry point as `kokoro-cli say ...` and reports which heavy packages this process
# loaded: none when the server spoke.
PROBE = """
import json, runpy, sys
sys.argv = ["kokoro-cli", "say", *{args!r}]
try:
    runpy.run_module("kokoro_cli", run_name="__main__")
except SystemExit as exc:
    code = exc.code
finally:
    heavy = sorted({{"onnxruntime", "spacy", "numpy"}} & set(sys.modules))
    print(json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


def _say(args: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*cli_script(), "say", *args], env=env, capture_output=True,
                          timeout=300, **kwargs)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sock = tmp_path_factory.mktemp("serve") / "k.sock"
    env = {**os.environ, "KOKORO_CLI_SOCKET": str(sock)}
    proc = subprocess.Popen([*cli_script(), "serve"], env=env, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 300
    while not sock.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)
    yield sock, env
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert not sock.exists()  # removed on the way out


def test_say_through_the_server_writes_what_say_alone_writes(server, tmp_path):
    _, env = server
    probe = PROBE.format(args=["The build finished.", "-o", str(tmp_path / "served.wav")])
    served = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert json.loads(served.stderr.strip().splitlines()[-1]) == {"code": 0, "heavy": []}
    assert served.stdout.strip() == str(tmp_path / "served.wav")
    alone = _say(["The build finished.", "-o", str(tmp_path / "alone.wav")],
                 {**env, "KOKORO_CLI_SERVE": "off"})
    assert alone.returncode == 0, alone.stderr
    assert (tmp_path / "served.wav").read_bytes() == (tmp_path / "alone.wav").read_bytes()


def test_the_server_reads_the_clients_stdin_writes_its_stdout_and_works_in_its_folder(
        server, tmp_path):
    _, env = server
    piped = _say(["-o", "-"], env, input=b"Piped in.")
    assert piped.returncode == 0, piped.stderr
    alone = _say(["-o", "-"], {**env, "KOKORO_CLI_SERVE": "off"}, input=b"Piped in.")
    assert piped.stdout[:4] == b"RIFF" and piped.stdout == alone.stdout
    relative = _say(["Here.", "-o", "here.mp3"], env, cwd=tmp_path)
    assert relative.returncode == 0, relative.stderr
    assert (tmp_path / "here.mp3").stat().st_size > 0


def test_errors_come_back_as_the_same_line_and_exit_code(server):
    _, env = server
    served = _say(["", "-o", "x.wav"], env)
    alone = _say(["", "-o", "x.wav"], {**env, "KOKORO_CLI_SERVE": "off"})
    assert served.returncode == alone.returncode != 0
    assert served.stderr == alone.stderr
    assert b"nothing to say" in served.stderr


def test_a_second_server_on_a_live_socket_is_refused(server):
    sock, env = server
    second = subprocess.run([*cli_script(), "serve", "--socket", str(sock)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert second.returncode != 0
    assert "already running" in second.stderr


def test_without_a_server_say_runs_on_its_own(tmp_path):
    stale = tmp_path / "stale.sock"
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(stale))  # a socket file nobody listens on: what a killed server leaves
    left.close()
    env = {**os.environ, "KOKORO_CLI_SOCKET": str(stale)}
    done = _say(["Alone.", "-o", str(tmp_path / "a.wav")], env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.wav").stat().st_size > 0


def test_a_server_that_takes_the_request_and_dies_is_reported_not_run_again(
        tmp_path, monkeypatch, capsys):
    from kokoro_cli.serving import ask_server

    sock = tmp_path / "fake.sock"  # a fake server: it reads the request and hangs up
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock))
    listener.listen(1)

    def take_and_drop() -> None:
        conn, _ = listener.accept()
        conn.recvmsg(1 << 16, socket.CMSG_SPACE(64))
        conn.close()

    taker = threading.Thread(target=take_and_drop)
    taker.start()
    monkeypatch.setenv("KOKORO_CLI_SOCKET", str(sock))
    monkeypatch.delenv("KOKORO_CLI_SERVE", raising=False)
    try:
        assert ask_server(["Hi.", "-o", str(tmp_path / "x.wav")]) == 1  # not None: no rerun
    finally:
        taker.join(timeout=10)
        listener.close()
    assert "gave no answer" in capsys.readouterr().err
    monkeypatch.setenv("KOKORO_CLI_SERVE", "off")
    assert ask_server(["Hi.", "-o", "x.wav"]) is None
