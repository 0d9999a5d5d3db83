"""Loudness: read a book's measurements, plan the gain for a named preset, and check the result.

Measurements follow ITU-R BS.1770 / EBU R128 as ffmpeg's ``ebur128`` filter computes them
(integrated loudness in LUFS, true peak in dBTP from 4x oversampling), with ``astats`` adding
the plain RMS level, sample peak and noise floor (the quietest 0.5 s RMS window) that ACX
checks. This module is pure: it builds the metering graph and reads ffmpeg's log;
:mod:`kokoro_cli.output.encode` runs it, streaming, so no chapter or book is held in memory.

Normalization applies **one gain to the whole book**, computed from a measurement of the whole
book, so chapters keep their levels relative to one another and every boundary stays exactly
where it was (a gain is sample-for-sample). When that gain would push the true peak over the
preset's ceiling, a look-ahead limiter (``alimiter`` with latency compensation, which keeps the
length and alignment) holds the sample peaks a margin below it. The limiter works on sample
peaks, and the harder it works the further the true (inter-sample) peaks of its output overshoot
them (2.5 dB measured on a short exclamation), so the limited book is measured as it will be
encoded (after resampling, true peak from ffmpeg's 192 kHz oversampling) and the plan adjusted
from what was measured (:func:`settle`); lossy encoders move the true peak a little more, so the
plan keeps their measured :data:`ENCODER_HEADROOM_DB` below the ceiling as well.

Presets (:data:`PRESETS`):

``audiobook`` (the default)
    −18 LUFS integrated, true peak ≤ −3 dBTP. Audiobook players and stores expect speech
    around −18 to −20 LUFS; −18 is loud enough for phones and cars without compression, and
    for speech it usually lands inside ACX's −23…−18 dB RMS window (RMS runs a few dB below
    gated loudness because it counts the pauses) with ACX's −3 dB peak ceiling already met.
    The QC report shows the RMS, so a miss is visible.
``acx``
    ACX / Audible submission: RMS between −23 and −18 dB (aimed at −20), peaks ≤ −3 dBFS
    (checked as true peak), noise floor ≤ −60 dB, one 44.1 kHz MP3 at 192 kbps CBR per
    chapter, and room tone at the start and end of every file (1 s; ACX asks for 0.5–1 s at
    the head and 1–5 s at the tail). Our room tone is digital silence, which meets the noise
    floor.
``podcast``
    −16 LUFS, true peak ≤ −1 dBTP (Apple Podcasts / common podcast practice).
``ebu``
    EBU R128 broadcast: −23 LUFS, true peak ≤ −1 dBTP.
``off``
    No gain and no checks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from kokoro_cli.output.levels import (LoudnessError, Levels, Measurement, combine_levels,
                                      parse_levels, read_measurement, tap_graph)

__all__ = [
    "DEFAULT_PRESET", "ENCODER_HEADROOM_DB", "PRESETS", "GainPlan", "Levels", "LevelsQC",
    "LoudnessError", "LoudnessPreset", "Measurement", "QCError", "QCReport", "Trial",
    "check_qc", "combine_levels", "judge", "overshoot", "parse_levels", "plan_gain",
    "qc_report", "read_measurement", "settle", "tap_graph",
]

# The limiter works on sample peaks; inter-sample (true) peaks of 24 kHz speech exceed the
# sample peak by up to about 1.5 dB (1.4 dB measured on samples/report.md), so the limiter aims
# this far below the true-peak ceiling.
TRUE_PEAK_MARGIN_DB = 1.5
# ebur128 prints one decimal; allow that much rounding before calling a ceiling exceeded.
REPORT_SLACK_DB = 0.05
# A limited book's true peak is aimed this far below its ceiling: the one decimal ebur128
# prints, so a rounded-down reading cannot hide a peak over it.
MEASURE_MARGIN_DB = 0.1
# How far a lossy encoder moved the true peak of limited Kokoro speech (short exclamations
# read by the 28 English voices, decoded and measured against the encoder's input): AAC at
# 64k within +0.4 dB, Opus at 32k up to +1.0, MP3 at 64k mostly within +0.4 but 4 clips in 84
# up to +1.7 (the encoder's output is checked for those; see kokoro_cli.output.encode). The
# encoder's input is aimed this far below the ceiling.
ENCODER_HEADROOM_DB: dict[str, float] = {"aac": 0.3, "libmp3lame": 0.5, "libopus": 1.0}
# Limited passes over the book :func:`settle` may ask for, and how close to the loudness target
# a pass must land to end the search.
MAX_TRIALS = 4
LOUDNESS_SLACK_LU = 0.2
# ebur128's one-decimal figures are not exact in binary: a landing 0.2 LU short can come out
# as 0.2000000000000006, and without this allowance it cost a whole pass over the book (issue
# #29: one of the two limited passes of the three bundled samples as one book).
FLOAT_SLACK = 1e-9
MIN_RUN_DB = 1.5  # trials closer in drive than this say nothing of the slope
MAX_PUSH_DB = 6.0  # the most one trial drives the limiter harder than the last
# Integrated loudness needs gating blocks; below this a chapter's LUFS is not judged.
MIN_GATED_SECONDS = 3.0


@dataclass(frozen=True)
class LoudnessPreset:
    """A loudness target and what the QC check holds the output to.

    ``integrated_lufs`` or ``rms_dbfs`` is the target the gain aims at (ACX is specified in
    RMS); ``true_peak_dbtp`` is a ceiling; ``sample_rate``, ``format``, ``bitrate`` and
    ``room_tone_ms`` are delivery requirements that the output options must match.
    """

    name: str
    integrated_lufs: float | None = None
    rms_dbfs: float | None = None
    rms_range: tuple[float, float] | None = None
    true_peak_dbtp: float | None = None
    noise_floor_dbfs: float | None = None
    tolerance_lu: float = 1.0  # the book's window around the target
    chapter_tolerance_lu: float = 2.0  # chapters keep their natural spread under one gain
    sample_rate: int | None = None
    format: str | None = None
    bitrate: str | None = None
    room_tone_ms: int = 0
    split_chapters: bool = False  # one file per chapter required

    @property
    def active(self) -> bool:
        return self.integrated_lufs is not None or self.rms_dbfs is not None


PRESETS: dict[str, LoudnessPreset] = {
    "audiobook": LoudnessPreset("audiobook", integrated_lufs=-18.0, true_peak_dbtp=-3.0),
    "acx": LoudnessPreset(
        "acx",
        rms_dbfs=-20.0,
        rms_range=(-23.0, -18.0),
        true_peak_dbtp=-3.0,
        noise_floor_dbfs=-60.0,
        sample_rate=44100,
        format="mp3",
        bitrate="192k",
        room_tone_ms=1000,
        split_chapters=True,
    ),
    "podcast": LoudnessPreset("podcast", integrated_lufs=-16.0, true_peak_dbtp=-1.0),
    "ebu": LoudnessPreset("ebu", integrated_lufs=-23.0, true_peak_dbtp=-1.0),
    "off": LoudnessPreset("off"),
}
DEFAULT_PRESET = "audiobook"


class QCError(LoudnessError):
    """The output failed its preset's QC check; ``report`` holds the measurements."""

    def __init__(self, message: str, report: QCReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class GainPlan:
    """One gain for the whole book, and the limiter ceiling when the gain needs one."""

    gain_db: float = 0.0
    limit_dbfs: float | None = None

    @property
    def filters(self) -> list[str]:
        """The ffmpeg filters that apply this plan (none for a plain pass-through)."""
        chain = []
        if abs(self.gain_db) >= 0.005:
            chain.append(f"volume={self.gain_db:.2f}dB")
        if self.limit_dbfs is not None:
            limit = min(10 ** (self.limit_dbfs / 20), 1.0)  # alimiter takes 0.0625 to 1
            chain.append(f"alimiter=limit={max(limit, 0.0625):.6f}:level=0:latency=1:attack=5"
                         ":release=50")
        return chain

    @property
    def drive_db(self) -> float:
        """How hard the limiter works: the gain over its limit (what shapes its output)."""
        return self.gain_db - (self.limit_dbfs if self.limit_dbfs is not None else 0.0)

    def shifted(self, db: float) -> GainPlan:
        """This plan with gain and limit both moved by ``db``: the same output ``db`` louder
        (alimiter acts on the ratio of level to limit, so its output only scales)."""
        limit = self.limit_dbfs + db if self.limit_dbfs is not None else None
        return GainPlan(self.gain_db + db, limit)


def _target(preset: LoudnessPreset) -> float:
    """The level the preset aims at: integrated loudness, or for ACX the RMS level."""
    target = preset.integrated_lufs if preset.integrated_lufs is not None else preset.rms_dbfs
    assert target is not None, "an active preset has a target"
    return target


def _level(preset: LoudnessPreset, levels: Levels) -> float:
    """What ``levels`` measure of the preset's target (see :attr:`Levels.loudness`)."""
    return levels.loudness if preset.integrated_lufs is not None else levels.rms_dbfs


def plan_gain(preset: LoudnessPreset, measured: Levels, *, headroom_db: float = 0.0) -> GainPlan:
    """The gain that brings ``measured`` (the whole book) to ``preset``'s target, plus a
    limiter when the gained true peak would pass the ceiling (less ``headroom_db``, kept for
    the encoder). Silence gets no gain; audio too short to gate (under 0.4 s) is aimed by its
    RMS level (see :attr:`Levels.loudness`)."""
    if not preset.active or measured.silent:
        return GainPlan()
    gain = _target(preset) - _level(preset, measured)
    if not math.isfinite(gain):  # nothing measurable (no samples at all)
        return GainPlan()
    if preset.true_peak_dbtp is None:
        return GainPlan(gain)
    ceiling = preset.true_peak_dbtp - headroom_db
    if measured.true_peak_dbtp + gain > ceiling - REPORT_SLACK_DB:
        return GainPlan(gain, ceiling - TRUE_PEAK_MARGIN_DB)
    return GainPlan(gain)


@dataclass(frozen=True)
class Trial:
    """A limited plan and the levels measured through its filters, as the encoder gets them."""

    plan: GainPlan
    levels: Levels


def settle(preset: LoudnessPreset, trials: Sequence[Trial], *,
           headroom_db: float = 0.0) -> tuple[GainPlan, bool]:
    """From the limited passes measured so far: the plan to encode with (``True``), or the
    next one to measure (``False``).

    A trial's output moved by x dB is what its plan shifted by x dB gives (see
    :meth:`GainPlan.shifted`), so each trial says exactly where its true peak and loudness
    land when it is shifted to put the peak just under the ceiling, or the loudness on the
    target, whichever comes first. The peak always holds; when the loudness falls short, the
    next trial drives the limiter harder (by twice the shortfall, or along the secant of the
    last two trials) until one lands within :data:`LOUDNESS_SLACK_LU`, driving harder stops
    helping, or :data:`MAX_TRIALS` passes were made. The best trial wins."""
    target = _target(preset)
    ceiling = (preset.true_peak_dbtp if preset.true_peak_dbtp is not None else 0.0) \
        - headroom_db - MEASURE_MARGIN_DB
    landed = []
    for trial in trials:
        level, peak = _level(preset, trial.levels), trial.levels.true_peak_dbtp
        if not (math.isfinite(level) and math.isfinite(peak)):
            return trial.plan, True  # silence: nothing to shape
        shift = min(ceiling - peak, target - level)
        landed.append(_Landing(trial.plan.shifted(shift), trial.levels.shifted(shift),
                               target - level - shift))
    best = min(landed, key=lambda landing: landing.short)
    last = landed[-1]
    if best.short <= LOUDNESS_SLACK_LU + FLOAT_SLACK or len(trials) >= MAX_TRIALS:
        return best.plan, True
    # Under a limiter a dB more drive gives about half a dB more loudness, less the growing
    # overshoot; over a short run ebur128's rounding swamps the slope, so it is guessed.
    push = 2 * last.short
    if len(landed) > 1 and (run := last.plan.drive_db - landed[-2].plan.drive_db) >= MIN_RUN_DB:
        slope = (_level(preset, last.levels) - _level(preset, landed[-2].levels)) / run
        if slope <= 0.05:  # driving harder no longer makes it louder under the ceiling
            return best.plan, True
        push = last.short / slope
    return GainPlan(last.plan.gain_db + min(push, MAX_PUSH_DB), last.plan.limit_dbfs), False


def overshoot(preset: LoudnessPreset, true_peak_dbtp: float) -> float:
    """How far a true peak (of an encoded file) is over the preset's ceiling less
    :data:`MEASURE_MARGIN_DB`; 0 when it is under, or the preset has no ceiling."""
    if preset.true_peak_dbtp is None or not math.isfinite(true_peak_dbtp):
        return 0.0
    return max(0.0, true_peak_dbtp - (preset.true_peak_dbtp - MEASURE_MARGIN_DB))


@dataclass(frozen=True)
class _Landing:
    """A trial shifted to its ceiling or target: the plan, its levels then, the shortfall."""

    plan: GainPlan
    levels: Levels
    short: float


# --- QC ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelsQC:
    """One chapter's (or the book's) levels and what is wrong with them for the preset."""

    title: str
    levels: Levels
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class QCReport:
    """Loudness QC of an output: the book and each chapter against a preset.

    Levels are measured on the audio as it went into the encoder (after gain, limiter and
    resampling); a lossy codec can move the true peak by a few tenths of a dB, which the plan
    leaves room for (:data:`ENCODER_HEADROOM_DB`).
    """

    preset: str
    gain_db: float
    book: LevelsQC
    chapters: tuple[LevelsQC, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return self.book.passed and all(c.passed for c in self.chapters)

    @property
    def problems(self) -> list[str]:
        """Every problem, prefixed with what it is about."""
        found = [f"book: {p}" for p in self.book.problems]
        for i, chapter in enumerate(self.chapters, 1):
            found += [f"chapter {i} ({chapter.title}): {p}" for p in chapter.problems]
        return found

    def to_dict(self) -> dict:
        """A JSON-ready dict; ``-inf`` levels (digital silence) become ``None``."""
        data = asdict(self)
        data["passed"] = self.passed
        return _finite(data)

    def to_json(self, **kwargs: object) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)  # type: ignore[arg-type]


def _finite(value: object) -> object:
    if isinstance(value, float):
        return round(value, 2) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def judge(
    preset: LoudnessPreset, levels: Levels, *, tolerance: float, whole_file: bool = True
) -> tuple[str, ...]:
    """What ``levels`` break in ``preset`` (empty when they pass). The noise floor is judged
    only for ``whole_file`` levels: ACX finds it in each file's room tone, and a chapter in the
    middle of a file has none."""
    problems: list[str] = []
    if preset.integrated_lufs is not None and levels.duration_s >= MIN_GATED_SECONDS:
        target, lufs = preset.integrated_lufs, levels.integrated_lufs
        if levels.silent:
            problems.append("silent")
        elif abs(lufs - target) > tolerance + REPORT_SLACK_DB:
            want = f"want {target:g} ± {tolerance:g}"
            problems.append(f"integrated loudness {lufs:.1f} LUFS, {want}")
    if preset.rms_range is not None:
        low, high = preset.rms_range
        if not low <= round(levels.rms_dbfs, 1) <= high:
            problems.append(f"RMS {levels.rms_dbfs:.1f} dB, want {low:g} to {high:g}")
    ceiling = preset.true_peak_dbtp
    if ceiling is not None and levels.true_peak_dbtp > ceiling + REPORT_SLACK_DB:
        problems.append(f"true peak {levels.true_peak_dbtp:.1f} dBTP, over {ceiling:g}")
    floor = preset.noise_floor_dbfs
    if floor is not None and whole_file and levels.noise_floor_dbfs > floor:
        problems.append(f"noise floor {levels.noise_floor_dbfs:.1f} dB, over {floor:g}")
    return tuple(problems)


def qc_report(
    preset: LoudnessPreset,
    measured: Measurement,
    titles: Sequence[str],
    *,
    gain_db: float = 0.0,
    book_title: str = "book",
    chapter_files: bool = False,
) -> QCReport:
    """Judge a measurement (chapters in ``titles`` order) against ``preset``;
    ``chapter_files`` when each chapter is a file of its own."""
    if len(titles) != len(measured.chapters):
        raise ValueError(f"{len(titles)} titles for {len(measured.chapters)} measured chapters")
    book_problems = judge(preset, measured.book, tolerance=preset.tolerance_lu,
                          whole_file=not chapter_files)  # fmt: skip
    book = LevelsQC(book_title, measured.book, book_problems)
    tolerance = preset.chapter_tolerance_lu
    chapters = tuple(
        LevelsQC(title, lv, judge(preset, lv, tolerance=tolerance, whole_file=chapter_files))
        for title, lv in zip(titles, measured.chapters)
    )
    return QCReport(preset.name, gain_db, book, chapters)


def check_qc(report: QCReport) -> QCReport:
    """``report`` when it passed; else raise QCError naming the first problems."""
    if report.passed:
        return report
    problems = report.problems
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    raise QCError(
        f"output is out of the {report.preset} spec: {'; '.join(problems[:3])}{more}", report
    )
