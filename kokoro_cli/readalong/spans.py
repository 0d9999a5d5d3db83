"""Finding the spoken sentences in an XHTML document and wrapping each in ``<span id>``.

The document's text is read as one stream (text and tails of the body's elements, in order,
whitespace collapsed), each sentence as written is looked for in it after the one before, and
found ranges are wrapped from the last to the first so that earlier positions stay valid. A
range is wrapped where both its ends lie in text of the same element; an end inside an inline
child (``<em>``) is widened to the whole child when the range covers all of that child's text.
A sentence not found (an image's alt text, a table read as one line) or not wrappable keeps no
span: its audio plays, unhighlighted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import lxml.etree as etree

__all__ = ["Slot", "TextStream", "wrap_sentences"]

XHTML = "http://www.w3.org/1999/xhtml"
_SKIP = frozenset("head script style nav svg math rt rp audio video template".split())


@dataclass(frozen=True)
class Slot:
    """A run of text: ``element.text`` (``tail`` False) or ``element.tail``."""

    element: etree._Element
    tail: bool

    @property
    def container(self) -> etree._Element:
        return self.element.getparent() if self.tail else self.element

    def get(self) -> str:
        return (self.element.tail if self.tail else self.element.text) or ""

    def set(self, text: str | None) -> None:
        if self.tail:
            self.element.tail = text
        else:
            self.element.text = text


class TextStream:
    """The body's text with whitespace collapsed, each character knowing its slot and offset."""

    def __init__(self, body: etree._Element) -> None:
        self.chars: list[str] = []
        self.where: list[tuple[Slot, int]] = []
        self.ranges: dict[etree._Element, tuple[int, int]] = {}  # an element's own text
        self._walk(body)
        self.text = "".join(self.chars)

    def _walk(self, element: etree._Element) -> None:
        start = len(self.chars)
        self._add(Slot(element, False))
        for child in element:
            if isinstance(child.tag, str) and etree.QName(child).localname not in _SKIP:
                self._walk(child)
            if child.tail:
                self._add(Slot(child, True))
        self.ranges[element] = (start, len(self.chars))

    def _add(self, slot: Slot) -> None:
        for offset, ch in enumerate(slot.get()):
            if ch.isspace():
                if not self.chars or self.chars[-1] == " ":
                    continue
                ch = " "
            self.chars.append(ch)
            self.where.append((slot, offset))

    def find(self, sentence: str, start: int) -> tuple[int, int] | None:
        """The stream range of ``sentence`` (whitespace collapsed) at or after ``start``."""
        needle = " ".join(sentence.split())
        at = self.text.find(needle, start) if needle else -1
        return None if at < 0 else (at, at + len(needle))


def wrap_sentences(body: etree._Element, sentences: Sequence[str], ids: Iterator[str], *,
                   max_misses: int = 25) -> tuple[dict[int, str], int]:
    """Wrap the ``sentences`` found in ``body``, in order, each in a span with the next of
    ``ids``. Returns the span id by sentence index (sentences without one left out) and how
    many sentences this document consumed: up to the last one found, as the search stops after
    ``max_misses`` sentences in a row are not found (they belong to a later document)."""
    stream = TextStream(body)
    ranges: list[tuple[int, int, int]] = []
    position, misses = 0, 0
    for index, sentence in enumerate(sentences):
        found = stream.find(sentence, position)
        if found is None:
            misses += 1
            if misses > max_misses:
                break
            continue
        ranges.append((index, *found))
        position, misses = found[1], 0
    names = {index: next(ids) for index, _, _ in ranges}
    wrapped: dict[int, str] = {}
    for index, start, end in reversed(ranges):
        ends = _ends(stream, start, end)
        if ends is not None and _wrap(*ends, names[index]):
            wrapped[index] = names[index]
    return dict(sorted(wrapped.items())), (ranges[-1][0] + 1 if ranges else 0)


def _ends(stream: TextStream, start: int, end: int) -> tuple[Slot, int, Slot, int] | None:
    """The range's ends as (slot, offset) pairs in one container: an end inside an inline
    element is moved out past it when the range covers all of that element's text."""
    (first, a), (last, b) = stream.where[start], stream.where[end - 1]
    b += 1
    outer = first.container
    while last.container is not outer and outer not in last.container.iterancestors():
        if stream.ranges[outer][0] != start or _is_block(outer) or outer.getparent() is None:
            return None
        parent, index = outer.getparent(), outer.getparent().index(outer)
        first = Slot(parent[index - 1], True) if index else Slot(parent, False)
        a, outer = len(first.get()), parent
    inner = last.container
    while inner is not outer:
        if stream.ranges[inner][1] != end or _is_block(inner):
            return None
        last, b, inner = Slot(inner, True), 0, inner.getparent()
    return first, a, last, b


def _wrap(first: Slot, start: int, last: Slot, end: int, name: str) -> bool:
    """Wrap from ``start`` in ``first`` to ``end`` in ``last`` (slots of one container) in a
    span with id ``name``."""
    container = first.container
    children = list(container)
    lo = 0 if not first.tail else children.index(first.element) + 1
    hi = 0 if not last.tail else children.index(last.element) + 1
    span = etree.Element(f"{{{XHTML}}}span" if str(container.tag).startswith("{") else "span")
    span.set("id", name)
    head, tail_text = first.get(), last.get()
    if first == last:
        span.text, rest = head[start:end] or None, head[end:]
    else:
        span.text, rest = head[start:] or None, tail_text[end:]
        for child in children[lo:hi]:
            span.append(child)  # moves it, with its tail
        span[-1].tail = tail_text[:end] or None
    first.set(head[:start] or None)
    span.tail = rest or None
    container.insert(lo, span)
    return True


_BLOCKS = frozenset("body p div li h1 h2 h3 h4 h5 h6 blockquote section article td th dd dt "
                    "figcaption caption pre".split())


def _is_block(element: etree._Element) -> bool:
    return etree.QName(element).localname in _BLOCKS
