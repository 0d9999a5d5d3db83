"""Pure builders: the podcast RSS feed over episodes, and each episode's chapters JSON.

The feed is RSS 2.0 made with feedgen (its ``podcast`` extension writes the iTunes author and
durations) plus small feedgen extensions of ours: the Podcasting 2.0 namespace
(``podcast:chapters``, ``podcast:transcript``, ``podcast:guid``), which feedgen does not know,
and the iTunes tags Apple Podcasts requires that feedgen 1.0 writes wrong or drops:
``itunes:explicit`` as ``true``/``false`` (feedgen knows only the retired yes/no/clean),
``itunes:image`` for any artwork URL (feedgen silently drops one that does not end in .jpg or
.png) and ``itunes:category``. Nothing here touches a file: episodes and the channel come in as
frozen records, bytes come out, so the same input gives the same feed.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from kokoro_cli.errors import UsageError
from kokoro_cli.publish.categories import DEFAULT_CATEGORY, Category
from kokoro_cli.publish.episodes import Episode, chapters_name

__all__ = ["CHAPTERS_TYPE", "CHAPTERS_VERSION", "ITUNES_NS", "PODCAST_NS", "Channel",
           "build_feed", "chapters_json", "check_url", "itunes_duration", "podcast_guid"]

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
# podcast:guid is a UUIDv5 of the feed URL (without scheme and trailing slashes) in this
# namespace (Podcasting 2.0).
PODCAST_GUID_NS = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
CHAPTERS_TYPE = "application/json+chapters"
CHAPTERS_VERSION = "1.2.0"
GENERATOR = "kokoro-cli"
# A host name: letters, digits, dots, dashes (and an IPv6 literal, user info and port).
_HOST = re.compile(r"^[A-Za-z0-9._~%!$&'()*+,;=:@\[\]-]+$")
# What stays as written in a URL's path, query and fragment: RFC 3986's reserved and
# unreserved characters and existing %XX escapes; anything else (spaces, quotes, <, >, non-ASCII)
# is percent-encoded.
_URL_SAFE = "/?#[]@!$&'()*+,;=:%~"


def check_url(url: str, what: str = "--base-url") -> str:
    """``url`` as an absolute http(s) URL with a host, with what may not stand in a URL
    (spaces, quotes, ``<``, ``>``, non-ASCII) percent-encoded in its path, query and fragment;
    a UsageError for another scheme, no host, a host that is not a host name, or control
    characters anywhere."""
    fix = ("give an http:// or https:// URL with a host, such as "
           "https://example.com/audio/")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise UsageError(f"{what} {url!r} holds a control character: {fix}")
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{what} {url!r}: {fix}")
    if not _HOST.match(parts.netloc):
        raise UsageError(f"{what} {url!r}: {parts.netloc!r} is not a host name; {fix}")
    encoded = quote(url.strip()[len(parts.scheme) + 3 + len(parts.netloc):], safe=_URL_SAFE)
    return f"{parts.scheme}://{parts.netloc}{encoded}"


def podcast_guid(feed_url: str) -> str:
    """The Podcasting 2.0 ``podcast:guid`` of a feed served at ``feed_url``."""
    bare = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", feed_url).rstrip("/")
    return str(uuid.uuid5(PODCAST_GUID_NS, bare))


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
    category: Category = DEFAULT_CATEGORY  # Apple's (category, subcategory or None)
    explicit: bool = False

    def __post_init__(self) -> None:
        base = check_url(self.base_url)
        object.__setattr__(self, "base_url", base if base.endswith("/") else base + "/")
        if self.image_url is not None:
            object.__setattr__(self, "image_url", check_url(self.image_url, "--image"))

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
    fg.register_extension("apple", _Apple, _AppleEntry)
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
    fg.apple.explicit = channel.explicit
    fg.apple.category = channel.category
    if channel.feed_url:
        fg.podcast20.guid = podcast_guid(channel.feed_url)
    if channel.author:
        fg.author(name=channel.author)
        fg.podcast.itunes_author(channel.author)
    if channel.image_url:
        fg.image(channel.image_url, title=channel.title, link=channel.base_url)
        fg.apple.image = channel.image_url


def _item(entry, channel: Channel, episode: Episode) -> None:
    entry.title(episode.title)
    # A description is read as HTML; ours is plain text, so its markup characters are escaped.
    entry.description(html.escape(episode.description, quote=False))
    entry.guid(episode.guid, permalink=False)
    entry.pubDate(episode.pub_date)
    entry.enclosure(channel.url(episode.name), str(episode.size), episode.mime)
    entry.podcast.itunes_duration(itunes_duration(episode.duration))
    entry.apple.explicit = channel.explicit
    if episode.author:
        entry.podcast.itunes_author(episode.author)
    if episode.chapters:
        entry.podcast20.chapters = channel.url(chapters_name(episode.name))
    entry.podcast20.transcripts = [(channel.url(name), mime)
                                   for name, mime in episode.transcripts]


class _Podcast20(BaseExtension):
    """feedgen extension: the Podcasting 2.0 namespace on the feed, and its ``podcast:guid``."""

    def __init__(self) -> None:
        self.guid: str | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NS}

    def extend_rss(self, rss_feed):
        if self.guid:
            xml_elem(f"{{{PODCAST_NS}}}guid", rss_feed[0]).text = self.guid
        return rss_feed


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


class _Apple(BaseExtension):
    """feedgen extension: the channel's ``itunes:explicit`` (true/false), ``itunes:image`` and
    ``itunes:category`` as Apple Podcasts requires them."""

    def __init__(self) -> None:
        self.explicit = False
        self.image: str | None = None
        self.category: Category | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"itunes": ITUNES_NS}

    def extend_rss(self, rss_feed):
        channel = rss_feed[0]
        if self.image:
            xml_elem(f"{{{ITUNES_NS}}}image", channel, href=self.image)
        if self.category:
            category, sub = self.category
            outer = xml_elem(f"{{{ITUNES_NS}}}category", channel, text=category)
            if sub:
                xml_elem(f"{{{ITUNES_NS}}}category", outer, text=sub)
        xml_elem(f"{{{ITUNES_NS}}}explicit", channel).text = _true_false(self.explicit)
        return rss_feed


class _AppleEntry(BaseEntryExtension):
    """feedgen entry extension: an item's ``itunes:explicit`` (true/false)."""

    def __init__(self) -> None:
        self.explicit = False

    def extend_ns(self) -> dict[str, str]:
        return {"itunes": ITUNES_NS}

    def extend_rss(self, item):
        xml_elem(f"{{{ITUNES_NS}}}explicit", item).text = _true_false(self.explicit)
        return item


def _true_false(value: bool) -> str:
    return "true" if value else "false"
