"""Shared fixtures: the real model and voices (fetched once into the user cache), samples."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CORPUS = ROOT.parent / "shared" / "corpus"


def assert_same_timing_close_sound(first, second, text: str, correlation: float = 0.95):
    """Two Synthesizers of one model read ``text`` (af_heart) with equal token durations and
    length, log-spectrogram correlation above ``correlation`` and level within 10 %; returns
    both audios."""
    from engine import Synthesizer

    voice = first.voice("af_heart")
    prepared = Synthesizer.prepare(first.phonemizer(voice)(text), voice, 1.0)
    audio_a, durations_a = first.backend.infer_timed(*prepared)
    audio_b, durations_b = second.backend.infer_timed(*prepared)
    assert np.array_equal(durations_a, durations_b)
    assert audio_a.size == audio_b.size
    assert log_spectrum_correlation(audio_a, audio_b) > correlation
    assert 0.9 < np.sqrt(np.mean(audio_b**2)) / np.sqrt(np.mean(audio_a**2)) < 1.1
    return audio_a, audio_b


def log_spectrum_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two equally long signals' log magnitude spectrograms (1024-sample
    Hann frames every 300 samples): 1 for the same sound, about 0.98 for the int8 export
    against its float decoder."""
    def spectrum(x: np.ndarray) -> np.ndarray:
        frames = np.lib.stride_tricks.sliding_window_view(x, 1024)[::300] * np.hanning(1024)
        return np.log(np.abs(np.fft.rfft(frames, axis=1)) + 1e-4)

    return float(np.corrcoef(spectrum(a).ravel(), spectrum(b).ravel())[0, 1])


def write_epub(path: Path, language: str, chapters: tuple[tuple[str, str, str], ...],
               title: str = "Le Phare") -> Path:
    """A small EPUB in ``language`` of (title, XHTML body after the heading, language)
    chapters; a body that is no markup is one paragraph."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier(f"{language}-test")
    book.set_title(title)
    book.set_language(language)
    book.add_author("Ada Quill")
    items = []
    for i, (heading, text, lang) in enumerate(chapters, start=1):
        item = epub.EpubHtml(title=heading, file_name=f"c{i}.xhtml", lang=lang)
        body = text if text.startswith("<") else f"<p>{text}</p>"
        item.content = f"<html><body><h1>{heading}</h1>{body}</body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.spine = ["nav", *items]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)
    return path


def cli_script() -> list[str]:
    """The installed ``kokoro-cli`` beside this Python, or ``python -m kokoro_cli``."""
    exe = Path(sys.executable).with_name("kokoro-cli")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "kokoro_cli"]


def child_pids(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def can_mount_tmpfs() -> bool:
    """Whether this user may mount a tmpfs in a private mount namespace (for disk-full tests)."""
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
                          capture_output=True)
    return done.returncode == 0


# A two-chapter plain-text book (Gutenberg-style headings) for the executor tests.
SHORT_BOOK = """THE SHORT BOOK


CHAPTER I.
THE HARBOUR

The boats came in before noon, heavy with fish and salt.

Mara counted the crates twice, because her father always lost one.

The harbour master wrote the numbers in a green book.


CHAPTER II.
THE MARKET

By evening the square was loud with traders.

Nobody bought anything until the lamps were lit.

Then everyone bought at once.
"""


@pytest.fixture(scope="session")
def one_thread(resolver):
    """``one_thread(backend)``: a Synthesizer with one onnxruntime thread, loaded once a session
    per backend."""
    loaded = {}

    def load(backend: str):
        from engine import Synthesizer

        if backend not in loaded:
            loaded[backend] = Synthesizer.load(resolver, backend=backend, threads=1)
        return loaded[backend]

    return load


@pytest.fixture(scope="session")
def resolver():
    from engine import AssetResolver
    from kokoro_cli.assets_env import resolver_settings

    resolver = AssetResolver(**resolver_settings(None, None))  # $KOKORO_CLI_* as the CLI reads them
    resolver.fetch()  # what `kokoro-cli models fetch` does in setup; a no-op when cached
    return resolver


@pytest.fixture(scope="session")
def synth(resolver):
    from engine import Synthesizer

    return Synthesizer.load(resolver)


@pytest.fixture(scope="session")
def english_g2p():
    from engine.g2p import phonemizer_for

    return phonemizer_for("a")
