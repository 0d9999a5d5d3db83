"""Joining (or starting) a Ray cluster for :class:`engine.ray_pool.RayExecutor`: quickly,
quietly, and stoppable.

Ray itself waits for minutes on an address that does not answer, or that answers but is not
Ray (a web server), printing its own warnings all the while, and exits 15 on SIGTERM while
it connects. Here an address must accept a TCP connection and then answer a gRPC call to
Ray's GCS (or Ray Client server, for ``ray://``), each within :data:`CONNECT_TIMEOUT_S`;
Ray's own log lines are errors only unless this package logs in detail (``--verbose``);
SIGINT or SIGTERM while connecting raises KeyboardInterrupt (exit 130, as a stopped run).

Ray builds its serializers on first use, importing pydantic and more: :func:`connect` makes
that first use here, so that no import is left for the thread that later starts the actors
(imports racing across threads have failed with ``KeyError: 'pydantic.v1'``).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine.errors import BackendError, SettingError

__all__ = ["CONNECT_TIMEOUT_S", "RAY_EXTRA", "check_reachable", "connect", "import_ray",
           "prepare_serializers"]

log = logging.getLogger(__name__)

RAY_EXTRA = "kokoro-audiobook[ray]"
CONNECT_TIMEOUT_S = 5.0  # for a TCP connect, then for a gRPC call on top of it
GCS_PROBE = "/ray.rpc.NodeInfoGcsService/GetClusterId"
RAY_CLIENT_PROBE = "/ray.rpc.RayletDriver/ClusterInfo"


def import_ray() -> Any:
    """The ``ray`` module, or BackendError (exit 4) naming the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise BackendError(f"--executor ray needs Ray, which is not installed ({exc}): "
                           f"pip install '{RAY_EXTRA}'") from None
    return ray


def connect(ray: Any, address: str | None, num_cpus: int | None) -> None:
    """Join the cluster at ``address`` (None: start one here) after checking that it
    answers; SIGINT and SIGTERM meanwhile raise KeyboardInterrupt."""
    with _signals_interrupt():
        check_reachable(address)
        _init(ray, address, num_cpus)
    try:
        prepare_serializers(ray)
    except BackendError:
        _leave(ray)
        raise


def prepare_serializers(ray: Any) -> None:
    """Have Ray build this job's serializers now, in this thread (see the module docstring)."""
    try:
        ray.get(ray.put(None))
    except Exception as exc:  # noqa: BLE001 (Ray raises its own kinds)
        raise BackendError(f"the Ray cluster does not take objects: {_first_line(exc)}") from None


def check_reachable(address: str | None) -> None:
    """Fail at once on an address that cannot work. ``auto`` and None are Ray's to resolve
    (they fail fast)."""
    if address is None or address == "auto":
        return
    host, port = _split(address)
    _token_auth()
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise BackendError(f"cannot reach the Ray cluster at {address}: {why}") from None
    answer = _ray_answer(host, port, client=address.startswith("ray://"))
    if answer == "refused":
        raise BackendError(f"the Ray cluster at {address} refused this machine's token (or "
                           "it has none): copy the head's ~/.ray/auth_token here, or set "
                           "RAY_AUTH_TOKEN")
    if answer == "not ray":
        kind = "Ray Client server" if address.startswith("ray://") else "Ray cluster (GCS)"
        raise BackendError(f"{address} answers but is not a {kind}: give the head's GCS "
                           "port (6379 by default) or ray://HOST:PORT for Ray Client (10001)")


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise SettingError(f"--ray-address {address!r}: use auto, HOST:PORT (the head's GCS "
                           "port, 6379 by default) or ray://HOST:PORT (Ray Client, 10001)")
    return host.strip("[]"), int(port)


def _ray_answer(host: str, port: int, client: bool) -> str:
    """How ``host:port`` answers a call to Ray's GCS (or with ``client``, to a Ray Client
    server), sent with this machine's token if any: "ray", "refused" (the token) or
    "not ray" (no such method, unavailable, or no answer in time). grpc comes with Ray; a
    Ray without it, or without the token helper, is left to connect as it will."""
    try:
        import grpc
        from ray._private.authentication.grpc_authentication_client_interceptor import (
            _get_authentication_metadata_tuple as token_metadata)
    except ImportError:
        return "ray"
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    channel = grpc.insecure_channel(target)
    try:  # an empty message is a valid request of either kind
        channel.unary_unary(RAY_CLIENT_PROBE if client else GCS_PROBE)(
            b"", timeout=CONNECT_TIMEOUT_S, metadata=token_metadata())
        return "ray"
    except grpc.RpcError as exc:
        log.debug("%s answered %s: %s", target, exc.code(), exc.details())
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            return "refused"
        return "not ray" if exc.code() in (grpc.StatusCode.UNIMPLEMENTED,
                                           grpc.StatusCode.UNAVAILABLE,
                                           grpc.StatusCode.DEADLINE_EXCEEDED) else "ray"
    finally:
        channel.close()


def _init(ray: Any, address: str | None, num_cpus: int | None) -> None:
    """``ray.init``, quiet unless this package logs in detail. Ray installs a SIGTERM handler
    that exits 15 at once; the one in force before is put back afterwards, and Ray's exit
    while connecting becomes KeyboardInterrupt."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    level = logging.WARNING if log.isEnabledFor(logging.DEBUG) else logging.ERROR
    logging.getLogger("ray").setLevel(level)
    kwargs: dict[str, Any] = {"logging_level": level, "log_to_driver": False}
    if address is None:
        kwargs.update(num_cpus=num_cpus, include_dashboard=False)
    elif level == logging.ERROR:  # a head lost mid-book: our one line, not Ray's C++ errors
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # this driver's core only
    try:  # "local": a new instance even where RAY_ADDRESS or a `ray start` cluster exists
        ray.init(address=address or "local", **kwargs)
    except SystemExit as exc:
        if exc.code != signal.SIGTERM:
            raise
        _leave(ray)
        raise KeyboardInterrupt from None
    except KeyboardInterrupt:
        _leave(ray)
        raise
    except Exception as exc:  # noqa: BLE001 (Ray raises ConnectionError, RuntimeError, ...)
        where = f"at {address}" if address else "on this machine"
        raise BackendError(f"cannot start or join the Ray cluster {where}: "
                           f"{_first_line(exc)}") from None
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _leave(ray: Any) -> None:
    try:
        ray.shutdown()
    except Exception as exc:  # noqa: BLE001 (stopping anyway)
        log.debug("leaving a half-joined Ray failed: %s", exc)


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, as SIGINT does, while connecting (main thread
    only: elsewhere signals are not ours to handle)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:  # noqa: ARG001 (handler signature)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _token_auth() -> None:
    """Send this machine's Ray token (``~/.ray/auth_token``, ``$RAY_AUTH_TOKEN``) when it has
    one: Ray 2.60 turns token authentication on by itself only for a cluster it starts, and
    a cluster that requires it then times out after 20 s (30 s over Ray Client) instead of
    refusing. ``$RAY_AUTH_MODE``, when set, decides instead."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    try:
        from ray._private.authentication import authentication_token_setup as setup

        quiet = logging.getLogger(setup.__name__)
        level, quiet.level = quiet.level, logging.ERROR
        try:
            setup.maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
        finally:
            quiet.setLevel(level)
    except (ImportError, AttributeError) as exc:  # another Ray: its own behaviour stands
        log.debug("Ray token set-up not found: %s", exc)
