"""One entry point for every input format: pick the parser, read the file, check the result."""

from __future__ import annotations

import dataclasses
import re
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .document import Block, BlockKind, Chapter, Document, fold_heading_only
from .encoding import decode_text
from .epub import parse_epub
from .errors import InputError
from .inline import map_runs
from .markdown import parse_markdown
from .plaintext import _SMALL_WORDS, clean_text, is_part_label, parse_plaintext, titlecase
from .ssml import parse_ssml

__all__ = ["FORMATS", "MAX_TEXT_BYTES", "clean_text", "parse_bytes", "parse_file", "parse_text"]

# File extensions per format; "" is a file without extension, read as plain text.
FORMATS: dict[str, tuple[str, ...]] = {
    "markdown": (".md", ".markdown"),
    "epub": (".epub",),
    "text": (".txt", ".text", ""),
    "ssml": (".ssml",),
}
# A leading file-name word that only orders the files: "01", "ch03", "chapter-2" (with its number).
_ORDER_PREFIX = re.compile(r"(?:ch|chap|chapter|part|sec|section)?\d+[a-z]?", re.IGNORECASE)
# The keyword options each parser takes; an option meant for another format is ignored.
_OPTIONS: dict[str, frozenset[str]] = {
    "markdown": frozenset({"split_level", "code"}),
    "epub": frozenset({"keep_front_matter", "code"}),
    "text": frozenset(),
    "ssml": frozenset(),
}
_TEXT_PARSERS: dict[str, Callable[..., Document]] = {
    "markdown": parse_markdown,
    "text": parse_plaintext,
    "ssml": parse_ssml,
}
# The largest Markdown or text input read (a file, or stdin): about 2.7 million words, 280 hours
# of audio. Parsing costs up to ~75 bytes of memory per input byte (many tiny paragraphs); the
# Markdown parser has its own token limits on top (see preprocess/markdown.py).
MAX_TEXT_BYTES = 16 << 20
# Something a voice can say: a letter or a digit in any script.
_SPEAKABLE = re.compile(r"[^\W_]")


def parse_file(path: Path, *, fmt: str | None = None, **options: Any) -> Document:
    """Parse a Markdown, EPUB or plain-text file, or a folder of chapter files, into a document.

    The format comes from ``fmt`` ("markdown", "epub" or "text") or else the file extension.
    A folder is read as one book: its Markdown files (else its text files) in natural order
    ("ch2" before "ch10"), each contributing its chapters; see :func:`_parse_folder`.
    Options (``split_level``, ``code``, ``keep_front_matter``) go to the parsers that take them.
    Raises :class:`InputError` when the file cannot be read, is of an unsupported kind or has
    nothing to speak, and :class:`ParseError` when it is damaged.
    """
    path = Path(path)
    if path.is_dir() and path.suffix.lower() not in FORMATS["epub"]:
        return _finish(_parse_folder(path, fmt, options), path.name)
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
        raise InputError(f"cannot parse {name} as {fmt!r}: text input is 'markdown', 'text' "
                         "or 'ssml'")
    if len(text) > MAX_TEXT_BYTES:
        raise InputError(_too_large(name, len(text)))
    document = _TEXT_PARSERS[fmt](text, name=name, **_options(fmt, options))
    return _finish(document, name)


def parse_bytes(data: bytes, *, fmt: str = "text", name: str = "stdin", **options: Any) -> Document:
    """Parse undecoded Markdown or plain text (standard input, say): decoded as files are
    (:func:`~preprocess.encoding.decode_text`: UTF-8, UTF-16, else Windows-1252), refused when
    binary or over :data:`MAX_TEXT_BYTES`."""
    if len(data) > MAX_TEXT_BYTES:
        raise InputError(_too_large(name, len(data)))
    return parse_text(decode_text(data, name=name), fmt=fmt, name=name, **options)


def _too_large(name: str, size: int) -> str:
    return (f"{name} is too large to read: more than {MAX_TEXT_BYTES >> 20} MB of text "
            f"({size:,} bytes); split it into a folder of chapter files")


def _parse_folder(folder: Path, fmt: str | None, options: dict[str, Any]) -> Document:
    """One document from the chapter files of a folder.

    A file's top-level headings start its chapters; a file without headings is one chapter named
    after the file ("02-the_storm.md" -> "The Storm"). The book's title comes from the first
    file's front matter, else the folder's name; a file holding nothing but a heading ("Part
    One") is read at the start of the next file's first chapter.
    """
    files, fmt = _chapter_files(folder, fmt)
    kwargs = _options(fmt, options)
    if fmt == "markdown":
        kwargs["chapter_file"] = True
    parts = []
    for file in files:
        text = decode_text(_read(file), name=file.name)
        parts.append(_TEXT_PARSERS[fmt](text, name=_pretty_name(file.stem), **kwargs))
    first = parts[0]
    has_front_title = fmt == "markdown" and first.title != _pretty_name(files[0].stem)
    return Document(
        title=first.title if has_front_title else folder.name,
        chapters=fold_heading_only([c for part in parts for c in part.chapters]),
        authors=next((part.authors for part in parts if part.authors), ()),
        language=first.language,
        language_declared=first.language_declared,
        source=folder,
    )


def _chapter_files(folder: Path, fmt: str | None) -> tuple[list[Path], str]:
    """The folder's files of the format (Markdown first, else text) in natural order."""
    if fmt is not None and fmt not in _TEXT_PARSERS:
        raise InputError(f"cannot read {folder}: it is a directory; folders hold Markdown or text")
    for name in [fmt] if fmt else ["markdown", "text"]:
        files = [
            file
            for file in folder.iterdir()
            if file.is_file() and not file.name.startswith(".")
            and file.suffix and file.suffix.lower() in FORMATS[name]
        ]
        if files:
            _check_inside(folder, files)
            return sorted(files, key=_natural_key), name
    raise InputError(f"cannot read {folder}: it is a directory with no Markdown or text files")


def _check_inside(folder: Path, files: list[Path]) -> None:
    """Refuse a chapter file that is a link to a file outside the folder: a folder names what
    is read, and a link must not quietly read something else (another user's file, a secret)."""
    root = folder.resolve()
    for file in files:
        if file.is_symlink() and not file.resolve().is_relative_to(root):
            raise InputError(f"cannot read {file}: it links to {file.resolve()}, outside "
                             f"{folder}; copy the file into the folder or name it directly")


def _natural_key(path: Path) -> list[tuple[int, int | str]]:
    """Sort key that orders numbers by value: "ch2" before "ch10"."""
    parts = re.split(r"(\d+)", path.name.lower())
    return [(0, int(part)) if part.isdigit() else (1, part) for part in parts if part]


def _pretty_name(stem: str) -> str:
    """A chapter title from a file name: "02-the_storm" -> "The Storm", "ch10" -> "Ch10"."""
    words = [word for word in re.split(r"[\s_\-.]+", stem) if word]
    if len(words) > 1 and _ORDER_PREFIX.fullmatch(words[0]):
        words = words[1:]  # an ordering prefix ("01", "ch03") is not part of the title
    if not words:
        return stem
    if not " ".join(words).islower():
        return " ".join(words)
    return " ".join(
        word if position and word in _SMALL_WORDS else word.capitalize()
        for position, word in enumerate(words)
    )


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
    """A regular file we may open. A FIFO or a device would block or never end."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"cannot read {path}: no such file") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"cannot read {path}: it is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"cannot read {path}: it is not a regular file (a pipe or a device)")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read(path: Path) -> bytes:
    """The bytes of a text file, refused before reading when over :data:`MAX_TEXT_BYTES`."""
    _check_readable(path)
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise InputError(_too_large(path.name, path.stat().st_size))
    try:
        with path.open("rb") as f:
            data = f.read(MAX_TEXT_BYTES + 1)  # a file that grows while read stops here
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_TEXT_BYTES:
        raise InputError(_too_large(path.name, len(data)))
    return data


def _finish(document: Document, label: str) -> Document:
    """Clean the text, drop chapters with nothing to speak, title and number the rest; refuse a
    document with nothing to speak (no letter or digit in any chapter)."""
    document = _cleaned(document, label)
    spoken = [c for c in document.chapters if any(_SPEAKABLE.search(b.text) for b in c.blocks)]
    if not spoken:
        raise InputError(f"{label} has no text to read")
    # All-caps titles ("CHAPTER IV. THE STORM") are typography; every format gets title case.
    # A title that is the document's own name (a file called README) stays as it is.
    titled = [
        c if c.title in (document.title, label) else replace(c, title=titlecase(c.title))
        for c in spoken
    ]
    chapters = tuple(
        dataclasses.replace(c, index=i, title=c.title or f"Chapter {i}")
        for i, c in enumerate(_qualify_repeats(titled), start=1)
    )
    return dataclasses.replace(document, chapters=chapters)


def _cleaned(document: Document, label: str) -> Document:
    """The document with :func:`clean_text` applied to every text that is read or shown; blocks
    left empty are dropped."""
    def line(text: str) -> str:
        return " ".join(clean_text(text).split())

    chapters = []
    for chapter in document.chapters:
        blocks = [_clean_block(b) for b in chapter.blocks]
        chapters.append(replace(chapter, title=line(chapter.title),
                                blocks=tuple(b for b in blocks if b.text.strip())))
    return replace(document, title=line(document.title) or label,
                   authors=tuple(a for a in map(line, document.authors) if a),
                   language=line(document.language) or "en",
                   language_declared=document.language_declared and bool(line(document.language)),
                   publisher=line(document.publisher or "") or None,
                   date=line(document.date or "") or None,
                   chapters=tuple(chapters))


def _clean_block(block: Block) -> Block:
    if not block.runs:
        return replace(block, text=clean_text(block.text))
    text, runs = map_runs(block.text, block.runs, clean_text)  # runs follow their text
    return replace(block, text=text, runs=runs or None)


def _qualify_repeats(chapters: list[Chapter]) -> list[Chapter]:
    """Where chapter titles repeat (numbering restarts in each volume), name the part in them.

    "Chapter I" under a "VOLUME II" heading becomes "Volume II, Chapter I".
    """
    titles = [chapter.title for chapter in chapters]
    if len(set(titles)) == len(titles):
        return chapters
    part: str | None = None
    out = []
    for chapter in chapters:
        for block in chapter.blocks:
            if block.kind is not BlockKind.HEADING:
                break
            if is_part_label(block.text):
                part = titlecase(block.text.strip().rstrip(".:"))
        if part and not is_part_label(chapter.title):
            chapter = dataclasses.replace(chapter, title=f"{part}, {chapter.title}")
        out.append(chapter)
    return out

