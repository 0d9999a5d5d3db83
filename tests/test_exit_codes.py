"""Every error class names its exit code; the table is what the CLI has always answered."""

from __future__ import annotations

import pytest
import typer

from engine import AssetError, BackendError, ExtraMissing, G2PError, SettingError, VoiceError
from kokoro_cli.errors import ExitCode, OutputError, UsageError, exit_code_for
from kokoro_cli.jobs.job import Interrupted, JobError, JobStateError
from kokoro_cli.jobs.verify import VerifyError
from kokoro_cli.output.ffmpeg import FfmpegError
from kokoro_cli.output.loudness import LoudnessError, QCError
from kokoro_cli.output.staging import OutputBusyError
from kokoro_common import KokoroError, NotAFileError
from preprocess import InputError, ParseError
from preprocess.cast import CastError
from preprocess.lexicon import DictionaryError

CODES: tuple[tuple[type[KokoroError], ExitCode], ...] = (
    (UsageError, ExitCode.USAGE),
    (VoiceError, ExitCode.USAGE),  # a voice the user named
    (SettingError, ExitCode.USAGE),
    (ExtraMissing, ExitCode.USAGE),
    (InputError, ExitCode.INPUT),
    (ParseError, ExitCode.INPUT),
    (DictionaryError, ExitCode.INPUT),
    (CastError, ExitCode.USAGE),  # a cast file naming an unknown voice or chapter
    (AssetError, ExitCode.ASSET),
    (BackendError, ExitCode.ASSET),
    (G2PError, ExitCode.ASSET),
    (Interrupted, ExitCode.INTERRUPTED),
    (JobError, ExitCode.BUSY),
    (OutputBusyError, ExitCode.BUSY),  # another run is writing the same output
    (JobStateError, ExitCode.OUTPUT),  # an unwritable work area, not a busy job
    (FfmpegError, ExitCode.OUTPUT),
    (LoudnessError, ExitCode.OUTPUT),
    (QCError, ExitCode.OUTPUT),
    (OutputError, ExitCode.OUTPUT),
    (VerifyError, ExitCode.VERIFY),  # --verify strict with pieces still failing
)


@pytest.mark.parametrize(("kind", "code"), CODES, ids=[kind.__name__ for kind, _ in CODES])
def test_each_error_class_keeps_its_exit_code(kind, code):
    error = kind.__new__(kind)  # some take more than a message (QCError has a report)
    assert exit_code_for(error) == code == kind.exit_code


def test_every_project_error_class_names_a_code():
    def subclasses(kind: type) -> list[type]:
        return [s for c in kind.__subclasses__() for s in (c, *subclasses(c))]

    ours = {c for c in subclasses(KokoroError)
            if c.__module__.split(".")[0] in {"engine", "preprocess", "kokoro_cli",
                                              "kokoro_common"}}
    assert ours <= {kind for kind, _ in CODES}
    assert all(c.exit_code is not None for c in ours)


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"),
                                   NotAFileError("/dev/null exists and is not a regular file"),
                                   BrokenPipeError()])
def test_os_errors_are_output_errors(error):
    assert exit_code_for(error) == ExitCode.OUTPUT


def test_soundfile_errors_are_output_errors():
    soundfile = pytest.importorskip("soundfile")
    assert exit_code_for(soundfile.LibsndfileError(2, "writing")) == ExitCode.OUTPUT


@pytest.mark.parametrize("error", [ZeroDivisionError(), KokoroError("no seam"), typer.Exit(3)])
def test_anything_else_is_a_bug_and_raised_again(error):
    # typer.Exit has an exit_code of its own: only the project's errors are read for one.
    with pytest.raises(type(error)):
        exit_code_for(error)


def test_exit_code_numbers():
    assert {c.name: c.value for c in ExitCode} == {
        "OK": 0, "USAGE": 2, "INPUT": 3, "ASSET": 4, "OUTPUT": 5, "BUSY": 6, "VERIFY": 7,
        "INTERRUPTED": 130}
