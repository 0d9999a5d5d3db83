"""What makes a cold start quicker (issue #29) changes nothing that is heard: the saved
optimized graph gives the same samples, bit for bit; spaCy imported without its command line
tags as before. Real model, real spaCy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import Synthesizer, runtime_model
from engine.backends import OnnxBackend
from engine.ort_session import open_session, optimized_graph, optimized_weights
from tests.conftest import can_mount_tmpfs

ort = pytest.importorskip("onnxruntime")


def _options():
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.log_severity_level = 1, 3
    return options


def _good_morning(synth):
    """The ids, style and speed of one short sentence, as the synthesizer prepares them."""
    voice = synth.voice("af_heart")
    return synth.prepare(synth.phonemizer(voice)("Good morning."), voice, 1.0)


def _first_samples(session, synth):
    ids, style, speed = _good_morning(synth)
    return session.run(None, {"tokens": ids[None], "style": style.reshape(1, -1),
                              "speed": np.array([speed], np.float32)})[0].reshape(-1)


def test_a_derived_model_starts_from_its_saved_optimized_graph_with_the_same_samples(resolver):
    model = runtime_model(resolver, "onnx")
    backend = OnnxBackend(model, threads=1).load()
    saved = optimized_graph(model, ort.__version__)
    assert saved is not None and saved.is_file()  # made by the first session, or this one
    fresh = ort.InferenceSession(str(model), _options(), providers=["CPUExecutionProvider"])
    synth = Synthesizer(backend, resolver)
    expected = _first_samples(fresh, synth)
    assert np.array_equal(backend.infer(*_good_morning(synth)), expected)
    weights = optimized_weights(saved)  # mapped, not parsed out of the graph
    assert saved.stat().st_size < 5_000_000 < 100_000_000 < weights.stat().st_size


def test_a_saved_graph_whose_weights_are_gone_is_made_again(resolver, synth, tmp_path):
    """The graph and its weights file are two files: with the weights deleted (or cut short)
    the next session still starts, with the same samples, and both files are made anew."""
    model = tmp_path / runtime_model(resolver, "onnx").name
    model.symlink_to(runtime_model(resolver, "onnx"))
    expected = _first_samples(open_session(model, _options()), synth)  # makes both files
    saved = optimized_graph(model, ort.__version__)
    weights = optimized_weights(saved)
    assert np.array_equal(_first_samples(open_session(model, _options()), synth), expected)
    for damage in (weights.unlink, lambda: os.truncate(weights, 4096)):
        damage()
        assert np.array_equal(_first_samples(open_session(model, _options()), synth), expected)
        assert saved.is_file() and weights.stat().st_size > 100_000_000


def test_a_model_outside_the_cache_is_never_written_beside(resolver, tmp_path):
    assert optimized_graph(resolver.model(), ort.__version__) is None  # the download itself
    assert optimized_graph(tmp_path / "mine.onnx", ort.__version__) is None


OPEN_SESSION = """
import sys
from pathlib import Path
import onnxruntime as ort
from engine.ort_session import open_session, optimized_graph
model = Path(sys.argv[1])
options = ort.SessionOptions()
options.intra_op_num_threads, options.log_severity_level = 1, 4
session = open_session(model, options)
print(sorted(i.name for i in session.get_inputs()))
print(sorted(p.name for p in model.parent.iterdir() if p != model))
"""


needs_tmpfs = pytest.mark.skipif(not can_mount_tmpfs(),
                                 reason="needs a user namespace to mount a tmpfs")


def _session_on_a_small_disk(resolver, tmp_path, then: str = "") -> tuple[str, str]:
    """:data:`OPEN_SESSION` on the derived model linked into a 32 MB tmpfs of a private mount
    namespace, after the shell commands ``then`` (run in the tmpfs): its two lines."""
    source = runtime_model(resolver, "onnx")
    script = tmp_path / "open_session.py"
    script.write_text(OPEN_SESSION)
    disk = tmp_path / "disk"
    disk.mkdir()
    shell = (f"mount -t tmpfs -o size=32m tmpfs {disk} && ln -s {source} {disk / source.name}"
             f" && cd {disk} && {then or 'true'} && cd {Path(__file__).resolve().parents[1]}"
             f" && exec {sys.executable} {script} {disk / source.name}")
    run = subprocess.run(["unshare", "-rm", "sh", "-c", shell], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    inputs, left = run.stdout.splitlines()
    assert inputs == "['speed', 'style', 'tokens']"
    return inputs, left


@needs_tmpfs
def test_a_cache_too_full_for_the_saved_graph_still_gives_a_session(resolver, tmp_path):
    """The optimized graph's weights (185 MB) do not fit on a 32 MB disk: onnxruntime's write
    fails, the session is made in memory all the same, and nothing half-written stays."""
    _, left = _session_on_a_small_disk(resolver, tmp_path)
    assert left == "['.derive.lock']"  # no graph, no weights, no temporary file


@needs_tmpfs
def test_a_broken_saved_graph_in_a_read_only_cache_still_gives_a_session(resolver, tmp_path):
    """A saved graph whose weights are missing, in a cache this process cannot write: it is
    left as it is and the session is optimized in memory."""
    saved = optimized_graph(runtime_model(resolver, "onnx"), ort.__version__)
    _, left = _session_on_a_small_disk(
        resolver, tmp_path, f"cp {saved} . && mount -o remount,ro,bind {tmp_path / 'disk'}")
    assert left == f"[{saved.name!r}]"

SPACY_LEAN = """
import gc, sys
from engine.g2p import EnglishG2P
g2p = EnglishG2P()
print(g2p("I read the book, and the wind will wind down."))
print(sorted(m for m in ("weasel", "httpx", "requests", "spacy.cli") if m in sys.modules))
print(gc.get_freeze_count() > 50_000)
import spacy.cli
print(callable(spacy.cli.download), callable(spacy.info))
"""


def test_spacy_imports_without_its_command_line_and_tags_as_before():
    """In a fresh interpreter: the command line's modules are not loaded with spaCy (yet it
    imports when asked), the long-lived G2P objects are frozen out of the collector's way, and
    the homographs that need the tagger are still read by their part of speech."""
    run = subprocess.run([sys.executable, "-c", SPACY_LEAN], capture_output=True, text=True,
                         timeout=120, check=True)
    phonemes, loaded, frozen, cli = run.stdout.splitlines()
    assert loaded == "[]" and frozen == "True" and cli == "True True"
    # "read" (past, VBD) is ɹˈɛd; "wind" the noun wˈɪnd, the verb wˈInd.
    assert phonemes == "ˌI ɹˈɛd ðə bˈʊk, ænd ðə wˈɪnd wɪl wˈInd dˌWn."
