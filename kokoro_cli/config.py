"""Settings with their sources: command line > environment > config file > built-in default.

Every key is declared once, with its flags and environment variable, in
:mod:`kokoro_cli.settings`. The config file is TOML (``kokoro-cli config show`` prints where);
each key is optional:

    voice = "bf_emma"
    voice_for = ["fr=ff_siwis"]   # or {fr = "ff_siwis"}; environment: fr=ff_siwis,es=ef_dora
    cast = "~/books/pride.cast.toml"   # narrator, chapter and character voices (convert, watch)
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
from typing import Any

from kokoro_cli.errors import UsageError
from kokoro_cli.settings import SETTINGS, Setting
from kokoro_common import read_bounded

__all__ = ["Config", "ENV_CONFIG", "MAX_CONFIG_BYTES", "Resolved", "SETTINGS", "Setting",
           "default_config_path"]

ENV_CONFIG = "KOKORO_CLI_CONFIG"


_BY_KEY = {s.key: s for s in SETTINGS}


def default_config_path() -> Path:
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG]).expanduser()
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
        # A file named by $KOKORO_CLI_CONFIG must exist, as one named by --config.
        self.file = _read(self.path, required=explicit or bool(os.environ.get(ENV_CONFIG)))

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
