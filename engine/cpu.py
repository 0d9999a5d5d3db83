"""What the CPU can do, and the choices that depend on it.

The ``onnx`` backend's vocoder runs uint8 × int8 convolutions (:mod:`engine.vocoder_int8`).
onnxruntime computes them exactly with VNNI (``vpdpbusd`` adds four products into int32); on
CPUs without VNNI (AVX2, or AVX-512 without VNNI) its kernels first add pairs of products into
int16 (``vpmaddubsw``), which saturates once ``2 · 255 · |w| > 32,767``: errors of 8 % of a
channel's range were measured on an AMD Zen 3 (issue #29), 17 % in the emulation of
tests/test_vocoder_int8.py. So the vocoder's weights are chosen by CPU:

- a CPU with VNNI (any flag of :data:`VNNI_FLAGS`) gets 8-bit weights (±127);
- any other CPU (or one whose flags cannot be read) gets 7-bit weights (±63, onnxruntime's
  ``reduce_range``), which never saturate (``2 · 255 · 63 = 32,130``).

``kokoro-cli models tune`` measures instead (:mod:`engine.tune`): it runs each variant's
saturation probe and speed on this CPU and records the choice in the model cache, keyed by the
CPU model, its flags and onnxruntime's version; :func:`vocoder_weight_bits` follows that record
when there is one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VNNI_FLAGS", "CpuInfo", "cpu_info", "rule_weight_bits", "tune_record",
           "vocoder_weight_bits"]

# Flags of x86 CPUs whose int8 dot products add into int32 (AVX-512 VNNI, AVX-VNNI, AMX).
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
_CPUINFO = Path("/proc/cpuinfo")
_TUNE_FOLDER = "cpu-tune"


@dataclass(frozen=True)
class CpuInfo:
    """The CPU as the figures and the tune record name it."""

    model: str
    flags: frozenset[str]

    @property
    def vnni(self) -> bool:
        return bool(self.flags & VNNI_FLAGS)

    def line(self) -> str:
        """One line for reports: the model and the flags that decide int8 kernels."""
        shown = sorted(f for f in self.flags if f.startswith(("avx", "fma", "amx", "sse4")))
        return f"{self.model} ({os.cpu_count()} CPUs); flags: {' '.join(shown) or 'unknown'}"

    def key(self, runtime_version: str) -> str:
        """A short name for this CPU model, these flags and that runtime version."""
        text = "\n".join([self.model, " ".join(sorted(self.flags)), runtime_version])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.cache
def cpu_info() -> CpuInfo:
    """The first processor of /proc/cpuinfo (Linux); elsewhere the platform's name and no
    flags (so the safe 7-bit rule applies)."""
    try:
        text = _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return CpuInfo(platform.processor() or platform.machine(), frozenset())
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    model = fields.get("model name") or platform.processor() or platform.machine()
    return CpuInfo(model, frozenset(fields.get("flags", "").split()))


def rule_weight_bits(info: CpuInfo) -> int:
    """8 where the CPU has VNNI, else 7 (see the module docstring)."""
    return 8 if info.vnni else 7


def tune_record(cache_dir: Path, info: CpuInfo, runtime_version: str) -> Path:
    """Where ``models tune`` records its measurement for this CPU and runtime."""
    return Path(cache_dir) / _TUNE_FOLDER / f"{info.key(runtime_version)}.json"


def vocoder_weight_bits(cache_dir: Path | None = None) -> int:
    """The vocoder's weight bits on this CPU: the tune record's choice where ``models tune``
    measured this CPU with this onnxruntime, else :func:`rule_weight_bits`."""
    info = cpu_info()
    if cache_dir is not None:
        chosen = _recorded_bits(tune_record(cache_dir, info, _runtime_version()))
        if chosen is not None:
            return chosen
    return rule_weight_bits(info)


def _recorded_bits(path: Path) -> int | None:
    try:
        bits = json.loads(path.read_text(encoding="utf-8")).get("weight_bits")
    except (OSError, ValueError, AttributeError):
        return None
    return bits if bits in (7, 8) else None


@functools.cache
def _runtime_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("onnxruntime")
    except metadata.PackageNotFoundError:
        return "none"
