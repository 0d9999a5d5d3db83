"""Loudness measurement: the ebur128/astats meters tapped into an ffmpeg graph, their log
parsed into :class:`Levels`, and chapters' levels combined into a book's (power means over
time). :mod:`kokoro_cli.output.loudness` plans gain and judges QC from these figures."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from kokoro_common import ExitCode, KokoroError

__all__ = ["GATE_BLOCK_S", "NOISE_WINDOW_S", "SILENCE_LUFS", "Levels", "LoudnessError",
           "Measurement",
           "combine_levels", "parse_levels", "read_measurement", "tap_graph"]

class LoudnessError(KokoroError):
    """Loudness could not be measured, or the output is out of its preset's spec."""

    exit_code = ExitCode.OUTPUT


SILENCE_LUFS = -70.0  # ebur128's absolute gate: what it reports for silence
# BS.1770's gating block: audio shorter than one block has no integrated loudness (ebur128 then
# reports its -70 LUFS gate), so its gain is planned from the RMS level instead.
GATE_BLOCK_S = 0.4
NOISE_WINDOW_S = 0.5  # ACX measures the noise floor over half-second windows


@dataclass(frozen=True)
class Levels:
    """Loudness figures for a stretch of audio; ``-inf`` where it is digital silence."""

    integrated_lufs: float
    true_peak_dbtp: float
    sample_peak_dbfs: float
    rms_dbfs: float
    noise_floor_dbfs: float
    duration_s: float

    @property
    def silent(self) -> bool:
        return self.integrated_lufs <= SILENCE_LUFS and not self.rms_dbfs >= -90  # NaN: empty

    @property
    def gated(self) -> bool:
        """Whether ``integrated_lufs`` was measured: it needs one 400 ms gating block."""
        return self.duration_s >= GATE_BLOCK_S

    @property
    def loudness(self) -> float:
        """The level a loudness target is aimed at: the integrated loudness, or for audio too
        short to gate, the RMS level (close to it for speech, and never the -70 LUFS gate)."""
        return self.integrated_lufs if self.gated else self.rms_dbfs

    def shifted(self, gain_db: float) -> Levels:
        """These levels after a linear gain (no limiting)."""
        return Levels(
            self.integrated_lufs + gain_db if not self.silent else self.integrated_lufs,
            self.true_peak_dbtp + gain_db,
            self.sample_peak_dbfs + gain_db,
            self.rms_dbfs + gain_db,
            self.noise_floor_dbfs + gain_db,
            self.duration_s,
        )


@dataclass(frozen=True)
class Measurement:
    """The levels of a whole book (or file) and of each chapter in it."""

    book: Levels
    chapters: tuple[Levels, ...]


# --- the filter graph and its log -------------------------------------------------------------

_EBUR128 = "ebur128@{name}=framelog=verbose{peak}"
_ASTATS = (
    "astats@{name}=measure_perchannel=none"
    ":measure_overall=Peak_level+RMS_level+RMS_trough+Number_of_samples"
    f":length={NOISE_WINDOW_S}"
)


def _meter(name: str, *, peak: bool = True, stats: bool = True) -> str:
    parts = [_EBUR128.format(name=name, peak=":peak=true" if peak else "")]
    if stats:
        parts.append(_ASTATS.format(name=name))
    return ",".join([*parts, "anullsink"])


def tap_graph(chain: Sequence[str], lengths: Sequence[int], *, source: str = "0:a",
              true_peak: bool = True) -> str:
    """A ``-filter_complex`` graph: ``chain`` on ``[source]``, out as ``[out]``, and a copy
    metered per chapter (``c0``, ``c1``...) and as a whole (``book``).

    ``lengths`` are the chapters' lengths in samples at the rate the meters see; chapters are
    cut with ``asegment`` at exact sample positions. The book meter only gates loudness: its
    peaks, RMS and noise floor follow exactly from the chapters'. Without ``true_peak`` (one
    chapter only) the meter skips ebur128's oversampling, two thirds of its cost: the levels'
    true peak is then unknown (-inf), the sample peak still there.
    """
    head = f"[{source}]" + ",".join([*chain, "asplit=2[out][m]"])
    if len(lengths) <= 1:
        return f"{head};[m]{_meter('c0', peak=true_peak)}"
    if not true_peak:
        raise ValueError("chapters are metered with their true peaks")
    cuts = "|".join(str(n) for n in _cumulative(lengths)[:-1])
    labels = "".join(f"[s{i}]" for i in range(len(lengths)))
    parts = [head, "[m]asplit=2[mb][mc]", f"[mb]{_meter('book', peak=False, stats=False)}"]
    parts.append(f"[mc]asegment=samples={cuts}{labels}")
    parts += [f"[s{i}]{_meter(f'c{i}')}" for i in range(len(lengths))]
    return ";".join(parts)


def _cumulative(lengths: Sequence[int]) -> list[int]:
    total, out = 0, []
    for n in lengths:
        total += n
        out.append(total)
    return out


_SUMMARY = re.compile(r"^\[ebur128@(\w+) @ 0x[0-9a-f]+\] Summary:")
_ASTATS_LINE = re.compile(r"^\[astats@(\w+) @ 0x[0-9a-f]+\] ([A-Za-z ]+): (\S+)$")
_EBUR_VALUE = re.compile(r"^\s+(I|Peak):\s+(\S+) (?:LUFS|dBFS)$")
_KEYS = {
    "I": "integrated_lufs",
    "Peak": "true_peak_dbtp",
    "Peak level dB": "sample_peak_dbfs",
    "RMS level dB": "rms_dbfs",
    "RMS trough dB": "noise_floor_dbfs",
    "Number of samples": "samples",
}


def parse_levels(log: str) -> dict[str, dict[str, float]]:
    """The end-of-run reports of named ``ebur128@NAME`` / ``astats@NAME`` filters in an
    ffmpeg log, as ``{NAME: {field: value}}`` (fields named as in :class:`Levels`, plus
    ``samples``). ffmpeg prints an empty summary for a graph it only probed; a later, filled
    one wins."""
    found: dict[str, dict[str, float]] = {}
    current: str | None = None
    for line in log.splitlines():
        if line.startswith("["):
            current = None
            if summary := _SUMMARY.match(line):
                current = summary.group(1)
            elif stats := _ASTATS_LINE.match(line):
                name, key, value = stats.groups()
                if key in _KEYS:
                    found.setdefault(name, {})[_KEYS[key]] = float(value)
        elif current is not None and (value := _EBUR_VALUE.match(line)):
            found.setdefault(current, {})[_KEYS[value.group(1)]] = float(value.group(2))
    return found


def read_measurement(log: str, count: int, sample_rate: int) -> Measurement:
    """The :class:`Measurement` a :func:`tap_graph` of ``count`` chapters left in ``log``."""
    found = parse_levels(log)
    chapters = tuple(_levels(found.get(f"c{i}", {}), sample_rate) for i in range(count))
    if count == 1:
        return Measurement(chapters[0], chapters)
    book = combine_levels(chapters)
    lufs = found.get("book", {}).get("integrated_lufs", SILENCE_LUFS)
    return Measurement(_replace_lufs(book, lufs), chapters)


def _levels(values: dict[str, float], sample_rate: int) -> Levels:
    if "integrated_lufs" not in values:
        raise LoudnessError("ffmpeg printed no loudness summary (is its ebur128 filter there?)")
    return Levels(
        integrated_lufs=values["integrated_lufs"],
        true_peak_dbtp=values.get("true_peak_dbtp", -math.inf),
        sample_peak_dbfs=values.get("sample_peak_dbfs", -math.inf),
        rms_dbfs=values.get("rms_dbfs", -math.inf),
        noise_floor_dbfs=values.get("noise_floor_dbfs", -math.inf),
        duration_s=values.get("samples", 0) / sample_rate,
    )


def _replace_lufs(levels: Levels, lufs: float) -> Levels:
    values = asdict(levels)
    values["integrated_lufs"] = lufs
    return Levels(**values)


def combine_levels(parts: Sequence[Levels]) -> Levels:
    """The levels of ``parts`` played back to back.

    Peaks are the maximum, the noise floor the minimum and RMS the duration-weighted power
    mean, which is exact. Integrated loudness is approximated the same way over the non-silent
    parts (BS.1770 gates over the whole programme, so this can differ by a few tenths of a LU
    when parts differ a lot); where one file holds the parts, use its own meter instead.
    """
    duration = sum(p.duration_s for p in parts)
    audible = [p for p in parts if p.integrated_lufs > SILENCE_LUFS]
    return Levels(
        integrated_lufs=_power_mean([(p.integrated_lufs, p.duration_s) for p in audible])
        if audible
        else SILENCE_LUFS,
        true_peak_dbtp=max((p.true_peak_dbtp for p in parts), default=-math.inf),
        sample_peak_dbfs=max((p.sample_peak_dbfs for p in parts), default=-math.inf),
        rms_dbfs=_power_mean([(p.rms_dbfs, p.duration_s) for p in parts]),
        noise_floor_dbfs=min((p.noise_floor_dbfs for p in parts), default=-math.inf),
        duration_s=duration,
    )


def _power_mean(values: Iterable[tuple[float, float]]) -> float:
    """The dB level of the duration-weighted mean power of (dB, seconds) pairs."""
    pairs = list(values)
    weight = sum(w for _, w in pairs)
    if weight <= 0:
        return -math.inf
    power = sum(w * 10 ** (db / 10) for db, w in pairs if db > -math.inf) / weight
    return 10 * math.log10(power) if power > 0 else -math.inf
