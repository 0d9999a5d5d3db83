"""``kokoro-cli serve``: a warm engine on a local socket that ``say`` uses when it is there.

A cold ``say`` spends its seconds importing spaCy, loading its tagger and the model, not
speaking (issue #29). ``serve`` does that once. A ``say`` that finds the socket hands its
arguments, working folder, environment and its own stdin, stdout and stderr (the descriptors
themselves, passed over the socket) to the server. The server runs the very same ``say``
command on them and answers with the exit code. The output, the messages, ``-o -`` and text
piped on stdin go where they would have gone, byte for byte what a ``say`` without the server
writes.

Nothing depends on it. Without a server (no socket, a stale one, ``KOKORO_CLI_SERVE=off``),
``say`` runs in its own process as before. The socket is the user's own (mode 0600, in
``$XDG_RUNTIME_DIR`` or the user cache; ``KOKORO_CLI_SOCKET`` names another), and the server
answers only processes of its own user. It answers one request at a time: each one runs with
the client's folder and environment in place of its own.
Restart it after upgrading: it runs the code it started with.
"""

from __future__ import annotations

import array
import json
import os
import socket
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["ENV_SERVE", "ENV_SOCKET", "ask_server", "open_socket", "serve_forever",
           "socket_path"]

ENV_SOCKET = "KOKORO_CLI_SOCKET"
ENV_SERVE = "KOKORO_CLI_SERVE"  # "off": never hand a say to the server
_MAX_REQUEST = 1 << 20  # arguments and environment; the text itself comes on stdin or argv
_STREAMS = 3  # stdin, stdout, stderr


def socket_path() -> Path:
    """``$KOKORO_CLI_SOCKET``, else ``kokoro-cli.sock`` in ``$XDG_RUNTIME_DIR``, else in the
    user cache (``~/.cache/kokoro-audiobook``)."""
    named = os.environ.get(ENV_SOCKET)
    if named:
        return Path(named).expanduser()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "kokoro-cli.sock"
    return Path("~/.cache/kokoro-audiobook/kokoro-cli.sock").expanduser()


# --- the client: kokoro-cli say, before it imports anything heavy ---------------------------


def ask_server(args: list[str]) -> int | None:
    """Have a running server do ``say ARGS`` on this process's stdin, stdout and stderr; its
    exit code, or None where there is no server to ask (then say runs here)."""
    if os.environ.get(ENV_SERVE, "").lower() in ("off", "0", "no", "false"):
        return None
    path = socket_path()
    if not path.exists():
        return None
    try:
        request = {"argv": args, "cwd": os.getcwd(), "env": dict(os.environ)}
    except OSError:
        return None  # the working folder is gone: say here says so
    data = json.dumps(request).encode()
    if len(data) > _MAX_REQUEST:
        return None
    streams = array.array("i", range(_STREAMS))  # our stdin, stdout and stderr themselves
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        try:
            conn.connect(str(path))
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            conn.sendmsg([struct.pack("!I", len(data)), data],
                         [(socket.SOL_SOCKET, socket.SCM_RIGHTS, streams)])
        except OSError:
            return None  # no server listening (a socket left by a killed one): say runs here
        try:  # from here on the server has the request: never run it a second time here
            answer = _read_all(conn)
        except OSError:
            answer = b""
        except KeyboardInterrupt:
            print("interrupted (the server finishes this say on its own)", file=sys.stderr)
            return 130
    try:
        return int(json.loads(answer)["code"])
    except (ValueError, KeyError, TypeError):
        print("error: the kokoro-cli server gave no answer (it stopped?); run say again or "
              f"set {ENV_SERVE}=off", file=sys.stderr)
        return 1


def _read_all(conn: socket.socket) -> bytes:
    parts = []
    while chunk := conn.recv(65536):
        parts.append(chunk)
    return b"".join(parts)


# --- the server ----------------------------------------------------------------------------


def open_socket(path: Path) -> socket.socket:
    """The listening socket at ``path`` (mode 0600). Refuses a path where a server already
    answers; a socket file left by a killed server is replaced."""
    if not hasattr(socket, "SO_PEERCRED"):
        raise OSError("kokoro-cli serve needs Linux (it checks who is asking with SO_PEERCRED)")
    if path.exists() or path.is_symlink():
        if _answers(path):
            raise OSError(f"a kokoro-cli server is already running on {path}")
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)
    try:
        listener.bind(str(path))
        listener.listen(16)
    except BaseException:
        listener.close()
        raise
    finally:
        os.umask(old_mask)
    return listener


def serve_forever(listener: socket.socket, path: Path, run: Callable[[list[str]], int],
                  stop: threading.Event | None = None) -> None:
    """Answer requests on ``listener`` (from :func:`open_socket` at ``path``) until
    interrupted, or until ``stop`` is set (checked after each request): ``run(argv)`` with the
    client's streams, folder and environment in place, one request at a time. The socket file
    is removed on the way out."""
    try:
        while stop is None or not stop.is_set():
            conn, _ = listener.accept()
            with conn:
                _answer(conn, run)
    finally:
        listener.close()
        path.unlink(missing_ok=True)


def _answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.connect(str(path))
        return True
    except OSError:
        return False


def _answer(conn: socket.socket, run: Callable[[list[str]], int]) -> None:
    """One request: read it, run it in the client's place, send the exit code."""
    try:
        if _peer_uid(conn) != os.getuid():
            return  # another user's process: no answer
        request, fds = _receive(conn)
    except (OSError, ValueError):
        return  # a client that went away or sent nonsense: it reports it
    try:
        if len(fds) != _STREAMS:
            return
        code = _in_place(request, fds, run)
    except Exception:  # noqa: BLE001 (one failed request must not end the server)
        code = 1
    finally:
        for fd in fds:
            os.close(fd)
    try:
        conn.sendall(json.dumps({"code": code}).encode())
    except OSError:
        pass  # the client was interrupted meanwhile


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    fds = array.array("i")
    head, ancillary, _, _ = conn.recvmsg(4, socket.CMSG_SPACE(_STREAMS * fds.itemsize))
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    received = list(fds)
    try:
        if len(head) != 4:
            raise ValueError("short request")
        (size,) = struct.unpack("!I", head)
        if size > _MAX_REQUEST:
            raise ValueError("request too large")
        body = b""
        while len(body) < size and (chunk := conn.recv(size - len(body))):
            body += chunk
        request = json.loads(body)
        if not (isinstance(request.get("argv"), list) and isinstance(request.get("cwd"), str)
                and isinstance(request.get("env"), dict)):
            raise ValueError("malformed request")
        return request, received
    except BaseException:
        for fd in received:
            os.close(fd)
        raise


def _in_place(request: dict, fds: list[int], run: Callable[[list[str]], int]) -> int:
    """``run(argv)`` with the client's folder, environment and streams in place of ours,
    which are put back afterwards whatever happened."""
    saved_cwd, saved_env = os.getcwd(), dict(os.environ)
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    streams = [open(fds[0], "r", encoding="utf-8", errors="replace", closefd=False),
               open(fds[1], "w", buffering=1, encoding="utf-8", closefd=False),
               open(fds[2], "w", buffering=1, encoding="utf-8", closefd=False)]
    try:
        try:
            os.chdir(request["cwd"])
        except OSError as exc:
            print(f"error: the kokoro-cli server cannot work in {request['cwd']}: "
                  f"{exc.strerror}", file=streams[2])
            return 1
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        sys.stdin, sys.stdout, sys.stderr = streams
        return run([str(a) for a in request["argv"]])
    finally:
        for stream in streams[1:]:
            try:
                stream.flush()
            except OSError:
                pass  # the client's pipe closed: nothing more to tell it
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
