"""What every package of the project shares and none owns: the root exception and the exit
codes its errors carry, atomic files and bounded reading of files the user names. It imports
nothing of the project."""

from kokoro_common.atomic import (NotAFileError, atomic_path, atomic_writer, check_replaceable,
                                  made_once, write_atomic)
from kokoro_common.errors import ExitCode, KokoroError
from kokoro_common.files import read_bounded

__all__ = ["ExitCode", "KokoroError", "NotAFileError", "atomic_path", "atomic_writer",
           "check_replaceable", "made_once", "read_bounded", "write_atomic"]
