"""What every package of the project shares and none owns: the root exception, atomic files
and bounded reading of files the user names. It imports nothing of the project."""

from kokoro_common.atomic import (NotAFileError, atomic_path, atomic_writer, check_replaceable,
                                  made_once, write_atomic)
from kokoro_common.errors import KokoroError
from kokoro_common.files import read_bounded

__all__ = ["KokoroError", "NotAFileError", "atomic_path", "atomic_writer", "check_replaceable",
           "made_once", "read_bounded", "write_atomic"]
