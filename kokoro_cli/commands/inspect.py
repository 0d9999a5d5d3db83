"""``inspect`` and ``preview``: the chapter plan and the pieces as they will be spoken, with
no model loaded."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from kokoro_cli.commands.options import (CastOpt, ChaptersOpt, CodeOpt, DictOpt,
                                         FrontMatterOpt, InputFormatOpt, LangOpt, SplitLevelOpt,
                                         VoiceForOpt)
from kokoro_cli.conversion.reading import choose_reading, show_warnings, voices_for
from kokoro_cli.console import out, run_guarded
from kokoro_cli.inputs import ParseSettings, read_document

if TYPE_CHECKING:
    from preprocess import Chapter

__all__ = ["inspect", "preview"]

# Narration pace of Kokoro v1.0 at speed 1.0 with pauses, measured on the samples (words/s).
WORDS_PER_SECOND = 2.7
# Kokoro's pace follows its phonemes, about one a character of English text or of a run
# without spaces: 2.7 words/s at 6 characters a word (a little over the samples' 5.2-5.9, so
# prose is estimated by its words, and text of very long "words" by its characters).
CHARACTERS_PER_SECOND = WORDS_PER_SECOND * 6


def inspect(
    input: Path = typer.Argument(..., help="Document to inspect ('-' reads text from stdin)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    chapters: Optional[str] = ChaptersOpt,
    input_format: Optional[str] = InputFormatOpt,
    split_level: Optional[int] = SplitLevelOpt,
    code: str = CodeOpt,
    keep_front_matter: bool = FrontMatterOpt,
    speakers: bool = typer.Option(False, "--speakers", help="Instead, list who speaks: the "
                                  "names quotes are attributed to, with counts and a sample "
                                  "line (for writing a --cast file)."),
    cast: Optional[Path] = CastOpt,
) -> None:
    """Show the chapter plan (metadata, chapters, words, estimated duration) without speaking."""
    def action() -> None:
        _, document = read_document(input, ParseSettings(input_format, split_level, code,
                                                         keep_front_matter, chapters))
        if speakers:
            _print_speakers(document, cast, as_json)
            return
        rows = [{"index": c.index, "title": c.title, "words": c.words,
                 "est_seconds": round(_seconds(c), 1)} for c in document.chapters]
        if as_json:
            out.print_json(json.dumps({"title": document.title, "authors": list(document.authors),
                                       "language": document.language, "chapters": rows},
                                      ensure_ascii=False))
            return
        byline = f" — {', '.join(document.authors)}" if document.authors else ""
        out.print(f"{document.title}{byline}", markup=False)
        out.print(f"language {document.language}, {len(rows)} chapters, {document.words} words",
                  markup=False)
        for c in rows:
            out.print(f"{c['index']:>4}. {c['title'][:60]:<60} {c['words']:>7} words "
                      f"~{c['est_seconds'] / 60:5.1f} min", markup=False)
    run_guarded(action)


def _print_speakers(document, cast: Optional[Path], as_json: bool) -> None:
    """``inspect --speakers``: the candidate characters, most quoted first (names a --cast
    file gives aliases for are counted as one)."""
    from kokoro_cli.conversion.request import read_cast_file
    from preprocess import speakers

    known = read_cast_file(cast) if cast is not None else None
    found = speakers(document.chapters, document.language,
                     known.aliases if known is not None else None)
    if as_json:
        out.print_json(json.dumps({"speakers": [
            {"name": s.name, "quotes": s.quotes, "sample": s.sample,
             **({"voice": known.role_of(s.name)} if known and known.role_of(s.name) else {})}
            for s in found]}, ensure_ascii=False))
        return
    for s in found:
        sample = s.sample if len(s.sample) <= 70 else s.sample[:69] + "…"
        out.print(f"{s.quotes:>5}  {s.name:<24} {sample}", markup=False)
    if not found:
        out.print("no attributed quotes", markup=False)


def _seconds(chapter: Chapter) -> float:
    """The chapter's estimated narration time, from its words (as read: see
    :attr:`Chapter.words`) or, where they are long for their number, its characters."""
    characters = sum(len(block.text) + 1 for block in chapter.blocks)
    return max(chapter.words / WORDS_PER_SECOND, characters / CHARACTERS_PER_SECOND)


def preview(
    input: Path = typer.Argument(..., help="Document ('-' reads text from stdin)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    phonemes: bool = typer.Option(False, "--phonemes", help="Show each piece's phonemes."),
    unknown_words: bool = typer.Option(False, "--unknown-words", help="Instead, list the words "
                                       "no lexicon, dictionary or rule knows (read by espeak-ng "
                                       "as a guess): candidates for --dict."),
    voice: Optional[str] = typer.Option(None, "--voice", "-v", help="Voice (default: the "
                                        "language's default voice, af_heart for English)."),
    lang: Optional[str] = LangOpt,
    voice_for: Optional[list[str]] = VoiceForOpt,
    cast: Optional[Path] = CastOpt,
    dictionaries: Optional[list[Path]] = DictOpt,
    chapters: Optional[str] = ChaptersOpt,
    input_format: Optional[str] = InputFormatOpt,
    split_level: Optional[int] = SplitLevelOpt,
    code: str = CodeOpt,
    keep_front_matter: bool = FrontMatterOpt,
) -> None:
    """Print the pieces exactly as 'convert' will speak them (normalized text, pauses, tokens),
    without loading the model."""
    def action() -> None:
        from engine import VoiceG2P, describe_spec, token_count
        from kokoro_cli.console import err
        from preprocess import lexicon_for, plan

        with show_warnings():  # the parser's (an inline language Kokoro does not speak)
            full, selected = read_document(input, ParseSettings(input_format, split_level, code,
                                                                keep_front_matter, chapters))
        from kokoro_cli.conversion.request import read_cast_file

        chosen = read_cast_file(cast)
        if chosen is not None:
            chosen.check(full)
        narrator = chosen.narrator if chosen is not None else None
        reading = choose_reading(full, lang, narrator or voice or "af_heart",
                                 narrator is not None or voice is not None, chosen)
        for warning in reading.warnings:
            err.print(f"warning: {warning}", markup=False)
        full, selected = reading.document, reading.with_language(selected)
        _, info = describe_spec(reading.voice)
        g2p, lexicon = VoiceG2P(info.lang_code), lexicon_for(full, tuple(dictionaries or ()))
        with show_warnings():
            plans = list(plan(selected, g2p, token_count, lexicon=lexicon,
                              voices=voices_for(voice_for),
                              cast=None if chosen is None else
                              dataclasses.replace(chosen, narrator=reading.voice)))
        if unknown_words:
            _print_unknown_words(selected, lexicon, as_json)
        elif as_json:
            out.print_json(json.dumps({"chapters": [
                {"index": p.chapter.index, "title": p.chapter.title, "chunks": [
                    {"text": c.text, "phonemes": c.phonemes, "tokens": c.tokens,
                     "pause_after_ms": c.pause_after_ms, **_voice_of(c, reading.voice, chosen),
                     **({"rate": c.rate} if c.rate else {})}
                    for c in p.chunks]} for p in plans]},
                ensure_ascii=False))
        else:
            _print_pieces(plans, phonemes)
    run_guarded(action)


def _voice_of(chunk, book_voice: str, cast) -> dict[str, str]:
    """A piece's voice in ``preview --json``: its own where it has one; under a cast, every
    piece's voice and the rule that chose it."""
    if cast is None:
        return {"voice": chunk.voice} if chunk.voice else {}
    return {"voice": chunk.voice or book_voice, "rule": chunk.rule or "narrator"}


def _print_pieces(plans, phonemes: bool) -> None:
    for p in plans:
        out.print(f"## {p.chapter.index}. {p.chapter.title}", markup=False)
        for c in p.chunks:
            voiced = (f", voice {c.voice}" if c.voice else "") + (f", rate {c.rate}" if c.rate else "")
            out.print(f"[{c.tokens:>3} tokens, pause {c.pause_after_ms} ms{voiced}] {c.text}",
                      markup=False)
            if phonemes:
                out.print(f"    /{c.phonemes}/", markup=False)


def _print_unknown_words(document, lexicon, as_json: bool) -> None:
    """The words misaki's English lexicon does not know, asked of the English text wherever it
    is (an English book, English chapters or phrases in another), each with its language and
    that language's dictionary entries applied. The other languages' G2P (espeak-ng) reads
    every word by its rules and keeps no list of known words: a note names them."""
    from engine import VoiceG2P
    from kokoro_cli.console import err
    from preprocess import resolve_language, spoken_by_language

    counts: Counter[tuple[str, str]] = Counter()
    unchecked: dict[str, None] = {}
    g2ps: dict[str, VoiceG2P] = {}
    for language, text in spoken_by_language(document, lexicon):
        if language.family != "en":
            unchecked[language.name] = None
            continue
        g2p = g2ps.setdefault(language.code, VoiceG2P(language.code))
        counts.update((word, language.tag) for word in g2p.unknown_words(text))
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0].lower()))
    if unchecked:
        err.print(f"note: {', '.join(unchecked)} text is read by its G2P's rules, which keep no "
                  "list of known words: only English words are listed", markup=False)
    if as_json:
        out.print_json(json.dumps({"unknown_words": [
            {"word": w, "count": n, "language": tag} for (w, tag), n in rows]},
            ensure_ascii=False))
        return
    for (word, tag), count in rows:
        own = tag == resolve_language(document.language)[0].tag
        out.print(f"{count:>5}  {word}" + ("" if own else f"  ({tag})"), markup=False)
