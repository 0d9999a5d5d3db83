"""Read-along EPUBs: span insertion against literal XHTML, the overlay on the shared corpus book
(timing made up, audio real), a real conversion of the EPUB sample, a new EPUB 3 from Markdown,
and an EPUB whose XHTML cannot be rewritten. epubcheck runs where it is installed."""

from __future__ import annotations

import itertools
import posixpath
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import lxml.etree as etree
import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_cli.output import BookMeta, OutputOptions
from kokoro_cli.output.plan import ChapterAudio
from kokoro_cli.output.timing import ChapterTiming, SentenceTime, TimedChapter
from kokoro_cli.readalong import write_read_along
from kokoro_cli.readalong.spans import wrap_sentences
from preprocess import Normalizer, chunk_chapter, parse_file
from tests.conftest import CORPUS, SAMPLES

JAR = Path("/usr/share/java/epubcheck.jar")


def epubcheck(book: Path) -> str | None:
    """epubcheck's report, or None where it is not installed (Debian: apt-get install
    epubcheck; its /usr/bin wrapper needs binfmt, so the jar is run with java)."""
    if shutil.which("java") is None or not JAR.is_file():
        return None
    run = subprocess.run(["java", "-jar", str(JAR), str(book)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout + run.stderr


def test_sentences_are_wrapped_in_spans_where_their_ends_share_an_element():
    body = etree.fromstring(
        '<body xmlns="http://www.w3.org/1999/xhtml"><h1>One</h1><p>The storm came. It was '
        '<em>very</em> loud. <i>All italic.</i> Cut <a href="#x">here. And</a> on.</p></body>')
    ids = (f"s{i}" for i in itertools.count(1))
    found, used = wrap_sentences(body, ["One", "The storm came.", "It was very loud.",
                                        "All italic.", "Cut here.", "And on."], ids)
    assert found == {0: "s1", 1: "s2", 2: "s3", 3: "s4"} and used == 6
    text = etree.tostring(body, encoding="unicode").replace(
        ' xmlns="http://www.w3.org/1999/xhtml"', "")
    assert text == ('<body><h1><span id="s1">One</span></h1><p><span id="s2">The storm came.'
                    '</span> <span id="s3">It was <em>very</em> loud.</span> <i><span id="s4">'
                    'All italic.</span></i> Cut <a href="#x">here. And</a> on.</p></body>')


def _made_up_timing(document, folder: Path) -> list[TimedChapter]:
    """Each sentence 0.2 s long, in silent chapter WAVs of the right length."""
    timed = []
    for chapter in document.chapters:
        chunks = chunk_chapter(chapter, lambda s: s, len, Normalizer())
        texts = list(dict.fromkeys((s.sentence, s.written) for c in chunks for s in c.spans))
        sentences = tuple(SentenceTime(i * 4800, i * 4800 + 4000, t)
                          for i, (_, t) in enumerate(texts))
        samples = 4800 * len(sentences) + 2400
        wav = folder / f"{chapter.index}.wav"
        sf.write(wav, np.zeros(samples, dtype=np.int16), 24000, subtype="PCM_16")
        timed.append(TimedChapter(ChapterAudio(chapter.title, wav, samples),
                                  ChapterTiming(24000, samples, (), sentences)))
    return timed


def _check_overlay(book: Path) -> tuple[int, int]:
    """SMIL references resolve, each span is referenced once, clip times increase; returns
    (spans in the text, sentences timed)."""
    with zipfile.ZipFile(book) as archive:
        names = set(archive.namelist())
        smils = [n for n in names if n.endswith(".smil")]
        referenced, spans = [], 0
        for name in smils:
            root = etree.fromstring(archive.read(name))
            last: dict[str, float] = {}
            for par in root.iter("{*}par"):
                doc, _, fragment = par.find("{*}text").get("src").partition("#")
                audio = par.find("{*}audio")
                path = posixpath.normpath(posixpath.join(posixpath.dirname(name), doc))
                assert path in names
                assert posixpath.normpath(posixpath.join(posixpath.dirname(name),
                                                         audio.get("src"))) in names
                assert f'id="{fragment}"'.encode() in archive.read(path)
                begin, end = (float(audio.get(k)[:-1]) for k in ("clipBegin", "clipEnd"))
                assert last.get(audio.get("src"), -1) <= begin < end
                last[audio.get("src")] = end
                referenced.append((path, fragment))
        for name in names:
            if name.endswith((".xhtml", ".html")):
                spans += len(re.findall(rb'id="ra-s\d+"', archive.read(name)))
    assert len(referenced) == len(set(referenced)) == spans
    return spans, len(referenced)


@pytest.mark.skipif(not (CORPUS / "accessible_epub_3.epub").is_file(), reason="no corpus book")
def test_the_corpus_book_gets_an_overlay_that_epubcheck_accepts(tmp_path):
    document = parse_file(CORPUS / "accessible_epub_3.epub")
    timed = _made_up_timing(document, tmp_path)
    book = write_read_along(document, timed, tmp_path / "ra.epub",
                            OutputOptions(loudness="off"), BookMeta(title=document.title))
    spans, _ = _check_overlay(book)
    total = sum(len(t.timing.sentences) for t in timed)
    assert spans > 0.9 * total, (spans, total)
    report = epubcheck(book)
    assert report is None or "0 errors" in report, report


def test_markdown_gets_a_new_epub3(tmp_path):
    (tmp_path / "notes.md").write_text("# First\n\nHello there. Version v2.4.1 shipped.\n\n"
                                       "# Second\n\nThe *end* came.\n")
    document = parse_file(tmp_path / "notes.md")
    book = write_read_along(document, _made_up_timing(document, tmp_path),
                            tmp_path / "notes.epub", OutputOptions(loudness="off"),
                            BookMeta(title="Notes"))
    assert _check_overlay(book) == (5, 5)
    report = epubcheck(book)
    assert report is None or "0 errors" in report, report


@pytest.fixture(scope="module")
def lighthouse(tmp_path_factory, resolver):
    root = tmp_path_factory.mktemp("readalong")
    result = CliRunner().invoke(app, [
        "convert", str(SAMPLES / "lighthouse.epub"), "-o", str(root / "book.m4b"),
        "--work-dir", str(root / "work"), "--read-along", str(root / "book-ra.epub")])
    assert result.exit_code == 0, result.output
    return root


@pytest.mark.slow
def test_the_sample_epub_reads_along_with_every_sentence(lighthouse):
    spans, timed = _check_overlay(lighthouse / "book-ra.epub")
    sidecars = sorted((lighthouse / "work").rglob("*.timing.json"))
    total = sum(len(ChapterTiming.from_json(p.read_bytes()).sentences) for p in sidecars)
    assert spans == timed == total
    with zipfile.ZipFile(lighthouse / "book-ra.epub") as archive:
        opf = archive.read("EPUB/content.opf").decode()
    assert 'property="media:active-class"' in opf and "media-overlay=" in opf
    report = epubcheck(lighthouse / "book-ra.epub")
    assert report is None or "0 errors" in report, report


def test_xhtml_that_cannot_be_rewritten_is_exit_3_after_the_audio(tmp_path, resolver):
    bad = tmp_path / "bad.epub"
    with zipfile.ZipFile(SAMPLES / "lighthouse.epub") as src, zipfile.ZipFile(bad, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("chapter_3.xhtml"):
                data = data.replace(b"</p>", b"", 1)  # not well-formed; browsers cope
            out.writestr(info, data)
    result = CliRunner().invoke(app, [
        "convert", str(bad), "-o", str(tmp_path / "bad.m4b"), "--chapters", "3",
        "--work-dir", str(tmp_path / "work"), "--read-along", str(tmp_path / "bad-ra.epub")])
    assert result.exit_code == 3, result.output
    assert "chapter_3.xhtml" in result.output and "well-formed" in result.output
    assert (tmp_path / "bad.m4b").is_file() and not (tmp_path / "bad-ra.epub").exists()
