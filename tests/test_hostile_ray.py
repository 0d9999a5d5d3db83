"""``--ray-address`` at something that answers but is not Ray (on loopback: a web server, or
a port that takes connections and says nothing): the run fails in one line within seconds
(Ray itself waits for over 10 minutes, printing its own warnings), and SIGTERM while it
connects stops it with exit 130, as a stopped conversion does.

Each conversion is the installed script in a subprocess; no Ray cluster is started.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("ray")

TEXT = "The boats came in before noon, heavy with fish and salt.\n"


class _NotRay(ThreadingHTTPServer):
    """A web server on 127.0.0.1 that notes when something connects."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connected = threading.Event()

    def verify_request(self, request: object, client_address: object) -> bool:
        self.connected.set()
        return True


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def not_ray() -> Iterator[_NotRay]:
    server = _NotRay()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _Silent:
    """A port on 127.0.0.1 that takes connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.server_address = self.sock.getsockname()
        self.connected = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return
            self.connected.set()

    def close(self) -> None:
        for conn in [*self.held, self.sock]:
            conn.close()


@pytest.fixture
def silent() -> Iterator[_Silent]:
    server = _Silent()
    try:
        yield server
    finally:
        server.close()


def _cmd(tmp_path: Path, address: str) -> list[str]:
    book = tmp_path / "book.txt"
    book.write_text(TEXT)
    exe = Path(sys.executable).with_name("kokoro-cli")
    script = [str(exe)] if exe.exists() else [sys.executable, "-m", "kokoro_cli"]
    return script + ["convert", str(book), "-o", str(tmp_path / "book.wav"), "--work-dir",
                     str(tmp_path / "work"), "--executor", "ray", "--ray-address", address]


@pytest.mark.parametrize("server", ["not_ray", "silent"])
@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_address_that_answers_but_is_not_ray_fails_in_one_line(request, tmp_path, server,
                                                                  scheme):
    listening = request.getfixturevalue(server)
    address = f"{scheme}127.0.0.1:{listening.server_address[1]}"
    kind = "Ray Client server" if scheme else "Ray cluster (GCS)"
    started = time.monotonic()
    done = subprocess.run(_cmd(tmp_path, address), capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    assert done.returncode == 4, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: {address} answers but is not a {kind}: give the head's GCS port (6379 by "
        "default) or ray://HOST:PORT for Ray Client (10001)"]
    assert listening.connected.is_set()
    assert took < 60, f"took {took:.1f} s"
    assert not (tmp_path / "work").exists(), "job state was written"


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_sigterm_while_connecting_exits_130(silent, tmp_path, scheme):
    address = f"{scheme}127.0.0.1:{silent.server_address[1]}"
    proc = subprocess.Popen(_cmd(tmp_path, address), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert silent.connected.wait(60), "the run never tried the address"
        time.sleep(0.5)  # into the gRPC call, which waits 5 s for an answer
        proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        rest = proc.stderr.read()
        assert proc.wait(timeout=30) == 130, rest
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - stopped < 5, "it waited for the connection to time out"
    assert rest.strip().splitlines() == ["interrupted; run the same command again to resume"]
