"""Scripts inside other languages' text (#30): Devanagari in English is read through Hindi,
letters no Kokoro language reads (Hebrew, Arabic) are skipped with a warning, a document mostly
in them is refused in one line, and espeak-ng's language-switch marks never reach the model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine.g2p import without_switches
from preprocess import Block, BlockKind, Chapter, Document, LanguageRun, parse_text, unreadable_script
from preprocess.scripts import with_script_runs

CLI = Path(sys.executable).with_name("kokoro-cli")
MIXED = "The word नमस्ते means hello, and שלום means peace, and سلام too."


def test_espeak_language_switch_marks_are_taken_out() -> None:
    assert without_switches("(hi)nəmˈʌstA(An-us) mˈinz") == "nəmˈʌstA mˈinz"
    assert without_switches("ðə wˈɜɹd") == "ðə wˈɜɹd"


def test_devanagari_in_english_becomes_a_hindi_run() -> None:
    chapter = Chapter(1, "One", (Block(BlockKind.PARAGRAPH, MIXED),))
    (block,) = with_script_runs(chapter, "en-us").blocks
    start = MIXED.index("न")
    assert block.runs == (LanguageRun(start, start + len("नमस्ते"), "hi"),)
    hindi = Chapter(1, "One", (Block(BlockKind.PARAGRAPH, "नमस्ते दुनिया"),))
    assert with_script_runs(hindi, "hi") is hindi  # Hindi text is Hindi's own


def test_a_document_in_a_script_nobody_reads_is_found() -> None:
    assert unreadable_script(parse_text("שלום עולם. זהו ספר קטן.")) == "HEBREW"
    assert unreadable_script(parse_text(MIXED)) is None
    assert unreadable_script(parse_text("ततो मयः पार्थं वासुदेवस्य")) is None


def test_preview_reads_devanagari_as_hindi_and_skips_hebrew_and_arabic(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_text(MIXED + "\n", encoding="utf-8")
    result = subprocess.run([str(CLI), "preview", str(path), "--json", "--phonemes"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    (chunk,) = json.loads(result.stdout)["chapters"][0]["chunks"]
    assert "(" not in chunk["phonemes"] and "hˈibɹu" not in chunk["phonemes"]
    assert "nəmˈʌst" in chunk["phonemes"]  # namaste, through the Hindi G2P
    assert "skipped 8 letters" in result.stderr and "hebrew" in result.stderr


def test_a_hebrew_text_is_refused_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run([str(CLI), "say", "שלום עולם", "-o", str(tmp_path / "x.wav")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: the text is in Hebrew letters, which no Kokoro voice or G2P reads: nothing to convert"]
