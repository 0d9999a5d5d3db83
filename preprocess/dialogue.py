"""Who says each quote of a chapter: speech tags, the paragraph's subject, alternation.

For each quote (:mod:`preprocess.quotes` finds them) the speaker is, in order of trust:

1. a script line's label (``ELIZABETH: ...``): ``script``;
2. a speech tag after or before the quote naming someone (``said Ahab``, ``Ahab said``,
   ``asked the captain``, ``cried his wife``): ``tag``;
3. a pronoun tag (``she said``) resolved to this paragraph's speaker, else the first person
   its narration names (``Alice sighed. ‘...’ she said``), else the last speaker or person
   named whose gender fits: ``pronoun``; ``they said`` is a group: nobody;
4. the paragraph's speaker, for its other quotes: ``paragraph``;
5. the person its narration names first (``The Hatter shook his head. ‘Not I!’``): ``beat``;
6. in an exchange of untagged lines, the speaker before the last: ``alternation``;
otherwise nobody (``unknown``): the cast's dialogue default reads it.

Names are as written, made canonical by ``aliases`` (a cast's characters and their aliases,
lower-case alias to name), so "his wife" and "Mrs. Bennet" can be one speaker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .quotes import Conventions, conventions, find_quotes, script_label

__all__ = ["Quote", "attribute"]

_WORD = re.compile(r"[^\W\d_][\w’'.-]*")
_SENTENCE = re.compile(r"[.!?;:]\s")
_LOWER = re.compile(r"(?<![\w’'])[^\W\d_A-Z][\w’'-]*")  # a word written in lower case
_SCRIPT_LINES = 3  # paragraphs of "Name: ..." that make a chapter a script
_INVERTED = frozenset({"il", "elle", "ils", "elles", "on"})
_CLAUSES = re.compile(r"[.!?;:]\s|\s[—–]\s")


@dataclass(frozen=True)
class Quote:
    """A quote of a block: ``text[start:end]`` (its marks included), who says it (None: not
    known) and the rule that decided."""

    start: int
    end: int
    speaker: str | None
    rule: str


@dataclass
class _Context:
    """What a chapter's earlier paragraphs tell about its speakers."""

    conv: Conventions
    aliases: Mapping[str, str]
    history: list[str | None] = field(default_factory=list)  # a speaker per dialogue paragraph
    mentions: list[str] = field(default_factory=list)  # people named or heard, in order
    common: frozenset[str] = frozenset()  # the chapter's words written in lower case
    genders: dict[str, str] = field(default_factory=dict)
    # the speaker of a quote left open at the end of the last paragraph: the next paragraph's
    # opening quote goes on with the same speech (a speech over several paragraphs)
    speaking: str | None = None
    narrated: bool = False  # the last paragraph was narration naming someone ("Holmes laughed.")

    def canonical(self, name: str) -> str:
        """The name as the cast knows it, else as written without a leading article."""
        known = self.aliases.get(name.casefold())
        if known is not None:
            return known
        words = name.split()
        if len(words) > 1 and words[0].lower() in self.conv.determiners and words[1][:1].isupper():
            name = " ".join(words[1:])
        return self.aliases.get(name.casefold(), name)

    def gender(self, name: str) -> str:
        """m, f or "" (unknown), from a title or noun in the name as first met."""
        return self.genders.get(name, "")

    def learn(self, written: str, name: str) -> None:
        words = written.lower().split()
        for word in (words[:1] + words[-1:]):
            sex = self.conv.titles.get(word) or self.conv.nouns.get(word)
            if sex and name not in self.genders:
                self.genders[name] = sex


def attribute(blocks: Sequence[str], language: str = "en",
              aliases: Mapping[str, str] | None = None) -> list[tuple[Quote, ...]]:
    """The quotes of each block of a chapter (its paragraphs' texts, in order), attributed."""
    context = _Context(conventions(language), {k.casefold(): v for k, v in (aliases or {}).items()},
                       common=frozenset(w for text in blocks for w in _LOWER.findall(text)))
    for canonical in set(context.aliases.values()):
        context.learn(canonical, canonical)
    labels = [script_label(text) for text in blocks]
    # "Note: ..." is no script line; a chapter of several "Name: ..." lines is a script.
    script = sum(label is not None for label in labels) >= _SCRIPT_LINES
    return [tuple(_block(text, context, label if label is None or script
                         or label[0].isupper() else None))
            for text, label in zip(blocks, labels)]


def _block(text: str, context: _Context, label: tuple[str, int] | None) -> Iterator[Quote]:
    """The quotes of one paragraph, attributed; ``context`` learns from it."""
    if label is not None and label[0].lower() not in context.conv.stop:
        name = context.canonical(label[0])
        context.history.append(name)
        context.mentions.append(name)
        context.speaking = None
        yield Quote(label[1], len(text), name, "script")
        return
    spans = find_quotes(text, context.conv)
    if not spans:
        named = _names(text, context, set(context.history))
        context.mentions += named
        context.speaking, context.narrated = None, bool(named)
        return
    quotes, speaker = _attributed(text, spans, context)
    if speaker is not None or not text[:spans[0][0]].strip():
        context.history.append(speaker)  # (not narration quoting a word: a large "E")
    context.mentions += _names(_narration(text, spans, len(text)), context,
                               set(context.history))
    context.mentions += [speaker] if speaker is not None else []
    context.speaking = quotes[-1].speaker if _left_open(text, spans[-1], context.conv) else None
    context.narrated = False
    yield from quotes


def _attributed(text: str, spans: Sequence[tuple[int, int]],
                context: _Context) -> tuple[list[Quote], str | None]:
    """Each quote of a paragraph with its speaker, and the paragraph's speaker."""
    continued = context.speaking if not text[:spans[0][0]].strip() else None
    quotes: list[Quote] = []
    speaker: str | None = None  # the paragraph's, once known
    group = False
    for k, (start, end) in enumerate(spans):
        after = text[end:spans[k + 1][0] if k + 1 < len(spans) else len(text)]
        before = text[spans[k - 1][1] if k else 0:start]
        found = _tagged(after, before, context)
        if k == 0 and found is None and continued is not None:
            who, rule = continued, "continued"
        else:
            who, rule = _decide(found, speaker, group, _narration(text, spans[:k], start),
                                context, tagged=k > 0 or bool(before.strip()))
        group = group or found == ("", "pronoun-group")
        speaker = speaker if speaker is not None else who
        quotes.append(Quote(start, end, who, rule))
    # a quote before the paragraph's tag ("‘No,’ she said. ‘Never.’" read in order) is its too
    return [q if q.speaker is not None or group or speaker is None or q.rule != "unknown"
            else Quote(q.start, q.end, speaker, "paragraph") for q in quotes], speaker


def _left_open(text: str, span: tuple[int, int], conv: Conventions) -> bool:
    """Whether the quote ``span`` runs to the paragraph's end without its closing mark."""
    start, end = span
    close = dict(conv.quotes).get(text[start])
    return end == len(text) and close is not None and (end - start < 2
                                                       or not text.endswith(close))


def _narration(text: str, spans: Sequence[tuple[int, int]], upto: int) -> str:
    """``text[:upto]`` with the quotes of ``spans`` (all before ``upto``) blanked."""
    out, last = [], 0
    for start, end in spans:
        out += [text[last:start], " . "]
        last = end
    return "".join(out) + text[last:upto]


def _decide(found: tuple[str, str] | None, speaker: str | None, group: bool, narration: str,
            context: _Context, tagged: bool) -> tuple[str | None, str]:
    """The speaker of one quote and the rule, from its tag (``found``) and the context."""
    if found is not None:
        name, kind = found
        if kind == "tag":
            return name, "tag"
        if kind == "pronoun-group":
            return None, "group"
        if kind == "pronoun-narrator":
            return "narrator", "pronoun"
        return _pronoun(kind.removeprefix("pronoun-"), speaker, narration, context), "pronoun"
    if group:
        return None, "group"
    if speaker is not None:
        return speaker, "paragraph"
    beat = _names(narration, context, set(context.history))
    if beat:
        return beat[0], "beat"
    if not tagged:
        alternate = _alternation(context)
        if alternate is not None:
            return alternate, "alternation"
    return None, "unknown"


def _pronoun(sex: str, speaker: str | None, narration: str, context: _Context) -> str | None:
    """Who ``he``/``she`` is: this paragraph's speaker, the first person its narration names,
    else the latest speaker or person named, whose gender fits."""
    def fits(name: str | None) -> bool:
        return name is not None and context.gender(name) in ("", sex)

    if fits(speaker):
        return speaker
    for name in _names(narration, context, set(context.history)):
        if fits(name):
            return name
    # a new paragraph is a new speaker: the last one is the last choice, unless narration
    # named someone since ("The King took a bag... ‘Three hundred pounds,’ he said.")
    last = context.history[-1] if context.history and not context.narrated else None
    for name in [n for n in reversed(context.mentions) if n != last] + [last]:
        if fits(name):
            return name
    return None


def _alternation(context: _Context) -> str | None:
    """An untagged line in an exchange: the speaker before the last when the last two
    differ, else the latest other person named or heard."""
    history = context.history
    if len(history) >= 2 and history[-2] is not None and history[-1] != history[-2]:
        return history[-2]  # A, B (or someone unknown), A
    spoken = [n for n in history if n is not None]
    if len(spoken) >= 2 and spoken[-1] != spoken[-2]:
        return spoken[-2]
    if not spoken:
        return None
    for name in reversed(context.mentions):
        if name != spoken[-1]:
            return name
    return None


def _tagged(after: str, before: str, context: _Context) -> tuple[str, str] | None:
    """A speech tag right after the quote (up to the end of its sentence), else right before
    it (the end of the sentence before): ``(name, "tag")``, ``(gender, "pronoun-...")``."""
    first = _sentences(after, context.conv)[0]
    found = _tag_words(_words(first), context, at_start=True)
    if found is None:
        last = _sentences(before, context.conv)[-1]
        found = _tag_words(_words(last), context, at_start=False)
    return found


def _sentences(text: str, conv: Conventions, dashes: bool = False) -> list[str]:
    """``text`` cut after . ! ? ; : (not after a title: "Mr. Bennet") and, with ``dashes``,
    at a spaced dash; never empty."""
    out, start = [], 0
    for m in (_CLAUSES if dashes else _SENTENCE).finditer(text):
        words = text[start:m.start() + 1].split()
        if words and words[-1].lower() in conv.titles:
            continue
        out.append(text[start:m.start() + 1])
        start = m.end()
    return out + [text[start:]]


def _words(text: str) -> list[str]:
    """Words, with an inverted pronoun split off its verb ("dit-il": "dit", "il")."""
    out = []
    for word in _WORD.findall(text):
        head, _, tail = word.rpartition("-")
        inverted = head and tail.rstrip(".,;:!?").lower() in _INVERTED
        out += [head.removesuffix("-t"), tail] if inverted else [word]
    return out


def _tag_words(words: list[str], context: _Context, at_start: bool) -> tuple[str, str] | None:
    """``said Ahab`` / ``Ahab said`` at the start of ``words`` (after a quote) or anywhere,
    the last one winning (before a quote: ``..., and Alice said:``)."""
    starts = [0] if at_start else range(len(words))
    found = None
    for i in starts:
        verb = _verb_at(words, i, context.conv)
        if verb:
            name = _name_at(words, _skip_adverbs(words, i + verb), context)
            if name is not None:
                found = name
                continue
        name = _name_at(words, i, context, with_end=True)
        if name is not None:
            (who, kind), end = name
            end = _skip_adverbs(words, end, fillers=True)
            if _verb_at(words, end, context.conv):
                found = (who, kind)
    return found


def _skip_adverbs(words: list[str], i: int, fillers: bool = False) -> int:
    while i < len(words) and (words[i].lower().endswith("ly") or fillers and words[i].lower()
                              in ("both", "then", "again", "at", "last", "all")):
        i += 1
    return i


def _verb_at(words: list[str], i: int, conv: Conventions) -> int:
    """How many words the verb phrase at ``i`` takes (0: none)."""
    lowered = [w.lower().rstrip(".,;:!?") for w in words[i:i + 3]]
    for verb in conv.verbs:
        if tuple(lowered[:len(verb)]) == verb:
            return len(verb)
    return 0


def _name_at(words: list[str], i: int, context: _Context,
             with_end: bool = False) -> Any:
    """The speaker named at ``i``: a pronoun, "the captain", "his wife", "Mr. Bennet", "the
    March Hare", "Alice": ``((name or gender, kind), end)`` with ``with_end``, else the pair."""
    if i >= len(words):
        return None
    conv, word = context.conv, words[i].rstrip(".,;:!?")
    lower = word.lower()
    if lower in conv.pronouns:
        sex = conv.pronouns[lower]
        kind = {"p": "pronoun-group", "narrator": "pronoun-narrator"}.get(sex, f"pronoun-{sex}")
        found = ("", kind) if sex in ("p", "narrator") else (sex, kind)
        return (found, i + 1) if with_end else found
    end = _name_end(words, i, conv)
    if end is None:
        return None
    written = " ".join(w.rstrip(",;:!?") for w in words[i:end]).rstrip(".")
    if not written or written.lower().rstrip(".") in conv.titles:  # a title alone
        return None
    name = context.canonical(written)
    context.learn(written, name)
    return ((name, "tag"), end) if with_end else (name, "tag")


def _name_end(words: list[str], i: int, conv: Conventions) -> int | None:
    """One past the last word of a name starting at ``i`` (None: no name there)."""
    first = words[i].rstrip(",;:!?")
    lower = first.lower()
    if lower in conv.determiners and i + 1 < len(words):
        nxt = words[i + 1]
        if nxt[:1].isupper():
            return _capitals(words, i + 1, conv)
        if nxt.lower() in conv.glue or nxt.lower().endswith("ly") or _verb_at(words, i + 1, conv):
            return None
        end = i + 2
        following = words[end].rstrip(".,;:!?").lower() if end < len(words) else ""
        if (end < len(words) and words[end].islower() and following not in conv.glue
                and not _verb_at(words, end, conv) and not following.endswith("ly")
                and not words[i + 1][-1:] in ",;:."):
            end += 1
        return end
    if lower in conv.titles or (first[:1].isupper() and lower not in conv.stop):
        return _capitals(words, i, conv)
    return None


def _capitals(words: list[str], i: int, conv: Conventions) -> int | None:
    """One past a run of up to four capitalized words from ``i`` (titles count)."""
    end = i
    while end < len(words) and end - i < 4:
        word = words[end]
        if not word[:1].isupper() or (end > i and word.lower() in conv.stop):
            break
        end += 1
        if word[-1:] in ",;:!?" or (word.endswith(".") and word.lower() not in conv.titles):
            break
    return end if end > i else None


def _names(narration: str, context: _Context, known: set[str | None]) -> list[str]:
    """People a narration names, in order: a capitalized name that starts one of its
    sentences (its subject, as in "Alice sighed."), or any name already heard speaking."""
    found: list[str] = []
    for sentence in _sentences(narration, context.conv, dashes=True):
        words = _words(sentence)
        for i, word in enumerate(words):
            word = re.sub(r"[’']s$", "", word)
            if not word[:1].isupper() and word.lower() not in context.conv.determiners:
                continue
            got = _name_at([word, *words[i + 1:]], 0, context, with_end=True)
            if got is None or got[0][1] != "tag":
                continue
            name = got[0][0]
            if name not in known and (i > 0 or name.split()[-1].lower() in context.common):
                continue  # "From the lower part...": a common word, not a name
            if name not in found and _plausible(name, context):
                found.append(name)
    return found


def _plausible(name: str, context: _Context) -> bool:
    """A person, not a lower-case phrase such as "the table" (which may still be a tag's)."""
    first = name.split()[0]
    return (first[:1].isupper() and first.lower() not in context.conv.determiners
            or name in context.aliases.values() or name in context.history)
