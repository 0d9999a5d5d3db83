"""A cast: who reads what. The narrator, a voice per chapter, a voice per character and one
for dialogue whose speaker is unknown, read from a TOML file (``--cast cast.toml``)::

    narrator = "bm_george"                 # else --voice
    dialogue = "af_sky"                    # quotes nobody can be named for (else the narrator)

    [characters]
    Elizabeth = "bf_emma"
    "Mr. Darcy" = { voice = "bm_lewis", aliases = ["Darcy", "Fitzwilliam"] }
    "Mrs. Bennet" = { voice = "af_bella:0.6,af_sky:0.4", aliases = ["his wife"] }

    [[chapter]]
    number = 1                             # or range = "3-5", or title = "^Letter" (a regex)
    voice = "bf_alice"

A voice is anything ``--voice`` takes, blends included; this module checks the file's shape,
and the application checks the voices (``engine``) and the chapters (against the document)
before any synthesis. :meth:`Cast.voicing` gives each chapter's voices, rule by rule.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kokoro_common import ExitCode

from .document import Chapter, Document
from .errors import InputError

__all__ = ["Cast", "CastError", "ChapterRule", "Character", "read_cast"]

_KEYS = frozenset({"narrator", "dialogue", "characters", "chapter"})
_RANGE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


class CastError(InputError):
    """A cast file that cannot be used (unreadable, malformed, unknown voice or chapter)."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class Character:
    """A character: the name the cast gives, the voice, and other names the book calls them."""

    name: str
    voice: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChapterRule:
    """Chapters ``first``-``last`` (numbers as ``inspect`` shows them), or those whose title
    matches ``title`` (a regular expression, any case), read by ``voice``."""

    voice: str
    first: int | None = None
    last: int | None = None
    title: str | None = None

    def matches(self, chapter: Chapter) -> bool:
        if self.title is not None:
            return re.search(self.title, chapter.title, re.IGNORECASE) is not None
        return self.first is not None and self.last is not None \
            and self.first <= chapter.index <= self.last

    @property
    def name(self) -> str:
        """How ``preview`` names the rule: ``chapter 3``, ``chapters 3-5``, ``title /re/``."""
        if self.title is not None:
            return f"title /{self.title}/"
        return f"chapter {self.first}" if self.first == self.last \
            else f"chapters {self.first}-{self.last}"


@dataclass(frozen=True)
class Cast:
    """Who reads what (see the module's docstring). ``narrator`` None: the book's voice."""

    narrator: str | None = None
    dialogue: str | None = None
    characters: tuple[Character, ...] = ()
    chapters: tuple[ChapterRule, ...] = ()

    @property
    def aliases(self) -> dict[str, str]:
        """Every name of each character (its own and its aliases) to its name."""
        return {alias: c.name for c in self.characters for alias in (c.name, *c.aliases)}

    @property
    def digest(self) -> str:
        """Identifies what the cast decides (for a job's identity)."""
        text = json.dumps(_plain(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]

    def voices(self) -> Iterator[tuple[str, str]]:
        """(where, voice) for every voice the cast names, for checking them."""
        for key in ("narrator", "dialogue"):
            if getattr(self, key) is not None:
                yield key, getattr(self, key)
        for c in self.characters:
            yield f"characters.{c.name}", c.voice
        for rule in self.chapters:
            yield rule.name, rule.voice

    def with_voices(self, canonical: Callable[[str], str]) -> Cast:
        """The cast with each voice replaced by ``canonical(voice)`` (a checked, canonical
        spec; it raises for an unknown one)."""
        return Cast(None if self.narrator is None else canonical(self.narrator),
                    None if self.dialogue is None else canonical(self.dialogue),
                    tuple(replace(c, voice=canonical(c.voice)) for c in self.characters),
                    tuple(replace(r, voice=canonical(r.voice)) for r in self.chapters))

    def role(self, name: str) -> str | None:
        """The voice of a role: ``narrator``, ``dialogue`` or a character (any of its names,
        any case); None when the cast has none such."""
        key = name.strip().casefold()
        if key in ("narrator", "dialogue"):
            return getattr(self, key)
        found = {alias.casefold(): c for alias, c in self.aliases.items()}.get(key)
        return None if found is None else self.role_of(found)

    def role_of(self, name: str) -> str | None:
        """The voice of the character the cast calls ``name`` (None: no such character)."""
        return next((c.voice for c in self.characters if c.name == name), None)

    def chapter_voice(self, chapter: Chapter) -> tuple[str | None, str]:
        """The voice that narrates ``chapter`` (None: the narrator) and the rule that says so."""
        for rule in self.chapters:
            if rule.matches(chapter):
                return rule.voice, rule.name
        return None, "narrator"

    def check(self, document: Document) -> None:
        """Raise CastError for a chapter rule that selects none of ``document``'s chapters."""
        for rule in self.chapters:
            if not any(rule.matches(c) for c in document.chapters):
                raise CastError(f"cast: {rule.name} is not a chapter of {document.title!r} "
                                f"(it has {len(document.chapters)}; see 'kokoro-cli inspect')")


def _plain(cast: Cast) -> dict[str, Any]:
    return {"narrator": cast.narrator, "dialogue": cast.dialogue,
            "characters": [[c.name, c.voice, list(c.aliases)] for c in cast.characters],
            "chapters": [[r.first, r.last, r.title, r.voice] for r in cast.chapters]}


def read_cast(path: Path) -> Cast:
    """The cast in the TOML file ``path``; CastError (exit 2) with what to fix otherwise."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CastError(f"cannot read the cast {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CastError(f"cast {path}: not TOML: {exc}") from None
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise CastError(f"cast {path}: unknown key {unknown[0]!r}: use "
                        f"{', '.join(sorted(_KEYS))}")
    return Cast(_voice(data.get("narrator"), path, "narrator"),
                _voice(data.get("dialogue"), path, "dialogue"),
                tuple(_characters(data.get("characters", {}), path)),
                tuple(_chapters(data.get("chapter", []), path)))


def _voice(value: Any, path: Path, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise CastError(f"cast {path}: {where}: a voice is a name such as af_heart or a blend "
                        f"such as af_bella:0.6,af_sky:0.4")
    return value.strip()


def _characters(table: Any, path: Path) -> Iterator[Character]:
    if not isinstance(table, Mapping):
        raise CastError(f"cast {path}: [characters] is a table of NAME = \"voice\"")
    for name, value in table.items():
        if isinstance(value, Mapping):
            aliases = value.get("aliases", [])
            if set(value) - {"voice", "aliases"} or not isinstance(aliases, list) \
                    or not all(isinstance(a, str) for a in aliases):
                raise CastError(f"cast {path}: characters.{name}: use {{ voice = \"...\", "
                                f"aliases = [\"...\"] }}")
            voice = value.get("voice")
        else:
            voice, aliases = value, []
        checked = _voice(voice, path, f"characters.{name}")
        if checked is None:
            raise CastError(f"cast {path}: characters.{name} has no voice")
        yield Character(name, checked, tuple(a.strip() for a in aliases if a.strip()))


def _chapters(rules: Any, path: Path) -> Iterator[ChapterRule]:
    if not isinstance(rules, list) or not all(isinstance(r, Mapping) for r in rules):
        raise CastError(f"cast {path}: chapters are [[chapter]] tables")
    for rule in rules:
        keys = set(rule) - {"voice"}
        if len(keys) != 1 or not keys <= {"number", "range", "title"}:
            raise CastError(f"cast {path}: a [[chapter]] has a voice and one of number, range "
                            f"or title")
        voice = _voice(rule.get("voice"), path, "[[chapter]] voice")
        if voice is None:
            raise CastError(f"cast {path}: a [[chapter]] without a voice")
        yield _chapter_rule(rule, voice, path)


def _chapter_rule(rule: Mapping[str, Any], voice: str, path: Path) -> ChapterRule:
    if "title" in rule:
        try:
            re.compile(str(rule["title"]))
        except re.error as exc:
            raise CastError(f"cast {path}: chapter title {rule['title']!r}: {exc}") from None
        return ChapterRule(voice, title=str(rule["title"]))
    value = rule.get("number", rule.get("range"))
    m = _RANGE.fullmatch(str(value)) if not isinstance(value, bool) else None
    if m is None:
        raise CastError(f"cast {path}: chapter {value!r}: use number = 3 or range = \"3-5\"")
    first, last = int(m.group(1)), int(m.group(2) or m.group(1))
    if first < 1 or last < first:
        raise CastError(f"cast {path}: chapter range {value!r} is empty")
    return ChapterRule(voice, first, last)
