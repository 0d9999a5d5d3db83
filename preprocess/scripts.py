"""Letters of another script inside a block: read through the language Kokoro has for that
script (Devanagari in an English paragraph → Hindi), as if the parser had marked the phrase
with that language (:class:`~preprocess.document.LanguageRun`).

Which script goes to which language is the ``script_readers`` table of
``data/languages.json``. Scripts no Kokoro language reads (Hebrew, Arabic...) are not touched
here: the block's language's :class:`~preprocess.languages.ScriptFilter` skips them with a
warning, and a document mostly in such a script is refused (:func:`unreadable_script`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from functools import cache
from importlib import resources

from .document import Block, Chapter, Document, LanguageRun
from .languages import languages, resolve_language, script_of

__all__ = ["script_readers", "unreadable_script", "with_script_runs"]

# A stretch of text that may belong to a run: letters, marks, and the spaces and punctuation
# between two letters of the same script.
_CANDIDATE = re.compile(r"[^\x00-\x7f]+(?:[\s\-'’.,;:!?।॥]+[^\x00-\x7f]+)*")


@cache
def script_readers() -> dict[str, str]:
    """Script (first word of a letter's Unicode name) → the language tag that reads it."""
    data = json.loads(resources.files("preprocess").joinpath("data/languages.json").read_text("utf-8"))
    return {k: v for k, v in data["script_readers"].items() if not k.startswith("_")}


def with_script_runs(chapter: Chapter, tag: str) -> Chapter:
    """``chapter`` with a language run for each phrase in a script that its block's language
    (``tag`` where the block names none) does not read and another Kokoro language does."""
    blocks = tuple(_with_runs(block, block.language or tag) for block in chapter.blocks)
    if all(new is old for new, old in zip(blocks, chapter.blocks)):
        return chapter
    return replace(chapter, blocks=blocks)


def _with_runs(block: Block, tag: str) -> Block:
    if block.text.isascii():
        return block
    reads = set(resolve_language(tag)[0].scripts)
    readers = script_readers()
    taken = [(r.start, r.end) for r in block.runs or ()]
    found: list[LanguageRun] = []
    for m in _CANDIDATE.finditer(block.text):
        found += _runs_in(block.text, m.start(), m.end(), reads, readers, taken)
    if not found:
        return block
    runs = tuple(sorted([*(block.runs or ()), *found], key=lambda r: r.start))
    return replace(block, runs=runs)


def _runs_in(text: str, start: int, end: int, reads: set[str], readers: dict[str, str],
             taken: list[tuple[int, int]]) -> list[LanguageRun]:
    """The runs of letters of one readable foreign script within ``text[start:end]``."""
    runs: list[LanguageRun] = []
    current: tuple[int, int, str] | None = None
    for i in range(start, end):
        script = script_of(text[i])
        if script is None or script == "MARK":
            continue  # spaces, punctuation and marks go with the letters around them
        language = readers.get(script) if script not in reads else None
        if current and language == current[2]:
            current = (current[0], i + 1, language)
            continue
        if current:
            runs.append(LanguageRun(*current))
        current = (i, i + 1, language) if language else None
    if current:
        runs.append(LanguageRun(*current))
    return [_with_marks(text, r) for r in runs
            if not any(a < r.end and r.start < b for a, b in taken)]


def _with_marks(text: str, run: LanguageRun) -> LanguageRun:
    """The run with the combining marks right after its last letter (a Devanagari vowel sign)."""
    end = run.end
    while end < len(text) and script_of(text[end]) == "MARK":
        end += 1
    return replace(run, end=end)


def unreadable_script(document: Document, sample: int = 20_000) -> str | None:
    """The script most of ``document``'s letters are in (its first ``sample`` letters), when
    no Kokoro language reads it (Hebrew, Arabic, Cyrillic...): such a document has nothing a
    voice could say. None when most letters are readable."""
    counts: Counter[str] = Counter()
    readable = {s for language in languages().values() for s in language.scripts}
    for chapter in document.chapters:
        for block in chapter.blocks:
            for ch in block.text:
                script = script_of(ch)
                if script is not None and script != "MARK":
                    counts[script in readable or script] += 1
            if sum(counts.values()) >= sample:
                break
    if not counts:
        return None
    (top, n), = counts.most_common(1)
    return top if top is not True and n * 2 > sum(counts.values()) else None
