"""``feed``: a podcast RSS feed over the audio files of an output folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kokoro_cli.commands.options import WorkDirOpt, config_of, option
from kokoro_cli.console import out, run_guarded
from kokoro_cli.errors import EXIT_CODES_HELP

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
        from kokoro_cli.conversion import feed_settings, refresh_feed
        from kokoro_cli.messages import Messages
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
        messages = Messages("none" if quiet else "auto")
        result = refresh_feed(settings, messages.note, messages.warning)
        out.print(str(result.feed_path), markup=False)
    run_guarded(action)


EPILOG = ("Example:\n\n  kokoro-cli feed /srv/audio --base-url https://host/audio/ --title "
          "'Morning report' --image cover.png\n\n" + EXIT_CODES_HELP)
