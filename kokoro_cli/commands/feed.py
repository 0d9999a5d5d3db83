"""``feed``: a podcast RSS feed over the audio files of an output folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from kokoro_cli.commands.options import WorkDirOpt, config_of, option
from kokoro_cli.console import out, run_guarded
from kokoro_cli.errors import EXIT_CODES_HELP

if TYPE_CHECKING:
    from kokoro_cli.publish import FeedSettings

__all__ = ["EPILOG", "feed"]

KeepOpt = option("feed_keep")
PruneOpt = option("feed_prune", default=False)


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
    category: Optional[str] = typer.Option(None, "--category", help="Apple Podcasts category, "
                                           "as CATEGORY or CATEGORY/SUBCATEGORY from Apple's "
                                           "list, e.g. 'News/Daily News' (default Arts/Books; "
                                           "config feed_category)."),
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
    episode) and the time its conversion finished. Chapters go to NAME.chapters.json beside each
    file (e.g. book.mp3.chapters.json); subtitles (.srt/.vtt with the same stem) are listed as
    transcripts. The artwork is --image, else the cover of the newest episode. The settings
    given here are remembered for the folder, for 'convert --feed' and 'watch --feed'."""
    def action() -> None:
        from kokoro_cli.conversion import feed_settings, refresh_feed
        from kokoro_cli.messages import Messages
        from kokoro_cli.publish import prepare_image

        given = {"base_url": base_url, "title": title, "author": author, "image": image,
                 "description": description, "language": language, "category": category}
        given = {k: v for k, v in given.items() if v is not None}
        if "base_url" in given:
            from kokoro_cli.publish.feed import check_url

            given["base_url"] = check_url(given["base_url"])
        if "category" in given:
            given["category"] = _category_text(given["category"], "--category")
        if folder.is_dir() and "image" in given:
            given["image"] = prepare_image(folder, given["image"])
        config = config_of(ctx)
        settings = feed_settings(config, folder, keep, prune, work_dir, given=given,
                                 feed_path=output)
        configured = config.get("feed_category")
        if configured.value:
            settings = _with_category(settings, _category_text(
                configured.value, f"feed_category from the {configured.source}"))
        messages = Messages("none" if quiet else "auto")
        result = refresh_feed(settings, messages.note, messages.warning)
        out.print(str(result.feed_path), markup=False)
    run_guarded(action)


def _category_text(text: str, what: str) -> str:
    """An Apple category as remembered: ``Arts/Books`` (a UsageError when it is not one)."""
    from kokoro_cli.publish.categories import parse_category

    category, sub = parse_category(text, what)
    return f"{category}/{sub}" if sub else category


def _with_category(settings: FeedSettings, text: str) -> FeedSettings:
    """``settings`` whose fallback (environment and config) also answers ``category``."""
    import dataclasses

    inner = settings.fallback
    return dataclasses.replace(settings,
                               fallback=lambda key: text if key == "category" else inner(key))


EPILOG = ("Example:\n\n  kokoro-cli feed /srv/audio --base-url https://host/audio/ --title "
          "'Morning report' --image cover.png\n\n" + EXIT_CODES_HELP)
