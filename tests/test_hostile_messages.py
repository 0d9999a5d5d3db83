"""#26 items 11 and 21: messages that name the fix, and word-level subtitles without cues of
zero length.

- ``--voice nobody_voice`` is an unknown voice (with the nearest names), not a "malformed spec";
- the ACX preset names the flags it still needs (``--format mp3``, ``--split-chapters``);
- ``-o x.ogg`` says that .ogg is written as Ogg Opus and how to ask for it; with
  ``--format opus`` an .ogg name is taken;
- a word-level SRT never has a cue that starts where it ends: a word without time of its own is
  shown with the word before it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from engine import VoiceError, parse_spec
from kokoro_cli.app import app
from kokoro_cli.errors import UsageError
from kokoro_cli.output import OutputOptions
from kokoro_cli.output.subtitles import Cue, srt, timestamp
from kokoro_cli.output.target import options_from_flags, resolve_target

runner = CliRunner()


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture()
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "doc.md"
    path.write_text("# Hi\n\nHello there.\n")
    return path


# --- voices -----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec, message", [
    ("nobody_voice", "unknown voice 'nobody_voice' (the nearest are "),
    ("af_hart", "unknown voice 'af_hart' (did you mean af_heart or af_sarah?)"),
    ("am_micheal", "unknown voice 'am_micheal' (did you mean am_michael?)"),
    ("AF_BELLA", "unknown voice 'AF_BELLA' (did you mean af_bella, "),
    ("bella:0.5,af_sky:0.5", "unknown voice 'bella' (did you mean af_bella"),
    ("af_heart;rm -rf /", "malformed voice spec"),
    ("af_heart:", "malformed voice spec"),
    ("", "malformed voice spec"),
])
def test_voice_errors_say_unknown_and_suggest(spec, message):
    with pytest.raises(VoiceError) as raised:
        parse_spec(spec)
    assert str(raised.value).startswith(message), str(raised.value)


def test_an_unknown_voice_on_the_command_line_is_one_line_with_the_nearest(doc, tmp_path):
    line = _one_line_error(runner.invoke(app, ["convert", str(doc), "-o",
                                               str(tmp_path / "x.m4b"), "--voice",
                                               "nobody_voice"]))
    assert "unknown voice 'nobody_voice'" in line and "malformed" not in line
    nearest = re.search(r"\(the nearest are ([^)]*)\)", line).group(1).split(", ")
    assert len(nearest) == 3 and all(re.fullmatch(r"[a-z]{2}_[a-z]+", n) for n in nearest)
    assert "kokoro-cli voices" in line
    line = _one_line_error(runner.invoke(app, ["say", "Hi", "-o", str(tmp_path / "x.wav"),
                                               "--voice", "af_hart"]))
    assert "did you mean af_heart" in line


# --- the ACX preset -----------------------------------------------------------------------------


@pytest.mark.parametrize("extra, wanted", [
    ([], ["--format mp3", "--split-chapters"]),
    (["--format", "mp3"], ["--split-chapters"]),
    (["--split-chapters"], ["--format mp3"]),
])
def test_the_acx_preset_names_the_flags_it_needs(doc, tmp_path, extra, wanted):
    line = _one_line_error(runner.invoke(app, ["convert", str(doc), "-o", str(tmp_path / "acx"),
                                               "--loudness", "acx", *extra]))
    assert "the acx preset delivers one mp3 file per chapter" in line
    assert all(flag in line for flag in wanted), line
    if len(wanted) == 1:
        assert ("--format" in line) == (wanted == ["--format mp3"])


def test_the_acx_bit_rate_message_names_the_flag():
    with pytest.raises(ValueError, match="needs 192k: drop --bitrate 64k"):
        OutputOptions(format="mp3", loudness="acx", split_chapters=True, bitrate="64k")


# --- .ogg -------------------------------------------------------------------------------------


def test_an_ogg_name_says_it_is_opus(doc, tmp_path):
    line = _one_line_error(runner.invoke(app, ["convert", str(doc), "-o",
                                               str(tmp_path / "x.ogg")]))
    assert ".ogg output is Ogg Opus; add --format opus" in line and ".m4b" not in line
    with pytest.raises(UsageError, match="add --format opus"):
        options_from_flags(Path("book.OGG"), None, None, False, None, None, 0, True)


def test_an_ogg_name_is_taken_for_opus(tmp_path):
    source = tmp_path / "in.md"
    source.write_text("Hi.")
    opus = options_from_flags(tmp_path / "x.ogg", "opus", None, False, None, None, 0, True)
    assert resolve_target(source, tmp_path / "x.ogg", None, "T", opus) == tmp_path / "x.ogg"
    mp3 = OutputOptions(format="mp3")
    with pytest.raises(UsageError, match="does not end in .mp3"):
        resolve_target(source, tmp_path / "x.ogg", None, "T", mp3)


@pytest.mark.slow
def test_convert_writes_opus_to_an_ogg_name(doc, tmp_path):
    from kokoro_cli.output.ffmpeg import probe

    out = tmp_path / "x.ogg"
    result = runner.invoke(app, ["convert", str(doc), "-o", str(out), "--format", "opus",
                                 "--work-dir", str(tmp_path / "work"), "-q"])
    assert result.exit_code == 0, result.output
    report = probe(out)
    assert report["format"]["format_name"] == "ogg"
    assert [s["codec_name"] for s in report["streams"] if s["codec_type"] == "audio"] == ["opus"]


# --- word-level SRT -----------------------------------------------------------------------------


def _blocks(text: str) -> list[tuple[str, str, str]]:
    blocks = []
    for block in text.strip().split("\n\n"):
        _, times, words = block.split("\n", 2)
        start, end = times.split(" --> ")
        blocks.append((start, end, words))
    return blocks


@pytest.mark.parametrize("cues, expected", [
    # two written words share one spoken word's start ("5 p.m." read as one)
    ([Cue(1.0, 2.0, "at 5 p.m.", ((1.0, "at"), (1.4, "5"), (1.4, "p.m.")))],
     [("00:00:01,000", "00:00:01,400", "at"), ("00:00:01,400", "00:00:02,000", "5 p.m.")]),
    # the last word starts where its cue ends (the next cue cut it short)
    ([Cue(1.0, 2.0, "a b", ((1.0, "a"), (2.0, "b"))), Cue(2.0, 3.0, "c", ((2.0, "c"),))],
     [("00:00:01,000", "00:00:02,000", "a b"), ("00:00:02,000", "00:00:03,000", "c")]),
    # a cue with no time at all joins the one before it
    ([Cue(1.0, 2.0, "a", ((1.0, "a"),)), Cue(2.0, 2.0, "b", ((2.0, "b"),))],
     [("00:00:01,000", "00:00:02,000", "a b")]),
    # starts within the same millisecond
    ([Cue(1.0, 2.0, "x y", ((1.0, "x"), (1.0004, "y")))],
     [("00:00:01,000", "00:00:02,000", "x y")]),
])
def test_word_level_srt_has_no_cue_of_zero_length(cues, expected):
    assert _blocks(srt(cues, words=True)) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 3000),
                          st.lists(st.integers(0, 3000), min_size=1, max_size=8)),
                min_size=1, max_size=6))
def test_word_level_srt_keeps_every_word_and_no_cue_is_empty(spans):
    cues, at = [], 0
    for a, b, starts in spans:  # cues in order, words inside in order, times in ms
        start, end = at + min(a, b), at + max(a, b)
        times = sorted(start + s * (end - start) // 3000 for s in starts)
        words = tuple((t / 1000, f"w{len(cues)}_{i}") for i, t in enumerate(times))
        cues.append(Cue(start / 1000, end / 1000, " ".join(w for _, w in words), words))
        at = end
    blocks = _blocks(srt(cues, words=True))
    assert " ".join(b[2] for b in blocks).split() == [w for c in cues for _, w in c.words]
    empty = [b for b in blocks if b[0] >= b[1]]
    # only a first cue with no time at all has nowhere to go
    assert not empty or (len(empty) == 1 and blocks[0] == empty[0]
                         and timestamp(cues[0].start) == timestamp(cues[0].end))
