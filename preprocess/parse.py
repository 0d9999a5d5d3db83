"""One entry point for every input format: pick the parser, read the file, check the result."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .document import Document
from .epub import parse_epub
from .errors import InputError
from .markdown import parse_markdown
from .plaintext import decode_text, parse_plaintext

__all__ = ["FORMATS", "parse_file", "parse_text"]

# File extensions per format; "" is a file without extension, read as plain text.
FORMATS: dict[str, tuple[str, ...]] = {
    "markdown": (".md", ".markdown"),
    "epub": (".epub",),
    "text": (".txt", ".text", ""),
}
# The keyword options each parser takes; an option meant for another format is ignored.
_OPTIONS: dict[str, frozenset[str]] = {
    "markdown": frozenset({"split_level", "code"}),
    "epub": frozenset({"keep_front_matter", "code"}),
    "text": frozenset(),
}
_TEXT_PARSERS: dict[str, Callable[..., Document]] = {
    "markdown": parse_markdown,
    "text": parse_plaintext,
}


def parse_file(path: Path, *, fmt: str | None = None, **options: Any) -> Document:
    """Parse a Markdown, EPUB or plain-text file into a document.

    The format comes from ``fmt`` ("markdown", "epub" or "text") or else the file extension.
    Options (``split_level``, ``code``, ``keep_front_matter``) go to the parsers that take them.
    Raises :class:`InputError` when the file cannot be read, is of an unsupported kind or has
    nothing to speak, and :class:`ParseError` when it is damaged.
    """
    path = Path(path)
    fmt = _format(path, fmt)
    kwargs = _options(fmt, options)
    if fmt == "epub":
        _check_readable(path)
        document = parse_epub(path, **kwargs)
    else:
        text = decode_text(_read(path), name=path.name)
        document = _TEXT_PARSERS[fmt](text, name=path.stem or path.name, **kwargs)
    return _finish(dataclasses.replace(document, source=path), path.name)


def parse_text(text: str, *, fmt: str = "text", name: str = "stdin", **options: Any) -> Document:
    """Parse text that is already in memory (standard input, say) as Markdown or plain text."""
    if fmt not in _TEXT_PARSERS:
        raise InputError(f"cannot parse {name} as {fmt!r}: text input is 'markdown' or 'text'")
    document = _TEXT_PARSERS[fmt](text, name=name, **_options(fmt, options))
    return _finish(document, name)


def _format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower()
    for name, suffixes in FORMATS.items():
        if suffix in suffixes:
            return name
    known = ", ".join(s for suffixes in FORMATS.values() for s in suffixes if s)
    raise InputError(f"cannot read {path}: unsupported file type {suffix!r} (supported: {known})")


def _options(fmt: str, options: dict[str, Any]) -> dict[str, Any]:
    known = frozenset().union(*_OPTIONS.values())
    unknown = sorted(set(options) - known)
    if unknown:
        # A misspelt option is a programming error, not a problem with the input.
        raise TypeError(f"unknown parser option(s): {', '.join(unknown)}")
    return {k: v for k, v in options.items() if k in _OPTIONS[fmt] and v is not None}


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise InputError(f"cannot read {path}: no such file")
    if path.is_dir():
        raise InputError(f"cannot read {path}: it is a directory")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read(path: Path) -> bytes:
    _check_readable(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _finish(document: Document, label: str) -> Document:
    """Drop chapters with nothing to speak, number the rest from 1, refuse an empty document."""
    spoken = [c for c in document.chapters if any(b.text.strip() for b in c.blocks)]
    if not spoken:
        raise InputError(f"{label} has no text to read")
    chapters = tuple(dataclasses.replace(c, index=i) for i, c in enumerate(spoken, start=1))
    return dataclasses.replace(document, chapters=chapters)

