"""Markdown to :class:`Document`, read from markdown-it-py's token stream.

Chapters split at the top heading level in use; every heading is also kept as a HEADING block so it
is read aloud. Markup is dropped: links read as their text, images as their alt text, inline HTML
and emphasis markers vanish, inline code keeps its text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import lxml.etree
import lxml.html
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from .document import (CODE_NOTICE, CODE_POLICIES, Block, BlockKind, Chapter, Document,
                       LanguageRun, fold_heading_only)
from .errors import ParseError
from .inline import Switch, collapse, declared_language, foreign_runs
from .plaintext import is_part_label, titlecase

__all__ = ["CODE_POLICIES", "parse_markdown"]

# How fenced and indented code is read: dropped, replaced by a short notice, or read verbatim.

# How deep blocks may nest (quotes in lists in quotes...). markdown-it drops, without a word,
# everything below its limit, so a document that reaches it is refused instead; 100 levels keep
# its recursive parser well inside Python's stack.
MAX_NESTING = 100
# Bounds on the parser's work, so that memory stays bounded (~400 bytes a token) on input made
# of nothing but tiny blocks or markup; real books stay far below (a novel: ~50,000 tokens).
MAX_BLOCK_TOKENS = 1_000_000
MAX_INLINE_STEPS = 2_000_000
# Front matter: how deep YAML may nest; aliases are refused (they expand exponentially).
_MAX_YAML_DEPTH = 20

# Block containers whose paragraphs take the container's kind; the innermost one wins.
_CONTAINER_KINDS = {"list_item": BlockKind.LIST_ITEM, "blockquote": BlockKind.QUOTE}
_FINAL_PUNCTUATION = ".!?:;…"
_CLOSERS = "\"')]}”’»"
# Inline HTML that puts a phrase in another language: <span lang="fr">, <i xml:lang="la">.
_OPEN_TAG = re.compile(r"<([A-Za-z][\w-]*)\b([^>]*?)(/?)>\Z")
_CLOSE_TAG = re.compile(r"</([A-Za-z][\w-]*)\s*>\Z")
_LANG_ATTRIBUTE = re.compile(r"""(?:^|\s)(?:xml:)?lang\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


@dataclass(frozen=True)
class _Piece:
    """A block plus the level of the heading it came from (0 for anything else)."""

    level: int
    block: Block


@dataclass(frozen=True)
class _Metadata:
    title: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None


def parse_markdown(
    text: str,
    *,
    name: str,
    split_level: int | None = None,
    code: str = "skip",
    chapter_file: bool = False,
) -> Document:
    """Parse Markdown text into a document.

    ``name`` titles the document when neither front matter nor a wrapping H1 does. ``split_level``
    (1-6) forces the heading level that starts chapters; headings above it start chapters too.
    ``code`` is one of :data:`CODE_POLICIES`. ``chapter_file`` says the text is one file of a book
    split into files: its top-level headings start chapters even when there is only one.
    """
    if code not in CODE_POLICIES:
        raise ValueError(f"code policy must be one of {', '.join(CODE_POLICIES)}, not {code!r}")
    if split_level is not None and not 1 <= split_level <= 6:
        raise ValueError(f"split_level must be between 1 and 6, not {split_level}")
    tokens = _tokens(text, name)
    meta = _front_matter(tokens, name)
    pieces = list(_pieces(tokens, code, meta.language or "en"))
    level, wrapping_title = _chapter_level(pieces, split_level, chapter_file)
    title = meta.title or (wrapping_title and titlecase(wrapping_title)) or name
    # A chapter of nothing but headings ("Part One" before "Chapter 1") opens the next one.
    chapters = fold_heading_only(_group(pieces, level, title))
    return Document(
        title=title, chapters=chapters, authors=meta.authors, language=meta.language or "en",
        language_declared=meta.language is not None,
    )


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"]).use(front_matter_plugin)
    # Links are read as their text, never followed nor rendered, so every scheme is a link.
    # markdown-it's own check (for HTML output) refuses file:, javascript:, vbscript: and data:
    # links, and a refused reference definition ("[f]: file:///etc/passwd") would be read aloud.
    md.validateLink = _any_link
    # Blocks may nest to MAX_NESTING; inline markup keeps the preset's limit (past it markup is
    # read as text, nothing is lost, and a higher one makes link labels like "[[[[" slow).
    inline_nesting = md.options["maxNesting"]
    md.core.ruler.before("block", "block_nesting", lambda state: _set_nesting(state, MAX_NESTING))
    md.core.ruler.before("inline", "inline_nesting",
                         lambda state: _set_nesting(state, inline_nesting))
    md.block.ruler.before(md.block.ruler.__rules__[0].name, "work_limit", _block_limit)
    md.inline.ruler.before(md.inline.ruler.__rules__[0].name, "work_limit", _inline_limit)
    return md


def _any_link(url: str) -> bool:
    return True


def _set_nesting(state: Any, levels: int) -> None:
    state.md.options["maxNesting"] = levels


class _TooMuchWork(Exception):
    """Raised from inside the parser when it passes one of the limits above."""


def _block_limit(state: Any, start: int, end: int, silent: bool) -> bool:
    """A block rule that never matches; it stops the parse when it has made too many tokens."""
    if len(state.tokens) > MAX_BLOCK_TOKENS:
        raise _TooMuchWork(f"more than {MAX_BLOCK_TOKENS:,} blocks")
    return False


def _inline_limit(state: Any, silent: bool) -> bool:
    """An inline rule that never matches; it counts the parser's steps over inline text."""
    steps = state.env["work_limit_steps"] = state.env.get("work_limit_steps", 0) + 1
    if steps > MAX_INLINE_STEPS:
        raise _TooMuchWork(f"more than {MAX_INLINE_STEPS:,} pieces of inline markup")
    return False


def _tokens(text: str, name: str) -> list[Token]:
    """markdown-it's tokens, refused where it would drop text (nesting) or work without bound."""
    try:
        tokens = _parser().parse(text, {})
    except _TooMuchWork as exc:
        raise ParseError(f"{name} is too complex to read: {exc}") from None
    except RecursionError:
        raise ParseError(f"{name} nests its blocks too deeply to read") from None
    if any(token.level >= MAX_NESTING - 1 for token in tokens):
        raise ParseError(f"{name} nests quotes and lists too deeply (about {MAX_NESTING} levels); "
                         "deeper text would be lost")
    return tokens


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases (a few lines of them expand to gigabytes) and with
    a bounded depth (its composer is recursive)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted",
                                              self.peek_event().start_mark)
        self._depth += 1
        try:
            if self._depth > _MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested more than "
                                                  f"{_MAX_YAML_DEPTH} levels deep",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _front_matter(tokens: Sequence[Token], name: str) -> _Metadata:
    """Title, authors and language from a leading YAML block, if there is one."""
    if not tokens or tokens[0].type != "front_matter":
        return _Metadata()
    try:
        data = yaml.load(tokens[0].content, Loader=_FrontMatterLoader)  # noqa: S506 (safe loader)
    except (yaml.YAMLError, RecursionError) as exc:
        raise ParseError(f"{name}: invalid YAML front matter: {_first_line(exc)}") from None
    if not isinstance(data, dict):
        # A leading "---" block that is not a mapping carries no metadata we can use.
        return _Metadata()
    authors = data.get("authors", data.get("author"))
    language = data.get("lang", data.get("language"))
    return _Metadata(
        title=_clean(data.get("title")) or None,
        authors=tuple(a for a in map(_clean, _as_list(authors)) if a),
        language=_clean(language) or None,
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _clean(value: Any) -> str:
    """A scalar as one line of text; a mapping or list (where a name belongs) is ignored."""
    if value is None or isinstance(value, (dict, list, tuple, set, bytes)):
        return ""
    return " ".join(str(value).split())


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _pieces(tokens: Sequence[Token], code: str, language: str) -> Iterable[_Piece]:
    """Walk the block tokens and yield one piece per readable block, in order (``language``:
    the document's, for phrases marked in another)."""
    warned: set[str] = set()
    containers: list[BlockKind] = []
    row: list[str] | None = None
    heading = 0
    for token in tokens:
        kind = token.type
        if kind.endswith("_open") and kind[:-5] in _CONTAINER_KINDS:
            containers.append(_CONTAINER_KINDS[kind[:-5]])
        elif kind.endswith("_close") and kind[:-6] in _CONTAINER_KINDS:
            containers.pop()
        elif kind == "heading_open":
            heading = int(token.tag[1])
        elif kind == "heading_close":
            heading = 0
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            cells = ", ".join(cell for cell in row if cell)
            row = None
            if cells:
                yield _Piece(0, Block(BlockKind.TABLE, cells))
        elif kind == "inline":
            text, runs = _inline_runs(token.children or [], warned)
            if row is not None:
                row.append(text)
            elif text:
                yield _text_piece(text, heading, containers, foreign_runs(runs, language))
        else:
            yield from _leaf_piece(token, code)


def _text_piece(text: str, heading: int, containers: Sequence[BlockKind],
                runs: tuple[LanguageRun, ...] | None = None) -> _Piece:
    if heading:
        return _Piece(heading, Block(BlockKind.HEADING, text, runs=runs))
    kind = containers[-1] if containers else BlockKind.PARAGRAPH
    if kind is BlockKind.LIST_ITEM:
        text = _with_final_punctuation(text)  # at the end: the runs' offsets hold
    return _Piece(0, Block(kind, text, runs=runs))


def _leaf_piece(token: Token, code: str) -> Iterable[_Piece]:
    """Code and raw HTML blocks, which carry their text in ``content`` rather than children."""
    if token.type in ("fence", "code_block"):
        if code == "announce":
            yield _Piece(0, Block(BlockKind.PARAGRAPH, CODE_NOTICE))
        elif code == "read" and token.content.strip():
            yield _Piece(0, Block(BlockKind.CODE, token.content.strip("\n")))
    elif token.type == "html_block":
        text = _html_text(token.content)
        if text:
            yield _Piece(0, Block(BlockKind.PARAGRAPH, text))


def _inline_runs(children: Sequence[Token], warned: set[str]
                 ) -> tuple[str, tuple[LanguageRun, ...]]:
    """:func:`_inline_text` and the runs of it that inline HTML puts in another language
    (``<span lang="fr">...</span>``; a tag Kokoro has no voice for is read as around it)."""
    if not any(child.type == "html_inline" for child in children):
        return _inline_text(children), ()
    items: list[str | Switch] = []
    open_tags: list[tuple[str, str | None]] = []  # (element, language in effect inside it)
    for child in children:
        opening = _OPEN_TAG.match(child.content) if child.type == "html_inline" else None
        closing = _CLOSE_TAG.match(child.content) if child.type == "html_inline" else None
        if opening and not opening.group(3):
            declared = _LANG_ATTRIBUTE.search(opening.group(2))
            tag = declared_language(declared and next(filter(None, declared.groups()), None),
                                    warned)
            current = open_tags[-1][1] if open_tags else None
            open_tags.append((opening.group(1).lower(), tag or current))
            if tag is not None:
                items.append(Switch(tag))
        elif closing and any(name == closing.group(1).lower() for name, _ in open_tags):
            while open_tags and open_tags.pop()[0] != closing.group(1).lower():
                pass  # elements left open inside it end with it
            items.append(Switch(open_tags[-1][1] if open_tags else None))
        else:
            items.append(_inline_part(child))
    return collapse(items)


def _inline_text(children: Sequence[Token]) -> str:
    """The words of an inline run: markup dropped, links as text, images as alt text."""
    return " ".join("".join(map(_inline_part, children)).split())


def _inline_part(child: Token) -> str:
    if child.type in ("text", "text_special", "code_inline"):
        return child.content
    if child.type in ("softbreak", "hardbreak"):
        return " "
    if child.type == "html_inline" and child.content[:3].lower() == "<br":
        return " "  # other inline tags vanish, but a line break still parts words
    if child.type == "image":
        # The alt text is rendered from the image's own children (it may hold emphasis).
        return f" {_inline_text(child.children or [])} "
    return ""


def _html_text(html: str) -> str:
    """The visible text of a raw HTML block (comments, scripts and styles dropped)."""
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return ""
    lxml.etree.strip_elements(root, "script", "style", lxml.etree.Comment, with_tail=False)
    return " ".join(root.text_content().split())


def _with_final_punctuation(text: str) -> str:
    # A list item without a full stop runs into the next one when spoken; a period makes a pause.
    core = text.rstrip(_CLOSERS)
    return text if core and core[-1] in _FINAL_PUNCTUATION else text + "."


def _chapter_level(
    pieces: Sequence[_Piece], forced: int | None, chapter_file: bool = False
) -> tuple[int, str | None]:
    """The heading level that starts chapters, and the text of an H1 that leads the whole text.

    Parts are not chapters: when every top-level heading is a part label ("Part One") and deeper
    headings exist, chapters start at the next level (the part headings still start one each,
    and a part with no text of its own folds into the chapter after it).
    """
    levels = sorted({p.level for p in pieces if p.level})
    if forced is not None or not levels:
        return forced or 1, None
    top = [p for p in pieces if p.level == levels[0]]
    if len(levels) > 1 and all(is_part_label(p.block.text) for p in top):
        return levels[1], None
    if chapter_file:
        return levels[0], None
    if levels[0] == 1 and len(top) == 1 and len(levels) > 1 and _leads(pieces, top[0]):
        return levels[1], top[0].block.text
    if levels == [1] and len(top) == 1 and pieces[0] is top[0]:
        return 1, top[0].block.text  # "# Report" opening the text titles it (and its chapter)
    return levels[0], None


def _leads(pieces: Sequence[_Piece], heading: _Piece) -> bool:
    """True when no other heading comes before ``heading`` (it wraps everything after it)."""
    first = next(p for p in pieces if p.level)
    return first is heading


def _group(pieces: Sequence[_Piece], level: int, title: str) -> list[Chapter]:
    """Cut the pieces into chapters at each heading of ``level`` or above (numbered later)."""
    groups: list[tuple[str, list[Block]]] = [(title, [])]
    for piece in pieces:
        if piece.level and piece.level <= level:
            groups.append((piece.block.text, [piece.block]))
        else:
            groups[-1][1].append(piece.block)
    if not groups[0][1]:
        groups.pop(0)
    return [Chapter(index=0, title=text, blocks=tuple(blocks)) for text, blocks in groups]
