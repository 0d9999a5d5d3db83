"""The listening check's results (``convert --verify``): per piece, per chapter, per book.

A :class:`PieceCheck` is stored beside the piece in the shared cache (one file per Whisper
model), with a digest of the audio it heard, so a re-run hears only pieces whose audio is new
or changed. The chapters' :class:`ChapterCheck` go into the job folder (``verification.json``)
with the chapter's fingerprint, so a finished chapter keeps its summary and ``jobs show``
prints it. :class:`VerifyReport` is what the QC report and the end-of-run summary show.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kokoro_common import ExitCode, KokoroError, write_atomic

if TYPE_CHECKING:
    import numpy as np

__all__ = ["VERIFY_MODES", "ChapterCheck", "Failing", "PieceCheck", "VerifyError",
           "VerifyOptions", "VerifyReport", "audio_digest", "load_chapter_checks",
           "save_chapter_checks", "stored_checks", "stored_report"]

VERIFY_MODES = ("off", "report", "strict")  # light to import: the settings check against it
STATE_FILE = "verification.json"


class VerifyError(KokoroError):
    """--verify strict: pieces still fail the listening check; the output is kept back."""

    exit_code = ExitCode.VERIFY

    def __init__(self, message: str, report: VerifyReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class VerifyOptions:
    """``mode``: off, report (check, re-render, report) or strict (and fail the run);
    ``model``: the Whisper NAME or folder; ``threshold``: the highest passing error rate
    (None: per language, preprocess/data/verify.json); ``tries``: renders after the first."""

    mode: str = "off"
    model: str = "base"
    threshold: float | None = None
    tries: int = 3

    def __post_init__(self) -> None:
        if self.mode not in VERIFY_MODES:
            raise ValueError(f"verify mode {self.mode!r}: use {', '.join(VERIFY_MODES)}")

    @property
    def on(self) -> bool:
        return self.mode != "off"

    @property
    def tag(self) -> str:
        """Names the model's checks beside a cached piece."""
        return hashlib.sha256(self.model.encode("utf-8")).hexdigest()[:10]


def audio_digest(samples: np.ndarray) -> str:
    """Identifies the 16-bit samples a check heard."""
    import numpy as np

    pcm = np.ascontiguousarray(samples, dtype="<i2").tobytes()
    return hashlib.blake2b(pcm, digest_size=16).hexdigest()


@dataclass(frozen=True)
class PieceCheck:
    """One piece heard: the audio's digest, the transcript, the edits over the reference's
    units, how many takes were made and the variation of the take kept ("" = the first)."""

    audio: str
    heard: str
    errors: int
    length: int
    metric: str
    takes: int = 1
    variation: str = ""

    @property
    def score(self) -> float:
        return self.errors / self.length if self.length else float(self.errors > 0)

    @classmethod
    def read(cls, path: Path) -> PieceCheck | None:
        """The check stored at ``path``, or None (absent, unreadable, not ours)."""
        try:
            data = json.loads(path.read_text("utf-8"))
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        write_atomic(path, json.dumps(asdict(self), ensure_ascii=False).encode("utf-8"))


@dataclass(frozen=True)
class Failing:
    """A piece still over the threshold: its text, where it starts in its chapter, its score
    and what Whisper heard."""

    text: str
    at_s: float
    score: float
    heard: str


@dataclass(frozen=True)
class ChapterCheck:
    """One chapter's listening check."""

    index: int
    title: str
    checked: int
    mean: float
    worst: float
    rerendered: int
    failing: tuple[Failing, ...] = ()
    unchecked: int = 0  # pieces in a language the check does not hear (Hindi)

    @property
    def passed(self) -> bool:
        return not self.failing

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failing": [asdict(f) for f in self.failing]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChapterCheck:
        return cls(**{**data, "failing": tuple(Failing(**f) for f in data["failing"])})


@dataclass(frozen=True)
class VerifyReport:
    """The book's listening check: the model and each chapter's results."""

    model: str
    mode: str
    chapters: tuple[ChapterCheck, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.chapters)

    @property
    def failing(self) -> int:
        return sum(len(c.failing) for c in self.chapters)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "mode": self.mode, "passed": self.passed,
                "pieces_checked": sum(c.checked for c in self.chapters),
                "pieces_failing": self.failing,
                "rerendered": sum(c.rerendered for c in self.chapters),
                "chapters": [c.to_dict() for c in self.chapters]}

    def summary(self) -> str:
        """The report as a few lines: the verdict, each chapter, each failing piece."""
        checked = sum(c.checked for c in self.chapters)
        head = (f"listening check (Whisper {self.model}): {checked} pieces, "
                + ("passed" if self.passed else f"{self.failing} FAILING"))
        lines = [head]
        for c in self.chapters:
            lines.append(f"  {c.title[:40]:<40} {c.checked:4d} checked  mean {c.mean:5.1%}  "
                         f"worst {c.worst:5.1%}  {c.rerendered} re-rendered"
                         + (f"  {len(c.failing)} failing" if c.failing else ""))
            lines += [f"    at {_clock(f.at_s)} ({f.score:.0%}): {f.text[:70]!r} heard "
                      f"{f.heard[:70]!r}" for f in c.failing]
        return "\n".join(lines)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def load_chapter_checks(folder: Path) -> dict[str, Any]:
    """The job's stored chapter checks: ``{"model": ..., "chapters": {index: {fingerprint,
    check}}}``; empty when absent or unreadable."""
    try:
        data = json.loads((folder / STATE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("chapters"), dict) else {}


def stored_report(folder: Path) -> VerifyReport | None:
    """The listening check last stored in a job folder (for ``jobs show``), or None."""
    data = load_chapter_checks(folder)
    try:
        chapters = tuple(ChapterCheck.from_dict(v["check"]) for _, v in
                         sorted(data["chapters"].items(), key=lambda item: int(item[0])))
        return VerifyReport(str(data["model"]), str(data.get("mode", "report")), chapters)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def stored_checks(folder: Path, options: VerifyOptions) -> dict[int, tuple[str, ChapterCheck]]:
    """The job's chapter checks made with the same model and threshold, by chapter:
    (the chapter's fingerprint, its check); a damaged file is none."""
    data = load_chapter_checks(folder)
    if data.get("model") != options.model or data.get("threshold") != options.threshold:
        return {}
    try:
        return {int(i): (str(v["fingerprint"]), ChapterCheck.from_dict(v["check"]))
                for i, v in data["chapters"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        return {}


def save_chapter_checks(folder: Path, options: VerifyOptions,
                        checks: dict[int, tuple[str, ChapterCheck]]) -> None:
    """Store each chapter's check with its fingerprint (atomically, in the job folder)."""
    data = {"model": options.model, "mode": options.mode, "threshold": options.threshold,
            "chapters": {str(i): {"fingerprint": fp, "check": c.to_dict()}
                         for i, (fp, c) in sorted(checks.items())}}
    write_atomic(folder / STATE_FILE,
                 (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
