"""misaki's English word lists, kept in an SQLite file made once and read word by word.

misaki builds its gold and silver dictionaries (365,000 entries with the case variants it adds)
from JSON on every start: 0.34 s and 54 MB of a cold ``say`` on an Intel Xeon (issue #29), for
the dozen words a sentence looks up, and 54 MB a ``convert`` holds while its workers run. The
same entries, grown by misaki's own ``Lexicon.grow_dictionary``, go into a file in the user
cache the first time (about a second), named after misaki's version and its files' sizes; later
starts open it in a millisecond, and each word looked up is remembered for the rest of the run.

Where the file cannot be made or read (a read-only home, a broken file), the dictionaries are
built in memory as misaki builds them, so the G2P works the same either way.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path

__all__ = ["FORMAT", "WordList", "grown_lists", "word_lists"]

FORMAT = 1  # bump when the file's layout changes
_MISSING = object()


class WordList(Mapping):
    """One of misaki's dictionaries (word → phonemes, or → {tag: phonemes} for heteronyms),
    read from table ``table`` of the SQLite file at ``path``. What misaki asks of it (``in``,
    ``get``, ``[]``) is a lookup by key, remembered; iterating reads the whole table."""

    def __init__(self, path: Path, table: str) -> None:
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._table = table
        self._seen: dict[str, object] = {}
        self._lock = threading.Lock()  # one connection, G2P calls from any thread

    def get(self, word, default=None):
        if not isinstance(word, str):
            return default
        found = self._seen.get(word, _MISSING)
        if found is _MISSING:
            with self._lock:
                row = self._db.execute(f"SELECT value FROM {self._table} WHERE word = ?",
                                       (word,)).fetchone()
            found = self._seen[word] = None if row is None else json.loads(row[0])
        return default if found is None else found

    def __getitem__(self, word):
        found = self.get(word)
        if found is None:
            raise KeyError(word)
        return found

    def __contains__(self, word) -> bool:
        return self.get(word) is not None

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            words = [w for (w,) in self._db.execute(f"SELECT word FROM {self._table}")]
        return iter(words)

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute(f"SELECT count(*) FROM {self._table}").fetchone()[0]


def grown_lists(british: bool) -> tuple[dict, dict]:
    """misaki's gold and silver dictionaries as ``en.Lexicon(british)`` builds them."""
    from misaki import data, en

    prefix = "gb" if british else "us"
    return tuple(  # type: ignore[return-value]
        en.Lexicon.grow_dictionary(json.loads(
            resources.files(data).joinpath(f"{prefix}_{kind}.json").read_text("utf-8")))
        for kind in ("gold", "silver"))


def word_lists(british: bool, folder: Path | None = None) -> tuple[Mapping, Mapping]:
    """(golds, silvers) for misaki's ``Lexicon``: from the file in ``folder`` (by default the
    user cache's ``g2p`` folder), made there on first use, or built in memory where that
    fails."""
    try:
        path = _file(british, folder)
        if path is not None:
            golds, silvers = WordList(path, "gold"), WordList(path, "silver")
            silvers.get("the")  # raises where the file is not what it should be
            if golds.get("the") is not None:
                return golds, silvers
    except (OSError, sqlite3.Error):
        pass
    return grown_lists(british)


def _file(british: bool, folder: Path | None) -> Path | None:
    import misaki
    from misaki import data

    from kokoro_common.atomic import made_once

    if folder is None:
        import platformdirs

        folder = Path(platformdirs.user_cache_dir("kokoro-audiobook")) / "g2p"
    prefix = "gb" if british else "us"
    files = resources.files(data)
    sizes = "-".join(str(files.joinpath(f"{prefix}_{kind}.json").stat().st_size)
                     for kind in ("gold", "silver"))
    version = getattr(misaki, "__version__", "unknown")
    path = folder / f"misaki-{version}-{prefix}-{sizes}.v{FORMAT}.sqlite"
    return path if made_once(path, lambda tmp: _make(tmp, british)) else None


def _make(tmp: Path, british: bool) -> bool:
    golds, silvers = grown_lists(british)
    tmp.unlink(missing_ok=True)  # made_once hands over an empty file: SQLite starts afresh
    db = sqlite3.connect(tmp)
    try:
        for table, words in (("gold", golds), ("silver", silvers)):
            db.execute(f"CREATE TABLE {table} (word TEXT PRIMARY KEY, value TEXT NOT NULL) "
                       "WITHOUT ROWID")
            db.executemany(f"INSERT INTO {table} VALUES (?, ?)",
                           ((w, json.dumps(v, ensure_ascii=False)) for w, v in words.items()))
        db.commit()
    finally:
        db.close()
    return True
