"""End to end through the real G2P: what the normalizer writes must *sound* like what a
person says. Each case compares misaki's phonemes for the normalized text with its phonemes
for the same sentence written out in plain words, one case per rule family."""

from __future__ import annotations

import pytest

from preprocess import Normalizer

SOUNDS_LIKE = [
    ("See https://example.com/status now.", "See example dot com slash status now."),
    ("Open report.pdf now.", "Open report dot PDF now."),  # capitals are spelled
    ("Python 3.11 is out.", "Python three point eleven is out."),
    ("It was -10 today.", "It was minus ten today."),
    ("We harvested 1234 apples.", "We harvested one thousand two hundred thirty four apples."),
    ("Add 1/2 cup of sugar.", "Add one half cup of sugar."),
    ("The deal is worth $5bn.", "The deal is worth five billion dollars."),
    ("Tickets cost ₹500 each.", "Tickets cost five hundred rupees each."),
    ("The meeting is on 2024-05-05.", "The meeting is on May fifth, twenty twenty four."),
    ("The train leaves at 10:05.", "The train leaves at ten oh five."),
    ("Read pages 10-12 tonight.", "Read pages ten to twelve tonight."),
    ("The trail is 5 km long.", "The trail is five kilometers long."),
    ("It is 25°C outside.", "It is twenty five degrees Celsius outside."),
    ("Henry VIII had six wives.", "Henry the Eighth had six wives."),
    ("World War II ended.", "World War two ended."),
    ("IT WAS A DARK NIGHT.", "It was a dark night."),
    ("Their #1 hit came out.", "Their number one hit came out."),
    ("C# is fast.", "C sharp is fast."),
]


@pytest.mark.parametrize("written, said", SOUNDS_LIKE)
def test_normalized_text_sounds_like_plain_words(english_g2p, written, said):
    assert english_g2p(Normalizer()(written)) == english_g2p(said)
