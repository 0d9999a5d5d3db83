"""``convert``: documents into audiobooks, each a resumable job."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import typer

from kokoro_cli.commands.options import (BackendOpt, ChaptersOpt, CodeOpt, DictOpt,
                                         FrontMatterOpt, InputFormatOpt, ModelOpt, ProgressOpt,
                                         QuietOpt, SplitLevelOpt, VoicesOpt, WorkDirOpt,
                                         config_of, resolver_for)
from kokoro_cli.commands.feed import KeepOpt, PruneOpt, feed_settings, refresh_feed
from kokoro_cli.commands.language import (LangOpt, VoiceForOpt, choose_reading, show_warnings,
                                          voice_for_warnings, voices_for)
from kokoro_cli.commands.follow import (ReadAlongOpt, SubtitlesOpt, SubtitleWordsOpt,
                                        check_follow)
from kokoro_cli.console import err, notifier, out, run_guarded
from kokoro_cli.errors import EXIT_CODES_HELP, UsageError, exit_code_for, message_for
from kokoro_cli.inputs import ParseSettings, expand_inputs, read_document

if TYPE_CHECKING:
    from engine import AssetResolver
    from kokoro_cli.config import Config
    from kokoro_cli.publish import FeedSettings
    from kokoro_cli.jobs.render import RenderOptions
    from kokoro_cli.output import OutputReport, QCReport

__all__ = ["convert"]

MAX_COVER_BYTES = 20 << 20  # a cover is read into memory and into every output file
QC_MODES = ("report", "strict", "off")


def convert(
    ctx: typer.Context,
    inputs: list[Path] = typer.Argument(..., help="Markdown (.md), EPUB (.epub), plain text "
                                        "(.txt) files or folders of chapter files; '-' is stdin."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file (one input "
                                          "only; '-' streams to stdout; a folder with "
                                          "--split-chapters). Default: the document's title in "
                                          "--out-dir."),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", file_okay=False, help="Folder for "
                                           "the outputs (default: the current folder)."),
    voice: Optional[str] = typer.Option(None, "--voice", "-v", help="Voice name, or a blend such "
                                        "as af_bella:0.6,af_sky:0.4 (default: the language's "
                                        "default voice, af_heart for English)."),
    speed: Optional[float] = typer.Option(None, "--speed", help="Speaking speed, 0.5 to 2.0."),
    lang: Optional[str] = LangOpt,
    voice_for: Optional[list[str]] = VoiceForOpt,
    chapters: Optional[str] = ChaptersOpt,
    input_format: Optional[str] = InputFormatOpt,
    split_level: Optional[int] = SplitLevelOpt,
    code: str = CodeOpt,
    keep_front_matter: bool = FrontMatterOpt,
    dictionaries: Optional[list[Path]] = DictOpt,
    force: bool = typer.Option(False, "--force", help="Synthesize everything again, ignoring "
                               "finished chapters and cached pieces."),
    work_dir: Optional[Path] = WorkDirOpt,
    progress: Optional[str] = ProgressOpt,
    quiet: bool = QuietOpt,
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="m4b, mp3, wav, flac or opus "
                                      "(default: -o's extension, else m4b; wav on stdout)."),
    loudness: Optional[str] = typer.Option(None, "--loudness", help="audiobook (-18 LUFS, -3 "
                                           "dBTP; the default), acx, podcast, ebu or off."),
    qc: str = typer.Option("report", "--qc", help="Loudness check: report (print it), strict "
                           "(exit 5 when out of spec, keeping any earlier output) or off."),
    qc_json: Optional[Path] = typer.Option(None, "--qc-json", dir_okay=False, help="Write the "
                                           "loudness QC report as JSON to this file."),
    split_chapters: bool = typer.Option(False, "--split-chapters", help="One file per chapter "
                                        "in a folder (numbered, titled, with track numbers)."),
    max_part_hours: Optional[float] = typer.Option(None, "--max-part-hours", help="Cut very "
                                                   "long books into parts of at most this long."),
    bitrate: Optional[str] = typer.Option(None, "--bitrate", help="e.g. 64k (M4B), 128k (MP3)."),
    room_tone_ms: int = typer.Option(0, "--room-tone-ms", help="Silence at the start and end "
                                     "of each file."),
    no_nero: bool = typer.Option(False, "--no-nero-chapters", help="M4B: QuickTime chapters "
                                 "only."),
    subtitles: Optional[str] = SubtitlesOpt,
    subtitle_words: bool = SubtitleWordsOpt,
    read_along: Optional[Path] = ReadAlongOpt,
    cover: Optional[Path] = typer.Option(None, "--cover", dir_okay=False, help="Cover image "
                                         "(JPEG/PNG) instead of the document's."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Synthesis processes "
                                          "(default: from the cores and free memory; 1 runs in "
                                          "this process on every core)."),
    backend: Optional[str] = BackendOpt,
    executor: str = typer.Option("local", "--executor", help="local (this machine) or ray (actors "
                                 "on a Ray cluster; pip install 'kokoro-audiobook[ray]')."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="With --executor ray: "
                                              "auto, HOST:PORT or ray://HOST:10001 to join a "
                                              "cluster (default: start Ray on this machine)."),
    model: Optional[Path] = ModelOpt,
    voices: Optional[Path] = VoicesOpt,
    feed: bool = typer.Option(False, "--feed", help="Then update the podcast feed of the output "
                              "folder (settings from 'kokoro-cli feed', or config feed_*)."),
    keep: Optional[int] = KeepOpt,
    prune: bool = PruneOpt,
) -> None:
    """Convert documents into audiobooks (M4B by default; MP3, WAV, FLAC, Opus) with one chapter per document chapter.

    Each conversion is a resumable job: stop it any time (Ctrl-C, kill, power loss) and run the
    same command again to continue; only pieces whose text changed are synthesized again, and a
    run with nothing changed is a quick no-op. With several inputs, a failing one is reported and
    the others still run; the exit code is that of the first failure."""
    def action() -> None:
        from engine import default_workers
        from kokoro_cli.jobs.executor import backend_for, open_executor
        from kokoro_cli.jobs.render import RenderOptions
        from kokoro_cli.output import options_from_flags

        config = config_of(ctx)
        files = expand_inputs(inputs)
        if output is not None and len(files) > 1:
            raise UsageError("-o names one output; with several inputs use --out-dir")
        if read_along is not None and len(files) > 1:
            raise UsageError("--read-along names one book; convert one input at a time")
        mode = "none" if quiet else config.value("progress", progress)
        if qc not in QC_MODES:
            raise UsageError(f"--qc {qc!r}: use {', '.join(QC_MODES)}")
        output_options = options_from_flags(output, config.value("format", fmt),
                                            config.value("loudness", loudness), split_chapters,
                                            max_part_hours, bitrate, room_tone_ms, not no_nero)
        voice_map = voices_for(list(config.value("voice_for", tuple(voice_for or ()))))
        for warning in voice_for_warnings(voice_map):
            notifier(mode)(f"warning: {warning}")
        options = RenderOptions(voice=config.value("voice", voice),
                                speed=config.value("speed", speed), force=force,
                                voices=tuple(voice_map.items()),
                                output=output_options, cover=_read_cover(cover),
                                workers=workers or default_workers(),
                                subtitles=check_follow(subtitles, subtitle_words, output,
                                                       read_along),
                                subtitle_words=subtitle_words, read_along=read_along)
        job = ConvertJob(ParseSettings(input_format, split_level, code, keep_front_matter,
                                       chapters),
                         options, config.value("dict", tuple(dictionaries or ())),
                         config.value("work_dir", work_dir), mode,
                         resolver_for(model, voices, notifier(mode)), qc, qc_json,
                         backend_for(executor, ray_address, config.value("backend", backend)))
        job = dataclasses.replace(job, lang=lang,
                                  voice_given=config.get("voice", voice).source != "default")
        folder = config.value("out_dir", out_dir)
        publish = _feed_settings(config, feed, keep, prune, output, folder, split_chapters,
                                 job.work_dir)
        with open_executor(executor, ray_address, job.resolver, job.backend) as cluster:
            if cluster is not None:  # one pool of actors for every input
                job = dataclasses.replace(job, options=dataclasses.replace(
                    options, executor=cluster.pool, workers=workers or cluster.capacity()))
            failures = [rc for f in files
                        if (rc := job.run_one(f, output, folder, len(files) > 1))]
        if publish is not None and len(failures) < len(files):
            refresh_feed(publish, notifier(mode))
        if failures:
            raise typer.Exit(failures[0])
    run_guarded(action)


def _feed_settings(config: Config, feed: bool, keep: Optional[int], prune: bool,
                   output: Optional[Path], folder: Optional[Path], split: bool,
                   work_dir: Optional[Path]) -> Optional[FeedSettings]:
    """How --feed updates the output folder's feed (None without it), checked before any
    synthesis so a missing base URL does not wait for the end of a long conversion."""
    from kokoro_cli.publish import check_settings

    if not feed:
        if keep is not None or prune:
            raise UsageError("--keep and --prune go with --feed")
        return None
    if output is not None and str(output) == "-" or split:
        raise UsageError("--feed lists audio files in a folder: not with -o - or "
                         "--split-chapters")
    where = output.parent if output is not None else (folder or Path("."))
    settings = feed_settings(config, where, keep, prune, work_dir)
    check_settings(settings)
    return settings


EPILOG = ("Examples:\n\n  kokoro-cli convert samples/report.md -o report.m4b --voice af_heart\n\n"
          "  kokoro-cli convert books/*.epub --out-dir audiobooks/\n\n" + EXIT_CODES_HELP)


@dataclass(frozen=True)
class ConvertJob:
    """The settings shared by every input of one ``convert`` command."""

    parse: ParseSettings
    options: RenderOptions
    dictionaries: tuple[Path, ...]
    work_dir: Optional[Path]
    progress: str
    resolver: AssetResolver
    qc: str = "report"
    qc_json: Optional[Path] = None
    backend: str = "auto"
    lang: Optional[str] = None  # --lang: the text's language, over the document's
    # The voice was set (flag, environment, config) rather than left at the built-in default;
    # when not, the document's language picks the voice. True unless told (watch keeps its voice).
    voice_given: bool = True

    def run_one(self, input: Path, output: Optional[Path], folder: Optional[Path],
                batch: bool) -> int:
        """Convert one input; returns 0 or, in a batch, the exit code of its error."""
        try:
            self._convert(input, output, folder)
            return 0
        except Exception as exc:
            if not batch:
                raise
            code = exit_code_for(exc)
            err.print(f"error: {input}: {message_for(exc)}", markup=False)
            return int(code)

    def _convert(self, input: Path, output: Optional[Path], folder: Optional[Path]) -> None:
        from kokoro_cli.jobs.run import ConvertRequest, run_convert
        from kokoro_cli.output import resolve_target
        from kokoro_cli.progress import MODES, progress_for
        from preprocess import lexicon_for

        if self.progress not in MODES:
            raise UsageError(f"--progress {self.progress!r}: use one of {', '.join(MODES)}")
        say = notifier(self.progress)
        with show_warnings(say):  # the parser's (an inline language Kokoro does not speak)
            full, selected = read_document(input, self.parse)
        reading = choose_reading(full, self.lang, self.options.voice, self.voice_given)
        for warning in reading.warnings:
            say(f"warning: {warning}")
        full, selected = reading.document, reading.with_language(selected)
        target = resolve_target(input, output, folder, full.title, self.options.output)
        options = dataclasses.replace(self.options, voice=reading.voice,
                                      lexicon=lexicon_for(full, self.dictionaries))
        request = ConvertRequest(full, selected, sys.stdout.buffer if target is None else target,
                                 options, self.work_dir, self.backend)
        with show_warnings(say):
            result = run_convert(request, self.resolver,
                                 lambda: progress_for(err, self.progress), check=self._check)
        if result is None:
            say(f"{target} is up to date (same input and settings); nothing to do")
            if target is not None:
                out.print(str(target), markup=False)
            return
        c = result.counts
        say(f"{result.chunks} pieces: {c.synthesized} synthesized, {c.reused} reused; "
            f"{result.audio_seconds:.1f} s of audio"
            + (f"; real-time factor {result.real_time_factor:.2f}" if c.synthesized else ""))
        if result.report is not None and result.report.qc is not None and self.qc != "off":
            say(qc_summary(result.report.qc))
        if target is not None:
            for path in result.report.files:
                out.print(str(path), markup=False)

    def _check(self, report: OutputReport) -> None:
        """Run on the staged output before it replaces anything: save the QC report, and with
        --qc strict refuse an output out of spec (the earlier output stays in place)."""
        from kokoro_cli.output import check_qc
        from kokoro_common import write_atomic

        if report.qc is None or self.qc == "off":
            return
        if self.qc_json is not None:
            write_atomic(self.qc_json, report.qc.to_json().encode("utf-8"))
        if self.qc == "strict":
            check_qc(report.qc)


def _read_cover(path: Optional[Path]) -> Optional[bytes]:
    from kokoro_common import read_bounded
    from preprocess import InputError

    if path is None:
        return None
    data = read_bounded(path, MAX_COVER_BYTES,
                        lambda why: InputError(f"cannot read the cover {path}: {why}"))
    if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG")):
        raise InputError(f"cover {path} is not a JPEG or PNG image")
    return data


def qc_summary(qc: QCReport) -> str:
    """The QC report as a small table: the book, then each chapter."""
    def row(item) -> str:
        lv = item.levels
        verdict = "ok" if item.passed else "OUT OF SPEC: " + "; ".join(item.problems)
        return (f"  {item.title[:40]:<40} {lv.integrated_lufs:6.1f} LUFS {lv.true_peak_dbtp:6.1f} "
                f"dBTP {lv.rms_dbfs:6.1f} dB RMS {lv.duration_s:8.1f} s  {verdict}")

    lines = [f"loudness QC ({qc.preset}, gain {qc.gain_db:+.1f} dB): "
             + ("passed" if qc.passed else "FAILED"), row(qc.book)]
    return "\n".join(lines + [row(c) for c in qc.chapters])
