"""What Apple Podcasts (and the Podcast Index) require of a feed: ``itunes:category`` (settable,
Apple's list), ``itunes:image`` (given, or the newest episode's cover), ``itunes:explicit`` as
``true``/``false``; base URLs percent-encoded or refused; one chapters file per audio file.

The builder is checked against literal XML; the folder tests run the real ffmpeg on audio that
our own writer makes from a second of generated tone (no model), and parse the feed back with
feedparser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import pytest
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_cli.errors import UsageError
from kokoro_cli.output import OutputOptions
from kokoro_cli.output.encode import write_book
from kokoro_cli.output.ffmpeg import run_ffmpeg
from kokoro_cli.output.metadata import BookMeta
from kokoro_cli.output.plan import ChapterAudio
from kokoro_cli.publish.categories import CATEGORIES, parse_category
from kokoro_cli.publish.feed import ITUNES_NS, PODCAST_NS, Channel, build_feed, check_url
from kokoro_cli.publish.state import STATE_NAME

from test_feed import T0, _episode  # the literal episodes of the feed's own tests

runner = CliRunner()
BASE = "https://host.example/audio/"
SR = 24000


# --- the builder, literally -------------------------------------------------------------------


def _channel_xml(channel: Channel) -> str:
    return build_feed(channel, [_episode(1)]).decode("utf-8")


def test_apple_channel_tags_are_written_as_apple_asks():
    xml = _channel_xml(Channel(BASE, "Morning", image_url="https://host.example/art.jpeg",
                               category=("Kids & Family", "Stories for Kids")))
    assert '<itunes:image href="https://host.example/art.jpeg"/>' in xml  # feedgen drops .jpeg
    assert ('<itunes:category text="Kids &amp; Family">\n'
            '      <itunes:category text="Stories for Kids"/>\n'
            '    </itunes:category>') in xml
    assert "<itunes:explicit>false</itunes:explicit>" in xml
    assert "<itunes:explicit>no</itunes:explicit>" not in xml
    channel = ElementTree.fromstring(xml).find("channel")
    assert [e.text for e in channel.findall(f"{{{ITUNES_NS}}}explicit")] == ["false"]
    item = channel.find("item")
    assert item.find(f"{{{ITUNES_NS}}}explicit").text == "false"
    parsed = feedparser.parse(xml.encode())
    assert not parsed.bozo
    assert parsed.feed.image.href == "https://host.example/art.jpeg"
    assert [(t.term, t.scheme) for t in parsed.feed.tags] == [
        ("Kids & Family", "http://www.itunes.com/"), ("Stories for Kids", "http://www.itunes.com/")]


def test_a_channel_has_a_category_by_default_and_explicit_true_when_asked():
    xml = _channel_xml(Channel(BASE, "Morning", explicit=True))
    assert '<itunes:category text="Arts">\n      <itunes:category text="Books"/>' in xml
    assert xml.count("<itunes:explicit>true</itunes:explicit>") == 2  # channel and item
    single = _channel_xml(Channel(BASE, "Morning", category=("Technology", None)))
    assert '<itunes:category text="Technology"/>' in single


def test_podcast_guid_is_the_uuid5_of_the_feed_url():
    # The Podcasting 2.0 example: podcastindex.org/namespace/1.0#guid
    xml = _channel_xml(Channel("https://mp3s.nashownotes.com/", "No Agenda",
                               feed_url="https://mp3s.nashownotes.com/pc20rss.xml"))
    guid = ElementTree.fromstring(xml).find(f"channel/{{{PODCAST_NS}}}guid")
    assert guid.text == "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    assert f"{{{PODCAST_NS}}}guid" not in ElementTree.tostring(
        ElementTree.fromstring(_channel_xml(Channel(BASE, "No feed URL")))).decode()


@pytest.mark.parametrize("text, category", [
    ("Arts/Books", ("Arts", "Books")),
    ("arts / books", ("Arts", "Books")),
    ("News > Daily News", ("News", "Daily News")),
    ("books", ("Arts", "Books")),
    ("Kids & Family", ("Kids & Family", None)),
    ("TECHNOLOGY", ("Technology", None)),
    ("tv & film/film reviews", ("TV & Film", "Film Reviews")),
])
def test_categories_are_read_from_apples_list(text, category):
    assert parse_category(text) == category


@pytest.mark.parametrize("text, message", [
    ("Artz/Bookz", "did you mean 'Arts/Books'"),
    ("Tech", "did you mean 'News/Tech News'"),
    ("Arts/Daily News", "not an Apple Podcasts category"),
    ("Cooking", "such as 'Arts/Books'"),
    ("", "not an Apple Podcasts category"),
])
def test_a_category_not_on_apples_list_is_refused_with_the_nearest(text, message):
    with pytest.raises(UsageError, match=message):
        parse_category(text)


def test_the_category_table_is_apples_2019_list():
    assert len(CATEGORIES) == 19
    assert sum(len(subs) for subs in CATEGORIES.values()) == 91
    assert CATEGORIES["Education"] == ("Courses", "How To", "Language Learning",
                                       "Self-Improvement")


# --- base URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize("url, encoded", [
    ("https://host/my audio/", "https://host/my%20audio/"),
    ('https://host/a/"><script>alert(1)</script>/',
     "https://host/a/%22%3E%3Cscript%3Ealert(1)%3C/script%3E/"),
    ("https://host/café/", "https://host/caf%C3%A9/"),
    ("https://host/already%20encoded/?a=b&c=d#top", "https://host/already%20encoded/?a=b&c=d#top"),
    ("HTTPS://[::1]:8443/a/", "https://[::1]:8443/a/"),
])
def test_base_urls_are_percent_encoded(url, encoded):
    assert check_url(url) == encoded
    assert Channel(url, "T").url("ep 1.mp3") == encoded.rstrip("/") + "/ep%201.mp3"


@pytest.mark.parametrize("url, message", [
    ("https://ho st/", "not a host name"),
    ('https://host"><script>/', "not a host name"),
    ("https://host/a\nb/", "control character"),
    ("https://host/\x00/", "control character"),
])
def test_base_urls_that_cannot_be_encoded_are_refused(tmp_path, url, message):
    done = runner.invoke(app, ["feed", str(tmp_path), "--base-url", url])
    assert done.exit_code == 2, done.output
    assert message in done.output and "Traceback" not in done.output
    assert len(done.output.strip().splitlines()) == 1


# --- over real audio files --------------------------------------------------------------------


def _png(color: str) -> bytes:
    return run_ffmpeg(["-f", "lavfi", "-i", f"color={color}:s=32x32", "-frames:v", "1",
                       "-c:v", "png", "-f", "image2pipe", "-"])


def _tone(path: Path, seconds: float = 1.0) -> ChapterAudio:
    run_ffmpeg(["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={SR}:duration={seconds}",
                "-c:a", "pcm_s16le", str(path)])
    return ChapterAudio(path.stem, path, int(seconds * SR))


def _book(folder: Path, name: str, cover: bytes | None = None, title: str = "Report") -> Path:
    """A two-chapter book written by our own writer (real ffmpeg), levels untouched."""
    work = folder.parent / f"{name}.chapters"
    work.mkdir(exist_ok=True)
    chapters = [_tone(work / "One.wav"), _tone(work / "Two.wav")]
    fmt = Path(name).suffix.lstrip(".")
    meta = BookMeta(title=title, cover=cover)
    return write_book(chapters, folder / name, meta,
                      OutputOptions(format=fmt, loudness="off")).files[0]


def _feed(folder: Path, *extra: str):
    return runner.invoke(app, ["feed", str(folder), "--base-url", BASE, "--work-dir",
                               str(folder.parent / "work"), *extra])


def _channel_of(folder: Path) -> ElementTree.Element:
    return ElementTree.fromstring((folder / "feed.xml").read_bytes()).find("channel")


def test_the_newest_episodes_cover_is_the_feeds_artwork(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    red, blue = _png("red"), _png("blue")
    old = _book(folder, "old.mp3", red)
    os.utime(old, (T0.timestamp(), T0.timestamp()))  # no job wrote it: pubDate from mtime
    _book(folder, "new.m4b", blue)
    done = _feed(folder)
    assert done.exit_code == 0, done.output
    art = [p for p in folder.iterdir() if p.name.startswith("artwork-")]
    assert len(art) == 1 and art[0].suffix == ".png" and art[0].read_bytes() == blue
    image = _channel_of(folder).find(f"{{{ITUNES_NS}}}image")
    assert image.attrib == {"href": BASE + art[0].name}
    parsed = feedparser.parse((folder / "feed.xml").read_bytes())
    assert parsed.feed.image.href == BASE + art[0].name and "no artwork" not in done.output

    (folder / "new.m4b").unlink()  # the newest cover is gone: the next one takes over
    assert _feed(folder).exit_code == 0
    art = [p for p in folder.iterdir() if p.name.startswith("artwork-")]
    assert len(art) == 1 and art[0].read_bytes() == red
    assert _channel_of(folder).find(f"{{{ITUNES_NS}}}image").attrib["href"] == BASE + art[0].name

    assert _feed(folder, "--image", "https://cdn.example/show.jpg").exit_code == 0
    assert not [p for p in folder.iterdir() if p.name.startswith("artwork-")]
    assert _channel_of(folder).find(f"{{{ITUNES_NS}}}image").attrib == {
        "href": "https://cdn.example/show.jpg"}


def test_a_feed_without_any_artwork_says_so(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    _book(folder, "plain.mp3")
    done = _feed(folder)
    assert done.exit_code == 0, done.output
    assert "feed.xml has no artwork, which Apple Podcasts requires" in done.output
    assert _channel_of(folder).find(f"{{{ITUNES_NS}}}image") is None


def test_category_is_set_remembered_and_configurable(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    _book(folder, "a.mp3", _png("red"))
    assert _feed(folder).exit_code == 0
    outer = _channel_of(folder).find(f"{{{ITUNES_NS}}}category")
    assert outer.attrib == {"text": "Arts"} and outer[0].attrib == {"text": "Books"}

    done = _feed(folder, "--category", "news > daily news")
    assert done.exit_code == 0, done.output
    assert json.loads((folder / STATE_NAME).read_text())["channel"]["category"] == \
        "News/Daily News"
    assert _feed(folder).exit_code == 0  # remembered for the folder
    outer = _channel_of(folder).find(f"{{{ITUNES_NS}}}category")
    assert (outer.get("text"), outer[0].get("text")) == ("News", "Daily News")

    (folder / STATE_NAME).unlink()
    env = {"KOKORO_CLI_FEED_CATEGORY": "Technology"}
    done = runner.invoke(app, ["feed", str(folder), "--base-url", BASE], env=env)
    assert done.exit_code == 0, done.output
    outer = _channel_of(folder).find(f"{{{ITUNES_NS}}}category")
    assert outer.attrib == {"text": "Technology"} and len(outer) == 0

    bad = runner.invoke(app, ["feed", str(folder), "--category", "Cooking"])
    assert bad.exit_code == 2 and "not an Apple Podcasts category" in bad.output
    bad = runner.invoke(app, ["feed", str(folder)], env={"KOKORO_CLI_FEED_CATEGORY": "Tech"})
    assert bad.exit_code == 2
    assert "feed_category from the environment (KOKORO_CLI_FEED_CATEGORY)" in bad.output


def test_two_formats_of_one_stem_keep_their_own_chapters_files(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    for when, name in enumerate(("done.flac", "done.opus"), 1):
        path = _book(folder, name, title=f"Done in {name}")
        os.utime(path, (T0.timestamp() + when,) * 2)  # no job wrote it: pubDate from mtime
    legacy = folder / "done.chapters.json"  # what an earlier version wrote for both
    legacy.write_text('{"version": "1.2.0", "chapters": []}\n')
    done = _feed(folder)
    assert done.exit_code == 0, done.output
    for name in ("done.flac", "done.opus"):
        chapters = json.loads((folder / f"{name}.chapters.json").read_text())
        assert [c["title"] for c in chapters["chapters"]] == ["One", "Two"]
    titles = {json.loads((folder / f"{n}.chapters.json").read_text())["title"]
              for n in ("done.flac", "done.opus")}
    assert len(titles) == 2  # each file's own, not one shared by both
    urls = [e.get("url") for e in _channel_of(folder).iter(f"{{{PODCAST_NS}}}chapters")]
    assert sorted(urls) == [BASE + "done.flac.chapters.json", BASE + "done.opus.chapters.json"]
    assert legacy.exists()  # left for readers of the old feed

    assert _feed(folder, "--keep", "1", "--prune").exit_code == 0
    assert not (folder / "done.flac").exists()
    assert not (folder / "done.flac.chapters.json").exists()
    assert legacy.exists()  # done.opus, of the same stem, is still listed
    os.utime(_book(folder, "later.mp3"), (T0.timestamp() + 9,) * 2)
    assert _feed(folder, "--keep", "1", "--prune").exit_code == 0
    assert not (folder / "done.opus").exists() and not legacy.exists()


def test_the_feed_command_in_a_subprocess_writes_an_apple_ready_feed(tmp_path):
    folder = tmp_path / "my out"
    folder.mkdir()
    _book(folder, "ep 1.mp3", _png("green"))
    exe = Path(sys.executable).with_name("kokoro-cli")
    script = [str(exe)] if exe.exists() else [sys.executable, "-m", "kokoro_cli"]
    done = subprocess.run([*script, "feed", str(folder), "--base-url", "https://h.example/my pod/",
                           "--category", "Education/How To", "--work-dir", str(tmp_path / "w")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    channel = _channel_of(folder)
    required = ["title", "description", "language", f"{{{ITUNES_NS}}}image",
                f"{{{ITUNES_NS}}}category", f"{{{ITUNES_NS}}}explicit"]
    assert all(channel.find(tag) is not None for tag in required)
    item = channel.find("item")
    assert item.find("enclosure").get("url") == "https://h.example/my%20pod/ep%201.mp3"
    assert channel.find(f"{{{ITUNES_NS}}}image").get("href").startswith(
        "https://h.example/my%20pod/artwork-")
