"""Scripts and languages as a listener meets them (#30): a Devanagari, a Hebrew and an Arabic
passage inside English text, and a French Markdown file without metadata. For each: what is
spoken (``preview --json``: the pieces' text and phonemes, and the warnings) and what Whisper
base (multilingual, the bench extra, as bench/languages.py loads it) hears in the audio that
``convert`` makes of it.

Usage: python bench/scripts_check.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.languages import transcribe  # noqa: E402
from bench.vs_peer import machine  # noqa: E402

__all__ = ["CASES"]

CLI = Path(sys.executable).with_name("kokoro-cli")
# (name, file name, text, language Whisper listens for)
CASES = [
    ("Devanagari in English", "devanagari.txt",
     "In Delhi every greeting starts with नमस्ते, and every meal ends with धन्यवाद.", "en"),
    ("Hebrew in English", "hebrew.txt",
     "The sign above the door said שלום in large letters, and nobody could read it.", "en"),
    ("Arabic in English", "arabic.txt",
     "She wrote مرحبا on the card and sent it to her cousin in Cairo.", "en"),
    ("French Markdown, no metadata", "notes.md",
     "# Notes\n\nLe 21 mars, la mairie a reçu 1 250 € pour la fête du quartier. Merci à tous "
     "les bénévoles qui ont aidé à installer les tables.", "fr"),
]


def preview(path: Path) -> tuple[list[dict], str]:
    result = subprocess.run([str(CLI), "preview", str(path), "--json", "--phonemes"],
                            capture_output=True, text=True, check=True)
    return [c for ch in json.loads(result.stdout)["chapters"] for c in ch["chunks"]], result.stderr


def heard(path: Path, folder: Path, language: str) -> str:
    out = folder / f"{path.stem}.wav"
    subprocess.run([str(CLI), "convert", str(path), "-o", str(out), "--quiet"], check=True,
                   capture_output=True)
    with wave.open(str(out)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        return transcribe(samples, w.getframerate(), language)


def main() -> None:
    print(f"CPU: {machine()['cpu']}")
    with tempfile.TemporaryDirectory(prefix="kokoro-scripts-check-") as tmp:
        folder = Path(tmp)
        for name, file_name, text, language in CASES:
            path = folder / file_name
            path.write_text(text + "\n", encoding="utf-8")
            chunks, warnings = preview(path)
            print(f"\n== {name}\nwritten: {text!r}")
            for line in warnings.strip().splitlines():
                print(f"  {line}")
            for chunk in chunks:
                print(f"spoken:  {chunk['text']!r}\n         /{chunk['phonemes']}/")
            print(f"Whisper ({language}) hears: {heard(path, folder, language)!r}")


if __name__ == "__main__":
    main()
