"""Where the asset resolver's settings come from on the command line: flags, then the
environment. The engine reads no environment; this is the one place that turns
``$KOKORO_CLI_MODEL``, ``$KOKORO_CLI_VOICES``, ``$KOKORO_CLI_CACHE``, ``$KOKORO_CLI_SOURCES``
and ``$KOKORO_CLI_TORCH_MODEL`` into :class:`engine.AssetResolver` arguments."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from engine import AssetResolver

__all__ = ["ENV_CACHE", "ENV_MODEL", "ENV_SOURCES", "ENV_TORCH_MODEL", "ENV_VOICES",
           "resolver_for", "resolver_settings"]

ENV_MODEL = "KOKORO_CLI_MODEL"
ENV_VOICES = "KOKORO_CLI_VOICES"
ENV_CACHE = "KOKORO_CLI_CACHE"
ENV_SOURCES = "KOKORO_CLI_SOURCES"  # comma list of engine.SOURCES; none (or off) never fetches
ENV_TORCH_MODEL = "KOKORO_CLI_TORCH_MODEL"


def resolver_settings(model: Path | None, voices: Path | None) -> dict[str, Any]:
    """Keyword arguments for :class:`engine.AssetResolver`: ``model`` and ``voices`` (the
    flags) win over their environment variables; the cache folder, the sources (unset or
    empty: all) and the PyTorch weights come from the environment alone."""

    def env_path(name: str) -> Path | None:
        value = os.environ.get(name)
        return Path(value).expanduser() if value else None

    sources = tuple(s.strip() for s in os.environ.get(ENV_SOURCES, "").split(",") if s.strip())
    return {
        "model": model if model is not None else env_path(ENV_MODEL),
        "voices": voices if voices is not None else env_path(ENV_VOICES),
        "cache_dir": env_path(ENV_CACHE),
        "sources": () if sources in (("none",), ("off",)) else sources or None,
        "torch_model": env_path(ENV_TORCH_MODEL),
    }


def resolver_for(model: Optional[Path], voices: Optional[Path],
                 notify: Optional[Callable[[str], None]] = None) -> AssetResolver:
    """The asset resolver of a command: ``model`` and ``voices`` from its flags (or config),
    the rest from the environment; ``notify`` hears about fetches (default: stderr)."""
    from engine import AssetResolver
    from kokoro_cli.console import err

    return AssetResolver(**resolver_settings(model, voices),
                         notify=notify or (lambda m: err.print(m, markup=False)))
