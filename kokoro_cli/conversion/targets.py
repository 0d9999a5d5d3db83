"""Where each output of a run goes, decided for every input before any synthesis, so that no
conversion replaces another's output by accident.

An output named from a document's title (``--out-dir``, ``watch``) takes the first free name of
``Title.m4b``, ``Title (2).m4b``, ``Title (3).m4b``…: free means not planned for an earlier
input of this run (input order decides) and not an existing file written from another input.
Which input wrote a file is remembered in the work area (``outputs/``, one small record per
output path), so the rule holds across runs: converting ``x/notes.md`` and then ``y/notes.md``
(both titled "Report") keeps ``Report.m4b`` and adds ``Report (2).m4b``, and running either
command again names the same file (a no-op). A file no record names (made by an older version,
or by hand) is taken as before. An output named with ``-o`` that was written from another input
is replaced only with ``--force``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

from kokoro_cli.errors import UsageError
from kokoro_common import write_atomic

__all__ = ["OutputOwners", "claim_target", "source_of"]

STDIN = "stdin"


def source_of(input: Path) -> str:
    """What an output is written from: the input file's absolute path, or ``stdin``."""
    return STDIN if str(input) == "-" else str(Path(input).resolve())


class OutputOwners:
    """The input each output path was last written from, as records in ``root/outputs``."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "outputs"

    def _record(self, target: Path) -> Path:
        key = hashlib.sha256(str(target.resolve()).encode("utf-8")).hexdigest()[:32]
        return self.dir / f"{key}.json"

    def owner(self, target: Path) -> str | None:
        """The source that last claimed ``target``; None when unknown (or unreadable)."""
        try:
            data = json.loads(self._record(target).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        owner = data.get("source") if isinstance(data, dict) else None
        return owner if isinstance(owner, str) else None

    def claim(self, target: Path, source: str) -> None:
        """Record that ``target`` is written from ``source`` (atomically; nothing to write
        when it already is, as on every re-run)."""
        from kokoro_cli.jobs.job import JobStateError

        if self.owner(target) == source:
            return
        record = {"output": str(target.resolve()), "source": source}
        try:
            write_atomic(self._record(target), json.dumps(record).encode("utf-8"))
        except OSError as exc:
            raise JobStateError(f"cannot write in the work area {self.dir.parent}: "
                                f"{exc.strerror or exc}") from None

    def foreign(self, target: Path, source: str) -> str | None:
        """The other source an existing ``target`` was written from, else None."""
        owner = self.owner(target)
        exists = target.exists() or target.is_symlink()
        return owner if exists and owner is not None and owner != source else None


def claim_target(target: Path, source: str, owners: OutputOwners, taken: set[Path], *,
                 named: bool, force: bool, folder: bool = False) -> Path:
    """The output path for one input, claimed for ``source``. ``named``: the user gave it
    (``-o``), so it is used as it is, and refused when it holds another input's output unless
    ``force``; else ``target`` (from the title) or the first numbered name after it that is
    neither in ``taken`` (this run's earlier inputs) nor another input's file. The chosen
    path is added to ``taken``. ``folder``: the output is a folder (--split-chapters)."""
    if named:
        other = None if force else owners.foreign(target, source)
        if other is not None:
            raise UsageError(f"{target} was written from {other}; use --force to replace it, "
                             "or choose another -o")
        chosen = target
    else:
        chosen = next(c for c in _numbered(target, folder)
                      if c.resolve() not in taken and owners.foreign(c, source) is None)
    taken.add(chosen.resolve())
    owners.claim(chosen, source)
    return chosen


def _numbered(target: Path, folder: bool) -> Iterator[Path]:
    """``target``, then ``NAME (2).EXT``, ``NAME (3).EXT``… (a folder has no extension)."""
    yield target
    stem, suffix = (target.name, "") if folder else (target.stem, target.suffix)
    for n in itertools.count(2):
        yield target.with_name(f"{stem} ({n}){suffix}")
