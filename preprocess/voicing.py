"""A chapter's voices under a cast: who narrates it, and which stretches of its blocks (the
quotes :mod:`preprocess.dialogue` attributes) another voice reads, each with the rule that
chose it, as ``preview --json`` shows.

The chunker reads such a stretch as it reads a phrase in another language (marked runs,
:mod:`preprocess.inline`): a run's tag is ``LANG@K`` (K: the stretch's voice in
:attr:`ChapterVoicing.voices`), so a sentence cut where the voice changes goes on without a
pause, and a phrase in another language inside a quote keeps both its language and its voice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .cast import Cast
from .dialogue import Quote, attribute
from .document import Chapter, LanguageRun

__all__ = ["CastReader", "ChapterVoicing", "Speaker", "Voiced", "chapter_voicing", "speakers",
           "voiced_runs"]

# (normalize, G2P, canonical tag, voice or None): preprocess.chunk's Reading
Reading = tuple[Callable[[str], str], Callable[[str], str], str, "str | None"]


@dataclass(frozen=True)
class Voiced:
    """Characters ``start:end`` of a block read by voice number ``voice`` of the chapter."""

    start: int
    end: int
    voice: int


@dataclass(frozen=True)
class ChapterVoicing:
    """A chapter under a cast: its narrating voice (None: the book's) and the rule that chose
    it, the other voices with their rules, and per block the stretches they read."""

    voice: str | None
    rule: str
    voices: tuple[tuple[str, str], ...]  # (voice, rule)
    blocks: tuple[tuple[Voiced, ...], ...]


def chapter_voicing(cast: Cast, chapter: Chapter, language: str,
                    narrator: str | None) -> ChapterVoicing:
    """How ``cast`` voices ``chapter`` (read in ``language``); ``narrator`` is the book's
    voice (a quote given the voice that narrates the chapter is simply narration)."""
    voice, rule = cast.chapter_voice(chapter)
    reads = voice or narrator
    voices: list[tuple[str, str]] = []
    blocks = []
    quotes = attribute([b.text for b in chapter.blocks], language, cast.aliases)
    for found in quotes:
        stretches = []
        for quote in found:
            chosen = _choice(cast, quote)
            if chosen is None or chosen[0] == reads:
                continue
            if chosen not in voices:
                voices.append(chosen)
            stretches.append(Voiced(quote.start, quote.end, voices.index(chosen)))
        blocks.append(tuple(stretches))
    return ChapterVoicing(None if voice == narrator else voice, rule, tuple(voices),
                          tuple(blocks))


def _choice(cast: Cast, quote: Quote) -> tuple[str, str] | None:
    """The voice of a quote and why: its speaker's, else the dialogue default (None: the
    narrator reads it)."""
    how = {"tag": "speech tag", "script": "script line", "paragraph": "same paragraph",
           "beat": "named in the paragraph", "pronoun": "pronoun",
           "alternation": "alternation"}.get(quote.rule, quote.rule)
    if quote.speaker is not None and quote.speaker != "narrator":
        own = cast.role_of(quote.speaker)
        if own is not None:
            return own, f"character {quote.speaker} ({how})"
    if quote.speaker == "narrator" or cast.dialogue is None:
        return None
    who = quote.speaker or "unknown speaker"
    return cast.dialogue, f"dialogue default ({who}; {how})"


def voiced_runs(runs: Sequence[LanguageRun], voiced: Sequence[Voiced],
                size: int) -> list[LanguageRun]:
    """A block's runs in other languages (canonical tags) and its voiced stretches as one set
    of runs: ``LANG``, ``LANG@K`` or ``@K`` (the block's language, voice K), cut where either
    changes, over a text of ``size`` characters."""
    cuts = sorted({0, size, *(r.start for r in runs), *(r.end for r in runs),
                   *(v.start for v in voiced), *(v.end for v in voiced)})
    found: list[LanguageRun] = []
    for start, end in zip(cuts, cuts[1:]):
        language = next((r.language for r in runs if r.start <= start < r.end), "")
        voice = next((v.voice for v in voiced if v.start <= start < v.end), None)
        if not language and voice is None:
            continue
        tag = language if voice is None else f"{language}@{voice}"
        if found and found[-1].language == tag and found[-1].end == start:
            found[-1] = LanguageRun(found[-1].start, end, tag)
        else:
            found.append(LanguageRun(start, end, tag))
    return found


class CastReader:
    """The chunker's reader for a block with voiced runs: ``@K`` tags read like the block
    (``own``) or their language (``read``), in voice K; ``rule(tag)`` says why."""

    def __init__(self, read: Callable[[str], Reading] | None, own: Reading,
                 voicing: ChapterVoicing) -> None:
        self.read, self.own, self.voicing = read, own, voicing

    def __call__(self, tag: str) -> Reading:
        language, at, number = tag.partition("@")
        base = self.own if not language or self.read is None else self.read(language)
        if not at:
            return base
        return base[0], base[1], tag, self.voicing.voices[int(number)][0]

    def rule(self, tag: str | None) -> str | None:
        """Why a part with this tag has its voice (None: the block's rule)."""
        if tag is None or "@" not in tag:
            return None if tag is None or self(tag)[3] is None else f"language {tag}"
        return self.voicing.voices[int(tag.partition("@")[2])][1]


@dataclass(frozen=True)
class Speaker:
    """A candidate character: a name quotes are attributed to, how many, and the first."""

    name: str
    quotes: int
    sample: str


def speakers(chapters: Sequence[Chapter], language: str,
             aliases: dict[str, str] | None = None) -> list[Speaker]:
    """Everyone quotes are attributed to in ``chapters`` (each read in its own language, else
    ``language``), most quoted first; the quotes nobody can be named for are left out."""
    counts: dict[str, int] = {}
    samples: dict[str, str] = {}
    for chapter in chapters:
        texts = [b.text for b in chapter.blocks]
        for text, quotes in zip(texts, attribute(texts, chapter.language or language, aliases)):
            for quote in quotes:
                if quote.speaker is None:
                    continue
                counts[quote.speaker] = counts.get(quote.speaker, 0) + 1
                samples.setdefault(quote.speaker, " ".join(text[quote.start:quote.end].split()))
    ranked = sorted(counts, key=lambda name: (-counts[name], name.casefold()))
    return [Speaker(name, counts[name], samples[name]) for name in ranked]
