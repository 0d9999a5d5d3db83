"""``feed``: a podcast RSS feed over the audio files of an output folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import typer

from kokoro_cli.commands.options import WorkDirOpt, config_of
from kokoro_cli.console import notifier, out, run_guarded
from kokoro_cli.errors import EXIT_CODES_HELP

if TYPE_CHECKING:
    from kokoro_cli.config import Config
    from kokoro_cli.publish import FeedResult, FeedSettings

__all__ = ["EPILOG", "KeepOpt", "PruneOpt", "feed", "feed_settings", "refresh_feed"]

KeepOpt = typer.Option(None, "--keep", min=1, help="List only the newest N episodes in the feed.")
PruneOpt = typer.Option(False, "--prune", help="With --keep: delete the audio (and its chapters "
                        "and subtitle files) of the episodes past the newest N.")


def feed(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., file_okay=False, help="The output folder whose audio "
                                  "files are the episodes."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="The http(s) URL the folder "
                                           "is served at, e.g. https://host/audio/ (remembered "
                                           "for this folder; config feed_base_url)."),
    title: Optional[str] = typer.Option(None, "--title", help="Podcast title (default: the "
                                        "folder's name)."),
    author: Optional[str] = typer.Option(None, "--author", help="Podcast author."),
    image: Optional[str] = typer.Option(None, "--image", help="Artwork: a JPEG/PNG file (copied "
                                        "into the folder) or an http(s) URL."),
    description: Optional[str] = typer.Option(None, "--description", help="Podcast "
                                              "description."),
    language: Optional[str] = typer.Option(None, "--language", help="Language code (default "
                                           "en)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", dir_okay=False, help="The feed "
                                          "file (default: FOLDER/feed.xml)."),
    keep: Optional[int] = KeepOpt,
    prune: bool = PruneOpt,
    work_dir: Optional[Path] = WorkDirOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors (and the feed's "
                               "path on stdout)."),
) -> None:
    """Write a podcast RSS feed (iTunes and Podcasting 2.0 tags) over the audio in FOLDER.

    One item per audio file: the title and description from its tags, the enclosure with its
    exact size and type, its duration, a guid from its content (re-running never duplicates an
    episode) and the time its conversion finished. Chapters go to STEM.chapters.json beside each
    file; subtitles (.srt/.vtt with the same stem) are listed as transcripts. The settings given
    here are remembered for the folder, for 'convert --feed' and 'watch --feed'."""
    def action() -> None:
        from kokoro_cli.publish import prepare_image

        given = {"base_url": base_url, "title": title, "author": author, "image": image,
                 "description": description, "language": language}
        given = {k: v for k, v in given.items() if v is not None}
        if "base_url" in given:
            from kokoro_cli.publish.feed import check_url

            check_url(given["base_url"])
        if folder.is_dir() and "image" in given:
            given["image"] = prepare_image(folder, given["image"])
        settings = feed_settings(config_of(ctx), folder, keep, prune, work_dir, given=given,
                                 feed_path=output)
        result = refresh_feed(settings, notifier("none" if quiet else "auto"))
        out.print(str(result.feed_path), markup=False)
    run_guarded(action)


EPILOG = ("Example:\n\n  kokoro-cli feed /srv/audio --base-url https://host/audio/ --title "
          "'Morning report' --image cover.png\n\n" + EXIT_CODES_HELP)


def feed_settings(config: Config, folder: Path, keep: Optional[int] = None, prune: bool = False,
                  work_dir: Optional[Path] = None, *, given: Optional[dict[str, str]] = None,
                  feed_path: Optional[Path] = None) -> FeedSettings:
    """How to update FOLDER's feed: ``given`` (the ``feed`` command's own settings, then
    remembered) or None (``convert --feed``, ``watch --feed``: what was remembered), and the
    environment and config file's ``feed_*`` settings behind them."""
    from kokoro_cli.publish import FeedSettings, prepare_image

    def fallback(key: str) -> Optional[str]:
        value = config.value(f"feed_{key}") if f"feed_{key}" in _CONFIGURED else None
        return prepare_image(folder, value) if key == "image" and value else value

    return FeedSettings(folder, feed_path, given or {}, fallback, keep, prune,
                        config.value("work_dir", work_dir), remember=given is not None)


def refresh_feed(settings: FeedSettings, say: Callable[[str], None]) -> FeedResult:
    """Bring the feed up to date and say what happened in one line."""
    from kokoro_cli.publish import update_feed

    result = update_feed(settings, warn=say)
    say(f"feed {result.feed_path}: {len(result.listed)} episode(s)"
        + (f", {len(result.pruned)} old file(s) removed" if result.pruned else "")
        + ("" if result.written else "; unchanged"))
    return result


_CONFIGURED = frozenset({"feed_base_url", "feed_title", "feed_author", "feed_image"})
