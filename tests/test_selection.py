from __future__ import annotations

import pytest

from kokoro_cli.errors import UsageError
from kokoro_cli.selection import parse_selection


@pytest.mark.parametrize("spec, count, expected", [
    ("1", 5, (1,)),
    ("1-3,7", 9, (1, 2, 3, 7)),
    ("3,1,2,3", 5, (1, 2, 3)),
    ("4-", 6, (4, 5, 6)),
    (" 2 - 3 , 5 ", 5, (2, 3, 5)),
])
def test_selections(spec, count, expected):
    assert parse_selection(spec, count) == expected


@pytest.mark.parametrize("spec", ["", "0", "a", "3-1", "1-9", "1,,2", "-2"])
def test_bad_selections(spec):
    with pytest.raises(UsageError):
        parse_selection(spec, 5)
