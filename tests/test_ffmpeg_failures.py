"""ffmpeg's common failures are named (#26 item 6): a full disk, a missing file or folder, no
permission, a read-only file system, data that is not media, an encoder this ffmpeg lacks.
Their stderr's last line is often an encoder's statistics ("[aac @ 0x…] Qavg: 417.6"), which
said nothing. The pure mapping as a table of real stderr tails (ffmpeg 5.1 and 7+), real
failing ffmpeg runs, and the installed command muxing into a real full tmpfs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from kokoro_cli.output.ffmpeg import INSTALL_HINT, FfmpegError, failure, run_ffmpeg, run_ffmpeg_log
from tests.conftest import can_mount_tmpfs, cli_script

PART = "/out/.book.m4b.k2x9a1qz.part.m4b"

TAILS: dict[str, tuple[str, str]] = {
    # ffmpeg 5.1, the mux (log level info) on a full disk: the last line was "Qavg: 220.007"
    "full, 5.1, info": (
        f"Error writing trailer of {PART}: No space left on device\n"
        "size=       0kB time=00:00:30.00 bitrate=   0.0kbits/s speed=90.5x    \n"
        "video:0kB audio:254kB subtitle:0kB other streams:0kB global headers:0kB muxing "
        "overhead: unknown\n"
        f"Error closing file {PART}: No space left on device\n"
        "[aac @ 0x558b6fd41240] Qavg: 220.007\n",
        f"the disk is full: Error writing trailer of {PART}: No space left on device"),
    "full, 5.1, error": (
        "Could not write header for output file #0 (incorrect codec parameters ?): No space "
        "left on device\nError initializing output stream 0:0 -- \n",
        "the disk is full: Could not write header for output file #0 (incorrect codec "
        "parameters ?): No space left on device"),
    "full, 7+": (
        "[out#0/mp4 @ 0x55c8998ce7c0] Could not write header (incorrect codec parameters ?): "
        "No space left on device\n"
        "[af#0:0 @ 0x55c8998d06c0] Error sending frames to consumers: No space left on device\n"
        "[af#0:0 @ 0x55c8998d06c0] Task finished with error code: -28 (No space left on "
        "device)\n"
        "[out#0/mp4 @ 0x55c8998ce7c0] Nothing was written into output file, because at least "
        "one of its streams received no packets.\n"
        "size=       0KiB time=N/A bitrate=N/A speed=N/A elapsed=0:00:00.00    \n"
        "[aac @ 0x55c8998d0140] Qavg: nan\nConversion failed!\n",
        "the disk is full: Could not write header (incorrect codec parameters ?): No space "
        "left on device"),
    "no folder, 5.1": (
        "  Stream #0:0: Audio: pcm_s16le, 44100 Hz, mono, s16, 705 kb/s\n"
        "nodir/x.wav: No such file or directory\n",
        "a file or folder does not exist: nodir/x.wav: No such file or directory"),
    "no folder, 7+": (
        "[out#0/wav @ 0x558be1186780] Error opening output nodir/x.wav: No such file or "
        "directory\nError opening output file nodir/x.wav.\n"
        "Error opening output files: No such file or directory\n",
        "a file or folder does not exist: Error opening output nodir/x.wav: No such file or "
        "directory"),
    "no input, 7+": (
        "[in#0 @ 0x55f1ff274d00] Error opening input: No such file or directory\n"
        "Error opening input file missing.wav.\n"
        "Error opening input files: No such file or directory\n",
        "a file or folder does not exist: Error opening input: No such file or directory "
        "(missing.wav)"),
    "permission, 5.1": (
        "/sys/x.wav: Permission denied\n",
        "permission denied: /sys/x.wav: Permission denied"),
    "permission, 7+": (
        "[out#0/wav @ 0x556aea0c5780] Error opening output /sys/x.wav: Permission denied\n"
        "Error opening output file /sys/x.wav.\nError opening output files: Permission denied\n",
        "permission denied: Error opening output /sys/x.wav: Permission denied"),
    "read-only": (
        "/mnt/ro/x.wav: Read-only file system\n",
        "the file system is read-only: /mnt/ro/x.wav: Read-only file system"),
    "not media, 5.1": (
        "junk.wav: Invalid data found when processing input\n",
        "an input is not media ffmpeg can read: junk.wav: Invalid data found when processing "
        "input"),
    "not media, 7+": (
        "[in#0 @ 0x55aef6ac0d00] Error opening input: Invalid data found when processing "
        "input\nError opening input file junk.wav.\n"
        "Error opening input files: Invalid data found when processing input\n",
        "an input is not media ffmpeg can read: Error opening input: Invalid data found when "
        "processing input (junk.wav)"),
    "encoder, 5.1": (
        "  Stream #0:0: Audio: pcm_s16le, 44100 Hz, mono, s16, 705 kb/s\n"
        "Unknown encoder 'libfdk_aac'\n",
        f"this ffmpeg lacks an encoder the format needs; {INSTALL_HINT}: Unknown encoder "
        "'libfdk_aac'"),
    "encoder, 7+": (
        "[aost#0:0 @ 0x563e7bb95500] Unknown encoder 'libfdk_aac'\n"
        "[aost#0:0 @ 0x563e7bb95500] Error selecting an encoder\n"
        "Error opening output file x.m4a.\nError opening output files: Encoder not found\n",
        f"this ffmpeg lacks an encoder the format needs; {INSTALL_HINT}: Unknown encoder "
        "'libfdk_aac' (x.m4a)"),
    "i/o": (
        "/proc/self/mem: Input/output error\n",
        "an input/output error (a failing disk or network share?): /proc/self/mem: "
        "Input/output error"),
    "other: the last line that says something": (
        "[AVFilterGraph @ 0x55d0] No such filter: 'nosuchfilter'\n"
        "[aac @ 0x558b6fd41240] Qavg: 220.007\nConversion failed!\n",
        "No such filter: 'nosuchfilter'"),
    "nothing said": ("", "no error message"),
    "a title is not a cause": (
        "Input #1, ffmetadata, from 'metadata.txt':\n  Metadata:\n"
        "    title           : No space left on device\n"
        "[aac @ 0x558b6fd41240] Qavg: 220.007\n"
        "/out/x.m4a: Permission denied\n",
        "permission denied: /out/x.m4a: Permission denied"),
}


@pytest.mark.parametrize(("stderr", "said"), TAILS.values(), ids=TAILS.keys())
def test_ffmpegs_stderr_tail_is_told_as_its_cause(stderr, said):
    assert failure(stderr) == said


needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
SINE = ["-f", "lavfi", "-i", "sine=frequency=440:duration=5"]


@needs_ffmpeg
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_real_full_disk_is_named_not_the_encoders_statistics():
    """The mux's log level (info): the last line ffmpeg prints is "[aac @ …] Qavg: …". ffmpeg
    5 even exits 0 when it is the trailer that could not be written, its output cut short:
    that is a failure too."""
    with pytest.raises(FfmpegError) as caught:
        run_ffmpeg_log([*SINE, "-c:a", "aac", "-f", "adts", "/dev/full"])
    message = str(caught.value)
    assert re.match(r"ffmpeg failed( \(exit 1\))?: the disk is full: Error (writing trailer|"
                    r"closing file).*No space left on device$", message), message
    assert "Qavg" in caught.value.stderr  # the whole log is kept for --verbose
    with pytest.raises(FfmpegError, match=r"^ffmpeg failed \(exit 1\): the disk is full: "):
        run_ffmpeg([*SINE, "-c:a", "aac", "-f", "mp4", "/dev/full"])


@needs_ffmpeg
def test_a_real_missing_folder_and_missing_encoder_are_named(tmp_path):
    target = tmp_path / "no" / "such" / "folder" / "x.wav"
    with pytest.raises(FfmpegError) as caught:
        run_ffmpeg([*SINE, str(target)])
    assert str(caught.value).startswith("ffmpeg failed (exit 1): a file or folder does not "
                                        "exist: ")
    assert str(target) in str(caught.value)
    with pytest.raises(FfmpegError, match="lacks an encoder the format needs.*'nosuch'"):
        run_ffmpeg([*SINE, "-c:a", "nosuch", str(tmp_path / "x.m4a")])


@needs_ffmpeg
def test_a_book_titled_like_an_error_is_written(tmp_path):
    """ffmpeg's info log shows the inputs' tags: a title is never taken for a failure."""
    meta = tmp_path / "metadata.txt"
    meta.write_text(";FFMETADATA1\ntitle=No space left on device\n", encoding="utf-8")
    out = tmp_path / "x.m4a"
    log = run_ffmpeg_log([*SINE, "-f", "ffmetadata", "-i", str(meta), "-map", "0:a",
                          "-map_metadata", "1", "-c:a", "aac", str(out)])
    assert "title           : No space left on device" in log
    assert out.stat().st_size > 1000


@needs_ffmpeg
@pytest.mark.skipif(not can_mount_tmpfs(), reason="needs a user namespace to mount a tmpfs")
def test_the_command_muxing_onto_a_full_tmpfs_says_the_disk_is_full(tmp_path):
    """The real command, its output folder a 4 KiB tmpfs (a mount namespace of its own): the
    synthesis goes well, the mux runs out of room. One line naming the full disk, exit 5, and
    no half-written file left on the small disk."""
    doc = tmp_path / "note.md"
    doc.write_text("# Note\n\nThe build is green, and the tests ran in four minutes today.\n")
    small = tmp_path / "small"
    small.mkdir()
    script = (f'mount -t tmpfs -o size=4k tmpfs "$1" && shift && "$@"; rc=$?; '
              f'ls -A "{small}" > "{tmp_path}/left.txt"; exit $rc')
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", str(small), *cli_script(), "convert",
         str(doc), "-o", str(small / "note.m4b"), "--work-dir", str(tmp_path / "work"),
         "--progress", "none", "--qc", "off"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 5, done.stderr
    line, = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "the disk is full" in line, line
    assert "Qavg" not in line and "Traceback" not in done.stderr
    assert (tmp_path / "left.txt").read_text() == ""  # no temp file left on the full disk
