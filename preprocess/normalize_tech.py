"""Rules read from data: technical and modern prose (addresses with queries, paths, flags,
shortcuts, identifiers, calendar ranges, compound units, scientific notation, formulas, emoji).

Each rule is one entry of the ``technical_rules`` table in ``data/technical.json``: a name,
the option family that turns it off, the rule it goes before, a pattern, and what is said,
as a template: ``"{ip|dotted} port {port}"`` says the named group ``ip`` through the reading
``dotted`` (the readings are the small functions in :data:`READINGS`). A reading that finds
its text is not what the rule is for (a chemical formula whose letters are no elements)
raises :class:`Decline` and the text stays as written, for the rules after it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache

from num2words import num2words

from .spoken import NUM, count_word, either, table, tables, words_for

__all__ = ["DataRule", "Decline", "READINGS", "Reading", "data_rules", "say", "technical_rules"]

Reading = Callable[[str, re.Match[str]], str]
_FIELD = re.compile(r"\{(?P<group>\w+)(?:\|(?P<reading>\w+))?\}")
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺₀₁₂₃₄₅₆₇₈₉", "0123456789-+0123456789")


class Decline(Exception):
    """The match is not what the rule is for: leave it as written."""


def _t(name: str) -> dict:
    return table(name)


def _spell(text: str, _m: re.Match[str] | None = None) -> str:
    """Character by character, letters as capitals (misaki says a lone capital's name)."""
    return " ".join(c.upper() for c in text if c.isalnum())


def _digits(text: str, _m: re.Match[str] | None = None) -> str:
    """Each group of digits (or letters) said one by one, groups apart: "978-0-306" →
    "9 7 8, 0, 3 0 6"."""
    return ", ".join(_spell(g) for g in re.findall(r"[0-9A-Za-z]+", text))


def _dotted(text: str, _m: re.Match[str]) -> str:
    return " dot ".join(text.split("."))


def _words(text: str, _m: re.Match[str]) -> str:
    return " ".join(p for p in re.split(r"[-_]+", text) if p)


def _snake(text: str, _m: re.Match[str]) -> str:
    return " ".join(p for p in text.lower().split("_") if p)


def _address(text: str, _m: re.Match[str]) -> str:
    return words_for(re.sub(r"^www\.", "", text.rstrip("/")))


def _query(text: str, _m: re.Match[str]) -> str:
    """``q=tts&lang=en`` → " with q set to tts and lang set to en" (values said as words)."""
    pairs = [p.partition("=") for p in re.split(r"[&;]", text) if p]
    said = [f"{_words(k, _m)} set to {words_for(v)}" if v else _words(k, _m) for k, _, v in pairs]
    return " with " + " and ".join(said) if said else ""


def _with_query(_text: str, m: re.Match[str]) -> str:
    """A URL with a query or a fragment; one with neither is left to the URL rule."""
    if m.group("query") is None and m.group("frag") is None:
        raise Decline
    return (_address(m.group("base"), m) + _query(m.group("query") or "", m)
            + _fragment(m.group("frag") or "", m))


def _fragment(text: str, _m: re.Match[str]) -> str:
    return f", section {_words(text, _m)}" if text else ""


def _point(text: str, _m: re.Match[str]) -> str:
    """A version: each part a whole number, a leading zero said "oh" (22.04)."""
    return " point ".join(re.sub(r"^0(?=\d)", "oh ", p) for p in text.split("."))


def _hex4(text: str, _m: re.Match[str]) -> str:
    return _spell(text.replace("-", "")[:4])


def _path(text: str, _m: re.Match[str]) -> str:
    """``~/notes/todo.txt`` → "tilde slash notes slash todo dot TXT"."""
    names = _t("path_words")
    extensions = table("file_extensions")
    parts = re.split(r"([/\\])", text)
    said = []
    for part in parts:
        if part in names:
            said.append(names[part])
        elif part:
            stem, dot, ext = part.rpartition(".")
            if stem and ext.lower() in extensions:
                said.append(f"{_dotted(stem, _m)} dot {extensions[ext.lower()]}")
            else:
                said.append(_dotted(part, _m))
    return " ".join(said)


def _keys(text: str, _m: re.Match[str]) -> str:
    """``Ctrl+Shift+P`` / ``⌘K`` → "Control Shift P" / "Command K"."""
    names = _t("key_names")
    keys = [k for k in re.split(r"\s*\+\s*|(?<=[⌘⌥⇧⌃])|(?=[⌘⌥⇧⌃])", text) if k]
    return " ".join(names.get(k, k.upper() if len(k) == 1 else k) for k in keys)


def _lookup(name: str) -> Reading:
    def read(text: str, _m: re.Match[str]) -> str:
        return _t(name)[text.rstrip(".").title()]
    return read


def _decade(text: str, _m: re.Match[str]) -> str:
    return re.sub(r"y$", "ies", num2words(int(text)))


def _power(text: str, _m: re.Match[str]) -> str:
    """An exponent: "2" squared, "3" cubed, else "to the power of minus 9"."""
    n = text.translate(_SUPERSCRIPT).lstrip("+")
    if n in ("2", "3"):
        return {"2": "squared", "3": "cubed"}[n]
    return "to the power of " + re.sub(r"^-", "minus ", n)


def _formula(text: str, _m: re.Match[str]) -> str:
    """``H₂SO₄`` → "H 2 S O 4"; text that is not made of element symbols is declined."""
    flat = text.translate(_SUPERSCRIPT)
    parts = re.findall(r"[A-Z][a-z]?|\d+", flat)
    elements = set(tables()["chemical_elements"]["words"])
    if "".join(parts) != flat or not all(p.isdigit() or p in elements for p in parts):
        raise Decline
    if any(a == b for a, b in zip(parts, parts[1:])):
        raise Decline  # CSS3: a repeated element would be written S2
    if not any(p.isdigit() for p in parts) and flat not in tables()["formulas_without_digits"]["words"]:
        raise Decline
    return " ".join(p if p.isdigit() else " ".join(p.upper()) for p in parts)


def _phone(text: str, m: re.Match[str]) -> str:
    """+33 1 23 45 67 89 is said in pairs (French style); other countries digit by digit."""
    code = m.group("cc")
    groups = re.findall(r"\d+", m.group("rest"))
    pairs = code in tables()["phone_pair_countries"]["words"]
    said = [g if pairs and len(g) == 2 and g[0] != "0" else _spell(g) for g in groups]
    return ", ".join([f"plus {_spell(code)}", *said])


def _duration(text: str, _m: re.Match[str]) -> str:
    """``2h30m`` → "2 hours 30 minutes"."""
    names = _t("duration_units")
    said = [f"{n} {count_word(n, names[u])}" for n, u in re.findall(r"(\d+)\s?([a-z]+)", text)]
    return " ".join(said)


def _zone(text: str, _m: re.Match[str]) -> str:
    if not text:
        return ""
    if text == "Z":
        return " UTC"
    sign, hours, minutes = text[0], int(text[1:3]), text[-2:]
    said = f" UTC {'plus' if sign == '+' else 'minus'} {hours}"
    return said + (f" {minutes}" if minutes != "00" else "")


def _clock(text: str, _m: re.Match[str]) -> str:
    return re.sub(r":00$", "", text) if text.count(":") == 2 else text


def _unit_count(text: str, m: re.Match[str]) -> str:
    return count_word(m.group("num"), table("units")[text])


def _unit_one(text: str, _m: re.Match[str]) -> str:
    return table("per_units")[text]


def _counted(text: str, m: re.Match[str]) -> str:
    return count_word(m.group("num"), tables()["counted_words"][text])


def _ipv6(text: str, _m: re.Match[str]) -> str:
    """``fe80::1`` → "F E 8 0 colon colon 1": each group spelled, every colon said."""
    return " ".join("colon" if p == ":" else _spell(p) for p in re.findall(r"[0-9a-fA-F]+|:", text))


def _after(prefix: str, reading: Reading | None = None) -> Reading:
    """A reading that says ``prefix`` then the text (through ``reading``), for optional parts."""
    def read(text: str, m: re.Match[str]) -> str:
        return f"{prefix}{reading(text, m) if reading else text}" if text else ""
    return read


def _serial(text: str, _m: re.Match[str]) -> str:
    return "serial number" if text in ("S/N", "serial", "Serial") else text


def _fiscal(text: str, _m: re.Match[str]) -> str:
    year = re.sub(r"\s", "", text)
    return f" F Y {year[2:]}" if year.startswith("FY") else f" {year}"


def _emoji(text: str, _m: re.Match[str]) -> str:
    """An emoji by its short name, or nothing (``emoji`` in data/technical.json)."""
    if tables()["emoji"]["read"] != "name":
        return ""
    base = "".join(c for c in text if unicodedata.category(c) != "Mn" and c not in "\u200d\ufe0f")
    names = {**_t("symbol_names"), **_t("emoji_names")}
    if base in names:
        return f" {names[base]} "
    return " " + " ".join(unicodedata.name(c, "").lower() for c in base[:1]) + " "


def _symbol_name(text: str, _m: re.Match[str]) -> str:
    """A symbol no rule read: its short name from the table, else its Unicode name."""
    names = _t("symbol_names")
    if text in names:
        return f" {names[text]} " if names[text] else " "
    if unicodedata.category(text)[0] != "S":
        raise Decline
    return f" {unicodedata.name(text, '').lower()} "


READINGS: dict[str, Reading] = {
    "spell": _spell, "digits": _digits, "dotted": _dotted, "words": _words, "snake": _snake,
    "address": _address, "query": _query, "with_query": _with_query, "fragment": _fragment, "point": _point,
    "hex4": _hex4, "path": _path, "keys": _keys, "weekday": _lookup("weekday_names"),
    "month": _lookup("month_names"), "decade": _decade, "power": _power, "formula": _formula,
    "phone": _phone, "duration": _duration, "zone": _zone, "clock": _clock,
    "unit_count": _unit_count, "unit_one": _unit_one, "counted": _counted, "emoji": _emoji,
    "variable": lambda text, _m: _spell(text) if text.isalpha() else text,
    "symbol_name": _symbol_name, "ipv6": _ipv6, "cidr": _after(" slash "),
    "equals": _after(" equals "), "version": _after(" version "), "serial": _serial,
    "fiscal": _fiscal, "power_after": _after(" ", _power), "version_word": lambda text, _m: "version " if text else "",
}


def say(template: str, readings: dict[str, Reading] = READINGS) -> Callable[[re.Match[str]], str]:
    """The replacement for a rule's ``say`` template (``"{ip|dotted} port {port}"``)."""
    def replace(m: re.Match[str]) -> str:
        def field(f: re.Match[str]) -> str:
            value = m.group(f.group("group")) if f.group("group") != "all" else m.group(0)
            reading = f.group("reading")
            if value is None:
                return ""
            return readings[reading](value, m) if reading else value
        try:
            return _FIELD.sub(field, template)
        except Decline:
            return m.group(0)
    return replace


@cache
def _fills() -> dict[str, str]:
    """What a pattern may name as ``<<name>>``: alternations built from the tables."""
    t = tables()
    return {"NUM": NUM, "units": either(table("units")), "extensions": either(table("file_extensions")),
            "weekdays": either(w for w in t["weekday_names"] if not w.startswith("_")),
            "months": either(m for m in t["month_names"] if not m.startswith("_")),
            "keys": either(k for k in t["key_names"] if k[0].isalpha()),
            "states": either(t["us_states"]["words"]), "per": either(table("per_units")), "counted": either(table("counted_words"))}


DataRule = tuple[str, str, str, Callable[[re.Match[str]], str], str]


def data_rules(entries: list[dict], readings: dict[str, Reading] = READINGS,
               fills: dict[str, str] | None = None) -> list[DataRule]:
    """(name, family, pattern, replace, before) for each rule entry of a data table."""
    fills = _fills() if fills is None else fills
    out = []
    for entry in entries:
        pattern = re.sub(r"<<(\w+)>>", lambda f: fills[f.group(1)], entry["pattern"])
        out.append((entry["name"], entry["family"], pattern, say(entry["say"], readings),
                    entry["before"]))
    return out


def technical_rules() -> list[DataRule]:
    """The rules of the ``technical_rules`` table (data/technical.json)."""
    return data_rules(tables()["technical_rules"]["rules"])
