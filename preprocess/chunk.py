"""Cut a chapter into pieces the model can speak: sentence-aware, never over the limit.

Sentences are the unit. Short sentences of one block are merged up to a target length
(Kokoro picks its style by utterance length, and very short pieces sound clipped; 100–250
tokens is also the speed sweet spot on CPU). A sentence over the hard limit is cut at clause
punctuation, then between words. Phonemes are never truncated: what G2P returns for a piece
is exactly what the model receives.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from preprocess.document import Block, BlockKind, Chapter, LanguageRun
from preprocess.inline import (CLOSING, OPENING, carry_runs, map_runs, mark, marked_text,
                               read_mixed, scrub, segments, unmark)
from preprocess.phonemic import plain
from preprocess.voicing import CastReader, ChapterVoicing, voiced_runs
from preprocess.written import runs, spoken_counts, written_sentences

__all__ = ["Chunk", "ChunkOptions", "Pauses", "Span", "chunk_chapter", "split_sentences"]

G2P = Callable[[str], str]
Count = Callable[[str], int]
# For a block or phrase in another language (Block.language, Block.runs): its normalizer, G2P,
# canonical language tag and the voice that speaks it (None: the book's).
Reading = tuple[Callable[[str], str], G2P, str, "str | None"]
Reader = Callable[[str], Reading]

# A sentence ends at . ! ? or … (plus closing quotes/brackets) before whitespace and an
# opening capital, digit or quote. Single capitals ("J. R. Tolkien") are initials, not ends.
# (A phrase in another language is marked in the text: preprocess.inline's OPENING, CLOSING.)
_SENTENCE_END = re.compile(
    rf"[.!?…][\"'”’)\]]*{CLOSING}(\s+)(?={OPENING}[\"'“‘(\[]?[A-Z0-9])")
_INITIAL = re.compile(r"(?:^|[\s.])[A-Z]\.$")
# Other languages: French spaces before ! ? and closes with », Spanish opens with ¿ ¡, and any
# capital letter (É, Ñ) may start the next sentence (the split checks it is upper case).
_LATIN_END = re.compile(rf"[.!?…][\s\u00a0\u202f]*[\"'”’»)\]]*{CLOSING}(\s+)"
                        rf"(?={OPENING}[\"'“‘«(\[¿¡]?[\s\u00a0]?(\w))")
# Japanese and Mandarin end sentences with 。！？ (or ASCII ! ?) and write no space after them.
_CJK_END = re.compile(rf"[。！？!?…]+[」』）)”’\"]*{CLOSING}(\s*)")
_CLAUSE_END = re.compile(r"(?<=[,;:—–])\s+|\s+(?=[—–]\s)|(?<=[、，；：])")
# A sentence longer than this many characters is cut before it is phonemized whole: it cannot
# fit the model (English runs ~0.8 phonemes a character), and G2P on a huge run of text (one
# "word" of a million letters) costs far more than on its pieces.
_LONG_CHARS = 2000


@dataclass(frozen=True)
class Pauses:
    """Silence after a piece, by what ends there (milliseconds)."""

    clause: int = 120  # inside a sentence too long for one piece
    sentence: int = 250
    paragraph: int = 650
    heading: int = 900
    chapter: int = 2000


@dataclass(frozen=True)
class ChunkOptions:
    """How pieces are cut. ``target_tokens`` merges short sentences of a paragraph up to that
    many phoneme tokens. 200 comes from ``bench/chunk_target.py`` on the samples: ASR word error
    was 2.4-3.3% at every target from 30 to 450, lower targets put half of all piece boundaries
    mid-paragraph (where the model restarts its intonation), and higher ones cost 15-25% more
    compute per second of audio; 200 sits between the two."""

    target_tokens: int = 200
    max_tokens: int = 510
    pauses: Pauses = field(default_factory=Pauses)

    def __post_init__(self) -> None:
        if not 1 <= self.target_tokens <= self.max_tokens <= 510:
            raise ValueError("need 1 <= target_tokens <= max_tokens <= 510")


@dataclass(frozen=True)
class Span:
    """A sentence inside a chunk, or the part of a long sentence the chunk holds: the number of
    the sentence in its chapter, its phoneme tokens (the chunk's tokens are its spans' tokens
    joined by one space token each), the whole sentence as written in the document, and how many
    words each written word is spoken as."""

    sentence: int
    tokens: int
    written: str
    weights: tuple[int, ...] = ()  # spoken words per written word (preprocess.written)


@dataclass(frozen=True)
class Chunk:
    """One model call: the text as spoken, its phonemes and token count, the pause after, the
    sentences it holds (for timing; not part of a chunk's identity), the voice that speaks
    it where it is not the book's (text in another language, with a voice for that language;
    SSML's ``<voice>``), and its speed relative to the job's where markup sets one."""

    text: str
    phonemes: str
    tokens: int
    pause_after_ms: int
    spans: tuple[Span, ...] = field(default=(), compare=False)
    voice: str | None = None
    rate: float | None = None
    # Why the piece has its voice, under a cast ("character Alice (speech tag)"); not identity.
    rule: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class _Piece:
    text: str
    phonemes: str
    tokens: int
    ends_sentence: bool = True
    spans: tuple[Span, ...] = ()
    voice: str | None = None
    rule: str | None = None


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Sentences of a block's text (abbreviations are expanded by the normalizer first), cut
    by the punctuation of ``language`` (a language tag: ``fr``, ``es``, ``ja``...)."""
    primary = language.split("-")[0].lower()
    if primary in ("ja", "zh", "jpn", "zho", "chi", "cmn"):
        return _split_at(text, _CJK_END.finditer(text))
    if primary not in ("en", "eng"):
        return _split_at(text, (m for m in _LATIN_END.finditer(text)
                                if m.group(2).isupper() or m.group(2).isdigit()))
    sentences, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        # _INITIAL spans at most 3 characters: look only there (not from the start each time).
        if _INITIAL.search(text, max(0, m.start(1) - 3), m.start(1)):
            continue
        sentences.append(text[start:m.start(1)])
        start = m.end(1)
    sentences.append(text[start:])
    return [s.strip() for s in sentences if s.strip()]


def _split_at(text: str, ends: Iterator[re.Match[str]]) -> list[str]:
    """``text`` cut at the first group (the space after each sentence end) of ``ends``."""
    sentences, start = [], 0
    for m in ends:
        # a single capital before the period is an initial ("J. R. Tolkien"), not an end
        if _INITIAL.search(text, max(0, m.start(1) - 3), m.start(1)) and m.group(1):
            continue
        sentences.append(text[start:m.start(1)])
        start = m.end(1)
    sentences.append(text[start:])
    return [s.strip() for s in sentences if s.strip()]


def chunk_chapter(chapter: Chapter, g2p: G2P, count: Count,
                  normalize: Callable[[str], str] = str.strip,
                  options: ChunkOptions = ChunkOptions(), language: str = "en",
                  read: Reader | None = None, voice: str | None = None,
                  voicing: ChapterVoicing | None = None) -> Iterator[Chunk]:
    """Yield the chapter's chunks in reading order; sentences end as ``language`` ends them.
    A block in another language is read with what ``read`` gives for it (else as the rest), and
    so is a phrase in another language inside a block (``Block.runs``): in the block's pieces,
    or in pieces of its own where its language has a voice of its own; ``voice`` speaks the
    chapter where it is not the book's. Under a cast, ``voicing`` gives the stretches of each
    block (quotes) that other voices read, as runs of their own."""
    pending: Chunk | None = None
    sentences = 0
    for b, block in enumerate(chapter.blocks):
        reader = ((normalize, g2p, language, voice) if block.language is None or read is None
                  else read(block.language))
        if block.voice is not None:  # SSML <voice>
            reader = (*reader[:3], block.voice)
        # phrases in another language (read as the block where nothing says how to read them)
        foreign = [r for r in block.runs or () if read and read(r.language)[2] != reader[2]]
        reads = read
        if voicing is not None and voicing.blocks[b]:  # quotes in other voices (a cast)
            reads = CastReader(read, reader, voicing)
            foreign = voiced_runs([replace(r, language=reads(r.language)[2]) for r in foreign],
                                  voicing.blocks[b], len(block.text))
        pieces, said = (_mixed_pieces(block, foreign, reader, reads, count, options, sentences)
                        if foreign and reads else _pieces(block, reader, count, options, sentences))
        sentences += said
        merged = list(_merge(pieces, options.target_tokens, options.max_tokens))
        end_pause = (block.pause_after_ms if block.pause_after_ms is not None else
                     options.pauses.heading if block.kind is BlockKind.HEADING
                     else options.pauses.paragraph)
        for i, piece in enumerate(merged):
            pause = (end_pause if i == len(merged) - 1 else
                     options.pauses.sentence if piece.ends_sentence else
                     0 if merged[i + 1].voice != piece.voice else options.pauses.clause)
            if pending is not None:
                yield pending
            pending = Chunk(plain(piece.text), piece.phonemes, piece.tokens, pause, piece.spans,
                            piece.voice, block.rate,
                            piece.rule or ("ssml voice" if block.voice is not None else
                                           voicing.rule if voicing is not None else None))
    if pending is not None:
        yield replace(pending, pause_after_ms=options.pauses.chapter)


def _pieces(block: Block, reader: Reading, count: Count, options: ChunkOptions,
            first: int) -> tuple[list[_Piece], int]:
    """A block's pieces (its sentences numbered from ``first``) and how many sentences."""
    said, g2p, language, voice = reader
    spoken = split_sentences(said(block.text), language)
    written = written_sentences(block.text, spoken, said)
    return [replace(p, spans=(Span(first + i, p.tokens, plain(w), spoken_counts(w, said)),),
                    voice=voice)
            for i, (s, w) in enumerate(zip(spoken, written))
            for p in _fit(s, g2p, count, options)], len(spoken)


def _mixed_pieces(block: Block, foreign: Sequence[LanguageRun], reader: Reading, read: Reader,
                  count: Count, options: ChunkOptions, first: int) -> tuple[list[_Piece], int]:
    """:func:`_pieces` for a block with phrases in other languages (``foreign``): each read by
    its language's normalizer and G2P. Where that language has a voice of its own, the phrase
    is a piece of its own in that voice; else its phonemes join the sentence's (Kokoro's tokens
    are one alphabet), so the sentence stays one utterance in the block's voice."""
    said, g2p, language, voice = reader
    normalize = lambda text: read_mixed(text, said, lambda tag: read(tag)[0], True)  # noqa: E731
    mixed = lambda text: read_mixed(text, g2p, lambda tag: read(tag)[1], False)  # noqa: E731
    # Marked with canonical tags (a document's tag may hold anything after its language), in a
    # text without the markers' own characters (a book may hold them: private-use letters).
    text = marked_text(*map_runs(block.text, [replace(r, language=read(r.language)[2])
                                              for r in foreign], scrub))
    spoken = carry_runs(split_sentences(normalize(text), language))
    pieces = []
    for i, (s, w) in enumerate(zip(spoken, written_sentences(text, spoken, normalize))):
        span = Span(first + i, 0, plain(unmark(w)), spoken_counts(w, normalize))
        parts = list(_voiced_parts(s, voice, read))
        why = getattr(read, "rule", lambda tag: None)  # a cast's reader says why
        for k, (part, speaker, tag) in enumerate(parts):
            last = k == len(parts) - 1  # a sentence cut where the voice changes goes on after
            pieces += [replace(p, text=unmark(p.text), spans=(replace(span, tokens=p.tokens),),
                               voice=speaker, ends_sentence=p.ends_sentence and last,
                               rule=why(tag))
                       for p in _fit(part, mixed, count, options)]
    return pieces, len(spoken)


def _voiced_parts(sentence: str, voice: str | None,
                  read: Reader) -> Iterator[tuple[str, str | None, str | None]]:
    """A marked sentence cut where the voice changes: a phrase in a language that has a voice
    other than ``voice`` (the block's) is a part of its own, in that voice; with the tag of
    the run that gave the part its voice (None: the block's)."""
    parts: list[tuple[str | None, str, str | None]] = []  # (voice, marked text, its run's tag)
    for tag, text in segments(sentence):
        own = read(tag)[3] if tag is not None else None
        speaker = own if own is not None and own != voice else voice
        marked = mark(tag, text) if tag is not None else text
        if parts and parts[-1][0] == speaker:
            parts[-1] = (speaker, parts[-1][1] + marked, parts[-1][2])
        else:
            parts.append((speaker, marked, tag if speaker != voice else None))
    for speaker, text, tag in parts:
        if text.strip():
            yield text.strip(), speaker, tag


def _piece(text: str, g2p: G2P, count: Count) -> _Piece:
    phonemes = g2p(text)
    return _Piece(text, phonemes, count(phonemes))


def _fit(sentence: str, g2p: G2P, count: Count, options: ChunkOptions) -> Iterator[_Piece]:
    """The sentence as one piece, or cut into pieces of about the target length that each
    fit the hard limit."""
    if len(sentence) <= _LONG_CHARS:
        whole = _piece(sentence, g2p, count)
        if whole.tokens <= options.max_tokens:
            if whole.tokens:
                yield whole
            return
    parts = _CLAUSE_END.split(sentence)
    if len(parts) == 1:
        parts = _words(sentence)
    if len(parts) == 1:  # one enormous "word": halve it, there is no better place
        half = len(sentence) // 2
        parts = [sentence[:half], sentence[half:]]
    if len(sentence) > _LONG_CHARS:
        # Phonemize runs of clauses or words of about the target length, not each one alone:
        # a paragraph-long run-on sentence of short words would otherwise cost a G2P call a word.
        parts = runs(parts, options.target_tokens)
    fitted = [replace(p, ends_sentence=False)
              for part in parts for p in _fit(part, g2p, count, options)]
    if fitted:
        fitted[-1] = replace(fitted[-1], ends_sentence=True)
    yield from _merge(fitted, options.target_tokens, options.max_tokens)


def _words(text: str) -> list[str]:
    """Words, with a number kept together with the word after it ("5 kilometres", "1990 and")
    so a cut never falls between a number and its unit."""
    words: list[str] = []
    for word in text.split():
        if words and words[-1][-1:].isdigit() and not words[-1].endswith(" "):
            words[-1] = f"{words[-1]} {word}"
        else:
            words.append(word)
    return words


def _merge(pieces: Sequence[_Piece], target: int, limit: int) -> Iterator[_Piece]:
    """Greedily join consecutive pieces (with one space) while the result stays <= target."""
    current: _Piece | None = None
    for piece in pieces:
        if current is None:
            current = piece
            continue
        joined = current.tokens + 1 + piece.tokens
        if joined <= target and joined <= limit and current.voice == piece.voice:
            current = _Piece(f"{current.text} {piece.text}",
                             f"{current.phonemes} {piece.phonemes}", joined, piece.ends_sentence,
                             current.spans + piece.spans, piece.voice, current.rule)
        else:
            yield current
            current = piece
    if current is not None:
        yield current
