"""engine/cpu.py: the vocoder's weight bits chosen by CPU flags, or by the record that
``kokoro-cli models tune`` leaves for this CPU (pure rules; the variants' sound is in
tests/test_vocoder_int8.py)."""

from __future__ import annotations

import json

import pytest

from engine.cpu import (CpuInfo, cpu_info, rule_weight_bits, tune_record,
                        vocoder_weight_bits)

ZEN3 = "fpu sse4_2 avx avx2 fma bmi2"  # the AMD EPYC: no AVX-512, no VNNI
ZEN4 = ZEN3 + " avx512f avx512bw avx512_vnni avx512_bf16"
SKYLAKE_X = ZEN3 + " avx512f avx512bw"  # AVX-512 without VNNI still pairs into int16
ALDER_LAKE = ZEN3 + " avx_vnni"


@pytest.mark.parametrize(("flags", "bits"), [
    (ZEN3, 7), (SKYLAKE_X, 7), (ZEN4, 8), (ALDER_LAKE, 8), ("", 7)])
def test_vnni_gets_eight_bit_weights_and_every_other_cpu_seven(flags, bits):
    assert rule_weight_bits(CpuInfo("some cpu", frozenset(flags.split()))) == bits


def test_this_machines_cpu_is_read_with_its_flags():
    info = cpu_info()
    assert info.model
    assert "avx" in info.line() or not info.flags  # x86 Linux, or a CPU whose flags are unread
    assert vocoder_weight_bits() == rule_weight_bits(info)


def test_the_tune_record_for_this_cpu_and_runtime_decides(tmp_path):
    from importlib import metadata

    record = tune_record(tmp_path, cpu_info(), metadata.version("onnxruntime"))
    record.parent.mkdir(parents=True)
    other = 15 - rule_weight_bits(cpu_info())
    record.write_text(json.dumps({"weight_bits": other}), encoding="utf-8")
    assert vocoder_weight_bits(tmp_path) == other
    # Another runtime version (or CPU) has its own record: this one does not apply to it.
    assert tune_record(tmp_path, cpu_info(), "0.0") != record
    record.write_text("not json", encoding="utf-8")
    assert vocoder_weight_bits(tmp_path) == rule_weight_bits(cpu_info())


def test_the_tune_probe_finds_seven_bit_weights_exact_and_eight_bit_exact_with_vnni():
    """The probe ``models tune`` runs, through onnxruntime on this CPU (8-bit weights only
    where the rule would choose them)."""
    from engine.tune import EXACT, saturation_probe

    assert saturation_probe(7) < EXACT
    if cpu_info().vnni:
        assert saturation_probe(8) < EXACT
