"""Shared fixtures: the real model and voices (fetched once into the user cache), samples."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def resolver():
    from engine import AssetResolver

    resolver = AssetResolver()
    resolver.fetch()  # what `kokoro-cli models fetch` does in setup; a no-op when cached
    return resolver


@pytest.fixture(scope="session")
def synth(resolver):
    from engine import Synthesizer

    return Synthesizer.load(resolver)


@pytest.fixture(scope="session")
def english_g2p():
    from engine.g2p import phonemizer_for

    return phonemizer_for("a")
