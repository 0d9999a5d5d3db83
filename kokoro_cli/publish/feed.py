"""Pure builders: the podcast RSS feed over episodes, and each episode's chapters JSON.

The feed is RSS 2.0 made with feedgen (its ``podcast`` extension writes the iTunes tags) plus a
small feedgen extension of ours for the Podcasting 2.0 namespace (``podcast:chapters``,
``podcast:transcript``), which feedgen does not know. Nothing here touches a file: episodes and
the channel come in as frozen records, bytes come out, so the same input gives the same feed.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from kokoro_cli.errors import UsageError
from kokoro_cli.publish.episodes import Episode, chapters_name

__all__ = ["CHAPTERS_TYPE", "CHAPTERS_VERSION", "PODCAST_NS", "Channel", "build_feed",
           "chapters_json", "check_url", "itunes_duration"]

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
CHAPTERS_TYPE = "application/json+chapters"
CHAPTERS_VERSION = "1.2.0"
GENERATOR = "kokoro-cli"


def check_url(url: str, what: str = "--base-url") -> str:
    """``url`` when it is an absolute http(s) URL with a host; else a UsageError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{what} {url!r}: give an http:// or https:// URL with a host, "
                         "such as https://example.com/audio/")
    return url


@dataclass(frozen=True)
class Channel:
    """The podcast as a whole. ``base_url`` is where the output folder is served; every file
    URL is it plus the file's name."""

    base_url: str
    title: str
    author: str = ""
    description: str = ""
    image_url: str | None = None
    language: str = "en"
    feed_url: str | None = None  # where the feed itself is served (its atom:link rel=self)

    def __post_init__(self) -> None:
        check_url(self.base_url)
        if not self.base_url.endswith("/"):
            object.__setattr__(self, "base_url", self.base_url + "/")
        if self.image_url is not None:
            check_url(self.image_url, "--image")

    def url(self, name: str) -> str:
        """The public URL of a file in the output folder."""
        return self.base_url + quote(name)


def itunes_duration(seconds: float) -> str:
    """``H:MM:SS`` rounded to the nearest second (the form Apple's spec shows)."""
    total = int(seconds + 0.5)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def chapters_json(episode: Episode) -> bytes:
    """The episode's chapter marks in the Podcasting 2.0 JSON chapters format (1.2.0)."""
    chapters = [{"startTime": round(c.start, 3), "endTime": round(c.end, 3), "title": c.title}
                for c in episode.chapters]
    document = {"version": CHAPTERS_VERSION, "title": episode.title, "chapters": chapters}
    if episode.author:
        document["author"] = episode.author
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def build_feed(channel: Channel, episodes: Sequence[Episode]) -> bytes:
    """The RSS 2.0 feed (iTunes and Podcasting 2.0 namespaces) listing ``episodes`` newest
    first. ``lastBuildDate`` is the newest episode's date, so an unchanged folder gives the
    same bytes."""
    fg = FeedGenerator()
    fg.load_extension("podcast")
    fg.register_extension("podcast20", _Podcast20, _Podcast20Entry)
    _channel(fg, channel)
    ordered = sorted(episodes, key=lambda e: (e.pub_date, e.name), reverse=True)
    fg.lastBuildDate(ordered[0].pub_date if ordered else datetime(1970, 1, 1, tzinfo=timezone.utc))
    for episode in ordered:
        _item(fg.add_entry(order="append"), channel, episode)
    return fg.rss_str(pretty=True)


def _channel(fg, channel: Channel) -> None:
    fg.title(channel.title)
    if channel.feed_url:
        fg.link(href=channel.feed_url, rel="self", type="application/rss+xml")
    fg.link(href=channel.base_url)  # feedgen's RSS <link> is the last link given
    fg.description(channel.description or f"{channel.title}, narrated with Kokoro-82M")
    fg.language(channel.language)
    fg.generator(GENERATOR)
    fg.podcast.itunes_explicit("no")
    if channel.author:
        fg.author(name=channel.author)
        fg.podcast.itunes_author(channel.author)
    if channel.image_url:
        fg.image(channel.image_url, title=channel.title, link=channel.base_url)
        fg.podcast.itunes_image(channel.image_url)


def _item(entry, channel: Channel, episode: Episode) -> None:
    entry.title(episode.title)
    # A description is read as HTML; ours is plain text, so its markup characters are escaped.
    entry.description(html.escape(episode.description, quote=False))
    entry.guid(episode.guid, permalink=False)
    entry.pubDate(episode.pub_date)
    entry.enclosure(channel.url(episode.name), str(episode.size), episode.mime)
    entry.podcast.itunes_duration(itunes_duration(episode.duration))
    if episode.author:
        entry.podcast.itunes_author(episode.author)
    if episode.chapters:
        entry.podcast20.chapters = channel.url(chapters_name(episode.name))
    entry.podcast20.transcripts = [(channel.url(name), mime)
                                   for name, mime in episode.transcripts]


class _Podcast20(BaseExtension):
    """feedgen extension: declares the Podcasting 2.0 namespace on the feed."""

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NS}


class _Podcast20Entry(BaseEntryExtension):
    """feedgen entry extension: ``podcast:chapters`` and ``podcast:transcript`` on an item."""

    def __init__(self) -> None:
        self.chapters: str | None = None
        self.transcripts: list[tuple[str, str]] = []

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NS}

    def extend_rss(self, item):
        if self.chapters:
            xml_elem(f"{{{PODCAST_NS}}}chapters", item, url=self.chapters, type=CHAPTERS_TYPE)
        for url, mime in self.transcripts:
            xml_elem(f"{{{PODCAST_NS}}}transcript", item, url=url, type=mime)
        return item
