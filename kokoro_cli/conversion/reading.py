"""The language a document is read in and the voice that reads it, for every conversion,
``say`` and ``preview``: ``--lang``, else the document's own (EPUB ``dc:language``, Markdown
front matter ``lang``), else the language of a voice the user chose, else English; the default
voice follows the language. A voice of another language is allowed, with a warning."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from kokoro_cli.console import err, one_line

if TYPE_CHECKING:
    from preprocess import Cast, Document

__all__ = ["Reading", "check_markup_voices", "choose_reading", "show_warnings", "voice_for_warnings", "voices_for"]


def voices_for(items: Optional[list[str]]) -> dict[str, str]:
    """``["fr=ff_siwis"]`` → ``{"fr": "ff_siwis"}``, each voice checked."""
    from engine import VoiceError, describe_spec
    from kokoro_cli.errors import UsageError
    from preprocess import resolve_language

    voices = {}
    for item in items or ():
        tag, sep, voice = (part.strip() for part in item.partition("="))
        if not sep or not tag or not voice:
            raise UsageError(f"--voice-for {item!r}: use LANG=VOICE, e.g. fr=ff_siwis")
        if resolve_language(tag)[1] is not None:
            raise UsageError(f"--voice-for {item!r}: {resolve_language(tag)[1].split(';')[0]}")
        try:
            voices[tag] = describe_spec(voice)[0]
        except VoiceError as exc:
            raise VoiceError(f"--voice-for {item!r}: {exc}") from None
    return voices


def voice_for_warnings(voices: dict[str, str]) -> list[str]:
    """A warning for each voice of ``voices`` (from :func:`voices_for`) that speaks another
    language than its tag's (allowed: the text is read in the tag's language with its accent)."""
    from engine import describe_spec
    from preprocess import resolve_language

    warnings = []
    for tag, voice in voices.items():
        language, info = resolve_language(tag)[0], describe_spec(voice)[1]
        if not language.matches_voice(info.lang_code):
            warnings.append(f"--voice-for {tag}={voice}: the voice speaks {info.language_name}, "
                            f"not {language.name}: {language.name} text is read with its accent")
    return warnings


def check_markup_voices(document: Document, cast: Cast | None = None) -> None:
    """Refuse, before any work, a voice that markup names (SSML ``<voice name>``) which is no
    Kokoro voice or blend, nor a role of ``cast``: a one-line VoiceError naming the nearest
    voices."""
    from engine import VoiceError, describe_spec

    named = {block.voice for chapter in document.chapters for block in chapter.blocks
             if getattr(block, "voice", None)}
    for name in sorted(n for n in named if cast is None or cast.role(n) is None):
        try:
            describe_spec(name)
        except VoiceError as exc:
            raise VoiceError(f"<voice name={name!r}> in the document: {exc}") from None


@dataclass(frozen=True)
class Reading:
    """How a document is read: the document with its language settled, the voice, and what
    the user should hear about."""

    document: Document
    voice: str
    warnings: tuple[str, ...] = ()

    def with_language(self, other: Document) -> Document:
        """``other`` (the selected chapters of the same document) with the same language."""
        return dataclasses.replace(other, language=self.document.language,
                                   language_declared=self.document.language_declared)


def choose_reading(document: Document, lang: Optional[str], voice: str,
                   voice_given: bool, cast: Cast | None = None) -> Reading:
    """The language and voice for ``document``. ``voice`` is the voice setting and
    ``voice_given`` whether the user set it (flag, environment or config file) rather than it
    being the built-in default; the voices markup names must be voices or roles of ``cast``."""
    from engine import describe_spec, phonemizer_for
    from preprocess import resolve_language

    check_markup_voices(document, cast)
    voice_info = describe_spec(voice)[1] if voice_given else None
    detected: str | None = None
    if lang is not None:
        document = dataclasses.replace(document, language=lang, language_declared=True)
    elif not document.language_declared and voice_info is not None and \
            voice_info.lang_code not in ("a", "b"):
        # Text that names no language, read by a voice the user chose: the voice's language.
        document = dataclasses.replace(document, language=voice_info.language)
    else:
        document, detected = _detected(document)
    language, warning = resolve_language(document.language)
    _refuse_unreadable(document)
    warnings = [w for w in (detected, warning) if w]
    if language.extra is not None:
        phonemizer_for(language.code)  # a missing extra is one line (exit 2) before any work
    if voice_info is None:
        return Reading(document, language.voice, tuple(warnings))
    if not language.matches_voice(voice_info.lang_code):
        warnings.append(f"the voice {voice} speaks {voice_info.language_name} but the text is "
                        f"{language.name}: it is read as {language.name} with that voice's "
                        f"accent (--lang sets the text's language)")
    return Reading(document, voice, tuple(warnings))


def _detected(document: Document) -> tuple[Document, str | None]:
    """The language told from the text (the ``detect`` extra): the document's where it names
    none, else a warning where its text reads as another language than it names. --lang, or
    a voice of another language for a text that names none, decides before this."""
    from preprocess import detect_language, resolve_language

    found = detect_language(document)
    if found is None or _same_language(found, document.language):
        return document, None
    name = resolve_language(found)[0].name if not resolve_language(found)[1] else repr(found)
    if not document.language_declared:
        return (dataclasses.replace(document, language=found),
                f"the text names no language; it reads as {name}, so it is read as such "
                f"(--lang sets the language)")
    return document, (f"the document says it is in {document.language!r} but its text reads as "
                      f"{name}: read as {document.language!r} (--lang sets the language)")


def _same_language(a: str, b: str) -> bool:
    from preprocess import resolve_language

    (first, unknown_a), (second, unknown_b) = resolve_language(a), resolve_language(b)
    if not unknown_a and not unknown_b:
        return first.family == second.family
    return a.split("-")[0].lower() == b.split("-")[0].lower()


def _refuse_unreadable(document: Document) -> None:
    """A document mostly in letters no Kokoro language reads (Hebrew, Arabic) is refused in
    one line (exit 2), not read as silence; a few such letters are skipped with a warning."""
    from kokoro_cli.errors import UsageError
    from preprocess import unreadable_script

    script = unreadable_script(document)
    if script is not None:
        declared = f" (language {document.language!r})" if document.language_declared else ""
        raise UsageError(f"the text is in {script.title()} letters{declared}, which no Kokoro "
                         f"voice or G2P reads: nothing to convert")


@contextmanager
def show_warnings(warn: Callable[[str], None] | None = None) -> Iterator[None]:
    """While inside, warnings logged by ``preprocess`` (letters a language's G2P cannot read,
    skipped) go to ``warn`` (default: one ``warning:`` line each on stderr), and still reach
    -v and --log-file."""
    logger = logging.getLogger("preprocess")
    handler = _Say(warn or (lambda m: err.print(f"warning: {m}", markup=False)))
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


class _Say(logging.Handler):
    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        self.say(one_line(record.getMessage()))
