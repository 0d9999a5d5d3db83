"""The request builder: one command's conversion settings, from its flags, the environment and
the config file (each setting declared once in :mod:`kokoro_cli.settings`), checked before any
work so a bad value fails in a second rather than after hours of synthesis."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from kokoro_cli.errors import UsageError

if TYPE_CHECKING:
    from kokoro_cli.config import Config
    from kokoro_cli.inputs import ParseSettings
    from kokoro_cli.jobs.render import RenderOptions
    from kokoro_cli.jobs.verify import VerifyOptions
    from kokoro_cli.publish import FeedResult, FeedSettings
    from kokoro_cli.settings import Setting
    from preprocess import Cast

__all__ = ["ConversionSettings", "SpeechSettings", "build_settings", "check_follow",
           "feed_settings", "read_cast_file", "refresh_feed",
           "speech_settings"]

QC_MODES = ("report", "strict", "off")
MAX_COVER_BYTES = 20 << 20  # a cover is read into memory and into every output file


@dataclass(frozen=True)
class SpeechSettings:
    """How text is spoken, for every command that speaks (``convert``, ``watch``, ``say``)."""

    voice: str = "af_heart"
    speed: float = 1.0
    # The voice was set (flag, environment, config) rather than left at the built-in default;
    # when not, each document's language picks its voice.
    voice_given: bool = False
    lang: Optional[str] = None  # --lang: the text's language, over the document's
    dictionaries: tuple[Path, ...] = ()
    backend: str = "auto"
    model: Optional[Path] = None
    voices: Optional[Path] = None
    subtitles: Optional[str] = None  # srt or vtt
    subtitle_words: bool = False


@dataclass(frozen=True)
class ConversionSettings:
    """What every input of one ``convert`` or ``watch`` command shares."""

    speech: SpeechSettings
    parse: ParseSettings
    options: RenderOptions  # ``workers`` is set by the runner, from its engine
    progress: str  # the progress mode: auto, bars, plain, json or none (--quiet)
    workers: Optional[int] = None  # None: from the cores and memory, or the Ray cluster
    executor: str = "local"
    ray_address: Optional[str] = None
    work_dir: Optional[Path] = None
    out_dir: Optional[Path] = None
    qc: str = "report"
    qc_json: Optional[Path] = None
    feed: Optional[FeedSettings] = None  # --feed: how to update the output folder's feed
    warnings: tuple[str, ...] = ()  # about the settings themselves (a --voice-for accent)


class _Values:
    """The settings a command takes, by key: its flag when given, else the environment, the
    config file, the default. Keys of other commands are their defaults: a config file's
    ``feed = true`` is for ``convert`` and ``watch``, not ``say``."""

    def __init__(self, config: Config, flags: Mapping[str, Any], command: str) -> None:
        self.config, self.flags, self.command = config, flags, command

    def __call__(self, key: str) -> Any:
        """The value of ``key``, checked against its allowed values: a wrong one is a usage
        error naming where it came from (the flag, the variable, or the config file's key)."""
        from kokoro_cli.settings import setting

        declared = setting(key)
        if self.command not in declared.commands:
            return declared.default
        resolved = self.config.get(key, self.flags.get(key))
        allowed = declared.allowed()
        if allowed is not None and resolved.value is not None and resolved.value not in allowed:
            raise UsageError(f"{_origin(declared, resolved.source)} {resolved.value!r}: use "
                             f"{', '.join(allowed)}")
        return resolved.value

    def given(self, key: str) -> bool:
        """Set by the user (flag, environment or config file), not the built-in default."""
        return self.config.get(key, self.flags.get(key)).source != "default"


def _origin(declared: Setting, source: str) -> str:
    """Where a value came from, as an error names it: ``--flag``, ``$VARIABLE`` or
    ``config file PATH: key``."""
    if source == "command line":
        return declared.flags[0].split("/")[0]
    if source.startswith("environment"):
        return f"${declared.env}"
    return f"{source}: {declared.key}"


def speech_settings(config: Config, flags: Mapping[str, Any], command: str,
                    output: Optional[object] = None,
                    read_along: Optional[Path] = None) -> SpeechSettings:
    """How ``command`` speaks, from ``flags`` (its shared options by config key, None where
    not given) over the environment and config file. Raises UsageError (or SettingError) with
    the fix for a value that cannot work."""
    from engine import SynthOptions

    value = _Values(config, flags, command)
    synth = SynthOptions(voice=value("voice"), speed=value("speed"))  # checks the speed now
    return SpeechSettings(
        synth.voice, synth.speed, value.given("voice"), value("lang"), tuple(value("dict")),
        value("backend"), value("model"), value("voices"),
        check_follow(value("subtitles"), value("subtitle_words"), output, read_along),
        value("subtitle_words"))


def build_settings(config: Config, flags: Mapping[str, Any], command: str = "convert", *,
                   output: Optional[Path] = None, chapters: Optional[str] = None,
                   force: bool = False, read_along: Optional[Path] = None,
                   qc_json: Optional[Path] = None) -> ConversionSettings:
    """The settings of a ``convert`` or ``watch`` command: ``flags`` (its shared options by
    config key) and its own per-run flags. Raises UsageError (or VoiceError, SettingError)
    with the fix for any value that cannot work, before any work."""
    from kokoro_cli.conversion.reading import voice_for_warnings, voices_for
    from kokoro_cli.inputs import ParseSettings
    from kokoro_cli.jobs.executor import backend_for
    from kokoro_cli.jobs.render import RenderOptions
    from kokoro_cli.output import options_from_flags

    value = _Values(config, flags, command)
    progress = "none" if value("quiet") else value("progress")
    speech = speech_settings(config, flags, command, output, read_along)
    speech = dataclasses.replace(speech, backend=backend_for(
        value("executor"), value("ray_address"), speech.backend))
    voice_map = voices_for(list(value("voice_for")))
    options = RenderOptions(
        voice=speech.voice, speed=speech.speed, force=force, voices=tuple(voice_map.items()),
        output=options_from_flags(output, value("format"), value("loudness"),
                                  value("split_chapters"), value("max_part_hours"),
                                  value("bitrate"), value("room_tone_ms"),
                                  value("nero_chapters")),
        cover=_read_cover(value("cover")), cast=read_cast_file(value("cast")),
        subtitles=speech.subtitles,
        subtitle_words=speech.subtitle_words, read_along=read_along, verify=_verify(value))
    parse = ParseSettings(value("input_format"), value("split_level"), value("code"),
                          value("keep_front_matter"), chapters)
    settings = ConversionSettings(
        speech, parse, options, progress, workers=value("workers"),
        executor=value("executor"), ray_address=value("ray_address"),
        work_dir=value("work_dir"), out_dir=value("out_dir"), qc=value("qc"), qc_json=qc_json,
        warnings=tuple(voice_for_warnings(voice_map)))
    return _with_feed(settings, value, flags, output)


def _verify(value: _Values) -> VerifyOptions:
    """The listening check's options (``--verify`` and its companions)."""
    from kokoro_cli.jobs.verify import VerifyOptions

    return VerifyOptions(value("verify"), value("verify_model"), value("verify_threshold"),
                         value("verify_tries"))


def _with_feed(settings: ConversionSettings, value: _Values, flags: Mapping[str, Any],
               output: Optional[Path]) -> ConversionSettings:
    """``settings`` with how --feed updates the output folder's feed, checked before any
    synthesis so a missing base URL does not wait for the end of a long conversion."""
    from kokoro_cli.publish import check_settings

    keep, prune = value("feed_keep"), value("feed_prune")
    if not value("feed"):
        if flags.get("feed_keep") is not None or flags.get("feed_prune"):
            raise UsageError("--keep and --prune go with --feed")
        return settings
    if output is not None and str(output) == "-" or settings.options.output.split_chapters:
        raise UsageError("--feed lists audio files in a folder: not with -o - or "
                         "--split-chapters")
    where = output.parent if output is not None else (settings.out_dir or Path("."))
    feed = feed_settings(value.config, where, keep, prune, settings.work_dir)
    check_settings(feed)
    return dataclasses.replace(settings, feed=feed)


def feed_settings(config: Config, folder: Path, keep: Optional[int] = None, prune: bool = False,
                  work_dir: Optional[Path] = None, *, given: Optional[dict[str, str]] = None,
                  feed_path: Optional[Path] = None) -> FeedSettings:
    """How to update FOLDER's feed: ``given`` (the ``feed`` command's own settings, then
    remembered) or None (``convert --feed``, ``watch --feed``: what was remembered), and the
    environment and config file's ``feed_*`` settings behind them."""
    from kokoro_cli.publish import FeedSettings, prepare_image

    def fallback(key: str) -> Optional[str]:
        value = config.value(f"feed_{key}") if f"feed_{key}" in _CHANNEL_KEYS else None
        return prepare_image(folder, value) if key == "image" and value else value

    return FeedSettings(folder, feed_path, given or {}, fallback, keep, prune,
                        config.value("work_dir", work_dir), remember=given is not None)


_CHANNEL_KEYS = frozenset({"feed_base_url", "feed_title", "feed_author", "feed_image",
                           "feed_category"})


def refresh_feed(settings: FeedSettings, say: Callable[[str], None],
                 warn: Optional[Callable[[str], None]] = None) -> FeedResult:
    """Bring the feed up to date and ``say`` what happened in one line; ``warn`` hears about
    files left out (default: ``say``)."""
    from kokoro_cli.publish import update_feed

    result = update_feed(settings, warn=warn or say)
    say(f"feed {result.feed_path}: {len(result.listed)} episode(s)"
        + (f", {len(result.pruned)} old file(s) removed" if result.pruned else "")
        + ("" if result.written else "; unchanged"))
    return result


def read_cast_file(path: Optional[Path]) -> Optional[Cast]:
    """The --cast file with its voices checked and made canonical; an unknown voice or a
    malformed file is one line, exit 2 (CastError), before any work."""
    from engine import VoiceError, describe_spec
    from preprocess import CastError, read_cast

    if path is None:
        return None
    cast = read_cast(path)
    for where, voice in cast.voices():
        try:
            describe_spec(voice)
        except VoiceError as exc:
            raise CastError(f"cast {path}: {where}: {exc}") from None
    return cast.with_voices(lambda voice: describe_spec(voice)[0])


def _read_cover(path: Optional[Path]) -> Optional[bytes]:
    from kokoro_common import read_bounded
    from preprocess import InputError

    if path is None:
        return None
    data = read_bounded(path, MAX_COVER_BYTES,
                        lambda why: InputError(f"cannot read the cover {path}: {why}"))
    if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG")):
        raise InputError(f"cover {path} is not a JPEG or PNG image")
    return data


def check_follow(subtitles: Optional[str], words: bool, output: Optional[object],
                 read_along: Optional[Path] = None) -> Optional[str]:
    """The subtitle format (lower case) after checking the follow-along options; raises
    UsageError for a combination that cannot work."""
    kind = subtitles.lower() if subtitles else None
    if kind is not None and kind not in ("srt", "vtt"):
        raise UsageError(f"--subtitles {subtitles!r}: use srt or vtt")
    if words and kind is None:
        raise UsageError("--subtitles-words goes with --subtitles srt|vtt")
    streamed = output is not None and str(output) == "-"
    if streamed and (kind is not None or read_along is not None):
        raise UsageError("subtitles and read-along books are files beside the audio: "
                         "not with -o -")
    if read_along is not None and Path(read_along).suffix.lower() != ".epub":
        raise UsageError(f"--read-along {read_along}: name an .epub file")
    return kind
