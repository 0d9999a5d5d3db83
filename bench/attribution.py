"""Dialogue attribution accuracy on hand-labelled quotes (``bench/data/*.txt``).

Usage: python bench/attribution.py [--verbose] [FILE ...]

Each data file is a chapter of a public-domain book, paragraphs separated by blank lines, with
every quote labelled right after its closing mark: ``[[Name]]`` (who says it) or ``[[?]]``
(nobody can tell: right when attributed to nobody, so the cast's dialogue default reads it). A
``# cast: {...}`` line names the characters and their aliases as a cast file would. The labels
are stripped, the chapter goes through ``preprocess.dialogue.attribute`` as ``convert --cast``
runs it, and each labelled quote is matched to the quote found ending at its label. Prints the
accuracy per book and overall (goal: 90 %), and with --verbose every miss.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from engine.cpu import cpu_info  # noqa: E402
from preprocess.dialogue import attribute  # noqa: E402

DATA = ROOT / "bench" / "data"
_LABEL = re.compile(r"\[\[([^\]]*)\]\]")


@dataclass(frozen=True)
class Labelled:
    """A chapter with its labels: the paragraphs as the book has them, and per paragraph the
    end offset of each labelled quote with its speaker (None: nobody can tell)."""

    name: str
    paragraphs: list[str]
    labels: list[dict[int, str | None]]
    aliases: dict[str, str]


def load(path: Path) -> Labelled:
    """Read one labelled chapter."""
    aliases: dict[str, str] = {}
    body = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# cast:"):
            for name, others in json.loads(line.removeprefix("# cast:")).items():
                aliases.update({alias: name for alias in [name, *others]})
        elif not line.startswith("#"):
            body.append(line)
    paragraphs, labels = [], []
    for raw in "\n".join(body).split("\n\n"):
        if not raw.strip():
            continue
        text, found, last = "", {}, 0
        for m in _LABEL.finditer(raw.strip()):
            text += raw.strip()[last:m.start()]
            found[len(text)] = None if m.group(1) == "?" else m.group(1)
            last = m.end()
        paragraphs.append(text + raw.strip()[last:])
        labels.append(found)
    return Labelled(path.stem, paragraphs, labels, aliases)


def score(book: Labelled, verbose: bool) -> tuple[int, int]:
    """(right, labelled) for one chapter; misses printed with ``verbose``."""
    right = total = 0
    for text, quotes, labels in zip(book.paragraphs,
                                    attribute(book.paragraphs, "en", book.aliases), book.labels):
        found = {q.end: q for q in quotes}
        for end, speaker in labels.items():
            total += 1
            quote = found.get(end)
            if quote is not None and quote.speaker == speaker:
                right += 1
            elif verbose:
                said = "not found" if quote is None else f"{quote.speaker} ({quote.rule})"
                print(f"  miss {book.name}: {text[max(0, end - 50):end]!r}: want {speaker}, "
                      f"got {said}")
    return right, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args()
    files = args.files or sorted(DATA.glob("*.txt"))
    print(f"cpu: {cpu_info().line()}")
    right = total = 0
    for path in files:
        r, t = score(load(path), args.verbose)
        right, total = right + r, total + t
        print(f"{path.stem}: {r}/{t} quotes attributed right ({100 * r / max(t, 1):.1f} %)")
    print(f"all: {right}/{total} ({100 * right / max(total, 1):.1f} %; goal 90 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
