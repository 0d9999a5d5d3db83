"""Subtitles beside the audio: SRT and WebVTT cues built from the chapters' timing (pure), and
the one function that writes them next to the files :func:`write_book` wrote.

One cue per sentence, as written in the document. A sentence too long for two lines of 42
characters is cut at clause punctuation (, ; : and dashes), else between words, into cues that
each fit; each part's time comes from the sentence's spoken words (written word i of n is heard
at spoken word i·m/n of m; the job maps spoken words to written ones, so the counts agree),
else from its share of characters.
Times are those of the written file: the room tone at its head and the chapters before count,
and resampling keeps them (it moves no boundary by more than a sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kokoro_cli.output.formats import OutputOptions
from kokoro_cli.output.metadata import BookMeta
from kokoro_cli.output.plan import ChapterAudio, plan_parts
from kokoro_cli.output.timing import ChapterTiming, SentenceTime, TimedChapter
from kokoro_common import write_atomic
from preprocess import cue_texts

__all__ = ["SUBTITLE_FORMATS", "Cue", "book_cues", "srt", "subtitle_path",
           "timestamp", "vtt", "wrap", "write_clip_subtitles", "write_subtitles"]

SUBTITLE_FORMATS = ("srt", "vtt")
LINE = 42  # characters a subtitle line holds (the usual broadcast limit)
LINES = 2


@dataclass(frozen=True)
class Cue:
    """A subtitle: seconds from the file's start, its text, and (for word-level subtitles) the
    start of each of its words, ``(seconds, word)``."""

    start: float
    end: float
    text: str
    words: tuple[tuple[float, str], ...] = ()


def timestamp(seconds: float, separator: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SRT) or with ``.`` (WebVTT), rounded to the millisecond."""
    ms = _ms(seconds)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def wrap(text: str, width: int = LINE) -> str:
    """A cue's text on one line, or two lines of about equal length when it is longer than
    ``width`` (broken at the space nearest the middle)."""
    if len(text) <= width or " " not in text:
        return text
    middle = len(text) // 2
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    cut = min(spaces, key=lambda i: (abs(i - middle), i))
    return f"{text[:cut]}\n{text[cut + 1:]}"


def sentence_cues(sentence: SentenceTime, offset: int, rate: int) -> list[Cue]:
    """The cues of one sentence, at ``offset`` samples into the file."""
    texts = cue_texts(sentence.text)
    written = sentence.text.split()
    times = _word_times(sentence, len(written))
    cues, first = [], 0
    for i, text in enumerate(texts):
        count = len(text.split())
        start = sentence.start if i == 0 else times[first][0]
        end = sentence.end if i == len(texts) - 1 else times[first + count - 1][1]
        words = tuple(((offset + times[j][0]) / rate, written[j])
                      for j in range(first, first + count))
        cues.append(Cue((offset + start) / rate, (offset + end) / rate, text, words))
        first += count
    return cues


def _word_times(sentence: SentenceTime, count: int) -> list[tuple[int, int]]:
    """``(start, end)`` in samples for each of ``count`` written words: from the spoken words
    where there are any, else spread over the sentence by characters."""
    spoken = sentence.words
    if spoken:
        return [(spoken[i * len(spoken) // count][0],
                 spoken[max((i + 1) * len(spoken) // count - 1, i * len(spoken) // count)][1])
                for i in range(count)]
    lengths = [len(w) + 1 for w in sentence.text.split()]
    total, span, times, at = sum(lengths) or 1, sentence.end - sentence.start, [], 0
    for n in lengths:
        times.append((sentence.start + at * span // total,
                      sentence.start + (at + n) * span // total))
        at += n
    return times


def book_cues(chapters: Sequence[TimedChapter], head: int, rate: int) -> list[Cue]:
    """Every cue of chapters played back to back after ``head`` samples (room tone), in
    order; a cue never runs past the start of the next."""
    cues: list[Cue] = []
    offset = head
    for chapter in chapters:
        for sentence in chapter.timing.sentences:
            cues.extend(sentence_cues(sentence, offset, rate))
        offset += chapter.audio.samples
    for i in range(len(cues) - 1):
        if cues[i].end > cues[i + 1].start:
            c = cues[i]
            cues[i] = Cue(c.start, max(c.start, cues[i + 1].start), c.text, c.words)
    return cues


def srt(cues: Sequence[Cue], *, words: bool = False) -> str:
    """SubRip text: numbered cues; with ``words``, one cue per word."""
    if words:
        cues = _per_word(cues)
    blocks = [f"{i}\n{timestamp(c.start)} --> {timestamp(c.end)}\n{wrap(c.text)}\n"
              for i, c in enumerate(cues, 1)]
    return "\n".join(blocks)


def vtt(cues: Sequence[Cue], *, words: bool = False) -> str:
    """WebVTT text; with ``words``, each word after the first carries its start time as a cue
    timestamp (``<00:00:01.200>word``), which players show as karaoke-style highlighting."""
    blocks = ["WEBVTT\n"]
    for c in cues:
        text = wrap(_escape(c.text)) if not words or not c.words else _timed_words(c)
        blocks.append(f"{timestamp(c.start, '.')} --> {timestamp(c.end, '.')}\n{text}\n")
    return "\n".join(blocks)


def _timed_words(cue: Cue) -> str:
    """The cue's words with their start times, broken into lines where :func:`wrap` breaks the
    plain text."""
    first_line = len(wrap(cue.text).split("\n")[0].split())
    parts = [_escape(cue.words[0][1])]
    for i, (start, word) in enumerate(cue.words[1:], 1):
        start = min(max(start, cue.start), cue.end)
        parts.append(("\n" if i == first_line else " ")
                     + f"<{timestamp(start, '.')}>{_escape(word)}")
    return "".join(parts)


def _per_word(cues: Sequence[Cue]) -> list[Cue]:
    """One cue per word, each lasting until the next word starts. A word with no time of its
    own (it starts, to the millisecond, with the word before it or at its cue's end; several
    written words can share one spoken word) is shown with the word before it, never as a cue
    of zero length."""
    out: list[Cue] = []
    for c in cues:
        groups: list[tuple[float, list[str]]] = []
        for start, word in c.words:
            start = min(max(start, c.start), c.end)
            untimed = _ms(start) >= _ms(c.end) or bool(groups) and \
                _ms(start) <= _ms(groups[-1][0])
            if untimed and groups:
                groups[-1][1].append(word)
            elif untimed and out:  # a cue with no time left at all (the next one starts)
                out[-1] = Cue(out[-1].start, out[-1].end, f"{out[-1].text} {word}")
            else:
                groups.append((start, [word]))
        ends = [start for start, _ in groups[1:]] + [c.end]
        out += [Cue(start, end, " ".join(words)) for (start, words), end in zip(groups, ends)]
    return out


def _ms(seconds: float) -> int:
    """A time as :func:`timestamp` writes it, in milliseconds."""
    return max(0, round(seconds * 1000))


def _escape(text: str) -> str:
    """WebVTT cue text: ``&``, ``<`` and ``>`` as character references; no ``-->``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def subtitle_path(audio: Path, kind: str) -> Path:
    """The subtitle file beside an audio file: ``book.m4b`` → ``book.srt``."""
    return audio.with_suffix(f".{kind}")


def write_subtitles(chapters: Sequence[TimedChapter], out: Path, meta: BookMeta,
                    options: OutputOptions, kind: str, *, words: bool = False,
                    sample_rate: int = 24000) -> tuple[Path, ...]:
    """One subtitle file beside each file :func:`write_book` writes for the same arguments
    (one per chapter when split, one per part), each written atomically."""
    if kind not in SUBTITLE_FORMATS:
        raise ValueError(f"subtitles {kind!r}: use {' or '.join(SUBTITLE_FORMATS)}")
    by_path = {id(c.audio): c for c in chapters}
    head = options.effective_room_tone_ms * sample_rate // 1000
    written = []
    for part in plan_parts([c.audio for c in chapters], Path(out), meta, options, sample_rate):
        assert part.path is not None
        cues = book_cues([by_path[id(a)] for a in part.chapters], head, sample_rate)
        text = (srt if kind == "srt" else vtt)(cues, words=words)
        path = subtitle_path(part.path, kind)
        write_atomic(path, text.encode("utf-8"))
        written.append(path)
    return tuple(written)


def write_clip_subtitles(timing: ChapterTiming, audio: Path, kind: str, *,
                         words: bool = False) -> Path:
    """The subtitle file of a ``say`` clip (no room tone), beside ``audio``."""
    cues = book_cues([TimedChapter(ChapterAudio("", audio, timing.samples), timing)], 0,
                     timing.sample_rate)
    path = subtitle_path(audio, kind)
    write_atomic(path, (srt if kind == "srt" else vtt)(cues, words=words).encode("utf-8"))
    return path
