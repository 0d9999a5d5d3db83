"""Where an output goes: options from the flags, the file named from the title (one safe-name rule
for books and chapter tracks), the checks made before any synthesis; and the package's shape."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kokoro_cli.errors import OutputError, UsageError
from kokoro_cli.output.formats import OutputOptions
from kokoro_cli.output.plan import MAX_NAME_BYTES, ChapterAudio, track_name
from kokoro_cli.output.target import (
    check_writable,
    options_from_flags,
    output_name,
    resolve_target,
)
from kokoro_common.atomic import atomic_path

PACKAGE = Path(__file__).resolve().parents[1] / "kokoro_cli" / "output"


@pytest.mark.parametrize(("title", "expected"), [
    ("Weekly Report", "Weekly Report"),
    ("A/B: the \"test\"?", "A B the test"),
    ("  ..dots.. ", "dots"),
    ("\x00\x01", "fallback"),
    ("CON", "_CON"),  # Windows' device names, as chapter tracks always had
    ("nul.txt", "_nul.txt"),
    ("C1 \x85control\x9f", "C1 control"),
    ("???", "fallback"),
])  # fmt: skip
def test_output_name(title: str, expected: str) -> None:
    assert output_name(title, "fallback") == expected


def test_output_name_falls_back_to_a_safe_name() -> None:
    assert output_name("", "my:book") == "my book"
    assert output_name("", "...") == "audiobook"


def test_the_longest_names_leave_room_for_number_extension_and_temp_suffix(tmp_path: Path) -> None:
    """The same byte limit for a book and its tracks; the temp name of the longest part file and
    of the longest track still fit the 255 bytes of a file name, here on a real file system."""
    name = output_name("é" * 300, "x")
    assert len(name.encode()) == MAX_NAME_BYTES
    track = track_name(123, 999, ChapterAudio("日" * 300, Path("c.wav"), 0), "flac")
    assert track.startswith("123 - ") and len(track.encode()) <= 6 + MAX_NAME_BYTES + 5
    for dest in (tmp_path / f"{name} (Part 999).flac", tmp_path / track):
        with atomic_path(dest, suffix=dest.suffix) as temp:
            assert len(temp.name.encode()) <= 255
            temp.write_bytes(b"ok")
        assert dest.read_bytes() == b"ok"


@pytest.mark.parametrize(("output", "fmt", "split", "expected"), [
    (None, None, False, "m4b"),
    (Path("book.mp3"), None, False, "mp3"),
    (Path("book.OPUS"), None, False, "opus"),
    (Path("book.m4a"), None, False, "m4a"),
    (Path("-"), None, False, "wav"),
    (Path("book.txt"), None, False, "m4b"),  # resolve_target then says it does not fit
    (Path("folder.mp3"), None, True, "m4b"),  # a split output is a folder: no extension
    (Path("book.mp3"), "flac", False, "flac"),
])  # fmt: skip
def test_options_from_flags_take_the_format_from_the_extension(
    output: Path | None, fmt: str | None, split: bool, expected: str
) -> None:
    options = options_from_flags(output, fmt, None, split, None, None, 0, True)
    assert options == OutputOptions(format=expected, split_chapters=split)


def test_options_from_flags_raise_usage_errors_with_the_fix() -> None:
    with pytest.raises(UsageError, match="lossless"):
        options_from_flags(Path("b.flac"), None, None, False, None, "64k", 0, True)
    with pytest.raises(UsageError, match="use one of audiobook"):
        options_from_flags(None, None, "loud", False, None, None, 0, True)
    options = options_from_flags(None, "mp3", "acx", True, None, None, 250, False)
    assert (options.loudness, options.room_tone_ms, options.nero_chapters) == ("acx", 250, False)


def test_resolve_target_names_the_file_from_the_title(tmp_path: Path) -> None:
    source = tmp_path / "in.md"
    source.write_text("x")
    options = OutputOptions()
    assert resolve_target(source, None, tmp_path, 'A/B: "Night"', options) == (
        tmp_path / "A B Night.m4b")  # fmt: skip
    assert resolve_target(source, None, tmp_path, "", options) == tmp_path / "in.m4b"
    split = OutputOptions(split_chapters=True)
    assert resolve_target(source, None, tmp_path, "Book", split) == tmp_path / "Book"
    named = tmp_path / "mine.m4b"
    assert resolve_target(source, named, None, "Book", options) == named
    mp3 = OutputOptions(format="mp3")
    assert resolve_target(source, Path("-"), None, "Book", mp3) is None  # stdout


@pytest.mark.parametrize(("output", "options", "error", "message"), [
    ("-", OutputOptions(), UsageError, "m4b cannot be streamed"),
    ("book.mp3", OutputOptions(), UsageError, "does not end in .m4b"),
    ("in.m4b", OutputOptions(), UsageError, "is the input file"),
    ("missing/book.m4b", OutputOptions(), OutputError, "does not exist"),
    ("folder", OutputOptions(), UsageError, "does not end in .m4b"),
    ("folder.m4b", OutputOptions(), OutputError, "is not a regular file"),
    ("file.m4b", OutputOptions(split_chapters=True), OutputError, "is not a folder"),
])  # fmt: skip
def test_resolve_target_refuses_before_any_work(
    tmp_path: Path, output: str, options: OutputOptions, error: type, message: str
) -> None:
    source = tmp_path / "in.m4b"
    source.write_text("a text file with an audio name")
    (tmp_path / "folder.m4b").mkdir()
    (tmp_path / "file.m4b").write_bytes(b"")
    target = Path(output) if output == "-" else tmp_path / output
    with pytest.raises(error, match=message):
        resolve_target(source, target, None, "Book", options)


def test_resolve_target_wants_a_name_for_stdin() -> None:
    with pytest.raises(UsageError, match="reading stdin"):
        resolve_target(Path("-"), None, None, "Book", OutputOptions())


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_check_writable_needs_a_folder_we_may_write(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot write in"):
            check_writable(locked / "book.m4b", False)
    finally:
        locked.chmod(0o700)
    check_writable(tmp_path / "book.m4b", False)


# --- the package's shape ----------------------------------------------------------------------


def test_the_modules_of_the_package_import_one_another_without_a_circle() -> None:
    deps = {}
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        deps[path.stem] = {n.module.rsplit(".", 1)[1] for n in ast.walk(tree)
                           if isinstance(n, ast.ImportFrom) and n.module
                           and n.module.startswith("kokoro_cli.output.")}  # fmt: skip
    del deps["__init__"]  # it only names what the others define
    done: list[str] = []
    while len(done) < len(deps):
        ready = [m for m in deps if m not in done and deps[m] <= set(done)]
        assert ready, f"import circle among {sorted(set(deps) - set(done))}"
        done += ready
    assert deps["ffmpeg"] <= {"metadata"}  # the seam needs only the FFMETADATA parser


def test_only_the_seam_starts_processes() -> None:
    for path in PACKAGE.glob("*.py"):
        if path.stem != "ffmpeg":
            assert "subprocess" not in path.read_text(), path.name


def test_importing_the_package_loads_no_audio_libraries() -> None:
    """``kokoro-cli --help`` imports the package; numpy, soundfile and mutagen wait."""
    code = ("import sys, kokoro_cli.output as o, kokoro_cli.output.encode, kokoro_cli.output.plan; "
            "o.write_book, o.OutputOptions, o.BookMeta, o.FfmpegError; "
            "print(sorted(m for m in ('numpy', 'soundfile', 'mutagen') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parents[1])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"
