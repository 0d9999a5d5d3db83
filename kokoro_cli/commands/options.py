"""What several commands share: the global options on ``ctx.obj``, the Typer options made from
the one table of settings (:mod:`kokoro_cli.settings`), and the config."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

import typer
from rich.markup import escape

from kokoro_cli.settings import SETTINGS, flag_type, setting

if TYPE_CHECKING:
    from kokoro_cli.config import Config

__all__ = [
    "BackendOpt", "CastOpt", "ChaptersOpt", "CodeOpt", "DictOpt", "FrontMatterOpt", "GlobalOptions",
    "InputFormatOpt", "LangOpt", "ModelOpt", "SplitLevelOpt", "VoiceForOpt", "VoicesOpt",
    "WorkDirOpt", "config_of", "option", "with_settings",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class GlobalOptions:
    """The root command's options, handed to every command as ``ctx.obj``."""

    config: Optional[Path] = None
    verbose: bool = False
    log_file: Optional[Path] = None


def config_of(ctx: typer.Context) -> Config:
    """The effective settings: the --config file (required when given), or the default one."""
    from kokoro_cli.config import Config

    options = ctx.obj if isinstance(ctx.obj, GlobalOptions) else GlobalOptions()
    return Config(options.config, explicit=options.config is not None)


def option(key: str, default: Any = None) -> Any:
    """The Typer option of setting ``key``, as :mod:`kokoro_cli.settings` declares it."""
    s = setting(key)
    # Typer renders help as Rich markup, where "[ray]" in an install hint would be a tag
    return typer.Option(default, *s.flags, help=escape(s.help), **s.typer)


def with_settings(command: str) -> Callable[[F], F]:
    """Give a command every shared setting that ``command`` takes, as keyword-only options
    named by their config keys; the command receives them in its ``**flags`` (None where not
    given, so the environment and the config file decide) and hands them to the request
    builder (:func:`kokoro_cli.conversion.build_settings`). Typer reads the signature."""
    def decorate(func: F) -> F:
        own = inspect.signature(func, eval_str=True)
        params = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
        params += [inspect.Parameter(s.key, inspect.Parameter.KEYWORD_ONLY,
                                     default=option(s.key), annotation=flag_type(s))
                   for s in SETTINGS if command in s.commands and s.flags]
        func.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        return func
    return decorate


ModelOpt = option("model")
VoicesOpt = option("voices")
BackendOpt = option("backend")
InputFormatOpt = option("input_format")
ChaptersOpt = typer.Option(None, "--chapters", help="Only these chapters, e.g. 1-3,7 (numbers "
                           "as 'inspect' shows them).")
SplitLevelOpt = option("split_level")
CodeOpt = option("code", default="skip")
FrontMatterOpt = option("keep_front_matter", default=False)
DictOpt = option("dict")
LangOpt = option("lang")
VoiceForOpt = option("voice_for")
CastOpt = option("cast")
WorkDirOpt = option("work_dir")
