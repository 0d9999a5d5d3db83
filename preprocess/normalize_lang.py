"""The normalizer's rules for the languages other than English (Spanish, French, Italian,
Brazilian Portuguese, Hindi, Japanese, Mandarin).

Each language's words live in ``data/normalize/<tag>.json`` (month names, units, currencies,
abbreviations, how a date, a time and a percentage are said); number words come from
num2words in that language, or stay digits where its G2P reads them itself (Hindi through
espeak-ng, Japanese and Mandarin through misaki). The rules are the same for every language,
in this order: Markdown, addresses, versions, dates, times, ordinals, Roman numerals, money,
percentages, units, abbreviations, numbers, symbols.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from num2words import num2words

from .languages import Language
from .normalize_rules import NormalizerOptions, Rule, insert_rules, markdown_rules, rule
from .normalize_tech import READINGS, Decline, Reading, data_rules
from .spoken import ROMAN, ROMAN_SMALL, either, roman_value

__all__ = ["LanguageSpeech", "language_data", "language_rules"]

_URL = r"\b(?:https?|ftp)://(?:www\.)?(?P<rest>[^\s<>()\"']+[^\s<>()\"'.,;:!?])"
_EMAIL = r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"
_ADDRESS_PART = re.compile(r"[^\W_]+|[^\w\s]|_")


@cache
def language_data(tag: str) -> dict:
    """The word tables of one language (``data/normalize/<tag>.json``)."""
    path = resources.files("preprocess").joinpath(f"data/normalize/{tag}.json")
    return json.loads(path.read_text("utf-8"))


class LanguageSpeech:
    """How numbers, amounts, dates and times are said in one language."""

    def __init__(self, language: Language) -> None:
        self.language = language
        self.t = language_data(language.tag)
        group = "".join(re.escape(s) for s in self.t["group_separators"])
        dec = re.escape(self.t["decimal_separator"])
        # 1 234 567,5 or 1.234.567 (es) or 3,5 or 42; a group separator must group thousands.
        self.amount = rf"\d{{1,3}}(?:[{group}]\d{{3}})+(?:{dec}\d+)?|\d+(?:{dec}\d+)?"
        self._group = re.compile(f"[{group}]")
        # What may not touch a number or a word the rules read: a letter or digit. Japanese
        # and Mandarin write no spaces, so there only Latin letters and digits count.
        self.wb = "0-9A-Za-z" if language.code in ("j", "z") else r"\w"
        self.w = f"[{self.wb}]"

    def number(self, n: int) -> str:
        """A whole number in words, or as digits where the G2P reads digits itself."""
        if self.language.num2words is None:
            return str(n)
        words = num2words(n, lang=self.language.num2words)
        for pattern, spoken in self.t.get("number_fixes", ()):  # Italian ventitré, not ventitre
            words = re.sub(pattern, spoken, words)
        return words

    def ordinal(self, n: int, feminine: bool = False) -> str:
        if self.language.num2words is None:
            return str(n)
        words = num2words(n, lang=self.language.num2words, to="ordinal")
        if feminine:  # Spanish, Italian, Portuguese: primero → primera, vigésimo → vigésima
            words = re.sub(r"o\b", "a", words)
        return words

    def split_amount(self, text: str) -> tuple[int, str]:
        """``"1 234,50"`` → ``(1234, "50")``: the whole part and the decimal digits."""
        whole, _, frac = text.partition(self.t["decimal_separator"])
        return int(self._group.sub("", whole)), frac

    def amount_words(self, text: str) -> str:
        whole, frac = self.split_amount(text)
        if not frac:
            return self.number(whole)
        if self.language.num2words is None:
            return f"{whole}.{frac}"
        zeros = len(frac) - len(frac.lstrip("0"))
        digits = [self.number(0)] * zeros + ([self.number(int(frac))] if frac.strip("0") else [])
        return " ".join([self.number(whole), self.t["decimal_word"], *digits])

    def date(self, year: int, month: int, day: int) -> str:
        if not (1 <= month <= 12 and 1 <= day <= 31):
            raise ValueError("not a date")
        first = self.t.get("first_day")
        return self.t["date"].format(
            day=first if day == 1 and first else self.number(day),
            month=self.t["months"][month - 1] if "months" in self.t else month,
            year=self.number(year), d=day, mo=month)

    def time(self, hours: int, minutes: int) -> str:
        one = self.t.get("one_hour")
        hour = one if hours == 1 and one else self.t.get("hour", "{h}").format(h=self.number(hours))
        template = self.t["time"] if minutes else self.t["time_on_the_hour"]
        return template.format(hour=hour, h=self.number(hours), m=self.number(minutes))

    def money(self, amount: str, code: str) -> str:
        singular, plural = self.t["currencies"][code]
        whole, frac = self.split_amount(amount)
        name = singular if whole == 1 else plural
        if "amount_then_currency" in self.t and not frac:
            return self.t["amount_then_currency"].format(amount=whole, currency=name)
        if not frac or not frac.strip("0"):
            return f"{self.number(whole)} {name}"
        cents = int((frac + "0")[:2])
        return self.t["money_with_cents"].format(amount=self.number(whole), currency=name,
                                                 cents=self.number(cents))

    def address(self, text: str) -> str:
        """A URL or e-mail address spelled out: words as they are, symbols as words."""
        words = self.t["address_words"]
        parts = [words.get(p, p if p[0].isalnum() else "") for p in _ADDRESS_PART.findall(text)]
        return " ".join(self.number(int(p)) if p.isdigit() else p for p in parts if p)


def language_rules(language: Language, options: NormalizerOptions) -> list[Rule]:
    """The ordered rule table for ``language`` (not English: see normalize_rules)."""
    s = LanguageSpeech(language)
    t = s.t
    rules = [*markdown_rules(), *_address_rules(s), *_date_time_rules(s), *_ordinal_rules(s),
             *_amount_rules(s), *_abbreviation_rules(s)]
    if language.num2words is not None:
        rules.append(rule("number", "numbers", rf"(?<![\w.,])(?:{s.amount})(?![\w]|[.,]\d)",
                          lambda m: s.amount_words(m.group(0))))
    rules.append(rule("symbol", "symbols", rf"\s*(?P<sym>{either(t['symbols'])})\s*",
                      lambda m: f" {t['symbols'][m.group('sym')]} "))
    # The language's own data rules ("rules" in its table: ranges, fractions, phone numbers...)
    extra = data_rules(t.get("rules", []), {**READINGS, **_readings(s)},
                       {"amount": s.amount, "roman": ROMAN})
    return insert_rules(rules, extra)


def _readings(s: LanguageSpeech) -> dict[str, Reading]:
    """Readings for a language's data rules, in its own words (see normalize_tech.say)."""
    t = s.t

    def fraction(_text: str, m: re.Match[str]) -> str:
        top, bottom = int(m.group("num")), m.group("den")
        if bottom not in t.get("fractions", {}) or not 0 < top < int(bottom):
            raise Decline
        one, many = t["fractions"][bottom]
        count = t.get("fraction_one", s.number(1)) if top == 1 else s.number(top)
        return f"{count} {one if top == 1 else many}"

    def duration(_text: str, m: re.Match[str]) -> str:
        said = []
        for group, name in (("h", "h"), ("min", "min"), ("s", "s")):
            n = int(m.group(group) or 0)
            if n:
                one, many = t["duration_units"][name]
                count = t.get("duration_numbers", {}).get(name, {}).get(str(n), s.number(n))
                said.append(f"{count}{'' if count.endswith(chr(39)) else ' '}{one if n == 1 else many}")
        if not said:
            return f"{s.number(0)} {t['duration_units']['s'][1]}"
        return f" {t['and']} ".join([", ".join(said[:-1]), said[-1]] if len(said) > 1 else said)

    def pairs(text: str, _m: re.Match[str]) -> str:
        groups = re.findall(r"\d+", text)
        return ", ".join(" ".join(map(s.number, map(int, g))) if g[0] == "0" else s.number(int(g))
                         for g in groups)

    def amount_word(text: str, _m: re.Match[str]) -> str:
        return t["amount_words"][text]

    def phone(_text: str, m: re.Match[str]) -> str:  # digit by digit, after the word for "+"
        groups = [m.group("cc"), *re.findall(r"\d+", m.group("rest"))]
        return f"{t['symbols']['+']} " + ", ".join(" ".join(map(s.number, map(int, g))) for g in groups)

    return {"fraction": fraction, "duration": duration, "phone": phone, "pairs": pairs, "amount_word": amount_word,
            "roman_ordinal": lambda text, _m: s.ordinal(roman_value(text)),
            "currency_plural": lambda text, _m: t["currencies"][text][1]}


def _address_rules(s: LanguageSpeech) -> list[Rule]:
    versions = either(s.t["version_words"])
    point = f" {s.t['version_point']} "

    def version(cue: str, number: str) -> str:
        return f"{cue} " + point.join(s.number(int(p)) for p in number.split("."))

    return [
        rule("url", "urls", _URL, lambda m: s.address(m.group("rest"))),
        rule("email", "urls", _EMAIL, lambda m: s.address(m.group(0))),
        rule("version", "versions", rf"\b(?P<cue>{versions})\s+v?(?P<num>\d+(?:\.\d+)+)\b",
             lambda m: version(m.group("cue"), m.group("num"))),
        # "v2.1" reads as the language's word for version
        rule("v-number", "versions", r"(?<![\w.])v(?P<num>\d+(?:\.\d+)+)\b",
             lambda m: version(s.t["version_words"][0], m.group("num"))),
    ]


def _date_time_rules(s: LanguageSpeech) -> list[Rule]:
    def date(y: str, mo: str, d: str):
        def say(m: re.Match[str]) -> str:
            try:
                return s.date(int(m.group(y)), int(m.group(mo)), int(m.group(d)))
            except ValueError:
                return m.group(0)
        return say

    separators = "|".join(r"\s?h\s?" if sep == "h" else re.escape(sep)
                          for sep in s.t["time_separators"])
    return [
        rule("iso date", "numbers", r"(?<![\d./-])(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})(?![\d]|[-/]\d)",
             date("y", "m", "d")),
        rule("numeric date", "numbers", r"(?<![\d./-])(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})[/.-](?P<y>\d{4})(?!\d)",
             date("y", "m", "d")),
        rule("clock time", "numbers", rf"(?<![\d:.,])(?P<h>[01]?\d|2[0-3])(?:{separators})(?P<min>[0-5]\d)"
             r"(?![\d:]|[.,]\d)", lambda m: s.time(int(m.group("h")), int(m.group("min")))),
    ]


def _ordinal_rules(s: LanguageSpeech) -> list[Rule]:
    t = s.t
    feminine = set(t.get("feminine_ordinal_suffixes", ()))
    firsts = t.get("first_ordinal", {})
    short = t.get("shortened_ordinals", {})

    before_noun = t.get("ordinals_before_a_noun", {})

    def ordinal(value: int, suffix: str, noun: bool = False) -> str:
        if value == 1 and suffix in firsts:
            return firsts[suffix]
        words = s.ordinal(value, suffix in feminine)
        if noun:  # Spanish "1.º lugar": primer lugar
            words = before_noun.get(words, words)
        return short.get(words, words) if "er" in suffix else words

    rules = []
    if t["ordinal_suffixes"]:
        suffixes = either(t["ordinal_suffixes"])
        rules += [
            rule("ordinal", "numbers", rf"(?<![{s.wb}.,])(?P<n>\d+)(?P<suf>{suffixes})(?!{s.w})"
                 rf"(?P<noun>(?=\s+[a-zà-ÿ]{{3,}}))?",
                 lambda m: ordinal(int(m.group("n")), m.group("suf"), m.group("noun") is not None)),
            rule("roman ordinal", "roman_numerals", rf"\b(?P<n>(?=[IVX]){ROMAN_SMALL})(?P<suf>{suffixes})(?!\w)",
                 lambda m: ordinal(roman_value(m.group("n")), m.group("suf"))),
        ]
    if t["roman_cues"]:
        rules.append(rule("roman after cue", "roman_numerals",
                          rf"\b(?P<cue>{either(t['roman_cues'])})\s+(?P<n>(?=[IVXLC]){ROMAN})\b(?![\w-]|\.\w)",
                          lambda m: f"{m.group('cue')} {s.number(roman_value(m.group('n')))}"))
    if t["regnal"] != "none":
        def regnal(m: re.Match[str]) -> str:
            value = roman_value(m.group("n"))
            if value == 1 and "er" in firsts:
                return f"{m.group('name')} {firsts['er']}"
            if t["regnal"] == "ordinal_to_ten" and value <= 10:
                return f"{m.group('name')} {s.ordinal(value)}"
            return f"{m.group('name')} {s.number(value)}"
        rules.append(rule("roman after name", "roman_numerals",
                          rf"\b(?P<name>[A-Z][a-zà-ÿ]+)\s+(?P<n>(?=[IVXL]){ROMAN_SMALL})\b(?![\w'’-]|\.\w)",
                          regnal))
    return rules


def _amount_rules(s: LanguageSpeech) -> list[Rule]:
    t, amount, w = s.t, s.amount, s.w
    codes = either(t["currencies"])
    units = either(t["units"])
    joiner = t.get("unit_joiner", " ")

    def unit(m: re.Match[str]) -> str:
        singular, plural = t["units"][m.group("unit")]
        whole, frac = s.split_amount(m.group("num"))
        # "1 h" is "une heure": the number's form for this unit, where the table gives one
        count = t.get("duration_numbers", {}).get(m.group("unit"), {}).get(m.group("num"))
        return f"{count or s.amount_words(m.group('num'))}{joiner}{singular if whole == 1 and not frac else plural}"

    return [
        rule("negative", "numbers", r"(?<![\w.,)\]%/])[-−](?=\d)", f"{t['minus']} "),
        rule("money before", "numbers", rf"(?<!{w})(?P<code>{codes})\s?(?P<num>{amount})(?![\d])",
             lambda m: s.money(m.group("num"), m.group("code"))),
        rule("money after", "numbers", rf"(?<![{s.wb}.,])(?P<num>{amount})\s?(?P<code>{codes})(?!{w})",
             lambda m: s.money(m.group("num"), m.group("code"))),
        rule("percent", "numbers", rf"(?<![{s.wb}.,])(?P<num>{amount})\s?%",
             lambda m: t["percent"].format(n=s.amount_words(m.group("num")))),
        rule("unit", "units", rf"(?<![{s.wb}.,/])(?P<num>{amount})\s?(?P<unit>{units})(?!{w}|[²³/])", unit),
    ]


def _abbreviation_rules(s: LanguageSpeech) -> list[Rule]:
    general, before = s.t["abbreviations"], s.t["abbreviations_before_numbers"]
    rules = []
    if before:
        rules.append(rule("abbreviation before number", "abbreviations",
                          rf"(?<![{s.wb}.])(?P<abbr>{either(before)})\s?(?=\d)",
                          lambda m: f"{before[m.group('abbr')]} "))
    if general:
        # A dotless abbreviation ("Dr", "Mme") takes a period written after it along.
        rules.append(rule("abbreviation", "abbreviations",
                          rf"(?<![{s.wb}.])(?P<abbr>{either(general)})(?:(?<=\w)\.)?(?!{s.w})",
                          lambda m: general[m.group("abbr")]))
    return rules
