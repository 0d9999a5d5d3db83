"""The one table of backends, and the texts read from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine import BACKENDS, SettingError, backend_help, backend_names
from kokoro_common.backends import BACKEND_TABLE


def test_every_backend_is_named_and_described_once():
    assert BACKENDS == backend_names() == ("auto", "onnx", "onnx-float", "onnx-int8", "torch")
    assert backend_names(ray=True) == ("auto", "onnx", "onnx-float", "onnx-int8")
    for info in BACKEND_TABLE:
        assert f"{info.name}: {info.description}" in backend_help()
        assert info.description and "\n" not in info.description and ";" not in info.description
        assert set(info.runs_on) <= {"cpu", "gpu"} and info.runs_on


def test_the_table_imports_nothing_heavy():
    code = ("import sys; import kokoro_common.backends; "
            "print(sorted({'engine', 'numpy', 'onnxruntime', 'torch'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "[]"


def test_ray_refuses_torch_naming_what_it_runs():
    from kokoro_cli.jobs.executor import backend_for

    with pytest.raises(SettingError, match="use --backend auto, onnx, onnx-float or onnx-int8$"):
        backend_for("ray", None, "torch")
    assert backend_for("ray", None, "auto") == "onnx"
