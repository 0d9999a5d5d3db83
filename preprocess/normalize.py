"""Rewrite what a voice cannot read as written into what a careful narrator would say.

A :class:`Normalizer` is an ordered table of small rules, each a regular expression and a
function from the match to its spoken form. Word tables live in ``data/english.json`` and
``data/units.json``; number words come from num2words. Numbers, money, percentages and years
that misaki (the G2P after us) already reads well are left as digits; the rules cover what it
misreads: URLs, file names, versions, dates, clock times, ranges, negatives, fractions, units,
Roman numerals, abbreviations, shouted headings, symbols, code identifiers and Markdown.

Order matters: a rule sees the text the rules above it left (a URL is read before its dots
could look like a version, a date before its dashes could look like a range).
"""

from __future__ import annotations

import html
import hashlib
import json
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from num2words import num2words

from preprocess.plaintext import clean_text

# Bump when a rule or table changes what is spoken: it is part of every job's identity.
NORMALIZER_VERSION = "2"

DATA_FILES = ("english.json", "units.json")
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
# Texts longer than this are normalized in pieces cut at sentence ends (see Normalizer): a
# bound on what any rule can cost, far above a real paragraph.
PIECE = 20_000
# After the rules, a run of more than this many characters without a space (nobody's word: a
# line of dashes, a blob of base64, a 400-digit number) is broken into runs this long. misaki
# spends time quadratic in a run's length and overflows on numbers past 10^303.
LONGEST_RUN = 100
_LONG_RUN = re.compile(rf"\S{{{LONGEST_RUN + 1},}}")


# --------------------------------------------------------------------------- tables


@cache
def tables() -> dict:
    """The word tables of every data file, merged (later files may not reuse a key)."""
    merged: dict = {}
    for name in DATA_FILES:
        merged.update(json.loads(resources.files("preprocess").joinpath(f"data/{name}").read_text("utf-8")))
    return merged


@cache
def normalizer_identity() -> str:
    """The version plus a digest of the word tables: users may edit the tables, and any change
    to what is spoken must make a new job identity."""
    digest = hashlib.sha256(json.dumps(tables(), sort_keys=True).encode("utf-8")).hexdigest()
    return f"{NORMALIZER_VERSION}:{digest[:16]}"


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


# --------------------------------------------------------------------------- the rule table


class PairedMarkup:
    r"""What ``re.compile(r"(D)(?=\S)(.+?)(?<=\S)\1").sub(r"\2", text)`` does for literal
    delimiters D (``**`` bold, ``~~`` strikethrough), in linear time.

    The regex tries each opener up to the end of its line before giving up, so a long line of
    unclosed openers costs time quadratic in its length; here each opener looks up the first
    closer after it in a sorted list instead.
    """

    def __init__(self, *delimiters: str) -> None:
        self.opener = re.compile("|".join(rf"{re.escape(d)}(?=\S)" for d in delimiters))
        # A closer may overlap the next one ("***"): found as positions, by lookahead.
        self.closers = {d: re.compile(rf"(?<=\S)(?={re.escape(d)})") for d in delimiters}

    def sub(self, _replace: object, text: str) -> str:
        closers = {d: [m.start() for m in p.finditer(text)] for d, p in self.closers.items()}
        newlines = [m.start() for m in re.finditer("\n", text)]
        out, done, pos = [], 0, 0
        while opener := self.opener.search(text, pos):
            start = opener.end()  # where the marked text begins
            ends = closers[opener.group(0)]
            k = bisect_left(ends, start + 1)  # the marked text is at least one character
            line = bisect_left(newlines, start)
            line_end = newlines[line] if line < len(newlines) else len(text)
            if k == len(ends) or ends[k] > line_end:
                pos = opener.start() + 1  # no closer on this line: not markup
                continue
            out += [text[done:opener.start()], text[start:ends[k]]]
            done = pos = ends[k] + len(opener.group(0))
        return "".join(out) + text[done:]


@dataclass(frozen=True)
class Rule:
    """One step: every match of ``pattern`` becomes ``replace(match)``."""

    name: str
    family: str  # the NormalizerOptions switch that turns it off
    pattern: re.Pattern[str] | PairedMarkup
    replace: Replace | str


def rule(name: str, family: str, pattern: str, replace: Replace | str, flags: int = 0) -> Rule:
    return Rule(name, family, re.compile(pattern, flags), replace)


def markdown_rules() -> list[Rule]:
    r = [
        ("html entity", r"&(?:#\d+|#[xX][0-9a-fA-F]+|[a-zA-Z]+\d*);", lambda m: html.unescape(m.group(0))),
        ("code fence", r"^[ \t]*(?:```|~~~).*\n?", ""),
        ("heading", r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", r"\1"),
        ("blockquote", r"^[ \t]{0,3}>[ \t]?", ""),
        ("rule line", r"^[ \t]*(?:[-*_][ \t]*){3,}$", ""),
        ("bullet", r"^[ \t]*[-*+•][ \t]+", ""),
        # Link texts hold no "[" and lengths are bounded (text 1,000, address 2,048 characters)
        # so that these stay linear where brackets never close.
        ("image", r"!\[([^\[\]]{0,1000})\]\([^)]{0,2048}\)", r"\1"),
        ("link", r"\[([^\[\]]{1,1000})\]\([^)]{0,2048}\)", r"\1"),
        ("reference link", r"\[([^\[\]^]{1,1000})\]\[[^\[\]]{0,1000}\]", r"\1"),
        ("footnote", r"\[\^[^\[\]]{1,1000}\]", ""),
        ("autolink", r"<((?:https?|ftp)://[^>\s]+)>", r"\1"),
        ("html tag", r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>", " "),
        ("emphasis", r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"\1"),
        ("underscore emphasis", r"(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)", r"\1"),
        ("inline code", r"`+([^`\n]+?)`+", r"\1"),
    ]
    rules = [rule(name, "markdown", pattern, to, re.M) for name, pattern, to in r]
    # Bold and strikethrough: the regexes "(\*\*|__)(?=\S)(.+?)(?<=\S)\1" and
    # "~~(?=\S)(.+?)(?<=\S)~~", kept in their place in the order.
    at = [r.name for r in rules].index("emphasis")
    rules.insert(at, Rule("strong", "markdown", PairedMarkup("**", "__"), ""))
    rules.insert(at + 2 + 1, Rule("strikethrough", "markdown", PairedMarkup("~~"), ""))
    return rules


def address_rules() -> list[Rule]:
    t = tables()
    tlds = either(t["tlds"])
    # One-letter extensions (.c, .h) only in lower case, or "D.C." would be a file.
    extensions = either(e for e in table("file_extensions") if len(e) > 1)
    return [
        rule("url", "urls", r"\b(?:https?|ftp)://(?P<rest>[^\s<>()\"']+[^\s<>()\"'.,;:!?])", url),
        rule("email", "urls", r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b", domain),
        rule("file name", "urls", rf"(?<![\w./@\\-])(?P<stem>[\w-]{{2,}}(?:[./][\w-]+)*)"
             rf"\.(?P<ext>(?i:{extensions})|[ch])(?![\w-]|\.\w)", file_name),
        rule("domain", "urls", rf"(?<![\w.@-])(?:www\.)?(?:[A-Za-z0-9-]+\.)+(?:{tlds})\b(?:/[\w./-]*[\w/])?"
             r"(?![\w-]|\.\w)", domain),
        rule("ip address", "urls", r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)"
             r"(?![\w.]\w|\w)", ip_address),
    ]


def date_time_rules(date_order: str) -> list[Rule]:
    months = either(table("months"))
    return [
        rule("iso date", "numbers", r"\b(?P<y>\d{4})-(?P<m>0[1-9]|1[0-2])-(?P<d>0[1-9]|[12]\d|3[01])\b(?![-:]\d)",
             iso_date),
        rule("numeric date", "numbers", r"(?<![\d./-])(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)"
             r"(?P<y>\d{4}|\d{2})(?![\d/-]|\.\d)", numeric_date(date_order)),
        rule("month day", "numbers", rf"\b(?P<month>{months})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b"
             r"(?![.,:]\d|\s*(?:%|[-–]\s?\d))", month_day),
        rule("day month", "numbers", rf"(?<![\d.,])\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?"
             rf"(?P<month>{months})(?!\w)(?P<period>\.)?", day_month),
        rule("clock time", "numbers", r"(?<![\d:.])(?P<h>[01]?\d|2[0-3]):(?P<min>[0-5]\d)(?::(?P<s>[0-5]\d))?"
             r"(?![\d:])(?:\s?(?P<ampm>[ap]\.?m\.?|[AP]\.?M\.?)(?!\w))?", clock_time),
        rule("ratio", "numbers", r"(?<![\d:.])(?P<a>\d+):(?P<b>\d+)(?![\d:])", r"\g<a> to \g<b>"),
    ]


def number_rules() -> list[Rule]:
    currency_codes = either(table("currencies"))
    symbols = either(table("currency_symbols"))
    mult = either(table("multipliers"))
    scaled = rf"(?:\s?(?P<mult>thousand|million|billion|trillion|(?:{mult})\b))?"
    t = tables()["year_or_count"]
    return [
        rule("currency symbol", "numbers", rf"(?<![\w$])(?P<code>{symbols})\s?(?P<num>{NUM}){scaled}", currency_amount),
        rule("currency code before", "numbers", rf"\b(?P<code>{currency_codes})\s?(?P<num>{NUM}){scaled}(?!\w)",
             currency_amount),
        rule("currency code after", "numbers", rf"(?<![\w.,])(?P<num>{NUM}){scaled}\s?(?P<code>{currency_codes})\b",
             currency_amount),
        rule("money multiplier", "numbers", rf"(?P<sym>[$£€])(?P<num>{NUM})(?P<gap>\s?)(?P<mult>{mult})\b",
             money_with_multiplier),
        rule("grouped thousands", "numbers", r"(?<![\d.,])\d{1,3}(?:(?:\.\d{3}){2,}|(?:\.\d{3})+,\d+"
             r"|(?:['’\u00a0\u202f\u2009]\d{3})+|(?: \d{3}){2,})(?![\d]|[.,]\d)", thousands_separators),
        rule("phone number", "numbers", r"(?<![\w.,-])(?:\+?1[-. ])?(?:\(\d{3}\)\s?|\d{3}[-.])?\d{3}-\d{4}(?![\w-])",
             phone_number),
        rule("range", "numbers", r"(?<![\w.,/–-])(?P<a>[$£€]?\d+(?:[.,]\d+)*)(?P<gap>\s?)[-–—]\s?"
             r"(?P<b>[$£€]?\d+(?:[.,]\d+)*)(?![\d]|[-–/]\d|[.,]\d)", number_range),
        rule("negative", "numbers", r"(?<![\w.,)\]%/])[-−](?=[$£€]?\d)", "minus "),
        *unit_rules(),  # before fractions: "1/2 cup" needs its digits to be an amount
        rule("vulgar fraction", "numbers", rf"(?:(?<!\d)(?P<whole>\d+)\s?)?(?P<frac>[{VULGAR}])", vulgar_fraction),
        rule("fraction", "numbers", r"(?<![\w/.,])(?:(?P<whole>\d{1,3})\s+)?(?P<num>\d{1,2})/(?P<den>\d{1,3})"
             r"(?![\w/]|[.,]\d)", slash_fraction),
        rule("count, not year", "numbers", r"(?<![\w.,$£€])(?P<n>1[1-9]\d\d|20\d\d)(?=\s+(?P<noun>[a-z]+)\b)",
             count_not_year(set(t["irregular_plurals"]), set(t["year_cues"]), set(t["not_plural"]))),
    ]


def unit_rules() -> list[Rule]:
    units = either(table("units"))
    between = table("symbols_between_numbers")
    return [
        rule("temperature", "units", rf"(?<![\d.,])(?P<num>{NUM})\s?(?:°\s?(?P<scale>[CFK])\b|°|(?P<sign>[℃℉]))",
             temperature),
        rule("unit", "units", rf"(?<![\w.,/])(?P<num>{AMOUNT})(?P<sep>\s?|-)(?P<unit>{units})(?![\w²³/]|\.\w)", unit),
        rule("times", "units", r"(?<![\w.])(?P<n>[1-9]\d*(?:\.\d+)?)\s?[x×](?=\s+[a-z])", times),
        rule("between numbers", "symbols", rf"(?<=\d)(?<!\b0)\s?(?P<sym>{either(between)})\s?(?=\d)",
             symbol("symbols_between_numbers")),
    ]


def abbreviation_rules() -> list[Rule]:
    general = either(table("abbreviations"))
    before_numbers = either(table("abbreviations_before_numbers"))
    two_way = either(table("two_way_abbreviations"))
    return [
        rule("abbreviation before number", "abbreviations", rf"(?<![\w.])(?P<abbr>{before_numbers})\s?(?=\d)",
             abbreviation_before_number),
        rule("saint/street", "abbreviations", rf"(?<![\w.])(?P<abbr>{two_way})(?:\s+(?P<next>[A-Z][a-z]+))?",
             two_way_abbreviation),
        rule("abbreviation", "abbreviations", rf"(?<![\w.])(?:{general})(?!\w)", abbreviation),
    ]


def roman_rules() -> list[Rule]:
    cues = either(tables()["roman_numerals"]["cue_words"])
    return [
        rule("roman after cue", "roman_numerals", rf"\b(?P<cue>(?i:{cues}))(?P<sp>\s+)(?P<num>(?=[IVXLC]){ROMAN})\b"
             r"(?![\w-]|\.\w)", roman_after_cue),
        rule("roman after name", "roman_numerals", rf"\b(?P<name>[A-Z][a-z]+)\s+(?P<num>(?=[IVXL]){ROMAN_SMALL})\b"
             r"(?![\w-]|\.\w)", roman_after_name),
    ]


def respelling_rule() -> Rule:
    return rule("respelling", "acronyms", rf"(?<![\w.#+&])(?:{either(table('respellings'))})(?![\w+#])",
                lambda m: table("respellings")[m.group(0)])


def acronym_rules() -> list[Rule]:
    keep = set(words("initialisms")) | {"US"}
    word_like = either(words("acronyms_as_words"))
    return [
        rule("us as object", "acronyms", rf"\b(?P<cue>{either(words('us_object_cues'))})(?P<sp>\s+)US\b",
             lambda m: f"{m.group('cue')}{m.group('sp')}us"),
        rule("shouted words", "acronyms", r"\b[A-Z][A-Z'’]*(?:[ \t,;:!?\"—–-]+[A-Z][A-Z'’]*){2,}\b(?![a-z])",
             shouted(keep)),
        rule("acronym said as a word", "acronyms", rf"\b(?P<word>{word_like})(?P<s>s?)\b", acronym_as_word),
    ]


def symbol_rules() -> list[Rule]:
    return [
        rule("hashtag", "symbols", r"(?<![\w&#])#(?=[A-Za-z])", "hashtag "),
        rule("mention", "symbols", r"(?<![\w.])@(?=[A-Za-z_])", "at "),
        rule("symbol before number", "symbols",
             rf"(?<![\w&#+<>=~@])(?P<sym>{either(table('symbols_before_numbers'))})\s?(?=[$£€]?\d)",
             symbol("symbols_before_numbers")),
        rule("spaced symbol", "symbols", rf"(?<=\s)(?P<sym>{either(table('symbols_between_spaces'))})(?=\s)",
             symbol("symbols_between_spaces")),
        rule("symbol", "symbols", rf"\s*(?P<sym>{either(table('symbols'))})\s*", symbol("symbols")),
    ]


def code_rules() -> list[Rule]:
    return [
        rule("call", "code", r"(?<![\w.])(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\(\)", call),
        rule("identifier", "code", r"\b_*[A-Za-z][A-Za-z0-9]*(?:_+[A-Za-z0-9]+)+_*\b"
             r"|\b[a-z]{2}[a-z0-9]*(?:[A-Z][A-Za-z0-9]*)+\b|\b(?:[A-Z][a-z0-9]+){3,}\b", identifier),
    ]


def build_rules(options: NormalizerOptions) -> list[Rule]:
    """The whole ordered rule table; the order is part of the behavior (see the module docstring)."""
    versions = either(w for w in tables()["version_cue_words"] if w != "v")
    return [
        *markdown_rules(),
        *address_rules(),
        # Versions with a cue word first: "version 1.2.10" is no date.
        rule("version", "versions", rf"\b(?P<cue>(?:{versions})\s+v?|v)(?P<num>\d+(?:\.\d+)+)\b", version),
        *date_time_rules(options.date_order),
        rule("v-number", "versions", r"(?<![\w.])(?P<cue>v)(?P<num>\d+)\b(?!\.\d)", version),
        rule("dotted version", "versions", r"(?<![\d.])(?P<cue>)(?P<num>\d+\.\d+\.\d+(?:\.\d+)*)\b(?!\.\d)",
             dotted_version),
        respelling_rule(),  # before the symbols could read "C#" or "24/7"
        *number_rules(),
        *abbreviation_rules(),
        *roman_rules(),
        *acronym_rules(),
        *symbol_rules(),
        *code_rules(),
    ]


# --------------------------------------------------------------------------- public surface


FAMILIES = ("markdown", "urls", "versions", "numbers", "units", "abbreviations", "roman_numerals",
            "acronyms", "symbols", "code")


@dataclass(frozen=True)
class NormalizerOptions:
    """Switches for the rule families (all on by default) and how to read 05/06/2024.

    ``date_order`` is "mdy" (US: May 6th) or "dmy" (June 5th) for all-number dates whose
    order the numbers themselves do not settle; dotted dates (05.06.2024) are always day first.
    """

    markdown: bool = True
    urls: bool = True
    versions: bool = True
    numbers: bool = True
    units: bool = True
    abbreviations: bool = True
    roman_numerals: bool = True
    acronyms: bool = True
    symbols: bool = True
    code: bool = True
    date_order: str = "mdy"

    def __post_init__(self) -> None:
        if self.date_order not in ("mdy", "dmy"):
            raise ValueError(f"date_order must be 'mdy' or 'dmy', not {self.date_order!r}")


class Normalizer:
    """Callable: ``Normalizer()(text) -> spoken text``. Deterministic; see NORMALIZER_VERSION."""

    version = NORMALIZER_VERSION

    def __init__(self, options: NormalizerOptions = NormalizerOptions()) -> None:
        self.options = options
        self.rules = [r for r in build_rules(options) if getattr(options, r.family)]

    def __call__(self, text: str) -> str:
        text = clean_text(text)  # parsers did this already; text from elsewhere may need it
        if len(text) > PIECE:
            # A paragraph this long is cut at sentence ends and read piece by piece, which
            # bounds what any rule can cost; rules do not reach across a sentence end.
            return " ".join(piece for piece in map(self._normalize, _pieces(text)) if piece)
        return self._normalize(text)

    def _normalize(self, text: str) -> str:
        for r in self.rules:
            text = r.pattern.sub(r.replace, text)
        text = _LONG_RUN.sub(_break_run, text)
        text = re.sub(r"[ \t]+", " ", text)
        text = re.sub(r" (?=[,;:!?)\]]|\.(?!\w))|(?<=[(\[]) ", "", text)  # what a removed word left
        return re.sub(r"^ +| +$", "", text, flags=re.M).strip()


def _break_run(m: re.Match[str]) -> str:
    run = m.group(0)
    return " ".join(run[i:i + LONGEST_RUN] for i in range(0, len(run), LONGEST_RUN))


_CUT = re.compile(r"[.!?…][\"')\]”’]*\s+(?=\S)")


def _pieces(text: str) -> list[str]:
    """``text`` cut after whitespace into pieces of at most PIECE characters: after a sentence
    end where there is one, else after any whitespace, else anywhere."""
    pieces, start = [], 0
    while len(text) - start > PIECE:
        window = text[start:start + PIECE]
        cut = max((m.end() for m in _CUT.finditer(window)), default=0)
        if not cut:
            space = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
            cut = space + 1 if space > 0 else PIECE
        pieces.append(text[start:start + cut])
        start += cut
    pieces.append(text[start:])
    return pieces
