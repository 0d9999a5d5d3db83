"""The normalizer on the case tables of tests/data/normalizer/: sentences in the style of real
documentation, news, fiction and academic prose, one file per language (en, es, fr, it, pt-br),
each case with its class and kind of source. ``bench/normalizer.py`` prints the accuracy per
class and language from the same tables.

A case marked ``known_miss`` says what the normalizer still gets wrong; it is expected to fail
(strict: when it passes, the mark must go).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from preprocess import Normalizer

CASES = Path(__file__).parent / "data" / "normalizer"
SOURCES = {"documentation", "news", "fiction", "academic"}
TAGS = {"pt-br": "pt-BR"}
CLI = Path(sys.executable).with_name("kokoro-cli")


def _rows() -> list[dict]:
    rows = []
    for path in sorted(CASES.glob("*.tsv")):
        with path.open(encoding="utf-8", newline="") as f:
            for n, row in enumerate(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 2):
                rows.append({**row, "language": path.stem, "id": f"{path.stem}:{n}:{row['class']}"})
    return rows


ROWS = _rows()


def _param(row: dict):
    marks = [pytest.mark.xfail(strict=True, reason=row["known_miss"])] if row["known_miss"] else []
    return pytest.param(row, id=row["id"], marks=marks)


@pytest.fixture(scope="module")
def normalizers() -> dict[str, Normalizer]:
    return {tag: Normalizer(language=TAGS.get(tag, tag)) for tag in {r["language"] for r in ROWS}}


@pytest.mark.parametrize("row", [_param(r) for r in ROWS])
def test_case(row: dict, normalizers: dict[str, Normalizer]) -> None:
    assert normalizers[row["language"]](row["written"]) == row["spoken"]


def test_the_tables_are_large_and_say_where_each_case_comes_from() -> None:
    counts = Counter(r["language"] for r in ROWS)
    assert len(ROWS) >= 400
    assert all(counts[tag] >= 40 for tag in ("es", "fr", "it", "pt-br")), counts
    assert {r["source"] for r in ROWS} == SOURCES
    assert all(r["class"] and r["written"] and r["spoken"] for r in ROWS)
    assert len({(r["language"], r["written"]) for r in ROWS}) == len(ROWS), "a case is there twice"


def _preview(path: Path, *args: str) -> list[str]:
    result = subprocess.run([str(CLI), "preview", str(path), "--json", *args], capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return [c["text"] for ch in json.loads(result.stdout)["chapters"] for c in ch["chunks"]]


@pytest.mark.parametrize("language, classes", [
    ("en", ("url", "path", "flag", "isbn", "weekday", "scientific", "chemistry", "hash")),
    ("fr", ("currency", "phone", "duration", "range")),
])
def test_preview_speaks_the_cases(tmp_path: Path, language: str, classes: tuple[str, ...]) -> None:
    """The whole path: the installed command reads a text file of cases, one paragraph each,
    and the pieces it would speak hold exactly the spoken forms."""
    rows = [next(r for r in ROWS if r["language"] == language and r["class"] == c and not r["known_miss"])
            for c in classes]
    path = tmp_path / "cases.txt"
    path.write_text("\n\n".join(r["written"] for r in rows) + "\n", encoding="utf-8")
    spoken = " ".join(_preview(path, "--lang", TAGS.get(language, language)))
    assert spoken.split() == " ".join(r["spoken"] for r in rows).split()
