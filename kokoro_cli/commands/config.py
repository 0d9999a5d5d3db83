"""``config``: the effective settings and where each comes from."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from kokoro_cli.commands.options import config_of
from kokoro_cli.console import out, run_guarded

__all__ = ["config_app"]

config_app = typer.Typer(no_args_is_help=True, help="Show the effective settings and the config "
                         "file. Precedence: command line > environment > config file > default.")


@config_app.command("show")
def config_show(ctx: typer.Context,
                as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print every setting's effective value, where it came from, its environment variable
    and its flag."""
    def action() -> None:
        from kokoro_cli.config import SETTINGS

        config = config_of(ctx)
        rows = [(s, config.get(s.key)) for s in SETTINGS]
        if as_json:
            out.print_json(json.dumps({"config_file": str(config.path), "settings": {
                s.key: {"value": _plain(r.value), "source": r.source, "env": s.env,
                        "flags": list(s.flags)} for s, r in rows}}))
            return
        out.print(f"config file: {config.path}" + ("" if config.path.is_file() else " (absent)"),
                  markup=False)
        key_width = max(len(s.key) for s, _ in rows)
        values = [str(_plain(r.value)) for _, r in rows]
        value_width = min(32, max(len(v) for v in values))
        for (s, r), value in zip(rows, values):
            flag = f"; flag {s.flags[0].split('/')[0]}" if s.flags else ""
            out.print(f"{s.key:<{key_width}} = {value:<{value_width}}  from {r.source}; "
                      f"env {s.env}{flag}", markup=False)
    run_guarded(action)


def _plain(value):
    """A setting's value as JSON can hold it."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
