"""Chapter selections such as ``1-3,7`` as given on the command line."""

from __future__ import annotations

import re

from kokoro_cli.errors import UsageError

__all__ = ["parse_selection"]

_PART = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d*)\s*)?$")


def parse_selection(spec: str, count: int) -> tuple[int, ...]:
    """1-based chapter numbers, sorted and unique: ``"1-3,7"`` → ``(1, 2, 3, 7)``; ``"5-"`` runs
    to the last chapter. Numbers beyond ``count`` are a usage error that names the range."""
    chosen: set[int] = set()
    for part in spec.split(","):
        match = _PART.match(part)
        if not match:
            raise UsageError(f"bad chapter selection {spec!r}: use numbers and ranges like 1-3,7")
        first = int(match.group(1))
        last = first if match.group(2) is None else int(match.group(2) or count)
        if not 1 <= first <= last <= count:
            raise UsageError(f"chapter selection {part.strip()!r} is outside 1-{count}")
        chosen.update(range(first, last + 1))
    return tuple(sorted(chosen))
