"""Coverage-guided fuzzing of the parsers, the normalizer and the chunker with atheris.

Optional (``pip install atheris``; not part of the test suite). Any exception other than the
project's own ``KokoroError`` is a finding: atheris stops and writes the input that caused it
(``crash-<sha1>``) to the current folder. Run one target for a bounded time::

    .venv/bin/python tests/hostile/atheris_fuzz.py markdown -max_total_time=300
    .venv/bin/python tests/hostile/atheris_fuzz.py text -max_total_time=300
    .venv/bin/python tests/hostile/atheris_fuzz.py epub -max_total_time=300 -max_len=20000
    .venv/bin/python tests/hostile/atheris_fuzz.py normalize -max_total_time=300

The remaining arguments are libFuzzer's (``-runs=N``, ``-max_len=N``, a corpus folder).
``epub`` starts from the valid EPUB of ``make_corpus.py`` and mutates its bytes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

# Only the project's own code is instrumented: instrumenting PyYAML's scanner broke it (a false
# "AttributeError" that the same input does not raise uninstrumented).
with atheris.instrument_imports(include=["preprocess"]):
    from kokoro_common import KokoroError
    from preprocess import Block, BlockKind, Chapter, ChunkOptions, chunk_chapter
    from preprocess.epub import parse_epub
    from preprocess.normalize import Normalizer
    from preprocess.parse import parse_bytes

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.hostile.make_corpus import _epub_files, _zip  # noqa: E402

NORMALIZER = Normalizer()
_EPUB = Path(tempfile.mkdtemp(prefix="atheris-")) / "fuzz.epub"


def _fake_g2p(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace())


def markdown(data: bytes) -> None:
    try:
        parse_bytes(data, fmt="markdown", name="fuzz")
    except KokoroError:
        pass


def text(data: bytes) -> None:
    try:
        parse_bytes(data, fmt="text", name="fuzz")
    except KokoroError:
        pass


def epub(data: bytes) -> None:
    _EPUB.write_bytes(data)
    try:
        parse_epub(_EPUB)
    except KokoroError:
        pass


def normalize(data: bytes) -> None:
    source = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    spoken = NORMALIZER(source)
    assert isinstance(spoken, str)
    chapter = Chapter(index=1, title="t", blocks=(Block(BlockKind.PARAGRAPH, source),))
    chunks = list(chunk_chapter(chapter, _fake_g2p, len, NORMALIZER, ChunkOptions()))
    assert all(0 < c.tokens <= 510 for c in chunks)
    assert "".join("".join(c.text.split()) for c in chunks) == "".join(spoken.split())


TARGETS = {"markdown": markdown, "text": text, "epub": epub, "normalize": normalize}


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: atheris_fuzz.py {{{','.join(TARGETS)}}} [libFuzzer options]")
    target = TARGETS[argv[1]]
    args = [argv[0], *argv[2:]]
    if target is epub:
        seeds = Path(tempfile.mkdtemp(prefix="atheris-seeds-"))
        (seeds / "valid.epub").write_bytes(_zip(list(_epub_files().items())))
        args.append(str(seeds))
    atheris.Setup(args, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
