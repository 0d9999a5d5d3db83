"""Property tests (hypothesis) for the parsers, the normalizer and the chunker on arbitrary input.

The properties: parsing anything either gives a document or raises one of the project's own
errors (never another exception); the normalizer returns text for any text and stays linear on
long input; the chunker keeps every piece within the token limit and loses no text.

The budget is bounded so the file runs in well under a minute on two cores: the ``ci`` profile
(the default) runs a fixed, derandomized set of examples. ``HYPOTHESIS_PROFILE=explore`` runs
ten times as many random ones, for a longer hunt.
"""

from __future__ import annotations

import io
import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kokoro_common import KokoroError
from preprocess import Block, BlockKind, Chapter, ChunkOptions, chunk_chapter
from preprocess.epub import parse_epub
from preprocess.markdown import parse_markdown
from preprocess.normalize import Normalizer, PairedMarkup
from preprocess.parse import parse_bytes, parse_text
from preprocess import decode_text
from tests.hostile.make_corpus import _epub_files

settings.register_profile("ci", max_examples=300, deadline=None, derandomize=True,
                          database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", max_examples=3000, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

NORMALIZER = Normalizer()

# Characters that the parsers and rules react to, mixed with ordinary and odd text.
MARKUP = list("#*_`~[]()<>!|-+=.:,;/\\&@$%^\"'\n\t ") + ["**", "~~", "```", "> ", "- ", "1. ",
                                                         "http://", "www.", "&amp;", "&#x41;"]
ODD = ["\x00", "\x07", "\x1b", "\u200b", "\u202e", "\ufeff", "\u00ad", "\ud800", "\U0001F600",
       "\u0301", "\r", "\x0c", "\x0b", "\u2028"]
WORDS = ["The", "boats", "came", "in", "Dr.", "St.", "etc.", "1999", "apples", "Henry", "VIII",
         "v1.2.3", "10:30", "5km", "$5", "½", "NASA", "parse_file", "fooBar", "CHAPTER", "IV."]
text_like = st.lists(st.one_of(st.sampled_from(MARKUP), st.sampled_from(WORDS),
                               st.sampled_from(ODD), st.text(max_size=8)),
                     max_size=80).map("".join)
any_text = st.one_of(st.text(max_size=400), text_like)


def _project_error_or_document(parse, *args, **kwargs):
    try:
        return parse(*args, **kwargs)
    except KokoroError:
        return None


# --- parsers -------------------------------------------------------------------------------------


@given(any_text, st.sampled_from(["markdown", "text"]))
def test_parse_text_never_crashes(text: str, fmt: str) -> None:
    document = _project_error_or_document(parse_text, text, fmt=fmt, name="fuzz")
    if document is not None:
        assert document.chapters, "a document without chapters must be refused"
        for chapter in document.chapters:
            assert chapter.title and all(b.text.strip() for b in chapter.blocks)
            assert not re.search("[\x00-\x08\x0b-\x1f\u200b\u202e\ufeff\ud800-\udfff]",
                                 chapter.title + chapter.text)


@given(st.binary(max_size=600), st.sampled_from(["markdown", "text"]))
def test_parse_bytes_never_crashes(data: bytes, fmt: str) -> None:
    _project_error_or_document(parse_bytes, data, fmt=fmt, name="fuzz")


@given(st.binary(max_size=400))
def test_decode_text_gives_text_or_refuses(data: bytes) -> None:
    try:
        assert isinstance(decode_text(data, name="fuzz"), str)
    except KokoroError:
        pass


@given(st.text(alphabet="-*>#`~[]()! \n abc1.", max_size=300), st.integers(1, 6) | st.none())
def test_markdown_structure_never_crashes(text: str, level) -> None:
    _project_error_or_document(parse_markdown, text, name="fuzz", split_level=level)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


EPUB_PARTS = list(_epub_files())


@given(st.sampled_from(EPUB_PARTS),
       st.one_of(st.binary(max_size=300), text_like.map(lambda t: t.encode("utf-8", "surrogatepass"))),
       st.booleans())
@settings(max_examples=100)
def test_epub_with_a_damaged_part_never_crashes(tmp_path_factory, part: str, data: bytes,
                                                splice: bool) -> None:
    files = _epub_files()
    # Replace the part, or splice the junk into its middle (keeping most of the markup).
    middle = len(files[part]) // 2
    files[part] = files[part][:middle] + data + files[part][middle:] if splice else data
    path = tmp_path_factory.mktemp("epub") / "fuzz.epub"
    path.write_bytes(_zip(files))
    _project_error_or_document(parse_epub, path)


@given(st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8))
@settings(max_examples=100)
def test_epub_with_flipped_bytes_never_crashes(tmp_path_factory, flips) -> None:
    data = bytearray(_zip(_epub_files()))
    for offset, value in flips:
        data[offset % len(data)] = value
    path = tmp_path_factory.mktemp("epub") / "fuzz.epub"
    path.write_bytes(bytes(data))
    _project_error_or_document(parse_epub, path)


# --- the normalizer ------------------------------------------------------------------------------


@given(any_text)
def test_normalizer_returns_text(text: str) -> None:
    out = NORMALIZER(text)
    assert isinstance(out, str)
    assert out == out.strip()
    assert all(len(run) <= 100 for run in out.split())  # no run misaki chokes on


@given(st.text(alphabet="*_~ a\n", max_size=40))
@settings(max_examples=400)
def test_paired_markup_is_the_regex(text: str) -> None:
    """The linear bold/strikethrough scanner does exactly what the regexes it replaces did."""
    bold = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.M)
    strike = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~", re.M)
    assert PairedMarkup("**", "__").sub("", text) == bold.sub(r"\2", text)
    assert PairedMarkup("~~").sub("", text) == strike.sub(r"\1", text)


@given(st.lists(st.sampled_from(MARKUP + WORDS + ["a", "1", "A", " "]), min_size=1, max_size=4))
@settings(max_examples=25)
def test_normalizer_is_linear_on_long_input(units: list[str]) -> None:
    """No rule may take time that grows faster than the text: 8x the text, at most ~8x the time
    (with room for noise), and a 200,000-character paragraph in a few seconds at most."""
    unit = "".join(units)
    small = unit * (25_000 // len(unit) + 1)
    large = unit * (200_000 // len(unit) + 1)
    started = time.perf_counter()
    NORMALIZER(small)
    middle = time.perf_counter()
    NORMALIZER(large)
    small_time, large_time = middle - started, time.perf_counter() - middle
    assert large_time < max(24 * small_time, 0.5), (unit, small_time, large_time)
    assert large_time < 10


# --- the chunker ---------------------------------------------------------------------------------


def _fake_g2p(text: str) -> str:
    """One "phoneme" per character that is not a space: fast, and easy to count."""
    return "".join(ch for ch in text if not ch.isspace())


def _dense(text: str) -> str:
    return "".join(text.split())


@given(st.lists(any_text, min_size=1, max_size=6), st.integers(1, 200), st.booleans())
def test_chunks_fit_and_keep_every_character(texts: list[str], target: int, normalize: bool) -> None:
    blocks = tuple(Block(BlockKind.PARAGRAPH, t) for t in texts)
    chapter = Chapter(index=1, title="t", blocks=blocks)
    options = ChunkOptions(target_tokens=min(target, 510), max_tokens=510)
    norm = NORMALIZER if normalize else str.strip
    chunks = list(chunk_chapter(chapter, _fake_g2p, len, norm, options))
    assert all(0 < c.tokens <= 510 for c in chunks)
    assert "".join(_dense(c.text) for c in chunks) == "".join(_dense(norm(t)) for t in texts)


@given(st.integers(1, 5), st.sampled_from(["word ", "a", "a, ", "[a", "1"]))
@settings(max_examples=15)
def test_chunker_cuts_huge_text_without_huge_g2p_calls(scale: int, unit: str) -> None:
    """A paragraph of any length and shape never sends G2P more than a few thousand
    characters at once, and every piece fits the model."""
    text = unit * (scale * 40_000 // len(unit))
    longest = 0

    def g2p(piece: str) -> str:
        nonlocal longest
        longest = max(longest, len(piece))
        return _fake_g2p(piece)

    chapter = Chapter(index=1, title="t", blocks=(Block(BlockKind.PARAGRAPH, text),))
    chunks = list(chunk_chapter(chapter, g2p, len, str.strip, ChunkOptions()))
    assert longest <= 2000 and all(c.tokens <= 510 for c in chunks)
    assert "".join(_dense(c.text) for c in chunks) == _dense(text)


@pytest.fixture(scope="module")
def english(english_g2p):
    return english_g2p


@given(st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(MARKUP), st.sampled_from(ODD)),
                min_size=1, max_size=60).map(" ".join))
@settings(max_examples=40)
def test_real_g2p_pieces_fit_the_model(english, text: str) -> None:
    """With misaki itself: the normalized, chunked text phonemizes without an error and every
    piece fits the model's 510 tokens."""
    from engine import token_count

    chapter = Chapter(index=1, title="t", blocks=(Block(BlockKind.PARAGRAPH, text),))
    chunks = list(chunk_chapter(chapter, english, token_count, NORMALIZER, ChunkOptions()))
    assert all(0 < c.tokens <= 510 for c in chunks)
