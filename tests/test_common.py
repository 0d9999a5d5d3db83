"""kokoro_common: atomic files and derived files made once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from kokoro_common import made_once, write_atomic


def test_made_once_makes_the_file_once_even_when_asked_twice_at_once(tmp_path: Path):
    dest = tmp_path / "cache" / "derived.bin"
    calls = []

    def make(tmp: Path) -> bool:
        calls.append(tmp)
        tmp.write_bytes(b"derived")
        return True

    threads = [threading.Thread(target=made_once, args=(dest, make)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert dest.read_bytes() == b"derived" and len(calls) == 1
    assert made_once(dest, make) and len(calls) == 1
    assert [p.name for p in dest.parent.iterdir() if p.name != ".derive.lock"] == ["derived.bin"]


def test_made_once_leaves_nothing_when_make_declines_or_fails(tmp_path: Path):
    dest = tmp_path / "derived.bin"

    def decline(tmp: Path) -> bool:
        tmp.write_bytes(b"half")
        return False

    def fail(tmp: Path) -> bool:
        tmp.write_bytes(b"half")
        raise RuntimeError("conversion failed")

    assert made_once(dest, decline) is False
    with pytest.raises(RuntimeError):
        made_once(dest, fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".derive.lock"]


def test_write_atomic_replaces_whole_files_only(tmp_path: Path):
    dest = tmp_path / "manifest.json"
    write_atomic(dest, b"one")
    write_atomic(dest, b"two")
    assert dest.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
