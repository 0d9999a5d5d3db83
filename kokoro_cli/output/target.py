"""Where an output goes: the options from the command's flags, the file or folder it is written
to (named from the book's title when the user named none), and whether it can be written there.

Checked before any synthesis, so a bad ``-o`` fails in a second rather than after hours.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from kokoro_cli.errors import OutputError, UsageError
from kokoro_cli.output.formats import FORMATS, OutputOptions
from kokoro_cli.output.loudness import DEFAULT_PRESET
from kokoro_cli.output.plan import safe_filename

__all__ = ["check_writable", "options_from_flags", "output_name", "resolve_target"]

# Extensions a format may also be written under (besides its own), and what they are: an -o
# with one of them names the format to ask for, rather than being taken for the default.
OTHER_EXTENSIONS: dict[str, tuple[str, str]] = {".ogg": ("opus", "Ogg Opus")}


def output_name(title: str, fallback: str) -> str:
    """A file name (without extension) from a document title, made safe for every common file
    system by the same rule as chapter track names; ``fallback`` when nothing of it is left."""
    return safe_filename(title) or safe_filename(fallback) or "audiobook"


def options_from_flags(
    output: Path | None,
    fmt: str | None,
    loudness: str | None,
    split: bool,
    max_part_hours: float | None,
    bitrate: str | None,
    room_tone_ms: int,
    nero: bool,
) -> OutputOptions:
    """OutputOptions from the command's flags; the format defaults to ``output``'s extension
    (WAV on stdout, ``-``), else M4B. Raises UsageError with the fix when they do not fit."""
    if fmt is None and output is not None and not split:
        if output.suffix.lower() in OTHER_EXTENSIONS:
            other, kind = OTHER_EXTENSIONS[output.suffix.lower()]
            raise UsageError(f"output {output}: {output.suffix} output is {kind}; "
                             f"add --format {other} (or name it .{FORMATS[other].extension})")
        ext = "wav" if str(output) == "-" else output.suffix.lstrip(".").lower()
        fmt = ext if ext in FORMATS else None
    try:
        return OutputOptions(format=fmt or "m4b", loudness=loudness or DEFAULT_PRESET,
                             split_chapters=split, nero_chapters=nero, bitrate=bitrate,
                             room_tone_ms=room_tone_ms, max_part_hours=max_part_hours)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def resolve_target(
    input: Path, output: Path | None, folder: Path | None, title: str, options: OutputOptions
) -> Path | None:
    """Where the output goes: None for stdout (``-o -``), a folder with split chapters, else a
    file whose extension matches the format; by default named from ``title`` in ``folder``
    (or the working folder). Checked to be writable. Raises UsageError or OutputError."""
    if output is not None and str(output) == "-":
        if not options.streamable:
            raise UsageError(f"{options.format} cannot be streamed (MP4 needs to seek); "
                             "use --format mp3, wav, flac or opus with -o -")
        return None
    if output is None and str(input) == "-" and folder is None:
        raise UsageError("reading stdin: name the output with -o FILE or --out-dir")
    suffix = "" if options.split_chapters else "." + options.codec.extension
    target = output if output is not None else (folder or Path(".")) / (
        output_name(title, input.stem or "audiobook") + suffix)
    if not options.split_chapters and target.suffix.lower() != suffix and \
            OTHER_EXTENSIONS.get(target.suffix.lower(), ("",))[0] != options.format:
        raise UsageError(f"output {target} does not end in {suffix} for {options.format} "
                         "output; change -o or --format")
    if target.exists() and input.exists() and target.resolve() == input.resolve():
        raise UsageError("the output path is the input file; choose another -o")
    if not target.resolve().parent.is_dir():
        raise OutputError(f"output folder {target.parent} does not exist")
    check_writable(target, options.split_chapters)
    return target


def check_writable(target: Path, folder: bool) -> None:
    """Fail before hours of synthesis, not after: the target must be a file (or, with
    ``folder``, a folder) we may replace, in a folder we may write. Raises OutputError."""
    if target.exists() and (not target.is_dir() if folder else not target.is_file()):
        kind = "a folder" if folder else "a regular file"
        raise OutputError(f"output {target} exists and is not {kind}")
    where = target if folder and target.is_dir() else target.absolute().parent  # a link's own
    try:
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write in {where}: {exc.strerror or exc}") from None
