"""Start-up: ``--help`` and ``--version`` load none of the audio or text machinery (numpy and
the engine were most of the time ``kokoro-cli --help`` took)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"numpy", "engine", "preprocess", "onnxruntime", "torch", "soundfile"}

# Runs ``python -m kokoro_cli ARGS`` in a fresh interpreter, then reports on stderr which heavy
# packages the command loaded (those loaded before it, by a sitecustomize say, are not counted).
PROBE = """
import json, runpy, sys
before = set(sys.modules)
sys.argv = ["kokoro-cli", *{args!r}]
code = 0
try:
    runpy.run_module("kokoro_cli", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
loaded = sorted({{m.split(".")[0] for m in set(sys.modules) - before}} & {heavy!r})
print(json.dumps({{"code": code, "heavy": loaded}}), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["--version"]], ids=" ".join)
def test_help_and_version_import_nothing_heavy(args):
    proc = subprocess.run([sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}, proc.stderr
    assert proc.stdout.strip(), "nothing was printed"


def test_the_entry_point_imports_no_command_line_until_it_runs():
    # A synthesis worker is spawned by re-running the entry point's imports: it needs the
    # model, not typer, rich and every command's options.
    probe = ("import sys; import kokoro_cli.__main__; "
             "print(sorted({'kokoro_cli.app', 'typer', 'rich', 'click'} & set(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "[]", proc.stdout
