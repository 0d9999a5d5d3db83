"""Spoken forms: the word tables and how each kind of match is said.

The functions here turn one regular-expression match (a URL, a date, an amount of money, a
Roman numeral...) into what a careful narrator would say; :mod:`preprocess.normalize_rules`
pairs each with its pattern, in order. Word tables live in ``data/english.json`` and
``data/units.json``; number words come from num2words.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources

from num2words import num2words

# Every name is public: the rule table (preprocess.normalize_rules) pairs them with patterns.
__all__ = [
    "AMOUNT", "CONTEXT", "DATA_FILES", "NUM", "ROMAN", "ROMAN_SMALL", "ROMAN_VALUES",
    "Replace", "VULGAR", "abbreviation", "abbreviation_before_number", "acronym_as_word",
    "after", "before", "call", "clock_time", "count_not_year", "count_word", "currency_amount",
    "day_month", "domain", "dotted_version", "duration", "either", "file_name",
    "fraction_words", "identifier", "ip_address", "iso_date", "keep_period",
    "money_with_multiplier", "month_day", "month_name", "name_before", "number_range",
    "numeric_date", "ordinal_suffix", "phone_number", "roman_after_cue", "roman_after_name",
    "roman_value", "ruler_title_before", "shouted", "slash_fraction", "spoken_date", "symbol",
    "table", "tables", "temperature", "thousands_separators", "times", "two_way_abbreviation",
    "unit", "url", "version", "vulgar_fraction", "words", "words_for",
]

DATA_FILES = ("english.json", "units.json", "technical.json")
Replace = Callable[[re.Match[str]], str]

# A number as written in running text: 5, 1,234, 3.5 (the G2P reads these itself).
NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
# Roman numerals 1–89 (I V X L only: C, D and M make too many real words) and 1–399.
ROMAN_SMALL = r"(?:XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
ROMAN = r"C{0,3}(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
VULGAR = "½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞"
# An amount before a unit may be a fraction: "½ tsp", "1 1/2 cups", "3/4 mile".
AMOUNT = rf"(?:\d+\s?)?[{VULGAR}]|(?:\d+\s)?\d+/\d+|{NUM}"
# How far a rule looks around a match for a cue ("the", "pages", a name before it). Enough for
# any word; bounded so that every rule stays linear on a paragraph of any length.
CONTEXT = 256


# --------------------------------------------------------------------------- tables


@cache
def tables() -> dict:
    """The word tables of every data file, merged (later files may not reuse a key)."""
    merged: dict = {}
    for name in DATA_FILES:
        merged.update(json.loads(resources.files("preprocess").joinpath(f"data/{name}").read_text("utf-8")))
    return merged


@cache
def table(name: str) -> dict:
    """A mapping table without its ``_comment`` (shared: do not change it)."""
    return {k: v for k, v in tables()[name].items() if not k.startswith("_")}


def words(name: str) -> list[str]:
    """A word-list table (``{"_comment": ..., "words": [...]}``)."""
    return tables()[name]["words"]


def either(options: Iterable[str]) -> str:
    """Regex alternation of literal strings, longest first so "km/h" wins over "km"."""
    return "|".join(re.escape(o) for o in sorted(options, key=len, reverse=True))


# --------------------------------------------------------------------------- small helpers


def ordinal_suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def roman_value(numeral: str) -> int:
    values = [ROMAN_VALUES[c] for c in numeral]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def count_word(number: str, forms: list[str]) -> str:
    """[singular, plural] by the written number: "1 km" is one kilometer, "1.5 km" kilometers,
    "½ cup" one half cup, "1 ½ cups" cups."""
    bare_fraction = re.fullmatch(rf"[{VULGAR}]|\d+/\d+", number)
    return forms[0] if number in ("1", "-1") or bare_fraction else forms[1]


def before(pattern: re.Pattern[str], m: re.Match[str], end: int | None = None) -> re.Match[str] | None:
    """``pattern`` (anchored at its end with ``$``) searched in the text just before the match
    (or before ``end``): the last CONTEXT characters, not a copy of everything before."""
    end = m.start() if end is None else end
    return pattern.search(m.string, max(0, end - CONTEXT), end)


def after(pattern: re.Pattern[str], m: re.Match[str]) -> re.Match[str] | None:
    """``pattern`` matched right after the match, without copying the rest of the text."""
    return pattern.match(m.string, m.end())


_SENTENCE_GOES_ON = re.compile(r"\s*(?:$|\n|[A-Z\"“])")


def keep_period(m: re.Match[str]) -> str:
    """The period of an abbreviation that also ends its sentence ("... etc. Then")."""
    return "." if after(_SENTENCE_GOES_ON, m) else ""


def words_for(chars: str) -> str:
    """Read the punctuation inside a URL, path or address as words ("/" → "slash")."""
    names = tables()["url_words"]
    parts = re.split(r"([/.\-_@~?=&:#+%])", chars)
    return " ".join(names.get(p, p) for p in parts if p)


# --------------------------------------------------------------------------- URLs, files, versions


def url(m: re.Match[str]) -> str:
    # People say the host and path, not the scheme: "example dot com slash status".
    return words_for(re.sub(r"^www\.", "", m.group("rest").rstrip("/")))


def domain(m: re.Match[str]) -> str:
    return words_for(re.sub(r"^www\.", "", m.group(0)))


def file_name(m: re.Match[str]) -> str:
    # Underscores and dashes stay for the identifier rule; dots and slashes are said.
    stem = re.sub(r"[./]", lambda d: {".": " dot ", "/": " slash "}[d.group(0)], m.group("stem"))
    return f"{stem} dot {table('file_extensions')[m.group('ext').lower()]}"


def ip_address(m: re.Match[str]) -> str:
    return " dot ".join(m.group(0).split("."))


def version(m: re.Match[str]) -> str:
    # Each component is a whole number: 3.11 is "three point eleven", not "three point one one".
    cue = re.sub(r"\s*v$", "", m.group("cue") or "", flags=re.I)  # "Version v2.4" says it once
    # A leading zero is said: Ubuntu 22.04 is "22 point oh 4".
    numbers = " point ".join(re.sub(r"^0(?=\d)", "oh ", n) for n in m.group("num").split("."))
    spoken_cue = f"{cue} " if cue else ("version " if m.group("cue") else "")
    return f"{spoken_cue}{numbers}"


def dotted_version(m: re.Match[str]) -> str:
    # 1.234.567 is a number with thousands dots, not a version: the separator rule reads it.
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", m.group("num")):
        return m.group(0)
    return version(m)


# --------------------------------------------------------------------------- dates and times


def month_name(number: int) -> str:
    return list(table("months").values())[number - 1]


def spoken_date(month: int, day: int, year: str = "") -> str:
    # Digits with an ordinal suffix: the G2P says "May fifth, twenty twenty-four".
    return f"{month_name(month)} {day}{ordinal_suffix(day)}" + (f", {year}" if year else "")


def iso_date(m: re.Match[str]) -> str:
    return spoken_date(int(m.group("m")), int(m.group("d")), m.group("y"))


def numeric_date(date_order: str) -> Replace:
    def replace(m: re.Match[str]) -> str:
        a, b, year = int(m.group("a")), int(m.group("b")), m.group("y")
        if m.group("sep") == "." and len(year) == 2:
            return m.group(0)  # 1.2.10 is a version
        day_first = a > 12 or (b <= 12 and (m.group("sep") == "." or date_order == "dmy"))
        month, day = (b, a) if day_first else (a, b)
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return m.group(0)
        return spoken_date(month, day, year)
    return replace


def month_day(m: re.Match[str]) -> str:
    day = int(m.group("day"))
    if not 1 <= day <= 31:
        return m.group(0)
    return f"{table('months')[m.group('month')]} {day}{ordinal_suffix(day)}"


_THE_BEFORE = re.compile(r"\bthe\s+$", re.I)


def day_month(m: re.Match[str]) -> str:
    day = int(m.group("day"))
    if not 1 <= day <= 31:
        return m.group(0)
    the = "" if before(_THE_BEFORE, m) else "the "
    month = table("months")[m.group("month")]
    period = keep_period(m) if m.group("period") else ""
    return f"{the}{day}{ordinal_suffix(day)} of {month}{period}"


def duration(hours: int, minutes: int, seconds: int) -> str:
    """1:23:45 is a length of time (a race, a recording): "1 hour, 23 minutes and 45 seconds"."""
    parts = [f"{n} {unit if n == 1 else unit + 's'}"
             for n, unit in ((hours, "hour"), (minutes, "minute"), (seconds, "second")) if n]
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts) or "0 seconds"


def clock_time(m: re.Match[str]) -> str:
    hour, minute, second = int(m.group("h")), m.group("min"), m.group("s")
    half = (m.group("ampm") or "").replace(".", "").lower()
    if second and not half:
        return duration(hour, int(minute), int(second))
    if minute == "00":
        spoken = (f"{hour}" if half else "midnight" if hour == 0 and not second else
                  f"{hour} hundred" if hour > 12 or hour == 0 else f"{hour} o'clock")
    else:
        spoken = f"{hour if hour or half else 'zero'} {'oh ' + minute[1] if minute[0] == '0' else minute}"
    if half:
        # "a.m." keeps its own period unless the text already has one right after it.
        spoken += f" {half[0]}.m" + ("" if m.string[m.end():m.end() + 1] == "." else ".")
    return spoken


# --------------------------------------------------------------------------- numbers and money


def money_with_multiplier(m: re.Match[str]) -> str:
    if m.group("gap") and len(m.group("mult")) == 1:
        return m.group(0)  # "$5 m" could be anything; "$5m" and "$5 bn" are amounts
    return f"{m.group('sym')}{m.group('num')} {table('multipliers')[m.group('mult')]}"


def currency_amount(m: re.Match[str]) -> str:
    """'US$5bn', '₹500', 'EUR 100', '100 EUR' → the amount, its multiplier, then the currency."""
    code = m.group("code")
    code = table("currency_symbols").get(code, code)
    number, mult = m.group("num"), m.group("mult")
    scale = f" {table('multipliers').get(mult, mult)}" if mult else ""
    # Cents are read well after a symbol the G2P knows ("€2.50"); keep those that way.
    known = {"USD": "$", "EUR": "€", "GBP": "£"}
    if "." in number and not scale and code in known:
        return f"{known[code]}{number}"
    name = count_word(number, table("currencies")[code]) if not scale else table("currencies")[code][1]
    return f"{number}{scale} {name}"


def thousands_separators(m: re.Match[str]) -> str:
    """1.234.567 / 1 234 567 / 1'234'567 / 1.234,5 → 1,234,567 (what the G2P reads)."""
    whole, comma, fraction = m.group(0).partition(",")  # only "1.234,5" has a comma here
    return re.sub(r"[.\s'’\u00a0\u202f\u2009]", ",", whole) + (f".{fraction}" if comma else "")


_PAGES_BEFORE = re.compile(r"\b(?:pages?|pp?\.|lines?|from|between)\s*$", re.I)


def phone_number(m: re.Match[str]) -> str:
    # Said digit by digit in groups: "555-1234" → "5 5 5, 1 2 3 4"; "pages 100-1250" is a range.
    if before(_PAGES_BEFORE, m):
        return m.group(0)
    return ", ".join(" ".join(group) for group in re.findall(r"\d+", m.group(0)))


_SCALE_AFTER = re.compile(r"\s*(?:thousand|million|billion|trillion)\b")


def number_range(m: re.Match[str]) -> str:
    a, b = m.group("a"), m.group("b")
    if a == b:
        return f"{a} {b}"  # "a 50-50 chance" is fifty-fifty, not 50 to 50
    symbol = a[0] if a[0] in "$£€" else ""
    scaled = after(_SCALE_AFTER, m)
    if symbol and b[0] not in "$£€":
        # "$5-10" → "$5 to $10", but "$5-10 million" → "5 to $10 million".
        a, b = (a[1:], symbol + b) if scaled else (a, symbol + b)
    return f"{a} to {b}"


def fraction_words(numerator: int, denominator: int) -> str:
    names = {2: ("half", "halves"), 4: ("quarter", "quarters")}
    one, many = names.get(denominator, (num2words(denominator, to="ordinal"),) * 2)
    if denominator not in names:
        many = one + "s"
    return f"{num2words(numerator)} {one if numerator == 1 else many}"


def slash_fraction(m: re.Match[str]) -> str:
    whole, top, bottom = m.group("whole"), int(m.group("num")), int(m.group("den"))
    if bottom in (10, 100) and not whole:
        return f"{top} out of {bottom}"  # "9/10 doctors", "87/100"
    if not 0 < top < bottom or bottom not in (2, 3, 4, 5, 6, 8, 12, 16, 32, 64):
        return m.group(0)
    spoken = fraction_words(top, bottom)
    return f"{whole} and {re.sub(r'^one ', 'a ', spoken)}" if whole else spoken


def vulgar_fraction(m: re.Match[str]) -> str:
    # Unicode names the fraction: "VULGAR FRACTION THREE QUARTERS" → "three quarters".
    spoken = unicodedata.name(m.group("frac")).removeprefix("VULGAR FRACTION ").lower()
    whole = m.group("whole")
    return f"{whole} and {re.sub(r'^one ', 'a ', spoken)}" if whole else spoken


_WORD_BEFORE = re.compile(r"([\w-]+)\W*$")
_NOTHING_BEFORE = re.compile(r"\A\s*$")
_STOP_BEFORE = re.compile(r"[.!?:]\s*$")


def count_not_year(plural: set[str], cues: set[str], not_plural: set[str]) -> Replace:
    """1100–2099 before a plural noun is a count: "1234 apples" → "1,234 apples"."""
    def replace(m: re.Match[str]) -> str:
        previous = before(_WORD_BEFORE, m)
        starts_sentence = before(_NOTHING_BEFORE, m) or before(_STOP_BEFORE, m)
        noun = m.group("noun")
        is_plural = noun in plural or (noun.endswith("s") and not noun.endswith("ss") and noun not in not_plural)
        if starts_sentence or not is_plural or (previous and previous.group(1) in cues):
            return m.group(0)
        n = m.group("n")
        return f"{n[0]},{n[1:]}"
    return replace


# --------------------------------------------------------------------------- units and symbols


def temperature(m: re.Match[str]) -> str:
    scale = m.group("scale") or {"℃": "C", "℉": "F"}.get(m.group("sign") or "", "")
    degrees = count_word(m.group("num"), ["degree", "degrees"])
    name = tables()["temperature_scales"].get(scale, "")
    return f"{m.group('num')} {degrees} {name}".rstrip()


def unit(m: re.Match[str]) -> str:
    forms = table("units")[m.group("unit")]
    if m.group("sep") == "-":
        return f"{m.group('num')}-{forms[0]}"  # an adjective: "a 5-kilometer race"
    return f"{m.group('num')} {count_word(m.group('num'), forms)}"


def times(m: re.Match[str]) -> str:
    return f"{m.group('n')} times"


def symbol(kind: str) -> Replace:
    def replace(m: re.Match[str]) -> str:
        spoken = table(kind)[m.group("sym")]
        return f" {spoken} "  # spaces: "R&D" → "R and D"; the cleanup squeezes them
    return replace


# --------------------------------------------------------------------------- abbreviations


def abbreviation(m: re.Match[str]) -> str:
    spoken = table("abbreviations")[m.group(0)]
    # A title before a name never ends a sentence: "Dr. Smith" keeps no period.
    return spoken if m.group(0) in words("never_end_sentence") else spoken + keep_period(m)


def abbreviation_before_number(m: re.Match[str]) -> str:
    return table("abbreviations_before_numbers")[m.group("abbr")] + " "


def two_way_abbreviation(m: re.Match[str]) -> str:
    # "St. Paul" is a saint, "Main St." a street (a capitalized name right before it).
    before_name, after_name = table("two_way_abbreviations")[m.group("abbr")]
    following = m.group("next")
    if following and not name_before(m.string, m.start()):
        return f"{before_name} {following}"
    if following:  # "Main St. He ..." : the capital starts the next sentence
        return f"{after_name}. {following}"
    return (after_name if name_before(m.string, m.start()) else before_name) + keep_period(m)


_NAME_BEFORE = re.compile(r"[A-Z][a-z]+\s+$")
_SENTENCE_START_BEFORE = re.compile(r"(?:^|[.!?\"“]\s*)$")


def name_before(text: str, end: int | None = None) -> bool:
    """Does ``text`` (up to ``end``) end with a capitalized name that is not just the
    sentence's first word?"""
    end = len(text) if end is None else end
    m = _NAME_BEFORE.search(text, max(0, end - CONTEXT), end)
    return bool(m) and not _SENTENCE_START_BEFORE.search(text, max(0, m.start() - CONTEXT),
                                                         m.start())


# --------------------------------------------------------------------------- Roman numerals


def roman_after_cue(m: re.Match[str]) -> str:
    # "Part I" yes, "in this chapter I show" no: a lone I needs a capitalized cue.
    if m.group("num") == "I" and not m.group("cue")[0].isupper():
        return m.group(0)
    return f"{m.group('cue')}{m.group('sp')}{num2words(roman_value(m.group('num')))}"


_PHRASE_END_AFTER = re.compile(r"(?:['’]s\b|\s+of\b|\s*[.,;:!?)\]]|\s*$)")


def roman_after_name(m: re.Match[str]) -> str:
    """"Henry VIII" → "Henry the Eighth", "World War II" → "World War two"; "Mary I love" stays."""
    r = tables()["roman_numerals"]
    name, numeral = m.group("name"), m.group("num")
    ruler_title = before(ruler_title_before(), m, m.start("name"))
    is_ruler = name in r["ruler_names"] or bool(ruler_title)
    ends_phrase = after(_PHRASE_END_AFTER, m)
    if numeral == "I" and not (ruler_title or (is_ruler and ends_phrase)):
        return m.group(0)  # "Tell Mary I said so": the pronoun
    if is_ruler:
        return f"{name} the {num2words(roman_value(numeral), to='ordinal').title()}"
    if len(numeral) < 2 or name in r["stop_words"] or numeral in r["not_numerals"]:
        return m.group(0)
    return f"{name} {num2words(roman_value(numeral))}"


@cache
def ruler_title_before() -> re.Pattern[str]:
    return re.compile(rf"\b(?:{either(tables()['roman_numerals']['ruler_titles'])})\s+$")


# --------------------------------------------------------------------------- acronyms and shouting


def shouted(keep: set[str]) -> Replace:
    """An all-capital heading is read as words: "IT WAS A DARK NIGHT" → "It was a dark night"."""
    def replace(m: re.Match[str]) -> str:
        parts = re.split(r"([^A-Z'’]+)", m.group(0))  # words at even places, gaps at odd
        if sum(len(word) > 1 for word in parts[::2]) < 2:
            return m.group(0)
        spoken = "".join(p if i % 2 or p in keep or p == "I" else p.lower() for i, p in enumerate(parts))
        return spoken[0].upper() + spoken[1:]
    return replace


def acronym_as_word(m: re.Match[str]) -> str:
    return m.group("word").title() + m.group("s")


# --------------------------------------------------------------------------- code and Markdown


def identifier(m: re.Match[str]) -> str:
    word = m.group(0).strip("_")
    if "_" in word:  # MAX_SIZE is a constant, said "max size"
        return " ".join(p for p in (word.lower() if word.isupper() else word).split("_") if p)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", word)


def call(m: re.Match[str]) -> str:
    return m.group("name").replace(".", " dot ")
