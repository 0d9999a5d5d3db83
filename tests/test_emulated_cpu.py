"""The int8 vocoder's weight variants on a CPU without VNNI, emulated (issue #29).

onnxruntime picks its integer kernels from the CPU it finds (``cpuid``). Run under qemu's
user-mode emulator as ``-cpu Haswell`` (AVX2 and FMA; no AVX-512, no VNNI), it runs the u8 × s8
kernels of such a CPU, which add pairs of products in int16 and saturate. The saturation probe
that ``kokoro-cli models tune`` runs (engine/tune.py) then reads 8-bit weights as inexact, as the
issue measured on a real AVX2-only Zen 3 (8.4 % of a channel's range), and the 7-bit weights
that every CPU without VNNI gets (engine/cpu.py) as exact. Only the arithmetic is checked here:
an emulated CPU's speed means nothing. Skipped where qemu-user is missing (scripts/setup.sh
installs it)."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys

import pytest

from engine.cpu import cpu_info
from engine.tune import EXACT, saturation_probe

QEMU = shutil.which("qemu-x86_64")
pytestmark = pytest.mark.skipif(QEMU is None or platform.machine() != "x86_64",
                                reason="qemu-user is not installed (or this is not x86-64)")

PROBE = """
from engine.tune import saturation_probe
print(saturation_probe(8), saturation_probe(7))
"""


def test_without_vnni_8_bit_weights_saturate_and_7_bit_weights_stay_exact():
    emulated = subprocess.run([QEMU, "-cpu", "Haswell", sys.executable, "-c", PROBE],
                              capture_output=True, text=True, timeout=600, check=True)
    eight, seven = map(float, emulated.stdout.split())
    assert eight > 0.05, emulated.stdout  # int16 pair sums saturated (8.4 % on a Zen 3)
    assert seven < EXACT, emulated.stdout
    if cpu_info().vnni:  # natively, with VNNI, both are exact
        assert saturation_probe(8) < EXACT and saturation_probe(7) < EXACT
