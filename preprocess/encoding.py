"""Bytes to text for Markdown and plain text: which encoding a file is in, and what is wrong
with it.

UTF-8 is read as UTF-8 even with a few bytes that are not (a damaged byte must not turn every
accent of a UTF-8 book into "cafÃ©"), with a warning that names their offsets; only a file with
more bad bytes than good non-ASCII characters is taken for Windows-1252.
UTF-16 is recognised by its BOM, or without one by the NUL high bytes of its Latin characters.

No detection library decides this: charset-normalizer (tried, 3.5) reads short French
Windows-1252 as mac_latin2 and UTF-8 with one bad byte as ISO-8859-10, where the rule here
is right on both.
"""

from __future__ import annotations

import codecs
import logging
import re

from .errors import ParseError

__all__ = ["decode_text"]

log = logging.getLogger(__name__)

# Share of control characters above which bytes are taken for binary data, not text.
_MAX_CONTROL_SHARE = 0.01
_CONTROLS = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\r\f\v")  # to delete
# UTF-16 without a BOM: at least this share of NULs on one side (the high bytes of spaces, line
# ends and Latin letters; Cyrillic or Greek prose keeps about a fifth for its spaces and
# punctuation) and at most this share on the other (U+0100, U+0400, U+4E00... end in 00).
_UTF16_NULS = 0.1
_UTF16_STRAY_NULS = 0.01
# Bytes that are not UTF-8, as surrogateescape leaves them (one lone surrogate per byte).
_ESCAPED = re.compile("[\udc80-\udcff]")
_OFFSETS_NAMED = 3


def decode_text(data: bytes, *, name: str) -> str:
    """Decode a text file: UTF-8 (with or without BOM), UTF-16 (with a BOM, or without one in
    either byte order), else Windows-1252.

    UTF-8 with bytes that are not UTF-8 is read with each replaced by U+FFFD (never spoken),
    and a warning naming the file and the first bad bytes' offsets, when it has a UTF-8 BOM or
    at least as many good non-ASCII characters as bad bytes; otherwise the whole file is read
    as Windows-1252.
    Raises :class:`ParseError` for data that is evidently binary or invalid UTF-16.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _strict(data, "utf-16", name)
    elif order := _utf16_order(data):
        text = _strict(data, order, name)
    elif b"\x00" in data:
        raise ParseError(f"{name} looks like binary data, not text (it contains NUL bytes)")
    else:
        text = _utf8_or_windows(data, name)
    controls = len(text) - len(text.translate(_CONTROLS))
    if text and controls / len(text) > _MAX_CONTROL_SHARE:
        raise ParseError(f"{name} looks like binary data, not text (many control characters)")
    return text


def _strict(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name} is not valid {encoding.upper()}: {exc.reason}") from None


def _utf16_order(data: bytes) -> str | None:
    """"utf-16-le" or "utf-16-be" for data whose NULs fall on one side of every byte pair,
    as in UTF-16 without a BOM; None otherwise."""
    if len(data) < 2 or b"\x00" not in data:
        return None
    even, odd = data[0::2], data[1::2]
    even_share, odd_share = even.count(0) / len(even), odd.count(0) / max(len(odd), 1)
    if odd_share >= _UTF16_NULS and even_share <= _UTF16_STRAY_NULS:
        return "utf-16-le"  # "A" is 41 00
    if even_share >= _UTF16_NULS and odd_share <= _UTF16_STRAY_NULS:
        return "utf-16-be"
    return None


def _utf8_or_windows(data: bytes, name: str) -> str:
    """UTF-8, its bad bytes replaced, unless bad bytes outnumber good non-ASCII characters and
    no UTF-8 BOM says otherwise: then the whole file is Windows-1252 (where a valid UTF-8
    sequence only occurs by accident)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    escaped = data.decode("utf-8", errors="surrogateescape")
    bad = len(escaped) - len(_ESCAPED.sub("", escaped))
    good = len(escaped) - len(escaped.encode("ascii", errors="ignore")) - bad
    if good >= bad or data.startswith(codecs.BOM_UTF8):  # a UTF-8 BOM says so outright
        where = _offsets(escaped, bad)
        log.warning("%s: %s not UTF-8 (%s), replaced by U+FFFD and not read; the rest is "
                    "read as UTF-8", name, _bytes(bad), where)
        return _ESCAPED.sub("\ufffd", escaped).removeprefix("\ufeff")
    # The file is in an 8-bit encoding, as README says such files are read: no warning.
    # cp1252 leaves five bytes undefined; replacing them beats refusing the file.
    return data.decode("cp1252", errors="replace")


def _offsets(escaped: str, bad: int) -> str:
    """"at byte 4,213", or "at bytes 12, 80 and 4,213", or "at bytes 12, 80, 97 and 1,204
    more", for the bad bytes of ``escaped`` (a surrogateescape decoding)."""
    offsets = []
    for match in _ESCAPED.finditer(escaped):
        offsets.append(len(escaped[:match.start()].encode("utf-8", errors="surrogateescape")))
        if len(offsets) == _OFFSETS_NAMED:
            break
    named = [f"{offset:,}" for offset in offsets]
    if bad > len(offsets):
        named.append(f"{bad - len(offsets):,} more")
    listed = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
    return f"at byte{'s' if bad > 1 else ''} {listed}"


def _bytes(count: int) -> str:
    return "1 byte is" if count == 1 else f"{count:,} bytes are"
