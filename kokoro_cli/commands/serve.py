"""``serve``: keep the model and the English G2P loaded on a local socket for ``say``.

A thin adapter over :mod:`kokoro_cli.serving`: it loads what a ``say`` needs once, then runs
each ``say`` that reaches the socket as the same command, in the client's place.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any, Optional

import typer

from kokoro_cli.console import err, run_guarded

__all__ = ["EPILOG", "serve"]

EPILOG = ("Examples:\n\n  kokoro-cli serve &\n\n  kokoro-cli say 'Backup done.' -o done.mp3   "
          "# answered by the server while it runs\n\n  KOKORO_CLI_SERVE=off kokoro-cli say "
          "'Hi.' -o hi.wav   # never ask it")


def serve(
    ctx: typer.Context,
    socket_file: Optional[Path] = typer.Option(None, "--socket", dir_okay=False, help="The "
                                               "socket (default: $KOKORO_CLI_SOCKET, else "
                                               "kokoro-cli.sock in $XDG_RUNTIME_DIR or the user "
                                               "cache)."),
) -> None:
    """Keep the model loaded for 'say': speak this user's one-liners until Ctrl-C or SIGTERM.

    A 'say' that finds the socket hands it its arguments, folder, environment and streams, and
    the server runs the same command there: the same files and messages, without the seconds
    of loading. Without the server, 'say' runs on its own as always. Restart it after
    upgrading."""
    def action() -> None:
        import signal

        from engine import phonemizer_for
        from kokoro_cli.assets_env import resolver_for
        from kokoro_cli.serving import open_socket, serve_forever, socket_path
        from kokoro_cli.speech import kept_engine

        path = socket_file or socket_path()
        listener = open_socket(path)  # a second server is refused before loading anything
        try:  # a say arriving meanwhile waits for it
            kept_engine(resolver_for(None, None)).synthesizer("auto").ready()
            phonemizer_for("a")
        except BaseException:
            listener.close()
            path.unlink(missing_ok=True)
            raise
        stop, busy = threading.Event(), threading.Event()

        def terminate(*_: object) -> None:
            stop.set()  # a say in flight is finished first, then the loop ends
            if not busy.is_set():
                raise KeyboardInterrupt

        root = ctx.find_root().command  # the whole command line, as `kokoro-cli` runs it

        def run(argv: list[str]) -> int:
            busy.set()
            try:
                return _say(root, argv)
            finally:
                busy.clear()

        signal.signal(signal.SIGTERM, terminate)  # so the socket file is removed
        err.print(f"serving say on {path}", markup=False)
        try:
            serve_forever(listener, path, run, stop=stop)
        except KeyboardInterrupt:
            pass
        err.print("stopped", markup=False)
    run_guarded(action)


def _say(root: Any, argv: list[str]) -> int:
    """``kokoro-cli say ARGV`` run by the command line ``root`` in this process: its exit
    code."""
    try:
        root.main(args=["say", *argv], prog_name="kokoro-cli")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:  # noqa: BLE001 (a bug must not end the server; the client hears it)
        print(f"error: the kokoro-cli server failed: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1
    return 0
