"""Settings with their sources: command line > environment > config file > built-in default.

The config file is TOML (``kokoro-cli config path`` prints where); each key is optional:

    voice = "bf_emma"
    voice_for = ["fr=ff_siwis"]   # or {fr = "ff_siwis"}; environment: fr=ff_siwis,es=ef_dora
    speed = 1.05
    dict = ["~/words.toml"]
    work_dir = "~/audiobooks/.work"
    out_dir = "~/audiobooks"
    progress = "plain"
    backend = "onnx"
    feed_base_url = "https://example.com/audio/"   # feed, convert --feed, watch --feed
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from kokoro_cli.errors import UsageError
from kokoro_common import read_bounded

__all__ = ["Config", "ENV_CONFIG", "MAX_CONFIG_BYTES", "Resolved", "SETTINGS", "Setting",
           "default_config_path"]

ENV_CONFIG = "KOKORO_CLI_CONFIG"


def _path(value: Any) -> Path:
    return Path(str(value)).expanduser()


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
    """One setting: its config key, environment variable, parser and built-in default."""

    key: str
    env: str
    parse: Callable[[Any], Any]
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("voice", "KOKORO_CLI_VOICE", str, "af_heart", "voice name or blend"),
    Setting("voice_for", "KOKORO_CLI_VOICE_FOR", _pairs, (), "voice per language, LANG=VOICE"),
    Setting("speed", "KOKORO_CLI_SPEED", float, 1.0, "speaking speed, 0.5 to 2.0"),
    Setting("dict", "KOKORO_CLI_DICT", _paths, (), "pronunciation dictionaries (TOML/PLS)"),
    Setting("format", "KOKORO_CLI_FORMAT", str, None, "m4b, mp3, wav, flac or opus"),
    Setting("loudness", "KOKORO_CLI_LOUDNESS", str, None, "audiobook, acx, podcast, ebu or off"),
    Setting("out_dir", "KOKORO_CLI_OUT_DIR", _path, None, "folder for outputs"),
    Setting("work_dir", "KOKORO_CLI_WORK_DIR", _path, None, "work area (jobs, piece cache)"),
    Setting("progress", "KOKORO_CLI_PROGRESS", str, "auto", "auto, bars, plain, json or none"),
    Setting("backend", "KOKORO_CLI_BACKEND", str, "auto", "auto (torch on CUDA), onnx or torch"),
    Setting("feed_base_url", "KOKORO_CLI_FEED_BASE_URL", str, None, "URL the feed's folder is "
            "served at (feed, convert --feed)"),
    Setting("feed_title", "KOKORO_CLI_FEED_TITLE", str, None, "podcast title"),
    Setting("feed_author", "KOKORO_CLI_FEED_AUTHOR", str, None, "podcast author"),
    Setting("feed_image", "KOKORO_CLI_FEED_IMAGE", str, None, "podcast artwork (URL or file)"),
)
_BY_KEY = {s.key: s for s in SETTINGS}


def default_config_path() -> Path:
    if os.environ.get(ENV_CONFIG):
        return _path(os.environ[ENV_CONFIG])
    import platformdirs

    return Path(platformdirs.user_config_dir("kokoro-audiobook")) / "config.toml"


@dataclass(frozen=True)
class Resolved:
    value: Any
    source: str  # "command line", "environment (NAME)", "config file (PATH)", "default"


class Config:
    """The effective settings for one invocation."""

    def __init__(self, path: Path | None = None, explicit: bool = False) -> None:
        self.path = path or default_config_path()
        self.file = _read(self.path, required=explicit)

    def get(self, key: str, given: Any = None) -> Resolved:
        """The value of ``key``: ``given`` (from the command line) when not None, else the
        environment, the config file, the default."""
        setting = _BY_KEY[key]
        if given is not None and given != ():
            return Resolved(given, "command line")
        if os.environ.get(setting.env):
            return Resolved(_parsed(setting, os.environ[setting.env], setting.env), f"environment ({setting.env})")
        if key in self.file:
            return Resolved(_parsed(setting, self.file[key], str(self.path)), f"config file ({self.path})")
        return Resolved(setting.default, "default")

    def value(self, key: str, given: Any = None) -> Any:
        return self.get(key, given).value


def _parsed(setting: Setting, raw: Any, where: str) -> Any:
    try:
        return setting.parse(raw)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: bad value for {setting.key}: {raw!r} ({exc})") from None


MAX_CONFIG_BYTES = 1 << 20


def _read(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise UsageError(f"config file {path} does not exist")
        return {}
    raw = read_bounded(path, MAX_CONFIG_BYTES,
                       lambda why: UsageError(f"cannot read the config file {path}: {why}"))
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_BY_KEY))
    if unknown:
        raise UsageError(f"config file {path}: unknown setting(s) {', '.join(unknown)}; "
                         f"known: {', '.join(_BY_KEY)}")
    return data
