"""The normalizer's rule table: each rule a name, the option family that turns it off, a
pattern and its spoken form (from :mod:`preprocess.spoken`), in the order they apply.

Order matters: a rule sees the text the rules above it left (a URL is read before its dots
could look like a version, a date before its dashes could look like a range).
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left
from dataclasses import dataclass

from .normalize_tech import DataRule, technical_rules
from .spoken import (
    AMOUNT, NUM, ROMAN, ROMAN_SMALL, Replace, VULGAR, abbreviation, abbreviation_before_number,
    acronym_as_word, call, clock_time, count_not_year, currency_amount, day_month, domain,
    dotted_version, either, file_name, identifier, ip_address, iso_date, money_with_multiplier,
    month_day, number_range, numeric_date, phone_number, roman_after_cue, roman_after_name,
    shouted, slash_fraction, symbol, table, tables, temperature, thousands_separators, times,
    two_way_abbreviation, unit, url, version, vulgar_fraction, words,
)

__all__ = ["FAMILIES", "NormalizerOptions", "PairedMarkup", "Rule", "build_rules", "insert_rules",
           "rule"]


# The NormalizerOptions switches, one per rule family (see Rule.family).
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


def insert_rules(rules: list[Rule], extra: list[DataRule]) -> list[Rule]:
    """``rules`` with the data-driven rules ``extra`` (see preprocess.normalize_tech), each
    placed right before the rule it names (``END``: after all)."""
    out = list(rules)
    for name, family, pattern, replace, before in extra:
        names = [r.name for r in out]
        at = names.index(before) if before in names else len(out)
        if before not in names and before != "END":
            raise ValueError(f"technical rule {name!r} goes before {before!r}, which no rule is named")
        out.insert(at, rule(name, family, pattern, replace))
    return out


def build_rules(options: NormalizerOptions) -> list[Rule]:
    """The whole ordered rule table; the order is part of the behavior (see the module docstring)."""
    return insert_rules(_base_rules(options), technical_rules())


def _base_rules(options: NormalizerOptions) -> list[Rule]:
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
