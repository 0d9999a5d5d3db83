"""Writing the finished chapter WAVs out as an audiobook: M4B, MP3, WAV, FLAC, Opus or M4A.

The chapter audio is never loaded here: ffmpeg's concat demuxer reads the WAVs from disk and
every stage (room tone, gain, limiter, resampling, the loudness meters) is one streaming filter
graph, so books of any length work in constant memory. Chapters and tags go in through an
FFMETADATA file (MP3's ID3 chapters are written with mutagen, which also writes the CTOC that
players need). Files are written to temp names beside their destination and renamed into place
only when every file of the output succeeded (and passed the caller's check).

This is the one module of the package that runs ffmpeg, always through
:mod:`kokoro_cli.output.ffmpeg`; what it runs is planned in :mod:`kokoro_cli.output.plan`.
:func:`write_book` is the general entry point, :func:`stream_book` writes a single-file format
to a binary stream (for ``-o -``), and :func:`write_m4b` is the plain M4B of earlier versions.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kokoro_cli.output.ffmpeg import FfmpegError, probe, run_ffmpeg_log
from kokoro_cli.output.formats import COVER_CODECS, OutputOptions
from kokoro_cli.output.loudness import (
    ENCODER_HEADROOM_DB,
    MEASURE_MARGIN_DB,
    GainPlan,
    Levels,
    LoudnessError,
    LoudnessPreset,
    Measurement,
    QCReport,
    Trial,
    check_qc,
    combine_levels,
    overshoot,
    plan_gain,
    qc_report,
    read_measurement,
    settle,
    tap_graph,
)
from kokoro_cli.output.metadata import (
    BookMeta,
    concat_list,
    ffmetadata,
    id3_chapters_in_order,
    id3_length,
    id3_tag,
    wav_header,
)
from kokoro_cli.output.plan import (
    ChapterAudio,
    Encoding,
    Part,
    concat_input,
    filter_chain,
    output_args,
    part_marks,
    part_tags,
    plan_parts,
    rescale,
)
from kokoro_cli.output.staging import claimed, remove_stale_temps, staged
from kokoro_common.scratch import scratch_dir

__all__ = [
    "OutputReport",
    "measure_file",
    "measure_input",
    "meter_log",
    "stream_book",
    "strict_qc",
    "write_book",
    "write_m4b",
]

# ebur128 finds true peaks on a resampled copy whose filter need not pass exactly through the
# samples: the sample peak is taken as a floor of the true peak only this far below it.
SAMPLE_PEAK_SLACK_DB = 0.1
_CANNOT_OPEN = re.compile(r"Impossible to open '(.*)'")


@dataclass(frozen=True)
class OutputReport:
    """What :func:`write_book` / :func:`stream_book` wrote: the files (none for a stream), the
    total duration with room tone, the one gain applied, and the loudness QC (None when the
    preset is ``off``)."""

    files: tuple[Path, ...]
    format: str
    duration_s: float
    gain_db: float
    qc: QCReport | None


def strict_qc(report: OutputReport) -> None:
    """A ``check`` for :func:`write_book` (``--qc strict``): raise QCError when the loudness QC
    failed, so the output is not put in place."""
    if report.qc is not None:
        check_qc(report.qc)


def write_book(
    chapters: Sequence[ChapterAudio],
    out: Path,
    meta: BookMeta,
    options: OutputOptions = OutputOptions(),
    *,
    sample_rate: int = 24000,
    check: Callable[[OutputReport], None] | None = None,
) -> OutputReport:
    """Write the chapter WAVs (at ``sample_rate``) as an audiobook at ``out``.

    ``out`` is the file, or with ``options.split_chapters`` the folder to fill (created). With
    a loudness preset, the whole book is measured first and one gain applied to all of it; the
    QC report is measured in the same pass that encodes. ``check`` sees the report (naming the
    final paths) while the files are still temp files: when it raises, nothing is replaced and
    no temp file stays. Every file is replaced only when all of them were written; temp files
    that a killed earlier write to the same paths left behind are removed first. Raises
    FfmpegError, and OutputBusyError when another live run is writing ``out``.
    """
    _check_inputs(chapters)
    out = Path(out)
    parts = plan_parts(chapters, out, meta, options, sample_rate)
    encoding = Encoding(options, _plan_gain(chapters, options, sample_rate), sample_rate)
    paths = [p.path for p in parts if p.path is not None]
    for folder in {p.parent for p in paths}:
        folder.mkdir(parents=True, exist_ok=True)
    with claimed(out, folder=options.split_chapters):
        remove_stale_temps(paths)
        with staged(paths) as temps:
            measured, peaks = _encode_all(parts, meta, encoding, temps)
            measured, encoding = _hold_ceiling(chapters, parts, meta, encoding, temps, measured,
                                               peaks)
            report = _report(parts, encoding, measured, tuple(paths), meta)
            if check is not None:
                check(report)
    return report


def stream_book(
    chapters: Sequence[ChapterAudio],
    meta: BookMeta,
    options: OutputOptions,
    sink: BinaryIO,
    *,
    sample_rate: int = 24000,
) -> OutputReport:
    """Write the book as one WAV, MP3, FLAC or Opus stream to ``sink`` (stdout for ``-o -``).

    Nothing of the book is staged on disk or held in memory: ffmpeg's output is copied to
    ``sink`` as it comes. MP4 (M4B, M4A) cannot be streamed (it writes its index after the
    audio), nor can a book cut into several files; both raise ValueError.
    """
    if not options.codec.streamable:
        raise ValueError(f"{options.format} cannot be written to a stream; write it to a file")
    if not options.streamable:
        raise ValueError("a book cut into several files cannot be written to a stream")
    _check_inputs(chapters)
    part = Part(tuple(chapters), meta.title)
    encoding = Encoding(options, _plan_gain(chapters, options, sample_rate), sample_rate)
    measured = _encode(part, meta, encoding, None, sink=sink)
    return _report([part], encoding, [measured], (), meta)


def write_m4b(
    chapters: Sequence[ChapterAudio],
    out: Path,
    meta: BookMeta,
    *,
    sample_rate: int = 24000,
    bitrate: str = "64k",
) -> Path:
    """Concatenate the chapter WAVs into an AAC M4B at ``out``, with chapters, tags and cover,
    levels untouched. ``out`` is replaced only when ffmpeg succeeded. Raises FfmpegError."""
    options = OutputOptions(format="m4b", loudness="off", bitrate=bitrate)
    return write_book(chapters, out, meta, options, sample_rate=sample_rate).files[0]


# --- metering ---------------------------------------------------------------------------------


def measure_file(
    path: Path, lengths: Sequence[int] = (), *, sample_rate: int | None = None
) -> Measurement:
    """Measure an audio file ffmpeg can decode; with ``lengths`` (samples at ``sample_rate``,
    by default the file's own rate) also each stretch of it, as chapters."""
    rate = sample_rate or _sample_rate(path)
    lengths = list(lengths) or [0]
    return read_measurement(meter_log(["-i", str(path)], [], lengths), len(lengths), rate)


def measure_input(input_args: Sequence[str], sample_rate: int,
                  chain: Sequence[str] = (), *, true_peak: bool = True,
                  stop: threading.Event | None = None) -> Levels:
    """The levels of the first audio stream of ``input_args`` after the filters ``chain``
    (one metering pass); without ``true_peak`` the true peak is left unmeasured (-inf).
    Setting ``stop`` ends the pass with FfmpegError."""
    log = meter_log(input_args, chain, [0], true_peak=true_peak, stop=stop)
    return read_measurement(log, 1, sample_rate).book


def meter_log(input_args: Sequence[str], chain: Sequence[str], lengths: Sequence[int],
              script: Path | None = None, *, true_peak: bool = True,
              stop: threading.Event | None = None) -> str:
    """The ffmpeg log of one pass that meters the input after ``chain`` (see ``tap_graph``)
    and drops the audio; read it with ``read_measurement``. ``script`` names a file to hold
    the graph, for books whose per-chapter meters make it long."""
    graph = tap_graph(chain, lengths, true_peak=true_peak)
    if script is None:
        graph_args = ["-filter_complex", graph]
    else:
        script.write_text(graph)
        graph_args = ["-filter_complex_script", str(script)]
    return run_ffmpeg_log([*input_args, *graph_args, "-map", "[out]", "-f", "null", "-"],
                          stop=stop)


def _sample_rate(path: Path) -> int:
    streams = [s for s in probe(path).get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise LoudnessError(f"no audio stream to measure in {path}")
    return int(streams[0]["sample_rate"])


def _plan_gain(
    chapters: Sequence[ChapterAudio], options: OutputOptions, sample_rate: int,
    extra_headroom: float = 0.0,
) -> GainPlan:
    """Measure the whole book (one streaming pass) and plan the preset's gain. When the plan
    limits, the limited book is measured as the encoder will get it (resampled to the output
    rate) and the plan settled from what was measured: one more pass, or a few when the
    limiter must work harder to reach the loudness under the ceiling. ``extra_headroom`` is
    kept below the ceiling besides the encoder's usual headroom."""
    preset = options.preset
    if not preset.active:
        return GainPlan()
    headroom = ENCODER_HEADROOM_DB.get(options.codec.audio_codec, 0.0) + extra_headroom
    rate = options.output_rate(sample_rate)
    resample = [f"aresample={rate}"] if rate != sample_rate else []
    with scratch_dir("measure") as tmp:
        concat = Path(tmp) / "chapters.ffconcat"
        concat.write_text(concat_list([c.path for c in chapters]), encoding="utf-8")
        try:
            plan = _first_plan(preset, concat_input(concat), sample_rate, headroom)
            trials: list[Trial] = []
            while plan.limit_dbfs is not None:
                limited = measure_input(concat_input(concat), rate, [*plan.filters, *resample])
                trials.append(Trial(plan, limited))
                plan, final = settle(preset, trials, headroom_db=headroom)
                if final:
                    break
        except FfmpegError as exc:
            raise _explain(exc) from exc
    return plan


def _first_plan(preset: LoudnessPreset, source: list[str], sample_rate: int,
                headroom: float) -> GainPlan:
    """:func:`plan_gain` from the unlimited book, measuring its true peak only where that
    decides anything.

    A quick pass without the true peak runs beside the full one (ebur128's oversampling is
    two thirds of a pass). The true peak is never below the sample peak, so when the sample
    peak alone already passes the ceiling the plan limits whatever the true peak is: the full
    pass is stopped and the first limited trial starts at once (issue #29: 0.8 of the 1.65 s
    the measurement took for the three samples as one book on an Intel Xeon with AVX-512).
    Otherwise the plan waits for the full pass. Either way it is the plan the full
    measurement gives."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="true-peak") as side:
        full = side.submit(measure_input, source, sample_rate, stop=stop)
        try:
            quick = measure_input(source, sample_rate, true_peak=False)
        except BaseException:
            stop.set()
            raise
        floor = quick.sample_peak_dbfs - SAMPLE_PEAK_SLACK_DB
        plan = plan_gain(preset, dataclasses.replace(quick, true_peak_dbtp=floor),
                         headroom_db=headroom)
        if plan.limit_dbfs is not None:
            stop.set()  # its figures are not needed, and the trial wants the core
            return plan
        return plan_gain(preset, full.result(), headroom_db=headroom)


def _hold_ceiling(chapters: Sequence[ChapterAudio], parts: Sequence[Part], meta: BookMeta,
                  encoding: Encoding, temps: Sequence[Path], measured: list[Measurement | None],
                  peaks: list[float] | None) -> tuple[list[Measurement | None], Encoding]:
    """A lossy encoder can push the true peak past what went into it, now and then past the
    headroom the plan kept (MP3 at 64k by 1.7 dB on one short exclamation in 84): ``peaks``
    are the true peaks of the files written (None where they are not checked, see
    :func:`_peaks_checked`), and when one is over the ceiling, plan again with that much more
    headroom (the limiter then gets back the loudness a plain cut would lose) and encode them
    all again, once. The QC keeps the higher of the encoder's input and output true peaks, so
    a file still over fails it."""
    options = encoding.options
    if peaks is None:
        return measured, encoding
    over = max(overshoot(options.preset, peak) for peak in peaks)
    if over > 0:
        rate = encoding.source_rate
        gain = _plan_gain(chapters, options, rate, extra_headroom=over + MEASURE_MARGIN_DB)
        encoding = Encoding(options, gain, rate)
        measured, peaks = _encode_all(parts, meta, encoding, temps)
        assert peaks is not None
    return [None if m is None else _with_peak(m, peak)
            for m, peak in zip(measured, peaks)], encoding


def _peaks_checked(options: OutputOptions) -> bool:
    """Whether the written files' true peaks are measured: under a ceiling, for the lossy
    codecs that move it (:data:`ENCODER_HEADROOM_DB`)."""
    return options.preset.true_peak_dbtp is not None and \
        options.codec.audio_codec in ENCODER_HEADROOM_DB


def _encode_all(parts: Sequence[Part], meta: BookMeta, encoding: Encoding,
                temps: Sequence[Path]) -> tuple[list[Measurement | None], list[float] | None]:
    """Encode each part to its temp file; returns what the meters read of each and, where
    they are checked, the true peak of each file written. A file's true peak is measured as
    soon as it is written, beside the meters of its input that are still running (they are
    the slower of the two, and the file's true peak took as long again after them: 0.9 s of
    the three samples as one book on an Intel Xeon with AVX-512, issue #29)."""
    checked = _peaks_checked(encoding.options)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="file-peak") as side:
        futures, measured = [], []
        for part, temp in zip(parts, temps):
            written = (lambda t=temp: futures.append(side.submit(_file_peak, t))) \
                if checked else None
            measured.append(_encode(part, meta, encoding, temp, written=written))
        return measured, [f.result() for f in futures] if checked else None


def _file_peak(path: Path) -> float:
    return measure_file(path).book.true_peak_dbtp


def _with_peak(measured: Measurement, true_peak_dbtp: float) -> Measurement:
    book = measured.book
    peak = max(book.true_peak_dbtp, true_peak_dbtp)
    return Measurement(dataclasses.replace(book, true_peak_dbtp=peak), measured.chapters)


# --- encoding ---------------------------------------------------------------------------------


def _encode(
    part: Part,
    meta: BookMeta,
    encoding: Encoding,
    dest: Path | None,
    *,
    sink: BinaryIO | None = None,
    written: Callable[[], None] | None = None,
) -> Measurement | None:
    """Encode one file to ``dest`` (or to ``sink``); returns its measurement when metered.
    ``written`` is called once the file is complete (its ID3 tag too), while its meters may
    still run."""
    fmt, options = encoding.options.codec, encoding.options
    metered = options.preset.active
    lengths = rescale([c.samples for c in part.chapters], encoding)
    # To a file, the meters run in a second ffmpeg beside the encoder (two cores instead of
    # one for the last step of a book); a stream keeps them in one process.
    separate = metered and dest is not None
    chain = filter_chain(part, encoding)
    with scratch_dir("mux") as tmp, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="meter") as meters:
        args = _input_args(Path(tmp), part, meta, encoding)
        metering = meters.submit(meter_log, concat_input(Path(tmp) / "chapters.ffconcat"),
                                 chain, lengths, Path(tmp) / "meters.txt") if separate else None
        args += _graph_args(Path(tmp), chain, lengths, metered=metered and not separate)
        args += output_args(fmt, meta, encoding, pipe=dest is None)
        if dest is None:
            assert sink is not None
            sink.write(_stream_prelude(part, meta, encoding))
        try:
            log = run_ffmpeg_log([*args, str(dest) if dest is not None else "pipe:1"], sink=sink)
            if dest is not None and fmt.cover == "id3":
                _write_id3(dest, part, meta, encoding)
            if written is not None:
                written()
            if metering is not None:
                log = metering.result()
        except FfmpegError as exc:
            raise _explain(exc) from exc
    return read_measurement(log, len(lengths), encoding.rate) if metered else None


def _graph_args(tmp: Path, chain: list[str], lengths: list[int], *, metered: bool) -> list[str]:
    """The filter graph (from a script file: a book's worth of meters is long) feeding [out];
    none at all when the audio goes through untouched."""
    if not metered and not chain:
        return ["-map", "0:a:0"]
    graph = tmp / "graph.txt"
    graph.write_text(tap_graph(chain, lengths) if metered else f"[0:a]{','.join(chain)}[out]")
    return ["-filter_complex_script", str(graph), "-map", "[out]"]


def _input_args(tmp: Path, part: Part, meta: BookMeta, encoding: Encoding) -> list[str]:
    """Writes the concat list, FFMETADATA and cover into ``tmp``; returns ffmpeg's input args.

    Input 0 is the audio, 1 the metadata, 2 the cover (when the container takes one as a
    stream).
    """
    concat = tmp / "chapters.ffconcat"
    concat.write_text(concat_list([c.path for c in part.chapters]), encoding="utf-8")
    metadata = tmp / "metadata.txt"
    marks = part_marks(part, encoding.room_tone)
    tags = part_tags(part, meta, encoding.options.codec, marks, encoding.source_rate)
    text = ffmetadata(meta, marks, sample_rate=encoding.source_rate, tags=tags)
    metadata.write_text(text, encoding="utf-8")
    args = [*concat_input(concat), "-f", "ffmetadata", "-i", str(metadata)]
    if meta.cover is not None and encoding.options.codec.cover == "stream":
        suffix, _ = COVER_CODECS[meta.cover_mime or ""]
        cover = tmp / f"cover.{suffix}"
        cover.write_bytes(meta.cover)
        args += ["-i", str(cover)]
    return args


def _stream_prelude(part: Part, meta: BookMeta, encoding: Encoding) -> bytes:
    """What goes to a stream before ffmpeg's output: the ID3 tag for MP3, the header for WAV
    (ffmpeg then writes raw PCM of exactly the length the header says)."""
    fmt = encoding.options.codec
    if fmt.cover == "id3":
        buffer = io.BytesIO()
        _id3_for(part, meta, encoding).save(buffer, v2_version=3)
        return id3_chapters_in_order(buffer.getvalue())
    if fmt.pipe_muxer == "s16le":
        return wav_header(sum(rescale([c.samples for c in part.chapters], encoding)),
                          encoding.rate)  # fmt: skip
    return b""


def _id3_for(part: Part, meta: BookMeta, encoding: Encoding):
    marks = part_marks(part, encoding.room_tone)
    tags = part_tags(part, meta, encoding.options.codec, marks, encoding.source_rate)
    return id3_tag(tags, marks, sample_rate=encoding.source_rate, cover=meta.cover,
                   cover_mime=meta.cover_mime, toc_title=part.title)  # fmt: skip


def _write_id3(path: Path, part: Part, meta: BookMeta, encoding: Encoding) -> None:
    """Put the ID3 tag in front of ffmpeg's MP3, then its CHAP frames in time order (the same
    bytes in another order, so the tag is rewritten in place)."""
    _id3_for(part, meta, encoding).save(path, v2_version=3)
    with open(path, "r+b") as f:
        size = id3_length(f.read(10))
        f.seek(0)
        tag = f.read(size)
        f.seek(0)
        f.write(id3_chapters_in_order(tag))


def _report(
    parts: Sequence[Part],
    encoding: Encoding,
    measured: Sequence[Measurement | None],
    files: tuple[Path, ...],
    meta: BookMeta,
) -> OutputReport:
    duration = sum(encoding.length(p) for p in parts) / encoding.source_rate
    qc = None
    found = [m for m in measured if m is not None]
    if found:
        chapters = tuple(levels for m in found for levels in m.chapters)
        book = found[0].book if len(found) == 1 else combine_levels([m.book for m in found])
        titles = [c.title for p in parts for c in p.chapters]
        qc = qc_report(encoding.options.preset, Measurement(book, chapters), titles,
                       gain_db=encoding.gain.gain_db, book_title=meta.title,
                       chapter_files=encoding.options.split_chapters)  # fmt: skip
    return OutputReport(files, encoding.options.format, duration, encoding.gain.gain_db, qc)


def _explain(exc: FfmpegError) -> FfmpegError:
    """Name the chapter file when the concat demuxer could not open it: ffmpeg's last line
    then only names our temp list file."""
    found = _CANNOT_OPEN.search(exc.stderr)
    if not found:
        return exc
    message = f"ffmpeg could not read chapter audio {found.group(1)}: {exc}"
    return FfmpegError(message, command=exc.command, stderr=exc.stderr)


def _check_inputs(chapters: Sequence[ChapterAudio]) -> None:
    if not chapters:
        raise FfmpegError("nothing to mux: the book has no chapter audio")
    for chapter in chapters:
        if "\n" in str(chapter.path) or "\r" in str(chapter.path):
            raise FfmpegError(f"chapter audio path has a line break: {chapter.path!r}")
        if not Path(chapter.path).is_file():
            raise FfmpegError(f"chapter audio not found: {chapter.path}")
