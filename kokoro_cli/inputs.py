"""Reading what the user named: a file or stdin, parsed with the shared reading options, and
the chapter selection applied. Quoted shell patterns are expanded here too."""

from __future__ import annotations

import dataclasses
import glob
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from kokoro_cli.errors import UsageError
from kokoro_cli.selection import parse_selection

__all__ = ["ParseSettings", "expand_inputs", "read_document", "read_stdin_text"]

INPUT_FORMATS = ("markdown", "epub", "text", "ssml")


@dataclass(frozen=True)
class ParseSettings:
    """How to read the input: the options every reading command shares."""

    fmt: Optional[str] = None
    split_level: Optional[int] = None
    code: str = "skip"
    keep_front_matter: bool = False
    chapters: Optional[str] = None

    def __post_init__(self) -> None:
        from preprocess import CODE_POLICIES

        if self.code not in CODE_POLICIES:
            raise UsageError(f"--code {self.code!r}: use {', '.join(CODE_POLICIES)}")
        if self.fmt is not None and self.fmt not in INPUT_FORMATS:
            raise UsageError(f"--input-format {self.fmt!r}: use {', '.join(INPUT_FORMATS)}")


def read_document(input: Path, settings: ParseSettings):
    """The parsed input ('-' is stdin): the whole document and the one with only the selected
    chapters (the same object when nothing is selected)."""
    from preprocess import MAX_TEXT_BYTES, parse_bytes, parse_file

    options = {"split_level": settings.split_level, "code": settings.code,
               "keep_front_matter": settings.keep_front_matter}
    if str(input) == "-":
        # Bytes, decoded like a file (invalid UTF-8 is not a crash), and no more than the limit.
        data = sys.stdin.buffer.read(MAX_TEXT_BYTES + 1)
        document = parse_bytes(data, fmt=settings.fmt or "text", name="stdin", **options)
    else:
        document = parse_file(input, fmt=settings.fmt, **options)
    if settings.chapters is None:
        return document, document
    chosen = set(parse_selection(settings.chapters, len(document.chapters)))
    return document, dataclasses.replace(document, chapters=tuple(
        c for c in document.chapters if c.index in chosen))


def read_stdin_text() -> str:
    """Standard input decoded like a text file (any bytes, never a crash), within the limit."""
    from preprocess import MAX_TEXT_BYTES, InputError, decode_text

    data = sys.stdin.buffer.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise InputError(f"stdin is too large: more than {MAX_TEXT_BYTES >> 20} MB of text")
    return decode_text(data, name="stdin")


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Inputs with quoted shell patterns ("books/*.epub") expanded, as cron lines often hold."""
    files: list[Path] = []
    for item in inputs:
        text = str(item)
        pattern = any(c in text for c in "*?[") and not item.exists()
        matches = sorted(glob.glob(text)) if pattern else []
        files += [Path(m) for m in matches] or [item]
    return files
