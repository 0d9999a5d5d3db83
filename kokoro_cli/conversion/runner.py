"""Running a command's conversions: every input through one engine, outputs planned first.

:func:`open_converter` opens the command's :class:`engine.Engine` (its model and workers,
loaded once) and gives a :class:`Converter`, which ``convert`` hands all its inputs and
``watch`` each document as it arrives. For a batch, every input is read and its output named
before any synthesis (:mod:`kokoro_cli.conversion.targets`), so two inputs never write one
file; a failing input is reported and the others still run.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, TypeVar

from kokoro_cli.console import err, out
from kokoro_cli.conversion.reading import choose_reading, show_warnings
from kokoro_cli.conversion.request import ConversionSettings, refresh_feed
from kokoro_cli.conversion.targets import OutputOwners, claim_target, source_of
from kokoro_cli.errors import exit_code_for, message_for
from kokoro_cli.messages import Messages

if TYPE_CHECKING:
    from engine import Engine
    from kokoro_cli.jobs.verify import VerifyReport
    from kokoro_cli.output import OutputReport, QCReport
    from preprocess import Document, Lexicon

__all__ = ["Converter", "Prepared", "open_converter", "qc_summary"]

T = TypeVar("T")


@dataclass(frozen=True)
class Prepared:
    """One input, read, with its language and voice settled and its output claimed."""

    input: Path
    document: Document  # all chapters
    selected: Document  # the chosen ones (--chapters)
    voice: str
    target: Optional[Path]  # None: stdout
    lexicon: Lexicon | None = None  # the user's dictionaries and the document's own lexicons
    warnings: tuple[str, ...] = ()


@contextmanager
def open_converter(settings: ConversionSettings,
                   messages: Messages) -> Iterator[Converter]:
    """The command's converter, with its engine open (a Ray cluster joined, for
    ``--executor ray``) until the command ends."""
    from engine import Engine
    from kokoro_cli.assets_env import resolver_for

    speech = settings.speech
    ray = (settings.ray_address, speech.backend) if settings.executor == "ray" else None
    resolver = resolver_for(speech.model, speech.voices, messages.note)
    with Engine(resolver, workers=settings.workers, ray=ray) as engine:
        yield Converter(settings, engine, messages)


class Converter:
    """Converts inputs with the settings of one command and its engine."""

    def __init__(self, settings: ConversionSettings, engine: Engine,
                 messages: Messages) -> None:
        from kokoro_cli.jobs.job import default_work_root

        self.settings, self.engine, self.messages = settings, engine, messages
        self.owners = OutputOwners(settings.work_dir or default_work_root())

    def run(self, inputs: Sequence[Path], output: Optional[Path] = None) -> int:
        """Convert ``inputs`` (output to ``output``, else named from each title in the out
        folder), then update the feed. Returns 0, or the exit code of the first input that
        failed; with one input its error is raised."""
        batch, taken = len(inputs) > 1, set[Path]()
        failures: dict[int, int] = {}
        prepared: dict[int, Prepared] = {}
        for i, path in enumerate(inputs):  # every output named before any synthesis
            item, code = self._guarded(path, batch, lambda: self.prepare(path, output, taken))
            if code:
                failures[i] = code
            else:
                prepared[i] = item
        for i, item in prepared.items():
            _, code = self._guarded(item.input, batch, lambda: self.convert(item))
            if code:
                failures[i] = code
        feed = self.settings.feed
        if feed is not None and len(failures) < len(inputs):
            refresh_feed(feed, self.messages.note, self.messages.warning)
        return failures[min(failures)] if failures else 0

    def _guarded(self, path: Path, batch: bool, step: Callable[[], T]) -> tuple[T | None, int]:
        """Run ``step`` for one input: (its result, 0); in a batch, an error is reported and
        gives (None, its exit code). A stop by signal ends the whole command."""
        from kokoro_cli.jobs.job import Interrupted

        try:
            return step(), 0
        except Interrupted:
            raise
        except Exception as exc:
            if not batch:
                raise
            code = exit_code_for(exc)
            err.print(f"error: {path}: {message_for(exc)}", markup=False)
            return None, int(code)

    def prepare(self, path: Path, output: Optional[Path], taken: set[Path]) -> Prepared:
        """Read ``path``, settle its language and voice, and claim its output (a name not
        ``taken`` by an earlier input nor written from another input)."""
        from kokoro_cli.inputs import read_document
        from kokoro_cli.output import check_writable, resolve_target
        from preprocess import lexicon_for

        s, mark = self.settings, len(self.messages.warnings)
        with show_warnings(self.messages.warning):  # the parser's (an inline language…)
            full, selected = read_document(path, s.parse)
        speech = s.speech
        cast = s.options.cast
        if cast is not None:
            cast.check(full)  # a chapter it names that the book lacks: exit 2, before any work
        narrator = cast.narrator if cast is not None else None
        reading = choose_reading(full, speech.lang, narrator or speech.voice,
                                 narrator is not None or speech.voice_given, cast)
        for warning in reading.warnings:
            self.messages.warning(warning)
        full = reading.document
        # the document's own lexicons are read (and refused) before its output is claimed
        lexicon = lexicon_for(full, speech.dictionaries)
        target = resolve_target(path, output, s.out_dir, full.title, s.options.output)
        if target is not None:
            split = s.options.output.split_chapters
            chosen = claim_target(target, source_of(path), self.owners, taken,
                                  named=output is not None, force=s.options.force, folder=split)
            if chosen != target:
                check_writable(chosen, split)
            target = chosen
        return Prepared(path, full, reading.with_language(selected), reading.voice, target,
                        lexicon, self.messages.since(mark))

    def convert(self, item: Prepared) -> None:
        """Convert one prepared input (or find it up to date) and report it."""
        from kokoro_cli.jobs.run import ConvertRequest, run_convert
        from kokoro_cli.progress import progress_for

        s, say = self.settings, self.messages.note
        options = dataclasses.replace(
            s.options, voice=item.voice, workers=self.engine.capacity(),
            cast=None if s.options.cast is None else dataclasses.replace(s.options.cast,
                                                                         narrator=item.voice),
            lexicon=item.lexicon)
        request = ConvertRequest(item.document, item.selected,
                                 sys.stdout.buffer if item.target is None else item.target,
                                 options, s.work_dir, s.speech.backend)
        mark, heard = len(self.messages.warnings), []
        with show_warnings(self.messages.warning):
            result = run_convert(
                request, self.engine, lambda: progress_for(err, s.progress),
                check=lambda report: self._check(
                    report, item.warnings + self.messages.since(mark), heard),
                verified=lambda report: self._verified(report, heard))
        if result is None:
            say(f"{item.target} is up to date (same input and settings); nothing to do")
            if item.target is not None:
                out.print(str(item.target), markup=False)
            return
        c = result.counts
        say(f"{result.chunks} pieces: {c.synthesized} synthesized, {c.reused} reused; "
            f"{result.audio_seconds:.1f} s of audio"
            + (f"; real-time factor {result.real_time_factor:.2f}" if c.synthesized else ""))
        if result.report is not None and result.report.qc is not None and s.qc != "off":
            say(qc_summary(result.report.qc))
        if result.verification is not None:
            say(result.verification.summary())
        if item.target is not None:
            for path in result.report.files:
                out.print(str(path), markup=False)

    def _check(self, report: OutputReport, warnings: tuple[str, ...],
               heard: list[VerifyReport]) -> None:
        """Run on the staged output before it replaces anything: save the QC report (with the
        input's warnings and the listening check), and with --qc strict refuse an output out
        of spec (the earlier output stays in place)."""
        from kokoro_cli.output import check_qc

        qc = report.qc if self.settings.qc != "off" else None
        if qc is None and not heard:
            return
        self._save_qc(json.loads(qc.to_json()) if qc is not None else {}, warnings, heard)
        if qc is not None and self.settings.qc == "strict":
            check_qc(qc)

    def _save_qc(self, data: dict, warnings: tuple[str, ...],
                 heard: list[VerifyReport]) -> None:
        """Write --qc-json: the loudness QC, the warnings and the listening check."""
        from kokoro_common import write_atomic

        if self.settings.qc_json is None:
            return
        data = {**data, "warnings": list(warnings)}
        if heard:
            data["verification"] = heard[-1].to_dict()
        write_atomic(self.settings.qc_json,
                     (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))

    def _verified(self, report: VerifyReport, heard: list[VerifyReport]) -> None:
        """The listening check is done, before the output stage: keep its report, and with
        --verify strict and pieces still failing, keep the output back (the earlier one stays;
        nothing is published) and end with exit 7, the QC report saved and the summary shown."""
        from kokoro_cli.jobs.verify import VerifyError

        heard.append(report)
        if report.mode != "strict" or report.passed:
            return
        self._save_qc({}, (), heard)
        self.messages.note(report.summary())
        raise VerifyError(f"{report.failing} piece(s) still fail the listening check; the "
                          "output was not written (any earlier output is kept)", report)


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
