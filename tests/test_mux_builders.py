"""Pure builders of the output stage as literal text: file names, WAV headers, Vorbis chapters,
the metering graph and its log, gain plans, QC judgements, option validation."""

from __future__ import annotations

import io
import json
import math
import re
import struct

import pytest

from kokoro_cli.output.loudness import (
    PRESETS,
    GainPlan,
    Levels,
    Measurement,
    QCError,
    check_qc,
    combine_levels,
    judge,
    parse_levels,
    plan_gain,
    qc_report,
    read_measurement,
    tap_graph,
)
from kokoro_cli.output.formats import OutputOptions
from kokoro_cli.output.metadata import (
    ChapterMark,
    flac_picture,
    id3_chapters_in_order,
    id3_tag,
    vorbis_chapters,
    wav_header,
)
from kokoro_cli.output.plan import safe_filename

INF = math.inf


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("The Storm", "The Storm"),
        ('Part 1: "Why?" <a|b>', "Part 1 Why a b"),
        ("a/b\\c", "a b c"),
        ("  ..dots and spaces.. ", "dots and spaces"),
        ("tab\there\nnewline", "tab here newline"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("Console", "Console"),
        ("日本語の章", "日本語の章"),
        ("", ""),
        ("???", ""),
    ],
)
def test_safe_filename(title: str, name: str) -> None:
    assert safe_filename(title) == name


def test_safe_filename_cuts_utf8_on_a_character_boundary() -> None:
    name = safe_filename("é" * 200, max_bytes=151)
    assert name == "é" * 75
    assert len(name.encode()) <= 151


def test_wav_header_riff_literal() -> None:
    assert wav_header(3, 24000) == (
        b"RIFF" + struct.pack("<I", 42) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 24000,
        48000, 2, 16) + b"data" + struct.pack("<I", 6)  # fmt: skip
    )


def test_wav_header_switches_to_rf64_past_4_gib() -> None:
    frames = 27 * 3600 * 24000  # 27 h of 16-bit mono: 4.67 GB
    header = wav_header(frames, 24000)
    assert header[:4] == b"RF64" and header[8:12] == b"WAVE" and header[12:16] == b"ds64"
    riff, data, count, table = struct.unpack("<QQQI", header[20:48])
    assert (data, count, table) == (2 * frames, frames, 0)
    assert riff == len(header) - 8 + data
    assert header[-8:] == b"data\xff\xff\xff\xff"
    # the largest RIFF that still fits stays RIFF
    assert wav_header((0xFFFFFFFF - 36) // 2, 24000)[:4] == b"RIFF"


def test_vorbis_chapters_literal_past_24_hours() -> None:
    marks = [ChapterMark("One", 0, 24000), ChapterMark("a=b", 24000, 100 * 3600 * 24000 + 12)]
    marks.append(ChapterMark("Late", 100 * 3600 * 24000 + 12, 100 * 3600 * 24000 + 24000))
    assert vorbis_chapters(marks, 24000) == [
        ("CHAPTER001", "00:00:00.000"),
        ("CHAPTER001NAME", "One"),
        ("CHAPTER002", "00:00:01.000"),
        ("CHAPTER002NAME", "a=b"),
        ("CHAPTER003", "100:00:00.001"),
        ("CHAPTER003NAME", "Late"),
    ]


def test_flac_picture_block_layout() -> None:
    block = flac_picture(b"PNGDATA", "image/png")
    assert block == (
        struct.pack(">II", 3, 9) + b"image/png" + struct.pack(">I", 0)
        + struct.pack(">IIIII", 0, 0, 0, 0, 7) + b"PNGDATA"
    )  # fmt: skip


def _frame(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack(">I", len(body)) + b"\0\0" + body


def _chap(element: bytes, start: int, end: int) -> bytes:
    return _frame(b"CHAP", element + b"\0" + struct.pack(">IIII", start, end, 2**32 - 1, 2**32 - 1))


def _id3v23(*frames: bytes, padding: int = 16) -> bytes:
    body = b"".join(frames) + b"\0" * padding
    size = len(body)
    syncsafe = bytes([(size >> 21) & 127, (size >> 14) & 127, (size >> 7) & 127, size & 127])
    return b"ID3\x03\x00\x00" + syncsafe + body


def test_id3_chapters_in_order_literal() -> None:
    """CHAP frames go back into the slots CHAP frames held, by (start, end, id); the rest stays."""
    title, toc = _frame(b"TIT2", b"\x03Book"), _frame(b"CTOC", b"toc\0\x03\x03ch0\0ch2\0ch10\0")
    ch0, ch2, ch10 = _chap(b"ch0", 0, 1000), _chap(b"ch2", 1000, 1000), _chap(b"ch10", 1000, 2500)
    tag = _id3v23(title, ch10, toc, ch2, ch0)
    assert id3_chapters_in_order(tag + b"\xff\xfbaudio") == (
        _id3v23(title, ch0, toc, ch2, ch10) + b"\xff\xfbaudio"
    )


@pytest.mark.parametrize("data", [
    b"", b"\xff\xfb\x90\x64", b"ID3\x04\x00\x00\x00\x00\x00\x00",  # no tag, MP3 frames, v2.4
    b"ID3\x03\x00\x80" + _id3v23(_chap(b"ch1", 5, 6), _chap(b"ch0", 0, 5))[6:],  # unsync
])  # fmt: skip
def test_id3_chapters_in_order_leaves_what_it_cannot_read(data: bytes) -> None:
    assert id3_chapters_in_order(data) == data


def test_id3_chapters_in_order_undoes_mutagens_size_order() -> None:
    id3 = pytest.importorskip("mutagen.id3")
    marks = [ChapterMark("The first and longest title", 0, 24000), ChapterMark("Middle", 24000,
             36000), ChapterMark("C", 36000, 48000)]  # fmt: skip
    buffer = io.BytesIO()
    id3_tag([("title", "T")], marks, sample_rate=24000, toc_title="T").save(buffer, v2_version=3)
    written = buffer.getvalue()

    def chap_ids(data: bytes) -> list[bytes]:
        return re.findall(rb"CHAP.{6}(ch\d+)\0", data, re.S)

    assert chap_ids(written) == [b"ch2", b"ch1", b"ch0"]  # mutagen: smallest frame first
    ordered = id3_chapters_in_order(written)
    assert chap_ids(ordered) == [b"ch0", b"ch1", b"ch2"]
    assert len(ordered) == len(written) and sorted(ordered) == sorted(written)
    tag = id3.ID3(io.BytesIO(ordered))
    assert [c.sub_frames["TIT2"].text[0] for c in tag.getall("CHAP")] == [m.title for m in marks]


# --- metering ---------------------------------------------------------------------------------

METER = (
    "ebur128@{n}=framelog=verbose:peak=true,astats@{n}=measure_perchannel=none"
    ":measure_overall=Peak_level+RMS_level+RMS_trough+Number_of_samples:length=0.5,anullsink"
)


def test_tap_graph_single_file_literal() -> None:
    assert tap_graph(["volume=2.00dB"], [48000]) == (
        "[0:a]volume=2.00dB,asplit=2[out][m];[m]" + METER.format(n="c0")
    )


def test_tap_graph_cuts_chapters_at_sample_positions() -> None:
    graph = tap_graph([], [24000, 60000, 16800])
    assert graph.split(";") == [
        "[0:a]asplit=2[out][m]",
        "[m]asplit=2[mb][mc]",
        "[mb]ebur128@book=framelog=verbose,anullsink",
        "[mc]asegment=samples=24000|84000[s0][s1][s2]",
        "[s0]" + METER.format(n="c0"),
        "[s1]" + METER.format(n="c1"),
        "[s2]" + METER.format(n="c2"),
    ]


LOG = """\
[ebur128@c0 @ 0x55d1] Summary:



[ebur128@book @ 0x55d2] Summary:



size=N/A time=00:00:03.00 bitrate=N/A speed=97x
[astats@c0 @ 0x5601] Overall
[astats@c0 @ 0x5601] Peak level dB: -6.020600
[astats@c0 @ 0x5601] RMS level dB: -8.012710
[astats@c0 @ 0x5601] RMS trough dB: -10.005910
[astats@c0 @ 0x5601] Number of samples: 48000
[ebur128@c0 @ 0x5602] Summary:

  Integrated loudness:
    I:          -8.6 LUFS
    Threshold: -18.6 LUFS

  Loudness range:
    LRA:         0.0 LU

  True peak:
    Peak:       -5.9 dBFS
[astats@c1 @ 0x5603] Overall
[astats@c1 @ 0x5603] Peak level dB: -inf
[astats@c1 @ 0x5603] RMS level dB: -inf
[astats@c1 @ 0x5603] RMS trough dB: -inf
[astats@c1 @ 0x5603] Number of samples: 24000
[ebur128@c1 @ 0x5604] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   0.0 LUFS

  True peak:
    Peak:       -inf dBFS
[ebur128@book @ 0x5605] Summary:

  Integrated loudness:
    I:          -8.7 LUFS
    Threshold: -18.7 LUFS
"""


def test_parse_levels_reads_the_filled_summaries() -> None:
    assert parse_levels(LOG) == {
        "c0": {"sample_peak_dbfs": -6.0206, "rms_dbfs": -8.01271, "noise_floor_dbfs": -10.00591,
               "samples": 48000.0, "integrated_lufs": -8.6, "true_peak_dbtp": -5.9},
        "c1": {"sample_peak_dbfs": -INF, "rms_dbfs": -INF, "noise_floor_dbfs": -INF,
               "samples": 24000.0, "integrated_lufs": -70.0, "true_peak_dbtp": -INF},
        "book": {"integrated_lufs": -8.7},
    }  # fmt: skip


def test_read_measurement_combines_chapters_into_the_book() -> None:
    measured = read_measurement(LOG, 2, 24000)
    assert measured.chapters[1] == Levels(-70.0, -INF, -INF, -INF, -INF, 1.0)
    book = measured.book
    assert book.integrated_lufs == -8.7  # the book meter's own gating
    assert (book.true_peak_dbtp, book.sample_peak_dbfs, book.duration_s) == (-5.9, -6.0206, 3.0)
    assert book.rms_dbfs == pytest.approx(-8.01271 + 10 * math.log10(2 / 3))
    assert book.noise_floor_dbfs == -INF


def test_combine_levels_power_means() -> None:
    a = Levels(-20.0, -5.0, -5.5, -22.0, -50.0, 1.0)
    b = Levels(-20.0, -3.0, -3.5, -22.0, -70.0, 3.0)
    both = combine_levels([a, b])
    assert both.integrated_lufs == pytest.approx(-20.0)
    assert both.rms_dbfs == pytest.approx(-22.0)
    assert (both.true_peak_dbtp, both.noise_floor_dbfs, both.duration_s) == (-3.0, -70.0, 4.0)


# --- gain and QC ------------------------------------------------------------------------------

QUIET = Levels(-30.0, -18.0, -18.5, -32.0, -80.0, 60.0)
PEAKY = Levels(-30.0, -13.0, -13.5, -32.0, -80.0, 60.0)
SILENT = Levels(-70.0, -INF, -INF, -INF, -INF, 60.0)


@pytest.mark.parametrize(
    ("preset", "levels", "plan"),
    [
        ("audiobook", QUIET, GainPlan(12.0)),
        ("audiobook", PEAKY, GainPlan(12.0, -4.5)),  # -13 + 12 > -3 dBTP: limit 1.5 dB below
        ("podcast", QUIET, GainPlan(14.0)),
        ("podcast", PEAKY, GainPlan(14.0, -2.5)),
        ("ebu", QUIET, GainPlan(7.0)),
        ("acx", QUIET, GainPlan(12.0)),  # RMS -32 -> -20
        ("off", QUIET, GainPlan()),
        ("audiobook", SILENT, GainPlan()),
    ],
)
def test_plan_gain(preset: str, levels: Levels, plan: GainPlan) -> None:
    assert plan_gain(PRESETS[preset], levels) == plan


@pytest.mark.parametrize(
    ("levels", "plan"),
    [
        # under one 400 ms gating block ebur128 reports its -70 LUFS gate: aim by the RMS level
        # (a gain of +52 dB and a limiter used to turn a short clip into a square wave)
        (Levels(-70.0, -20.0, -20.0, -23.0, -23.0, 0.3), GainPlan(5.0)),
        (Levels(-70.0, -20.0, -20.0, -23.0, -23.0, 0.05), GainPlan(5.0)),
        (Levels(-24.0, -20.0, -20.0, -23.0, -23.0, 0.45), GainPlan(6.0)),  # gated: LUFS
        (Levels(-70.0, -INF, -INF, -INF, -INF, 0.3), GainPlan()),  # short silence
        (Levels(-70.0, -INF, -INF, math.nan, 3082.5, 0.0), GainPlan()),  # no samples at all
    ],
)
def test_plan_gain_for_clips_too_short_to_gate(levels: Levels, plan: GainPlan) -> None:
    assert plan_gain(PRESETS["audiobook"], levels) == plan


def test_makeup_gain_of_a_short_clip_comes_from_its_rms() -> None:
    from kokoro_cli.output.loudness import Trial, settle

    limited = Levels(-70.0, -4.4, -4.6, -19.0, -19.0, 0.3)
    plan, final = settle(PRESETS["audiobook"], [Trial(GainPlan(2.0, -4.5), limited)])
    assert final and plan == GainPlan(3.0, -3.5)  # 1 dB up, gain and limit alike


def test_gain_plan_filters_literal() -> None:
    assert GainPlan().filters == []
    assert GainPlan(12.0).filters == ["volume=12.00dB"]
    assert GainPlan(-1.5, -4.0).filters == [
        "volume=-1.50dB",
        "alimiter=limit=0.630957:level=0:latency=1:attack=5:release=50",
    ]


@pytest.mark.parametrize(
    ("preset", "levels", "problems"),
    [
        ("audiobook", Levels(-18.4, -3.5, -4, -20, -80, 10), ()),
        ("audiobook", Levels(-19.6, -3.5, -4, -20, -80, 10),
         ("integrated loudness -19.6 LUFS, want -18 ± 1",)),
        ("audiobook", Levels(-18.0, -2.0, -2.5, -20, -80, 10), ("true peak -2.0 dBTP, over -3",)),
        ("audiobook", Levels(-25.0, -9.0, -9.5, -27, -80, 2.0), ()),  # too short to gate
        ("audiobook", SILENT, ("silent",)),
        ("ebu", Levels(-23.0, -1.0, -1.5, -25, -80, 10), ()),
        ("acx", Levels(-18.0, -3.2, -3.5, -20.5, -65, 10), ()),
        ("acx", Levels(-14.0, -3.2, -3.5, -17.5, -55, 10),
         ("RMS -17.5 dB, want -23 to -18", "noise floor -55.0 dB, over -60")),
        ("off", SILENT, ()),
    ],
)  # fmt: skip
def test_judge(preset: str, levels: Levels, problems: tuple[str, ...]) -> None:
    assert judge(PRESETS[preset], levels, tolerance=1.0) == problems


def test_qc_report_json_and_strict_check() -> None:
    good = Levels(-18.2, -3.4, -3.9, -20.0, -INF, 12.0)
    low = Levels(-21.0, -6.0, -6.5, -23.0, -INF, 6.0)
    measured = Measurement(good, (good, low))
    report = qc_report(PRESETS["audiobook"], measured, ["One", "Two"], gain_db=4.5, book_title="B")
    assert not report.passed
    assert report.problems == ["chapter 2 (Two): integrated loudness -21.0 LUFS, want -18 ± 2"]
    data = json.loads(report.to_json())
    assert data["passed"] is False and data["gain_db"] == 4.5 and data["preset"] == "audiobook"
    assert data["book"]["levels"]["noise_floor_dbfs"] is None  # -inf is not JSON
    assert data["chapters"][1]["levels"]["integrated_lufs"] == -21.0
    with pytest.raises(QCError, match="out of the audiobook spec: chapter 2") as failure:
        check_qc(report)
    assert failure.value.report is report
    passing = qc_report(PRESETS["audiobook"], Measurement(good, (good,)), ["One"])
    assert check_qc(passing) is passing


# --- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "ogg"}, "use one of m4b, mp3, wav, flac, opus"),
        ({"loudness": "loud"}, "use one of audiobook, acx, podcast, ebu, off"),
        ({"format": "flac", "bitrate": "128k"}, "lossless"),
        ({"bitrate": "fast"}, "like 64k"),
        ({"room_tone_ms": -1}, ">= 0"),
        ({"max_part_hours": 0}, "> 0"),
        ({"split_chapters": True, "max_part_hours": 10}, "not both"),
        ({"loudness": "acx", "split_chapters": True}, "per chapter: add --format mp3$"),
        ({"loudness": "acx", "format": "mp3"}, "one mp3 file per chapter: add --split-chapters"),
        ({"loudness": "acx"}, "add --format mp3 and --split-chapters"),
        ({"loudness": "acx", "format": "mp3", "split_chapters": True, "bitrate": "64k"}, "192k"),
    ],
)
def test_output_options_validate_with_a_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        OutputOptions(**kwargs)


def test_output_options_derived_settings() -> None:
    default = OutputOptions()
    assert (default.format, default.loudness) == ("m4b", "audiobook")
    assert default.effective_bitrate == "64k"
    assert default.output_rate(24000) == 24000 and not default.streamable
    opus = OutputOptions(format="opus", room_tone_ms=250)
    assert (opus.output_rate(24000), opus.effective_bitrate, opus.effective_room_tone_ms) == (
        48000, "32k", 250)  # fmt: skip
    assert opus.streamable
    acx = OutputOptions(format="mp3", loudness="acx", split_chapters=True)
    assert (acx.output_rate(24000), acx.effective_bitrate, acx.effective_room_tone_ms) == (
        44100, "192k", 1000)  # fmt: skip
    assert OutputOptions(format="flac").effective_bitrate is None


@pytest.mark.parametrize("plan, limited, expected", [
    (GainPlan(12.0, -4.5), Levels(-19.2, -4.4, -4.6, -22.0, -60.0, 9.0), GainPlan(13.2, -3.3)),
    (GainPlan(12.0, -4.5), Levels(-18.05, -4.4, -4.6, -22.0, -60.0, 9.0), GainPlan(12.05, -4.45)),
])
def test_makeup_gain_restores_what_limiting_took(plan, limited, expected):
    from kokoro_cli.output.loudness import PRESETS, Trial, settle

    result, final = settle(PRESETS["audiobook"], [Trial(plan, limited)])
    assert final
    assert result.limit_dbfs == pytest.approx(expected.limit_dbfs)
    assert result.gain_db == pytest.approx(expected.gain_db)
