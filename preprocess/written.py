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

__all__ = ["written_sentences"]

log = logging.getLogger(__name__)

# Any place a sentence may end as written: . ! ? … (and closing quotes) before a space and an
# opening capital, digit or quote, initials included (the spoken text decides which count).
_CUT = re.compile(r"[.!?…][\"'”’)\]]*(\s+)(?=[\"'“‘(\[]?[A-Z0-9])")
_LOOKAHEAD = 8  # cuts joined at most into one spoken sentence before giving up


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
