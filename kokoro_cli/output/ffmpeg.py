"""The one seam to ffmpeg: finding the binaries, running them, and probing what they wrote.

Every ffmpeg and ffprobe process of the project starts in :func:`run_tool`; it logs the full
command at debug level and turns a failure into :class:`FfmpegError` naming the cause (a full
disk, a missing file... from the table :data:`CAUSES`) with the line of ffmpeg's stderr that
says it, else the last line that is not a statistic; a run that exits 0 although a write
failed for want of room (ffmpeg 5 does, when it is the trailer) fails too. The argument lists
and the files ffmpeg reads are built elsewhere (:mod:`kokoro_cli.output.plan`,
:mod:`kokoro_cli.output.metadata`); only the ffprobe-less fallback of :func:`probe` reads
FFMETADATA, with the parser from ``metadata``.
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
    "CAUSES",
    "FfmpegError",
    "failure",
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
# What ffmpeg prints when it fails for a common reason (an OS error's text, or its own words),
# and the cause to name: its last line is often an encoder's statistics ("[aac @ 0x…] Qavg:
# 417.6") printed after the error. In order: a full disk comes first, as the other failures
# can follow from it.
CAUSES: tuple[tuple[str, str], ...] = (
    ("No space left on device", "the disk is full"),
    ("Disk quota exceeded", "the disk quota is used up"),
    ("File too large", "the file is over the file system's size limit"),
    ("Read-only file system", "the file system is read-only"),
    ("Permission denied", "permission denied"),
    ("Operation not permitted", "operation not permitted"),
    ("No such file or directory", "a file or folder does not exist"),
    ("Invalid data found when processing input", "an input is not media ffmpeg can read"),
    ("Unknown encoder", f"this ffmpeg lacks an encoder the format needs; {INSTALL_HINT}"),
    ("Encoder not found", f"this ffmpeg lacks an encoder the format needs; {INSTALL_HINT}"),
    ("Input/output error", "an input/output error (a failing disk or network share?)"),
    ("Cannot allocate memory", "out of memory"),
)
# Writes that failed for want of room: ffmpeg 5 exits 0 when it was the trailer that could not
# be written ("Error writing trailer of x.wav: No space left on device"), its output cut short.
_LOST_WRITES = ("No space left on device", "Disk quota exceeded", "File too large")
# Lines that only report what was done: statistics, never the error.
_STATISTICS = re.compile(r"\bQavg: |^size=\s*\S+ time=|\bvideo:\s*\d+\S* audio:")
# ffmpeg 7 and later name the file on a line of their own.
_OPENING = re.compile(r"Error opening (?:input|output) file (.+)\.")
# The "[aac @ 0x55d…] " of a component's line: an address, no help to a reader.
_COMPONENT = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\] ")
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
    stop: threading.Event | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``exe args`` to completion, raising FfmpegError unless it exits 0.

    The single place where the project starts an ffmpeg-family process. With ``sink``, stdout
    is copied to it as it comes (the result's ``stdout`` is then empty), so an output of any
    length streams through in constant memory. Setting ``stop`` (not with ``sink``) kills the
    process, which then raises FfmpegError too: for work that turned out not to be needed.
    """
    cmd = [exe, *args]
    log.debug("running: %s", shlex.join(cmd))
    if input is not None and sink is not None:
        raise ValueError("run_tool takes input or sink, not both")
    if stop is not None and sink is not None:
        raise ValueError("run_tool takes stop or sink, not both")
    stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
    try:
        # Unbuffered: with a sink, each read hands on whatever the pipe holds.
        proc = subprocess.Popen(
            cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
        )
    except OSError as exc:
        raise FfmpegError(f"cannot run {exe}: {exc}", command=cmd) from exc
    with proc:
        if sink is not None:
            out, err = b"", _pump(proc, sink)
        elif stop is None:
            out, err = proc.communicate(input)
        else:
            out, err = _until_stopped(proc, input, stop)
    stderr = err.decode("utf-8", "replace")
    if proc.returncode != 0 or _lost_write(stderr):
        log.debug("%s exited %d:\n%s", Path(exe).name, proc.returncode, stderr)
        how = _killed_by(-proc.returncode) if proc.returncode < 0 else None
        code = f" (exit {proc.returncode})" if proc.returncode else ""
        raise FfmpegError(
            f"{Path(exe).name} {how}" if how else
            f"{Path(exe).name} failed{code}: {failure(stderr)}",
            command=cmd,
            stderr=stderr,
        )
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _until_stopped(proc: subprocess.Popen[bytes], input: bytes | None,
                   stop: threading.Event) -> tuple[bytes, bytes]:
    """``proc.communicate``, killing the process when ``stop`` is set meanwhile."""
    while True:
        try:
            return proc.communicate(input, timeout=0.05)
        except subprocess.TimeoutExpired:
            input = None  # communicate has sent it and goes on from where it was
            if stop.is_set():
                proc.kill()
                return proc.communicate()


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


def run_ffmpeg_log(args: Sequence[str], *, sink: BinaryIO | None = None,
                   stop: threading.Event | None = None) -> str:
    """Run ffmpeg at log level ``info`` without the progress line; return what it logged.

    For filters that report at the end of the run (``ebur128``, ``astats``). ``stop``: see
    :func:`run_tool`.
    """
    full = [*FFMPEG_GLOBALS, "-nostats", "-loglevel", "info", *args]
    return run_tool(find_ffmpeg(), full, sink=sink, stop=stop).stderr.decode("utf-8", "replace")


def failure(stderr: str) -> str:
    """What went wrong, from ffmpeg's stderr: the cause from :data:`CAUSES` and the line that
    says it ("the disk is full: Error writing trailer of x.m4b: No space left on device"),
    else its last line that says something."""
    lines = [_COMPONENT.sub("", line.strip()) for line in stderr.splitlines() if line.strip()]
    said = _messages(stderr)
    for text, cause in CAUSES:
        for line in said:
            if text in line:
                return f"{cause}: {line}{_file_named(said, line)}"
    return _last_line(lines)


def _messages(stderr: str) -> list[str]:
    """ffmpeg's own messages: not the indented lines that show the inputs' tags (a book may
    be titled "No space left on device"), without the components' addresses."""
    return [_COMPONENT.sub("", line.rstrip()) for line in stderr.splitlines()
            if line.strip() and not line[0].isspace()]


def _lost_write(stderr: str) -> bool:
    """Whether ffmpeg said that a write failed for want of room."""
    return any(text in line for line in _messages(stderr) for text in _LOST_WRITES)


def _file_named(lines: list[str], said: str) -> str:
    """The file in brackets, when ffmpeg (7 and later) names it only on a line of its own
    ("Error opening output file FILE."), not on the line that says what went wrong."""
    for line in lines:
        named = _OPENING.fullmatch(line)
        if named and named.group(1) not in said:
            return f" ({named.group(1)})"
    return ""


def _last_line(lines: list[str]) -> str:
    """The last line that says something: neither ffmpeg's closing "Conversion failed!" nor
    a statistic."""
    told = [line for line in lines
            if line not in _GENERIC_LINES and not _STATISTICS.search(line)] or lines
    return told[-1] if told else "no error message"


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
