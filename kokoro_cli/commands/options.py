"""What several commands share: the global options on ``ctx.obj``, option declarations, and
the config and asset resolver built from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import typer

from kokoro_cli.console import err
from kokoro_common.backends import backend_help

if TYPE_CHECKING:
    from engine import AssetResolver
    from kokoro_cli.config import Config

__all__ = [
    "BackendOpt", "ChaptersOpt", "CodeOpt", "DictOpt", "FrontMatterOpt", "GlobalOptions",
    "InputFormatOpt", "ModelOpt", "ProgressOpt", "QuietOpt", "SplitLevelOpt", "VoicesOpt",
    "WorkDirOpt", "config_of", "resolver_for",
]


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


def resolver_for(model: Optional[Path], voices: Optional[Path],
                 notify: Optional[Callable[[str], None]] = None) -> AssetResolver:
    from engine import AssetResolver
    from kokoro_cli.assets_env import resolver_settings

    return AssetResolver(**resolver_settings(model, voices),
                         notify=notify or (lambda m: err.print(m, markup=False)))


ModelOpt = typer.Option(None, "--model", help="ONNX model file, or PyTorch weights (.pth) for "
                        "--backend torch (else $KOKORO_CLI_MODEL, the cache, then the sources).",
                        dir_okay=False)
VoicesOpt = typer.Option(None, "--voices", help="Folder of voice files NAME.bin or NAME.pt "
                         "(else $KOKORO_CLI_VOICES, the cache, then the sources).", file_okay=False)
BackendOpt = typer.Option(None, "--backend", help=backend_help())
InputFormatOpt = typer.Option(None, "--input-format", help="markdown, epub or text (default: "
                              "from the file extension; stdin is text).")
ChaptersOpt = typer.Option(None, "--chapters", help="Only these chapters, e.g. 1-3,7 (numbers "
                           "as 'inspect' shows them).")
SplitLevelOpt = typer.Option(None, "--split-level", min=1, max=6, help="Markdown: heading level "
                             "that starts a chapter (default: the top level in use).")
CodeOpt = typer.Option("skip", "--code", help="Code blocks: skip, announce or read.")
FrontMatterOpt = typer.Option(False, "--keep-front-matter", help="EPUB: keep cover, title, "
                              "copyright, contents and index pages and notes.")
DictOpt = typer.Option(None, "--dict", dir_okay=False, help="Pronunciation dictionary (.toml or "
                       ".pls); repeat for more, later ones win.")
ProgressOpt = typer.Option(None, "--progress", help="auto, bars, plain, json (events on stderr) "
                           "or none.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Print only errors (and the output paths on "
                        "stdout).")
WorkDirOpt = typer.Option(None, "--work-dir", file_okay=False, help="Work area for job state and "
                          "the piece cache (default: the user cache, or $KOKORO_CLI_WORK_DIR).")
