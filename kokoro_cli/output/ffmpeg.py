"""The one seam to ffmpeg: finding the binaries, running them, and probing what they wrote.

Every ffmpeg and ffprobe process of the project starts in :func:`run_tool`; it logs the full
command at debug level and turns a failure into :class:`FfmpegError` carrying the last line
ffmpeg wrote to stderr. The argument lists and the files ffmpeg reads are built elsewhere
(:mod:`kokoro_cli.output.plan`, :mod:`kokoro_cli.output.metadata`); only the ffprobe-less
fallback of :func:`probe` reads FFMETADATA, with the parser from ``metadata``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import IO, BinaryIO

from kokoro_cli.output.metadata import parse_ffmetadata
from kokoro_common import ExitCode, KokoroError

__all__ = [
    "FfmpegError",
    "find_ffmpeg",
    "find_ffprobe",
    "probe",
    "probe_chapters",
    "probe_format",
    "probe_streams",
    "require_ffmpeg",
    "run_ffmpeg",
    "run_ffmpeg_log",
    "run_tool",
]

log = logging.getLogger(__name__)

ENV_FFMPEG = "KOKORO_CLI_FFMPEG"
INSTALL_HINT = "install it (apt-get install ffmpeg) or pip install imageio-ffmpeg"
# No banner, never read the terminal (we may run under a progress display), and overwrite:
# every output we name is a temp file of our own.
FFMPEG_GLOBALS = ("-hide_banner", "-nostdin", "-y")
FFPROBE_ARGS = ("-v", "error", "-print_format", "json")
FFPROBE_SHOW = ("-show_chapters", "-show_format", "-show_streams")
_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_CHAPTER_KEYS = ("TIMEBASE", "START", "END")
# Closing lines ffmpeg prints after the real error (at log level info and above).
_GENERIC_LINES = frozenset({"Conversion failed!"})
# Bytes copied per read when ffmpeg's stdout goes to a caller's stream.
PIPE_CHUNK = 1 << 20


class FfmpegError(KokoroError):
    """ffmpeg is missing, or an ffmpeg/ffprobe run failed (the message ends with its last
    stderr line; ``command`` and ``stderr`` hold the whole of both)."""

    exit_code = ExitCode.OUTPUT

    def __init__(self, message: str, *, command: Sequence[str] = (), stderr: str = "") -> None:
        super().__init__(message)
        self.command = tuple(command)
        self.stderr = stderr


@cache
def find_ffmpeg() -> str:
    """The ffmpeg to run: ``$KOKORO_CLI_FFMPEG``, else ``ffmpeg`` on PATH, else imageio-ffmpeg's."""
    if os.environ.get(ENV_FFMPEG):
        return os.environ[ENV_FFMPEG]
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        log.debug("imageio-ffmpeg has no ffmpeg: %s", exc)
    raise FfmpegError(f"ffmpeg not found: {INSTALL_HINT}")


def require_ffmpeg() -> str:
    """The ffmpeg :func:`find_ffmpeg` names, checked to be an executable file now (a command
    calls this before hours of work that end in ffmpeg)."""
    named = find_ffmpeg()
    if shutil.which(named) is None:  # a path, or a bare name looked up on PATH
        where = f"${ENV_FFMPEG} is {named!r}" if os.environ.get(ENV_FFMPEG) else repr(named)
        raise FfmpegError(f"ffmpeg not found: {where}, which is not an executable file; "
                          f"{INSTALL_HINT}")
    return named


@cache
def find_ffprobe() -> str | None:
    """ffprobe beside the ffmpeg in use, else on PATH, else None (imageio-ffmpeg ships none)."""
    ffmpeg = Path(find_ffmpeg())
    if "ffmpeg" in ffmpeg.name:
        sibling = ffmpeg.with_name(ffmpeg.name.replace("ffmpeg", "ffprobe", 1))
        if sibling.is_file() and os.access(sibling, os.X_OK):
            return str(sibling)
    return shutil.which("ffprobe")


def run_tool(
    exe: str,
    args: Sequence[str],
    *,
    input: bytes | None = None,
    sink: BinaryIO | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``exe args`` to completion, raising FfmpegError unless it exits 0.

    The single place where the project starts an ffmpeg-family process. With ``sink``, stdout
    is copied to it as it comes (the result's ``stdout`` is then empty), so an output of any
    length streams through in constant memory.
    """
    cmd = [exe, *args]
    log.debug("running: %s", shlex.join(cmd))
    if input is not None and sink is not None:
        raise ValueError("run_tool takes input or sink, not both")
    stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
    try:
        # Unbuffered: with a sink, each read hands on whatever the pipe holds.
        proc = subprocess.Popen(
            cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
        )
    except OSError as exc:
        raise FfmpegError(f"cannot run {exe}: {exc}", command=cmd) from exc
    with proc:
        if sink is None:
            out, err = proc.communicate(input)
        else:
            out, err = b"", _pump(proc, sink)
    if proc.returncode != 0:
        stderr = err.decode("utf-8", "replace")
        log.debug("%s exited %d:\n%s", Path(exe).name, proc.returncode, stderr)
        how = _killed_by(-proc.returncode) if proc.returncode < 0 else None
        raise FfmpegError(
            f"{Path(exe).name} {how}" if how else
            f"{Path(exe).name} failed (exit {proc.returncode}): {_last_line(stderr)}",
            command=cmd,
            stderr=stderr,
        )
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _killed_by(number: int) -> str:
    """What a signal that ended ffmpeg means: its last stderr line says nothing then."""
    import signal

    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    meaning = {"SIGXFSZ": "the output exceeded the file size limit (ulimit -f)",
               "SIGKILL": "it was killed (out of memory?)", "SIGPIPE": "its output pipe closed"}
    return f"was stopped by {name}: {meaning.get(name, 'killed')}"


def _pump(proc: subprocess.Popen[bytes], sink: BinaryIO) -> bytes:
    """Copy ``proc``'s stdout to ``sink`` while a thread drains stderr (so neither pipe can
    fill up and stall ffmpeg); returns stderr. Kills ``proc`` if writing to ``sink`` fails."""
    assert proc.stdout is not None and proc.stderr is not None
    _widen_pipe(proc.stdout)
    errors: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(proc.stderr, errors), daemon=True)
    reader.start()
    try:
        while chunk := proc.stdout.read(PIPE_CHUNK):
            sink.write(chunk)
    except BaseException:
        proc.kill()
        raise
    finally:
        proc.wait()
        reader.join()
    return b"".join(errors)


def _widen_pipe(stream: IO[bytes]) -> None:
    """Ask Linux for a 1 MiB pipe (default 64 KiB): fewer wake-ups per gigabyte of audio."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_CHUNK)
    except (ImportError, OSError):
        pass


def _drain(stream: IO[bytes], into: list[bytes]) -> None:
    into.append(stream.read())


def run_ffmpeg(
    args: Sequence[str],
    *,
    input: bytes | None = None,
    loglevel: str = "error",
    sink: BinaryIO | None = None,
) -> bytes:
    """Run the found ffmpeg with ``args`` (after ``-hide_banner -nostdin -y -loglevel``);
    return its stdout (empty when it went to ``sink``)."""
    full = [*FFMPEG_GLOBALS, "-loglevel", loglevel, *args]
    return run_tool(find_ffmpeg(), full, input=input, sink=sink).stdout


def run_ffmpeg_log(args: Sequence[str], *, sink: BinaryIO | None = None) -> str:
    """Run ffmpeg at log level ``info`` without the progress line; return what it logged.

    For filters that report at the end of the run (``ebur128``, ``astats``).
    """
    full = [*FFMPEG_GLOBALS, "-nostats", "-loglevel", "info", *args]
    return run_tool(find_ffmpeg(), full, sink=sink).stderr.decode("utf-8", "replace")


def _last_line(text: str) -> str:
    """The last line that says something: ffmpeg's closing "Conversion failed!" does not."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if line not in _GENERIC_LINES] or lines
    return lines[-1] if lines else "no error message"


# --- probing ----------------------------------------------------------------------------------


def probe(path: Path | str) -> dict:
    """ffprobe's JSON for ``path`` (keys ``format``, ``streams``, ``chapters``).

    Without ffprobe, falls back to ``ffmpeg -i FILE -f ffmetadata -``: chapters, global tags
    and the duration are filled in the same shapes, ``streams`` stays empty.
    """
    ffprobe = find_ffprobe()
    if ffprobe is not None:
        out = run_tool(ffprobe, [*FFPROBE_ARGS, *FFPROBE_SHOW, str(path)]).stdout
        return json.loads(out.decode("utf-8", "replace"))
    return _probe_with_ffmpeg(Path(path))


def _probe_with_ffmpeg(path: Path) -> dict:
    args = [*FFMPEG_GLOBALS, "-loglevel", "info", "-i", str(path), "-f", "ffmetadata", "-"]
    done = run_tool(find_ffmpeg(), args)
    tags, chapters = parse_ffmetadata(done.stdout.decode("utf-8", "replace"))
    fmt: dict = {"filename": str(path), "tags": tags}
    found = _DURATION.search(done.stderr.decode("utf-8", "replace"))
    if found:
        hours, minutes, seconds = found.groups()
        fmt["duration"] = f"{int(hours) * 3600 + int(minutes) * 60 + float(seconds):.6f}"
    marks = [_probe_chapter(i, section) for i, section in enumerate(chapters)]
    return {"format": fmt, "streams": [], "chapters": marks}


def _probe_chapter(index: int, section: dict[str, str]) -> dict:
    """One parsed ``[CHAPTER]`` section in ffprobe's chapter shape."""
    num, den = (int(x) for x in section.get("TIMEBASE", "1/1000").split("/"))
    start, end = int(section.get("START", 0)), int(section.get("END", 0))
    return {
        "id": index,
        "time_base": f"{num}/{den}",
        "start": start,
        "start_time": f"{start * num / den:.6f}",
        "end": end,
        "end_time": f"{end * num / den:.6f}",
        "tags": {k: v for k, v in section.items() if k not in _CHAPTER_KEYS},
    }


def probe_chapters(path: Path | str) -> list[dict]:
    """The chapters of a media file, as ffprobe reports them (``start_time``, ``tags``...)."""
    return probe(path).get("chapters", [])


def probe_format(path: Path | str) -> dict:
    """The format section of ffprobe's report (``duration``, ``tags``...)."""
    return probe(path).get("format", {})


def probe_streams(path: Path | str) -> list[dict]:
    """The streams of a media file as ffprobe reports them (empty without ffprobe)."""
    return probe(path).get("streams", [])
