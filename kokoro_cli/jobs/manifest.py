"""A job's state as typed records: what ``manifest.json`` holds, validated once when read.

The file keeps the shape earlier versions wrote (format 1), so jobs started before this
module existed resume. Anything of the wrong shape is not trusted: :meth:`Manifest.from_json`
returns None and the job starts a fresh manifest (its pieces are still in the shared cache).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["JOB_FORMAT", "PIPELINE_VERSION", "ChapterRecord", "FileRecord", "JobIdentity",
           "Manifest", "OutputRecord"]

_OPTIONAL = frozenset({"voices", "cast"})  # JobIdentity fields left out when empty
JOB_FORMAT = 1
PIPELINE_VERSION = "1"  # bump when trimming, pauses or PCM conversion change the audio


@dataclass(frozen=True)
class JobIdentity:
    """Everything that decides the audio. Same identity, same samples."""

    input_sha256: str
    model_sha256: str
    backend: str
    voice: str
    speed: float
    language: str
    normalizer: str
    lexicon: str
    chunking: str
    pipeline: str = PIPELINE_VERSION
    # convert --voice-for: the voice per language as sorted JSON ({"fr": "ff_siwis"}); empty
    # without, and then left out of the key and the file, so earlier jobs keep their identity.
    voices: str = ""
    # convert --cast: the cast's digest (preprocess.Cast.digest); empty without, and then left
    # out like ``voices``. Pieces of unchanged voices are found in the shared cache.
    cast: str = ""

    @property
    def key(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def to_dict(self) -> dict[str, Any]:
        """The identity as JSON data; ``voices`` and ``cast`` only when there are some."""
        data = dataclasses.asdict(self)
        for key in _OPTIONAL:
            if not data[key]:
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: object) -> JobIdentity | None:
        """The identity ``data`` describes, or None when it is not one."""
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or not names - _OPTIONAL <= set(data) <= names:
            return None
        if not all(isinstance(v, str) for k, v in data.items() if k != "speed") \
                or type(data["speed"]) not in (int, float):
            return None
        return cls(**data)


@dataclass(frozen=True)
class ChapterRecord:
    """A finished chapter WAV: the fingerprint of its pieces and pauses, its length in samples
    and a digest of the file as written; ``timing``, the digest of its timing sidecar
    (``jobs.timing``), is None in records written before timing was kept."""

    title: str
    fingerprint: str
    samples: int
    digest: str | None
    timing: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON data; ``timing`` only when there is one (as format 1 wrote)."""
        data = dataclasses.asdict(self)
        if self.timing is None:
            del data["timing"]
        return data

    @classmethod
    def from_dict(cls, data: object) -> ChapterRecord | None:
        if not isinstance(data, dict):
            return None
        title, fingerprint = data.get("title"), data.get("fingerprint")
        samples, digest, timing = data.get("samples"), data.get("digest"), data.get("timing")
        if not (isinstance(title, str) and isinstance(fingerprint, str) and type(samples) is int
                and samples >= 0 and all(v is None or isinstance(v, str) for v in (digest, timing))):
            return None
        return cls(title, fingerprint, samples, digest, timing)


@dataclass(frozen=True)
class FileRecord:
    """An output file as written: a later run trusts it while size and mtime are the same."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileRecord:
        stat = path.stat()
        return cls(str(path.resolve()), stat.st_size, stat.st_mtime_ns)

    @classmethod
    def from_dict(cls, data: object) -> FileRecord | None:
        if not isinstance(data, dict):
            return None
        path, size, mtime = data.get("path"), data.get("size"), data.get("mtime_ns")
        if not (isinstance(path, str) and type(size) is int and type(mtime) is int):
            return None
        return cls(path, size, mtime)

    def unchanged(self) -> bool:
        try:
            stat = Path(self.path).stat()
        except OSError:
            return False
        return (self.size, self.mtime_ns) == (stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class OutputRecord:
    """The files one output path was written as (one, or one per chapter or part)."""

    fingerprint: str
    files: tuple[FileRecord, ...]

    @classmethod
    def from_dict(cls, data: object) -> OutputRecord | None:
        if not isinstance(data, dict) or not isinstance(data.get("fingerprint"), str) \
                or not isinstance(data.get("files"), list):
            return None
        files = tuple(FileRecord.from_dict(f) for f in data["files"])
        if not files or any(f is None for f in files):
            return None
        return cls(data["fingerprint"], files)  # type: ignore[arg-type]

    def current(self, fingerprint: str) -> bool:
        """Written with ``fingerprint``, and every file is still there, untouched."""
        return self.fingerprint == fingerprint and all(f.unchanged() for f in self.files)


@dataclass(frozen=True)
class Manifest:
    """Everything a job folder records. Change it with the ``with_*`` methods (new values)."""

    identity: JobIdentity
    label: str
    created: float = field(default_factory=time.time)
    updated: float | None = None
    chapters: Mapping[int, ChapterRecord] = field(default_factory=dict)
    outputs: Mapping[str, OutputRecord] = field(default_factory=dict)

    def with_chapter(self, index: int, record: ChapterRecord) -> Manifest:
        return dataclasses.replace(self, chapters={**self.chapters, index: record})

    def with_output(self, path: str, record: OutputRecord) -> Manifest:
        return dataclasses.replace(self, outputs={**self.outputs, path: record})

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "format": JOB_FORMAT, "identity": self.identity.to_dict(),
            "label": self.label, "created": self.created,
            "chapters": {str(i): r.to_dict() for i, r in self.chapters.items()},
            "outputs": {p: dataclasses.asdict(r) for p, r in self.outputs.items()}}
        if self.updated is not None:
            data["updated"] = self.updated
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest | None:
        """The manifest ``text`` holds, or None when it is not valid JSON of the right shape
        (any record of the wrong shape makes the whole manifest untrusted)."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("format") != JOB_FORMAT:
            return None
        identity = JobIdentity.from_dict(data.get("identity"))
        chapters = _records(data.get("chapters"), ChapterRecord.from_dict, key=_chapter_index)
        outputs = _records(data.get("outputs"), OutputRecord.from_dict, key=str)
        label, created, updated = data.get("label", "?"), data.get("created"), data.get("updated")
        if identity is None or chapters is None or outputs is None or not isinstance(label, str) \
                or not _time(created) or not (updated is None or _time(updated)):
            return None
        return cls(identity, label, float(created), None if updated is None else float(updated),
                   chapters, outputs)


def _time(value: object) -> bool:
    return type(value) in (int, float)


def _chapter_index(key: str) -> int:
    if not key.isdigit():
        raise ValueError(key)
    return int(key)


def _records(data: object, parse, *, key) -> dict | None:
    """``{key(k): parse(v)}`` for a JSON object, or None when it or any record is malformed."""
    if not isinstance(data, dict):
        return None
    records = {}
    for raw_key, value in data.items():
        record = parse(value)
        try:
            parsed_key = key(raw_key)
        except ValueError:
            return None
        if record is None:
            return None
        records[parsed_key] = record
    return records
