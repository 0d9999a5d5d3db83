"""Episodes: the audio files of an output folder described as small frozen records.

What an episode is made of comes from the file itself, read through the one ffmpeg seam
(:func:`kokoro_cli.output.ffmpeg.probe`: duration, the tags we wrote, chapter marks) and a
digest of its bytes (the guid), plus when it was published: the finish time of the job that
wrote it, from the job manifests in the work area. Probing and hashing cost time per file, so
:func:`describe` takes an earlier record of the same file (same size and mtime) as it is.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["AUDIO_TYPES", "TRANSCRIPT_TYPES", "Episode", "EpisodeChapter", "audio_files",
           "chapters_name", "describe", "job_finish_times", "legacy_chapters_name",
           "transcripts_of"]

log = logging.getLogger(__name__)

# Enclosure MIME types by extension: Apple's own names for MPEG-4 audio, IANA's for the rest.
AUDIO_TYPES: dict[str, str] = {
    ".mp3": "audio/mpeg",
    ".m4a": "audio/x-m4a",
    ".m4b": "audio/x-m4b",
    ".aac": "audio/aac",
    ".opus": "audio/ogg",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
}
# Subtitle files beside the audio (same stem) and their podcast:transcript types.
TRANSCRIPT_TYPES: dict[str, str] = {".vtt": "text/vtt", ".srt": "application/x-subrip"}


@dataclass(frozen=True)
class EpisodeChapter:
    """A chapter mark of an episode, in seconds from its start."""

    start: float
    end: float
    title: str


@dataclass(frozen=True)
class Episode:
    """One audio file as a feed item. ``name`` is the file's name in the output folder;
    ``transcripts`` are (file name, MIME type) of the subtitle files beside it."""

    name: str
    size: int
    mime: str
    duration: float
    title: str
    description: str
    guid: str
    pub_date: datetime  # timezone-aware
    author: str = ""
    chapters: tuple[EpisodeChapter, ...] = ()
    transcripts: tuple[tuple[str, str], ...] = ()
    cover: int | None = None  # the index of the file's attached picture stream, if it has one

    def __post_init__(self) -> None:
        if self.pub_date.tzinfo is None:
            raise ValueError("Episode.pub_date must be timezone-aware")

    @property
    def stem(self) -> str:
        return Path(self.name).stem


def chapters_name(episode_name: str) -> str:
    """The Podcasting 2.0 chapters file beside an episode, named after its whole file name
    (``done.flac.chapters.json``), so ``done.flac`` and ``done.opus`` keep one each."""
    return f"{episode_name}.chapters.json"


def legacy_chapters_name(episode_name: str) -> str:
    """What earlier versions named the chapters file: ``STEM.chapters.json``, one for all the
    formats of a stem."""
    return f"{Path(episode_name).stem}.chapters.json"


def audio_files(folder: Path) -> Iterator[Path]:
    """The audio files directly in ``folder`` by extension, in name order; hidden files
    (our temporary ``.NAME.part`` files among them) and anything else are passed over."""
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in AUDIO_TYPES:
            continue
        if path.is_file():
            yield path


def transcripts_of(audio: Path) -> tuple[tuple[str, str], ...]:
    """The subtitle files with the same stem beside ``audio``."""
    found = []
    for suffix, mime in TRANSCRIPT_TYPES.items():
        candidate = audio.with_suffix(suffix)
        if candidate.is_file():
            found.append((candidate.name, mime))
    return tuple(found)


def describe(path: Path, published: datetime) -> Episode:
    """Probe and hash ``path`` into an Episode published at ``published``. Raises FfmpegError
    when ffprobe cannot read it and ValueError when it reports no duration."""
    from kokoro_cli.output.ffmpeg import probe

    report = probe(path)
    fmt = report.get("format", {})
    tags = {str(k).lower(): str(v) for k, v in (fmt.get("tags") or {}).items()}
    if "duration" not in fmt:
        raise ValueError(f"{path.name}: no duration in ffprobe's report")
    chapters = tuple(_chapter(c) for c in report.get("chapters", []))
    title = tags.get("title") or path.stem
    author = tags.get("artist") or tags.get("album_artist") or ""
    return Episode(
        name=path.name, size=path.stat().st_size, mime=AUDIO_TYPES[path.suffix.lower()],
        duration=float(fmt["duration"]), title=title,
        description=_description(title, author, tags, chapters), guid=content_guid(path),
        pub_date=published, author=author, chapters=chapters, transcripts=transcripts_of(path),
        cover=_cover_stream(report.get("streams", [])))


def _cover_stream(streams: list) -> int | None:
    """The index of the attached picture (the cover we wrote) among ffprobe's streams."""
    for stream in streams:
        if stream.get("codec_type") == "video" and \
                (stream.get("disposition") or {}).get("attached_pic") == 1:
            return int(stream["index"])
    return None


def _chapter(probed: Mapping) -> EpisodeChapter:
    tags = probed.get("tags") or {}
    return EpisodeChapter(float(probed.get("start_time", 0)), float(probed.get("end_time", 0)),
                          str(tags.get("title", "")))


def _description(title: str, author: str, tags: Mapping[str, str],
                 chapters: tuple[EpisodeChapter, ...]) -> str:
    """A tag that is a description when there is one, else one built from the tags we write
    (title, author, narrator as ``composer``) and the chapter titles."""
    for key in ("description", "comment", "synopsis"):
        if tags.get(key):
            return tags[key]
    text = title + (f", by {author}" if author else "")
    if tags.get("composer"):
        text += f"; read by {tags['composer']}"
    titles = [c.title for c in chapters if c.title]
    if len(titles) > 1:
        text += ". Chapters: " + "; ".join(titles)
    return text + "."


def content_guid(path: Path) -> str:
    """A guid from the file's bytes: the same audio is the same episode, however often the
    feed is built, and a changed file is a new one."""
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return f"urn:sha256:{digest[:40]}"


def job_finish_times(work_root: Path) -> dict[tuple[str, int, int], datetime]:
    """When each output file the jobs in ``work_root`` wrote was finished, keyed by (absolute
    path, size, mtime_ns) so a file changed since then does not match: the manifest's last
    update, which is the recording of the written output."""
    from kokoro_cli.jobs.manifest import Manifest

    found: dict[tuple[str, int, int], datetime] = {}
    for manifest_path in sorted((work_root / "jobs").glob("*/manifest.json")):
        try:
            manifest = Manifest.from_json(manifest_path.read_bytes())
        except OSError as exc:
            log.debug("skipping %s: %s", manifest_path, exc)
            continue
        if manifest is None or manifest.updated is None:
            continue
        when = datetime.fromtimestamp(manifest.updated, timezone.utc)
        for record in manifest.outputs.values():
            for file in record.files:
                found[(file.path, file.size, file.mtime_ns)] = when
    return found
