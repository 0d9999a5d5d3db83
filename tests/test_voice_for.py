"""``convert --voice-for LANG=VOICE`` (#19): in a mixed-language book the pieces of another
language are spoken, and cached, by that language's voice; the map is part of the job, so a
run with another map re-synthesizes only the pieces it changes; bad values are one line before
any work; Ray actors speak per-piece voices too; ``watch`` takes --lang and --voice-for."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from engine import VoiceG2P, token_count
from kokoro_cli.app import app
from kokoro_cli.jobs.cache import ChunkCache
from kokoro_cli.jobs.job import list_jobs
from kokoro_cli.jobs.manifest import JobIdentity, Manifest
from preprocess import parse_file, plan
from tests.conftest import write_epub

runner = CliRunner()

CHAPTERS = (("One", "Hello there.", "en"), ("Deux", "Bonjour à tous.", "fr"))


def _epub(path: Path) -> Path:
    """An English book whose second chapter is French (``xml:lang="fr"``)."""
    return write_epub(path, "en", CHAPTERS, title="Mixed")


def _convert(source: Path, tmp_path: Path, *extra: str):
    return runner.invoke(app, ["convert", str(source), "-o", str(tmp_path / "book.wav"),
                               "--loudness", "off", "--qc", "off", "--progress", "plain",
                               "--work-dir", str(tmp_path / "work"), *extra])


def _pieces(source: Path, voice_for: str) -> list[dict]:
    """Every piece as preview plans it with ``--voice-for``: its phonemes and own voice."""
    result = runner.invoke(app, ["preview", str(source), "--json", "--voice-for", voice_for])
    assert result.exit_code == 0, result.output
    return [c for ch in json.loads(result.stdout)["chapters"] for c in ch["chunks"]]


def test_convert_speaks_and_caches_each_language_by_its_voice(tmp_path: Path) -> None:
    source = _epub(tmp_path / "mixed.epub")
    first = _convert(source, tmp_path, "--voice-for", "fr=ff_siwis")
    assert first.exit_code == 0, first.output
    pieces = _pieces(source, "fr=ff_siwis")
    assert [p.get("voice") for p in pieces] == [None, None, "ff_siwis", "ff_siwis"]
    assert f"{len(pieces)} pieces: {len(pieces)} synthesized, 0 reused" in first.stderr

    job, = list_jobs(tmp_path / "work")
    identity = Manifest.from_json((job.path / "manifest.json").read_bytes()).identity
    assert json.loads(identity.voices) == {"fr": "ff_siwis"}
    cache = ChunkCache(tmp_path / "work" / "chunks")

    def cached(voice: str, piece: dict) -> bool:
        return ChunkCache.key(identity.model_sha256, voice, 1.0, piece["phonemes"]) in cache

    english, french = pieces[:2], pieces[2:]
    assert all(cached("af_heart", p) for p in english)
    assert all(cached("ff_siwis", p) and not cached("af_heart", p) for p in french)

    again = _convert(source, tmp_path, "--voice-for", "fr=ff_siwis")
    assert again.exit_code == 0 and "up to date" in again.stderr, again.output

    # Another voice for French: a new job, which takes the English pieces from the cache and
    # makes only the French ones again.
    blend = "ff_siwis:0.5,af_heart:0.5"
    other = _convert(source, tmp_path, "--voice-for", f"fr={blend}")
    assert other.exit_code == 0, other.output
    assert f"{len(pieces)} pieces: {len(french)} synthesized, {len(english)} reused" \
        in other.stderr
    assert len(list_jobs(tmp_path / "work")) == 2


@pytest.mark.parametrize("value, says", [
    ("xx=ff_siwis", "not one Kokoro speaks"), ("fr=zz_nope", "unknown voice"),
    ("fr", "use LANG=VOICE"), ("=ff_siwis", "use LANG=VOICE")])
def test_bad_voice_for_is_one_line_before_any_work(tmp_path: Path, value: str, says: str) -> None:
    source = _epub(tmp_path / "mixed.epub")
    result = _convert(source, tmp_path, "--voice-for", value)
    assert result.exit_code == 2, result.output
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "work").exists() and not (tmp_path / "book.wav").exists()


def test_a_voice_of_another_language_for_a_tag_is_a_warning(tmp_path: Path) -> None:
    source = _epub(tmp_path / "mixed.epub")
    result = _convert(source, tmp_path, "--voice-for", "fr=ef_dora")
    assert result.exit_code == 0, result.output
    assert "warning: --voice-for fr=ef_dora: the voice speaks Spanish" in result.stderr


def test_the_config_file_gives_voice_for(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "config.toml").write_text('voice_for = {fr = "zz_nope"}\n')
    monkeypatch.setenv("KOKORO_CLI_CONFIG", str(tmp_path / "config.toml"))
    result = _convert(_epub(tmp_path / "mixed.epub"), tmp_path)
    assert result.exit_code == 2 and "--voice-for 'fr=zz_nope'" in result.stderr, result.output


def test_identities_without_voice_for_keep_their_key_and_file() -> None:
    identity = JobIdentity("in", "model", "onnx", "af_heart", 1.0, "a", "1", "", "chunks")
    before = {f.name: getattr(identity, f.name) for f in dataclasses.fields(identity)
              if f.name not in ("voices", "cast")}  # as jobs wrote it before --voice-for
    assert identity.key == hashlib.sha256(
        json.dumps(before, sort_keys=True).encode()).hexdigest()[:24]
    old = json.dumps({"format": 1, "identity": before, "label": "t", "created": 1.0,
                      "chapters": {}, "outputs": {}})
    assert Manifest.from_json(old).identity == identity
    mapped = dataclasses.replace(identity, voices='{"fr": "ff_siwis"}')
    assert mapped.key != identity.key
    assert Manifest.from_json(Manifest(mapped, "t").to_json()).identity == mapped


def test_ray_actors_speak_a_piece_with_its_own_voice(synth, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    from engine import RayExecutor

    source = _epub(tmp_path / "mixed.epub")
    french = [c for p in plan(parse_file(source), VoiceG2P("a"), token_count,
                              voices={"fr": "ff_siwis"}) for c in p.chunks][-1]
    plain = dataclasses.replace(french, voice=None)
    assert french.voice == "ff_siwis"
    with RayExecutor(None, resolver=synth.resolver, num_cpus=1) as cluster:
        pool = cluster.pool(synth.model_path, 1)
        spoken = [next(synth.speak([piece], synth.voice(voice), pool=pool)).samples
                  for piece, voice in ((french, "af_heart"), (plain, "ff_siwis"),
                                       (plain, "af_heart"))]
    own, direct, book = spoken
    assert np.array_equal(own, direct)  # by its own voice, not the book's
    assert not np.array_equal(own, book)


def test_watch_takes_lang_and_voice_for_as_convert_does(tmp_path: Path, monkeypatch) -> None:
    from kokoro_cli.config import Config
    from kokoro_cli.conversion import build_settings

    monkeypatch.delenv("KOKORO_CLI_CONFIG", raising=False)
    config = Config(tmp_path / "none.toml")
    settings = build_settings(config, {"lang": "fr", "voice_for": ["fr=ff_siwis"]}, "watch")
    assert (settings.speech.lang, settings.speech.voice_given, settings.options.voices) == (
        "fr", False, (("fr", "ff_siwis"),))
    chosen = build_settings(config, {"voice": "bf_emma"}, "watch")
    assert (chosen.speech.lang, chosen.speech.voice_given, chosen.options.voices) == (
        None, True, ())
    result = runner.invoke(app, ["watch", str(tmp_path), "--out-dir", str(tmp_path),
                                 "--lang", "fr", "--voice-for", "xx=ff_siwis"])
    assert result.exit_code == 2 and "not one Kokoro speaks" in result.stderr, result.output
