"""The normalizer as a table of written → spoken text."""

from __future__ import annotations

import pytest

from preprocess import Normalizer, NormalizerOptions

CASES = [
    # URLs, e-mail, domains
    ("See https://example.com/status for details.", "See example dot com slash status for details."),
    ("Docs: https://www.python.org/downloads/.", "Docs: python dot org slash downloads."),
    ("Mail ops@example.com today.", "Mail ops at example dot com today."),
    ("Visit www.python.org.", "Visit python dot org."),
    ("It is on github.io now.", "It is on github dot io now."),
    # versions
    ("We shipped v2.4.1 today.", "We shipped version 2 point 4 point 1 today."),
    ("Version v2.4.1 is a fix.", "Version 2 point 4 point 1 is a fix."),
    ("Version 2.4.1 is out.", "Version 2 point 4 point 1 is out."),
    ("Python 3.11 is faster.", "Python 3 point 11 is faster."),
    ("Upgrade to release 10.2 now.", "Upgrade to release 10 point 2 now."),
    ("It costs 3.5 dollars.", "It costs 3.5 dollars."),
    # ranges
    ("Read pages 10-12.", "Read pages 10 to 12."),
    ("He lived 1990–1995 in Oslo.", "He lived 1990 to 1995 in Oslo."),
    # abbreviations
    ("Dr. Smith met Mr. Jones.", "Doctor Smith met Mister Jones."),
    ("Fruit, e.g. apples, i.e. food.", "Fruit, for example apples, that is food."),
    ("Pens, paper, etc. Then ink.", "Pens, paper, et cetera. Then ink."),
    ("It ends with etc.", "It ends with et cetera."),
    ("She lives on Main St. near the park.", "She lives on Main Street near the park."),
    ("He prayed at St. Paul's.", "He prayed at Saint Paul's."),
    ("I live on Main St. He does too.", "I live on Main Street. He does too."),
    # respellings and acronyms
    ("Send JSON to the API.", "Send Jason to the API."),
    ("NASA and the CPU.", "NASA and the CPU."),
    # code identifiers and Markdown leftovers
    ("Call parse_file first.", "Call parse file first."),
    ("Set maxTokens high.", "Set max Tokens high."),
    ("This is **bold** and `code`.", "This is bold and code."),
]


@pytest.mark.parametrize("written, spoken", CASES)
def test_spoken_form(written, spoken):
    assert Normalizer()(written) == spoken


def test_options_switch_rule_families_off():
    text = "See https://example.com and v2.4.1, Dr. Who."
    assert Normalizer(NormalizerOptions(urls=False, versions=False, abbreviations=False))(text) == text


def test_deterministic():
    text = "Dr. Smith shipped v1.2.3 at https://example.com, e.g. today."
    assert Normalizer()(text) == Normalizer()(text)
