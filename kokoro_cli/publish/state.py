"""The feed's state in the output folder, ``.kokoro-feed.json``, written atomically.

It holds what a later run needs and the audio files cannot say:

- ``channel``: the feed settings last given on the command line of ``kokoro-cli feed`` for this
  folder (base URL, title, author, image, ...), so ``convert --feed`` and ``watch --feed``
  rebuild the same feed without repeating them;
- ``episodes``: each audio file as last described (by name, with its size and mtime), so an
  episode keeps its publication date once it has one, and an unchanged file is neither probed
  nor hashed again;
- ``artwork``: the artwork file taken from an episode's cover for the feed, so it is removed
  when another replaces it.

A file of the wrong shape is not trusted: its records are dropped and rebuilt from the files.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from kokoro_cli.publish.episodes import Episode, EpisodeChapter

__all__ = ["ARTWORK_NAME", "STATE_FORMAT", "STATE_NAME", "FeedState", "Known"]

log = logging.getLogger(__name__)

STATE_NAME = ".kokoro-feed.json"
STATE_FORMAT = 1
MAX_STATE_BYTES = 64 << 20
# The feed's artwork when it comes from an episode's cover: named by its content, so a new
# cover is a new URL (podcast apps cache artwork by URL).
ARTWORK_NAME = re.compile(r"artwork-[0-9a-f]{12}\.(?:jpg|png)")


@dataclass(frozen=True)
class Known:
    """An episode as described when its file had this size and mtime."""

    size: int
    mtime_ns: int
    episode: Episode

    def matches(self, path: Path) -> bool:
        stat = path.stat()
        return (stat.st_size, stat.st_mtime_ns) == (self.size, self.mtime_ns)


@dataclass(frozen=True)
class FeedState:
    """What ``.kokoro-feed.json`` holds."""

    channel: Mapping[str, str] = field(default_factory=dict)
    episodes: Mapping[str, Known] = field(default_factory=dict)
    artwork: str | None = None

    @classmethod
    def load(cls, folder: Path) -> FeedState:
        """The state in ``folder``; an empty one when there is none or it cannot be trusted."""
        from kokoro_common import read_bounded

        path = folder / STATE_NAME
        if not path.exists():
            return cls()
        try:
            data = json.loads(read_bounded(path, MAX_STATE_BYTES, ValueError))
        except (ValueError, UnicodeDecodeError) as exc:
            log.warning("feed state %s is unreadable (%s); rebuilding it", path, exc)
            return cls()
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: object) -> FeedState:
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            return cls()
        channel = data.get("channel")
        channel = {k: v for k, v in channel.items() if isinstance(v, str)} \
            if isinstance(channel, dict) else {}
        episodes = {}
        for name, record in (data.get("episodes") or {}).items():
            known = _known(name, record)
            if known is not None:
                episodes[name] = known
        artwork = data.get("artwork")
        # Only a name we make is trusted: the file it names may be removed.
        trusted = isinstance(artwork, str) and ARTWORK_NAME.fullmatch(artwork)
        return cls(channel, episodes, artwork if trusted else None)

    def to_json(self) -> bytes:
        data = {"format": STATE_FORMAT, "channel": dict(self.channel),
                "episodes": {name: _record(k) for name, k in sorted(self.episodes.items())},
                "artwork": self.artwork}
        return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")

    def save(self, folder: Path) -> None:
        from kokoro_common import write_atomic

        write_atomic(folder / STATE_NAME, self.to_json())


def _record(known: Known) -> dict:
    e = known.episode
    return {"size": known.size, "mtime_ns": known.mtime_ns, "mime": e.mime,
            "duration": e.duration, "title": e.title, "description": e.description,
            "guid": e.guid, "pub_date": e.pub_date.isoformat(), "author": e.author,
            "chapters": [[c.start, c.end, c.title] for c in e.chapters], "cover": e.cover}


def _known(name: object, record: object) -> Known | None:
    """The record as a Known, or None when any part of it is of the wrong shape."""
    if not isinstance(name, str) or not isinstance(record, dict):
        return None
    try:
        size, mtime, cover = record["size"], record["mtime_ns"], record["cover"]
        if type(size) is not int or type(mtime) is not int or \
                not (cover is None or type(cover) is int):
            return None
        chapters = tuple(EpisodeChapter(float(s), float(e), str(t))
                         for s, e, t in record["chapters"])
        episode = Episode(
            name=name, size=size, mime=str(record["mime"]), duration=float(record["duration"]),
            title=str(record["title"]), description=str(record["description"]),
            guid=str(record["guid"]), pub_date=datetime.fromisoformat(record["pub_date"]),
            author=str(record["author"]), chapters=chapters, cover=cover)
    except (KeyError, TypeError, ValueError):  # a record of an earlier version has no cover
        return None
    return Known(size, mtime, episode)

