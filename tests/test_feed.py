"""The podcast feed: the pure builder on literal episodes, then ``kokoro-cli feed`` over three
real conversions (one subprocess that converts three short documents), parsed back with
feedparser and checked against the files and ffprobe."""

from __future__ import annotations

import html
import json
import os
import resource
import shutil
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree

import feedparser
import pytest
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_cli.publish.episodes import Episode, EpisodeChapter, job_finish_times
from kokoro_cli.publish.feed import (CHAPTERS_TYPE, PODCAST_NS, Channel, build_feed,
                                     chapters_json, itunes_duration)
from tests.conftest import cli_script

runner = CliRunner()
T0 = datetime(2026, 3, 1, 6, 30, tzinfo=timezone.utc)
BASE = "https://host.example/audio/"
DOCS = {
    "alpha.md": "---\ntitle: Alpha report\nauthor: Ops Team\n---\n\n# Opening\n\nThe build "
                "is green.\n\n# Details\n\nTwo tests were slow.\n",
    "beta.txt": "Nothing else happened today.\n",
    "gamma.md": "# Gamma\n\nThe disk is nearly full.\n",
}


def _episode(i: int, **changes) -> Episode:
    fields = dict(name=f"ep {i}.mp3", size=1000 + i, mime="audio/mpeg", duration=61.5,
                  title=f"Episode {i}", description="Fish & <chips>", guid=f"urn:sha256:{i:040x}",
                  pub_date=T0 + timedelta(days=i), author="Ops",
                  chapters=(EpisodeChapter(0, 30, "One"), EpisodeChapter(30, 61.5, "Two")))
    return Episode(**{**fields, **changes})


# --- the pure builders ----------------------------------------------------------------------


@pytest.mark.parametrize("seconds, text", [(0, "0:00:00"), (0.49, "0:00:00"), (0.5, "0:00:01"),
                                           (61.5, "0:01:02"), (3599.6, "1:00:00"),
                                           (36000, "10:00:00")])
def test_itunes_duration(seconds, text):
    assert itunes_duration(seconds) == text


def test_feed_of_literal_episodes_has_every_required_field():
    channel = Channel("https://host.example/audio", "Morning", author="Ops",
                      image_url="https://host.example/cover.png", feed_url=BASE + "feed.xml")
    episodes = [_episode(1), _episode(2, transcripts=(("ep 2.vtt", "text/vtt"),), chapters=())]
    data = build_feed(channel, episodes)
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert (parsed.feed.title, parsed.feed.link) == ("Morning", BASE)
    assert parsed.feed.description and parsed.feed.image.href == "https://host.example/cover.png"
    newest, older = parsed.entries
    assert [newest.title, older.title] == ["Episode 2", "Episode 1"]
    assert older.id == "urn:sha256:" + f"{1:040x}" and older.guidislink is False
    assert html.unescape(older.description) == "Fish & <chips>"
    assert older.enclosures[0] == {"href": BASE + "ep%201.mp3", "length": "1001",
                                   "type": "audio/mpeg"}
    assert older.itunes_duration == "0:01:02"
    assert older.published_parsed[:6] == (T0 + timedelta(days=1)).timetuple()[:6]
    items = ElementTree.fromstring(data).findall("channel/item")
    chapters = items[1].find(f"{{{PODCAST_NS}}}chapters")
    assert chapters.attrib == {"url": BASE + "ep%201.mp3.chapters.json", "type": CHAPTERS_TYPE}
    assert items[0].find(f"{{{PODCAST_NS}}}chapters") is None
    transcript = items[0].find(f"{{{PODCAST_NS}}}transcript")
    assert transcript.attrib == {"url": BASE + "ep%202.vtt", "type": "text/vtt"}


def test_same_episodes_give_the_same_bytes():
    channel = Channel(BASE, "Morning")
    episodes = [_episode(i) for i in range(5)]
    assert build_feed(channel, episodes) == build_feed(channel, list(reversed(episodes)))


def test_chapters_json_is_podcasting_2_0():
    doc = json.loads(chapters_json(_episode(1)))
    assert doc["version"] == "1.2.0"
    assert doc["chapters"] == [{"startTime": 0, "endTime": 30, "title": "One"},
                               {"startTime": 30, "endTime": 61.5, "title": "Two"}]


def test_a_thousand_episodes_build_in_well_under_a_second():
    channel = Channel(BASE, "Morning", author="Ops")
    episodes = [_episode(i) for i in range(1000)]
    start = time.perf_counter()
    data = build_feed(channel, episodes)
    elapsed = time.perf_counter() - start
    assert data.count(b"<item>") == 1000
    assert elapsed < 0.5, f"{elapsed:.2f} s"


@pytest.mark.parametrize("url", ["ftp://host/audio/", "host/audio", "file:///srv/audio",
                                 "https://"])
def test_a_base_url_that_is_not_http_is_a_usage_error(tmp_path, url):
    done = runner.invoke(app, ["feed", str(tmp_path), "--base-url", url])
    assert done.exit_code == 2, done.output
    assert "http" in done.output and "Traceback" not in done.output


def test_a_folder_without_a_remembered_base_url_says_how_to_give_one(tmp_path):
    done = runner.invoke(app, ["feed", str(tmp_path)])
    assert done.exit_code == 2 and "--base-url" in done.output


# --- over real conversions ------------------------------------------------------------------


def _cli(args: list[str], cwd: Path, file_limit: int | None = None):
    def limit() -> None:  # a full disk for this process and its children
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run([*cli_script(), *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**os.environ, "NO_COLOR": "1"},
                          preexec_fn=limit if file_limit else None)


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    """Three short documents converted to MP3 in one run (one model load): ``out/`` holds the
    audio, ``work/`` the jobs."""
    root = tmp_path_factory.mktemp("feed")
    (root / "out").mkdir()
    for name, text in DOCS.items():
        (root / name).write_text(text)
    done = _cli(["convert", *DOCS, "--out-dir", "out", "--format", "mp3", "--work-dir", "work",
                 "-q", "--backend", "onnx"], root)
    assert done.returncode == 0, done.stderr
    assert len(list((root / "out").glob("*.mp3"))) == 3
    return root


@pytest.fixture()
def folder(converted, tmp_path) -> Path:
    """A copy of the converted folder (same mtimes, so job finish times still match)."""
    shutil.copytree(converted / "out", tmp_path / "out")
    return tmp_path / "out"


def _feed(folder: Path, work: Path, *extra: str):
    return runner.invoke(app, ["feed", str(folder), "--base-url", BASE, "--title", "Morning",
                               "--author", "Ops", "--work-dir", str(work), *extra])


def _probe_duration(path: Path) -> float:
    from kokoro_cli.output import probe_format

    return float(probe_format(path)["duration"])


def test_feed_over_three_conversions_matches_the_files(converted, folder):
    (folder / "notes.txt").write_text("not audio")
    (folder / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    shutil.copy(next(folder.glob("*.mp3")), folder / ".half.mp3.part")
    done = _feed(folder, converted / "work")
    assert done.exit_code == 0, done.output
    parsed = feedparser.parse((folder / "feed.xml").read_bytes())
    assert not parsed.bozo and parsed.feed.title == "Morning"
    assert parsed.feed.author_detail.name == "Ops"
    finished = job_finish_times(converted / "work")
    assert len(parsed.entries) == 3
    for entry in parsed.entries:
        enclosure = entry.enclosures[0]
        path = folder / unquote(enclosure.href.removeprefix(BASE))
        assert enclosure.type == "audio/mpeg" and int(enclosure.length) == path.stat().st_size
        h, m, s = (int(x) for x in entry.itunes_duration.split(":"))
        assert abs(h * 3600 + m * 60 + s - _probe_duration(path)) <= 0.5
        assert entry.title and entry.description and entry.id.startswith("urn:sha256:")
        stat = (converted / "out" / path.name).stat()
        when = finished[(str((converted / "out" / path.name).resolve()), stat.st_size,
                         stat.st_mtime_ns)]
        assert entry.published_parsed[:6] == when.timetuple()[:6]
    alpha = next(e for e in parsed.entries if e.title == "Alpha report")
    assert alpha.author == "Ops Team" and "Opening; Details" in alpha.description
    chapters = json.loads((folder / "Alpha report.mp3.chapters.json").read_text())
    assert [c["title"] for c in chapters["chapters"]] == ["Opening", "Details"]


def test_guids_are_stable_and_a_changed_file_is_a_new_episode(converted, folder):
    from mutagen.id3 import ID3, TIT2

    work = converted / "work"
    assert _feed(folder, work).exit_code == 0
    first = (folder / "feed.xml").read_bytes()
    (folder / ".kokoro-feed.json").unlink()  # rebuilt from the files: the same feed
    assert _feed(folder, work).exit_code == 0
    assert (folder / "feed.xml").read_bytes() == first
    before = {e.title: e.id for e in feedparser.parse(first).entries}
    gamma = folder / "Gamma.mp3"
    tag = ID3(gamma)
    tag.add(TIT2(encoding=3, text="Gamma, corrected"))
    tag.save(gamma)
    (folder / "Gamma.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nThe disk\n")
    assert _feed(folder, work).exit_code == 0
    data = (folder / "feed.xml").read_bytes()
    after = {e.title: e.id for e in feedparser.parse(data).entries}
    assert after["Alpha report"] == before["Alpha report"]
    assert after["Gamma, corrected"] not in before.values()
    assert b'podcast:transcript url="' + BASE.encode() + b'Gamma.srt"' in data


def test_keep_lists_the_newest_and_prune_removes_the_rest(converted, folder):
    times = [T0.timestamp() + i * 86400 for i in range(3)]
    for path, when in zip(sorted(folder.glob("*.mp3")), times):
        os.utime(path, (when, when))  # no job matches a touched file: pubDate from its mtime
    assert _feed(folder, converted / "work", "--keep", "2").exit_code == 0
    assert len(feedparser.parse((folder / "feed.xml").read_bytes()).entries) == 2
    assert len(list(folder.glob("*.mp3"))) == 3  # without --prune nothing is deleted
    assert _feed(folder, converted / "work", "--keep", "2", "--prune").exit_code == 0
    assert sorted(p.name for p in folder.glob("*.mp3")) == ["Gamma.mp3", "beta.mp3"]
    assert not (folder / "Alpha report.mp3.chapters.json").exists()


def test_unreadable_audio_is_skipped_with_a_warning(converted, folder):
    (folder / "broken.mp3").write_bytes(b"not an mp3 at all" * 10)
    done = _feed(folder, converted / "work")
    assert done.exit_code == 0
    assert "skipping broken.mp3" in done.output
    assert len(feedparser.parse((folder / "feed.xml").read_bytes()).entries) == 3


def test_an_unwritable_feed_is_exit_5_and_the_old_feed_stays(converted, folder):
    assert _feed(folder, converted / "work").exit_code == 0
    old = (folder / "feed.xml").read_bytes()
    done = _cli(["feed", str(folder), "--title", "A new title " + "x" * 200, "--work-dir",
                 str(converted / "work")], folder, file_limit=len(old) // 2)
    assert done.returncode == 5, done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert (folder / "feed.xml").read_bytes() == old
    assert not list(folder.glob(".feed.xml.*"))
    (folder / "notes.txt").write_text("a file, not a folder")
    blocked = runner.invoke(app, ["feed", str(folder), "-o", str(folder / "notes.txt" / "f.xml")])
    assert blocked.exit_code == 5, blocked.output
