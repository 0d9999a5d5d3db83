"""The language of a document that does not say, from its text (#30, the ``detect`` extra):
a French Markdown file without metadata is read with the French rules and voice; a document
whose text is not in the language it names is read as named, with a warning; --lang wins."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from preprocess import detect_language, parse_text

pytest.importorskip("lingua", reason="the detect extra (scripts/setup.sh installs it)")

CLI = Path(sys.executable).with_name("kokoro-cli")
FRENCH = ("Le 21 mars, la mairie a reçu 1 250 € pour la fête du quartier. Merci à tous les "
          "bénévoles qui ont aidé à installer les tables et les chaises.")
SPANISH = ("El 21 de marzo el ayuntamiento recibió 1.250 € para la fiesta del barrio. Gracias a "
           "todos los voluntarios que ayudaron a montar las mesas y las sillas.")
ENGLISH = ("On March 21 the town hall received a grant for the street party. Thanks to all the "
           "volunteers who helped to set up the tables and the chairs.")


def test_the_language_is_told_from_the_text() -> None:
    assert detect_language(parse_text(FRENCH)) == "fr"
    assert detect_language(parse_text(SPANISH)) == "es"
    assert detect_language(parse_text(ENGLISH)) == "en"
    assert detect_language(parse_text("Bonjour.")) is None  # too short to tell


def _preview(path: Path, *args: str) -> tuple[str, str]:
    result = subprocess.run([str(CLI), "preview", str(path), "--json", *args],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    chunks = json.loads(result.stdout)["chapters"][0]["chunks"]
    return " ".join(c["text"] for c in chunks), result.stderr


def test_french_markdown_without_metadata_is_read_as_french(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text(f"# Notes\n\n{FRENCH}\n", encoding="utf-8")
    spoken, warnings = _preview(path)
    assert "Le vingt et un mars" in spoken and "mille deux cent cinquante euros" in spoken
    assert "reads as French" in warnings
    spoken, warnings = _preview(path, "--lang", "en")  # --lang wins, silently
    assert "Le 21 mars" in spoken and "reads as" not in warnings


def test_metadata_that_disagrees_with_the_text_is_kept_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text(f"---\nlang: en\n---\n\n{FRENCH}\n", encoding="utf-8")
    spoken, warnings = _preview(path)
    assert "Le 21 mars" in spoken  # read as English, as the document says
    assert "says it is in 'en' but its text reads as French" in warnings
