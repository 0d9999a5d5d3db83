"""Bringing a folder's feed up to date: scan the audio, write chapters files, build the feed,
write it atomically, and (with ``prune``) remove episodes past the newest ``keep``.

The feed settings come, first found wins, from the command line, then what the last
``kokoro-cli feed`` command line for this folder set (remembered in its state file), then the
environment and config file (``feed_base_url``, ``feed_title``, ``feed_author``,
``feed_image``, ``feed_category``), then the defaults: the folder's name as the title, Apple's
"Arts/Books" as the category, and as artwork the cover of the newest episode that has one
(Apple Podcasts refuses a feed without artwork or category).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

from kokoro_cli.errors import OutputError, UsageError
from kokoro_cli.publish.categories import parse_category
from kokoro_cli.publish.episodes import (Episode, audio_files, chapters_name, describe,
                                         job_finish_times, legacy_chapters_name, transcripts_of)
from kokoro_cli.publish.feed import Channel, build_feed, chapters_json, check_url
from kokoro_cli.publish.state import ARTWORK_NAME, FeedState, Known
from kokoro_common import write_atomic

__all__ = ["CHANNEL_KEYS", "FeedResult", "FeedSettings", "check_settings", "prepare_image",
           "update_feed"]

log = logging.getLogger(__name__)

CHANNEL_KEYS = ("base_url", "title", "author", "image", "description", "language", "category")
FEED_NAME = "feed.xml"
IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": ".png", b"\xff\xd8\xff": ".jpg"}
MAX_IMAGE_BYTES = 20 << 20


@dataclass(frozen=True)
class FeedSettings:
    """How to update a folder's feed. ``given`` holds the channel settings named on this
    command line (keys of CHANNEL_KEYS); ``fallback`` looks one up in the environment and
    config file (None when unset)."""

    folder: Path
    feed_path: Optional[Path] = None  # default: FEED_NAME in the folder
    given: Mapping[str, str] = dataclasses.field(default_factory=dict)
    fallback: Callable[[str], Optional[str]] = lambda key: None
    keep: Optional[int] = None
    prune: bool = False
    work_root: Optional[Path] = None
    remember: bool = False  # save ``given`` as this folder's settings (the ``feed`` command)

    def __post_init__(self) -> None:
        if self.keep is not None and self.keep < 1:
            raise UsageError(f"--keep {self.keep}: keep at least 1 episode")
        if self.prune and self.keep is None:
            raise UsageError("--prune removes the episodes past --keep N; give --keep too")

    @property
    def target(self) -> Path:
        return self.feed_path or self.folder / FEED_NAME


@dataclass(frozen=True)
class FeedResult:
    """What an update did: the feed written, episodes listed, files skipped or removed."""

    feed_path: Path
    listed: tuple[Episode, ...]
    skipped: tuple[str, ...]  # "NAME: why" for audio files that could not be read
    pruned: tuple[str, ...]
    written: bool  # False when the feed already held exactly this


def update_feed(settings: FeedSettings, warn: Callable[[str], None] = log.warning) -> FeedResult:
    """Bring the feed of ``settings.folder`` up to date; see the module's docstring."""
    folder = settings.folder
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    state = FeedState.load(folder)
    remembered = _remembered(settings, state)
    channel = _channel(settings, remembered)
    known, skipped = _scan(folder, state, settings.work_root)
    for line in skipped:
        warn(f"skipping {line}")
    ordered = sorted(known, key=lambda k: (k.episode.pub_date, k.episode.name), reverse=True)
    listed = ordered[:settings.keep] if settings.keep else ordered
    episodes = tuple(k.episode for k in listed)
    for episode in episodes:
        if episode.chapters:
            _write_if_changed(folder / chapters_name(episode.name), chapters_json(episode))
    artwork = None  # an episode's cover, when no artwork was given
    if channel.image_url is None:
        artwork = _episode_artwork(folder, episodes, warn)
        if artwork is not None:
            channel = dataclasses.replace(channel, image_url=channel.url(artwork))
    written = _write_if_changed(settings.target, build_feed(channel, episodes))
    if channel.image_url is None:
        warn(f"{settings.target.name} has no artwork, which Apple Podcasts requires: give "
             "'kokoro-cli feed --image FILE', set feed_image, or convert with --cover")
    if state.artwork not in (None, artwork):  # the cover it was made from is gone or changed
        (folder / state.artwork).unlink(missing_ok=True)
    pruned: list[str] = []
    if settings.prune:
        for gone in ordered[len(listed):]:
            pruned += _remove_episode(folder, gone.episode, [k.episode.name for k in listed])
        known = listed
    FeedState(remembered, {k.episode.name: k for k in known}, artwork).save(folder)
    return FeedResult(settings.target, episodes, tuple(skipped), tuple(pruned), written)


def check_settings(settings: FeedSettings) -> None:
    """Raise the UsageError :func:`update_feed` would for these settings (no base URL, a bad
    one), before hours of conversion end in it."""
    _channel(settings, _remembered(settings, FeedState.load(settings.folder)))


def _remembered(settings: FeedSettings, state: FeedState) -> dict[str, str]:
    return {**state.channel, **settings.given} if settings.remember else dict(state.channel)


def _channel(settings: FeedSettings, remembered: Mapping[str, str]) -> Channel:
    def value(key: str) -> Optional[str]:
        return settings.given.get(key) or remembered.get(key) or settings.fallback(key)

    base_url = value("base_url")
    if not base_url:
        raise UsageError(f"no base URL for the feed of {settings.folder}: run 'kokoro-cli feed "
                         f"{settings.folder} --base-url https://HOST/PATH/' once (it is "
                         "remembered), or set feed_base_url in the config")
    category = value("category")
    channel = Channel(base_url=base_url, title=value("title") or settings.folder.resolve().name,
                      author=value("author") or "", description=value("description") or "",
                      language=value("language") or "en")
    if category:
        category_pair = parse_category(category, "the feed category")
        channel = dataclasses.replace(channel, category=category_pair)
    image = value("image")
    if image:
        url = image if image.startswith(("http://", "https://")) else channel.url(image)
        channel = dataclasses.replace(channel, image_url=url)
    if settings.target.parent.resolve() == settings.folder.resolve():
        channel = dataclasses.replace(channel, feed_url=channel.url(settings.target.name))
    return channel


def prepare_image(folder: Path, image: str) -> str:
    """What to remember for ``--image``: an http(s) URL as it is, else the name of the JPEG or
    PNG in ``folder`` it was copied to (a file there already is not copied)."""
    if image.startswith(("http://", "https://")):
        return check_url(image, "--image")
    from kokoro_common import read_bounded

    path = Path(image).expanduser()
    data = read_bounded(path, MAX_IMAGE_BYTES, lambda why: UsageError(f"--image {image}: {why}"))
    suffix = next((s for magic, s in IMAGE_MAGIC.items() if data.startswith(magic)), None)
    if suffix is None:
        raise UsageError(f"--image {image}: podcast apps take JPEG or PNG artwork")
    name = path.name if path.suffix.lower() == suffix else f"{path.stem}{suffix}"
    if path.resolve() != (folder / name).resolve():
        _write_if_changed(folder / name, data)
    return name


def _scan(folder: Path, state: FeedState, work_root: Optional[Path]
          ) -> tuple[list[Known], list[str]]:
    """Every audio file in ``folder`` as a Known record (reused while its size and mtime are
    unchanged), and "NAME: why" for those that could not be read."""
    from kokoro_cli.output.ffmpeg import FfmpegError

    known: list[Known] = []
    skipped: list[str] = []
    times: dict | None = None
    copies: dict = {}
    for path in audio_files(folder):
        old = state.episodes.get(path.name)
        if old is not None and old.matches(path):
            episode = dataclasses.replace(old.episode, transcripts=transcripts_of(path))
            known.append(dataclasses.replace(old, episode=episode))
            continue
        if times is None:
            times = job_finish_times(work_root or _default_work_root())
            # A folder copied or moved with its files' times (cp -p, rsync -t) keeps them: the
            # same name, size and nanosecond mtime are the same output.
            copies = {(Path(p).name, size, mtime): t for (p, size, mtime), t in times.items()}
        stat = path.stat()
        published = times.get((str(path.resolve()), stat.st_size, stat.st_mtime_ns)) \
            or copies.get((path.name, stat.st_size, stat.st_mtime_ns)) \
            or datetime.fromtimestamp(stat.st_mtime, timezone.utc)
        try:
            episode = describe(path, published)
        except (FfmpegError, ValueError) as exc:
            skipped.append(f"{path.name}: {exc}")
            continue
        if old is not None and old.episode.guid == episode.guid:  # touched, not changed
            episode = dataclasses.replace(episode, pub_date=old.episode.pub_date)
        known.append(Known(stat.st_size, stat.st_mtime_ns, episode))
    return known, skipped


def _episode_artwork(folder: Path, episodes: tuple[Episode, ...],
                     warn: Callable[[str], None]) -> Optional[str]:
    """The feed's artwork from the cover of the newest episode that has one: a JPEG or PNG
    in the folder named by its content (written when missing), or None."""
    from kokoro_cli.output.ffmpeg import FfmpegError, run_ffmpeg

    for episode in episodes:  # newest first
        if episode.cover is None:
            continue
        try:
            data = run_ffmpeg(["-i", str(folder / episode.name), "-map", f"0:{episode.cover}",
                               "-c", "copy", "-frames:v", "1", "-f", "image2pipe", "-"])
        except FfmpegError as exc:
            warn(f"cannot read the cover of {episode.name}: {exc}")
            continue
        suffix = next((s for magic, s in IMAGE_MAGIC.items() if data.startswith(magic)), None)
        if suffix is None:  # Apple takes JPEG and PNG only
            continue
        name = f"artwork-{hashlib.sha256(data).hexdigest()[:12]}{suffix}"
        assert ARTWORK_NAME.fullmatch(name)
        _write_if_changed(folder / name, data)
        return name
    return None


def _default_work_root() -> Path:
    from kokoro_cli.jobs.job import default_work_root

    return default_work_root()


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` atomically unless ``path`` holds it already; True when written."""
    try:
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return True


def _remove_episode(folder: Path, episode: Episode, kept: list[str]) -> list[str]:
    """Delete an episode's audio and the files beside it that we made or list (the chapters
    file of an earlier version too, unless a ``kept`` episode has the same stem)."""
    names = [episode.name, chapters_name(episode.name), *(n for n, _ in episode.transcripts)]
    if all(Path(name).stem != episode.stem for name in kept):
        names.append(legacy_chapters_name(episode.name))
    removed = []
    for name in names:
        path = folder / name
        if path.is_file():
            path.unlink()
            removed.append(name)
    return removed
