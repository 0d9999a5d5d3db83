"""onnxruntime backend: the session is made on first use, a bad model is one clear error, and
the arena gives a long piece's memory back afterwards."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from engine.backends import OnnxBackend
from engine.errors import BackendError


def test_session_is_created_on_first_use(resolver, synth, english_g2p):
    backend = OnnxBackend(resolver.model(), threads=1)
    assert backend._session is None
    padded, style, speed = synth.prepare(english_g2p("Hello there."), synth.voice("af_heart"), 1.0)
    assert backend.infer(padded, style, speed).size > 0
    assert backend._session is not None
    assert backend.load() is backend and backend.load()._session is backend._session


def test_a_file_that_is_not_a_model_is_one_backend_error(tmp_path):
    bad = tmp_path / "kokoro.onnx"
    bad.write_bytes(b"\x08\x07not a protobuf" * 100)
    backend = OnnxBackend(bad)  # nothing read yet
    with pytest.raises(BackendError, match="cannot load kokoro.onnx as an ONNX model"):
        backend.load()


@pytest.mark.slow
def test_arena_gives_a_long_pieces_memory_back(resolver):
    script = textwrap.dedent(f"""
        import numpy as np
        from engine.backends import OnnxBackend
        from engine.voices import load_voice
        from engine import AssetResolver
        from kokoro_cli.assets_env import resolver_settings

        def rss_mb():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) // 1024 for l in f if l.startswith("VmRSS"))

        voice = load_voice("af_heart", AssetResolver(**resolver_settings(None, None)))
        backend = OnnxBackend({str(resolver.model())!r}, threads=1)
        ids = np.random.default_rng(0).integers(1, 170, 510)
        backend.infer(np.concatenate([[0], ids, [0]]), voice.style(510), 1.0)
        with open("/proc/self/status") as f:
            peak = next(int(l.split()[1]) // 1024 for l in f if l.startswith("VmHWM"))
        print(peak, rss_mb())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    peak, after = map(int, out.stdout.split())
    # measured: peak ~950 MB at 510 tokens, ~230 MB once the arena is shrunk back
    assert peak - after > 400, (peak, after)
