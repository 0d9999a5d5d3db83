"""The sentences of a block as written, matched to the sentences the normalizer made of it.

The chunker cuts the *spoken* text (after the normalizer) into sentences; subtitles and a
read-along book show the text *as written* ("v2.4.1", not "version two point four point one").
The written block is cut at every place a sentence may end, and consecutive cuts are joined
until they normalize to the spoken sentence: "Dr. Smith came." is two cuts as written but one
sentence as spoken ("Doctor Smith came."). Where no join matches (a rule that reaches across a
sentence end), the rest of the block falls back to one cut per sentence when the counts agree,
else to the spoken text itself, so every spoken sentence always has a text to show.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

from .inline import CLOSING, OPENING

__all__ = ["cue_texts", "runs", "spoken_counts", "written_sentences"]

log = logging.getLogger(__name__)

# Any place a sentence may end as written: . ! ? … (and closing quotes) before a space and an
# opening capital, digit or quote, initials included (the spoken text decides which count).
# (Marked phrases in another language: preprocess.inline.)
_CUT = re.compile(rf"[.!?…][\"'”’)\]]*{CLOSING}(\s+)(?={OPENING}[\"'“‘(\[]?[A-Z0-9])")
_CLAUSE = re.compile(r"(?<=[,;:])\s+|\s+(?=[—–]\s)|(?<=[—–])\s+")
_LOOKAHEAD = 8  # cuts joined at most into one spoken sentence before giving up
# A plain word (letters, an apostrophe or hyphen inside, punctuation around, not all capitals)
# is spoken as itself: one word, no normalizer call needed.
_PLAIN = re.compile(r"[\"'“‘(\[]*[A-Za-z]?[a-z]+(?:['’-][A-Za-z]+)*[\"'”’)\].,;:!?…]*")


def _cuts(text: str) -> list[str]:
    cuts, start = [], 0
    for m in _CUT.finditer(text):
        cuts.append(text[start:m.start(1)])
        start = m.end(1)
    cuts.append(text[start:])
    return [" ".join(c.split()) for c in cuts if c.strip()]


def _same(a: str, b: str) -> bool:
    return a.split() == b.split()


def written_sentences(text: str, spoken: Sequence[str],
                      normalize: Callable[[str], str]) -> list[str]:
    """One written text per sentence of ``spoken`` (the sentences of ``normalize(text)``)."""
    if len(spoken) <= 1:
        return [" ".join(text.split())] * len(spoken)
    cuts = _cuts(text)
    found: list[str] = []
    at = 0
    for sentence in spoken:
        end = _match(cuts, at, sentence, normalize)
        if end is None:
            break
        found.append(" ".join(cuts[at:end]))
        at = end
    if len(found) == len(spoken):
        return found
    rest_cuts, rest_spoken = cuts[at:], spoken[len(found):]
    log.debug("written text of %d sentences not matched; falling back", len(rest_spoken))
    if len(rest_cuts) == len(rest_spoken):
        return found + rest_cuts
    return found + list(rest_spoken)


def _match(cuts: Sequence[str], at: int, sentence: str,
           normalize: Callable[[str], str]) -> int | None:
    """The end of the run of cuts from ``at`` that normalizes to ``sentence``, or None."""
    for end in range(at + 1, min(len(cuts), at + _LOOKAHEAD) + 1):
        if _same(normalize(" ".join(cuts[at:end])), sentence):
            return end
    return None


def spoken_counts(written: str, normalize: Callable[[str], str]) -> tuple[int, ...]:
    """How many words each word of ``written`` becomes when spoken ("v2.4.1" → 5: "version 2
    point 4 point 1"), normalized one at a time; so word timing can map spoken words back to
    written ones."""
    return tuple(1 if _PLAIN.fullmatch(word) else _count(normalize(word))
                 for word in written.split())


_NUMBER = re.compile(r"\d+")


def _count(spoken: str) -> int:
    """Words in a spoken form; digits (left for the G2P to read) as the words of the number
    ("71%" is "seventy one percent": 3)."""
    count = 0
    for word in spoken.split():
        numbers = _NUMBER.findall(word)
        count += sum(_number_words(n) for n in numbers) if numbers else 1
        count += word.count("%")
    return max(count, 1)


def _number_words(digits: str) -> int:
    if len(digits) > 6:
        return len(digits)  # read digit by digit, or as long as that
    from num2words import num2words

    return len(num2words(int(digits)).replace("-", " ").replace(",", "").split())


def cue_texts(text: str, limit: int = 84) -> list[str]:
    """``text`` cut into parts of at most ``limit`` characters (a subtitle cue: two lines of
    42): at clause punctuation where the parts fit, else between words into parts of about
    equal length (a single longer word stays whole)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return [text] if text else []
    pieces = [piece for clause in _CLAUSE.split(text)
              for piece in ([clause] if len(clause) <= limit else _even(clause.split(), limit))]
    return runs(pieces, limit)


def _even(words: Sequence[str], limit: int) -> list[str]:
    """Words in as few runs of at most ``limit`` characters as fit, of about equal length (a
    long clause cut in two halves, not a full cue and an orphan)."""
    total = sum(len(w) + 1 for w in words) - 1
    return runs(words, min(limit, -(-total // -(-total // limit)) + 8))


def runs(parts: Sequence[str], size: int) -> list[str]:
    """Consecutive parts joined with spaces into runs of at most ``size`` characters (a longer
    part stays a run of its own)."""
    joined: list[str] = []
    for part in parts:
        if joined and len(joined[-1]) + 1 + len(part) <= size:
            joined[-1] = f"{joined[-1]} {part}"
        else:
            joined.append(part)
    return joined
