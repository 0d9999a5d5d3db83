"""write_book / stream_book on real ffmpeg with a few seconds of audio: every format's chapters,
tags and cover read back, loudness presets measured on the output, split files and parts."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kokoro_cli.output.encode import measure_file, stream_book, write_book
from kokoro_cli.output.ffmpeg import (
    FfmpegError,
    probe_chapters,
    probe_format,
    probe_streams,
    run_ffmpeg,
)
from kokoro_cli.output.formats import OutputOptions
from kokoro_cli.output.loudness import PRESETS
from kokoro_cli.output.metadata import BookMeta
from kokoro_cli.output.plan import ChapterAudio, output_paths
from test_mux import LENGTHS, META, SR, TITLES, make_chapters, needs_ffmpeg

pytestmark = needs_ffmpeg
BOUNDARIES = np.cumsum((0.0, *LENGTHS))


@pytest.fixture(scope="module")
def chapters(tmp_path_factory: pytest.TempPathFactory) -> list[ChapterAudio]:
    return make_chapters(tmp_path_factory.mktemp("chapters"))


def speechy(seconds: float, level: float, seed: int) -> np.ndarray:
    """Speech-like bursts: 0.32 s of tone + noise every 0.5 s, at roughly ``level`` amplitude."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SR)) / SR
    voiced = 0.5 * np.sin(2 * np.pi * 180 * t) + 0.3 * np.sin(2 * np.pi * 1200 * t)
    signal = voiced + 0.4 * rng.standard_normal(t.size)
    return (level * ((t % 0.5) < 0.32) * signal).astype(np.float32)


@pytest.fixture(scope="module")
def quiet_book(tmp_path_factory: pytest.TempPathFactory) -> list[ChapterAudio]:
    """Three chapters of bursts around -39 LUFS, 16-bit at 24 kHz (as the renderer writes)."""
    folder = tmp_path_factory.mktemp("quiet")
    book = []
    for i, (seconds, level) in enumerate([(4.0, 0.020), (3.0, 0.022), (5.0, 0.021)]):
        path = folder / f"c{i}.wav"
        audio = speechy(seconds, level, i)
        sf.write(path, audio, SR, subtype="PCM_16")
        book.append(ChapterAudio(f"Chapter {i + 1}", path, audio.size))
    return book


def assert_chapters(found: list[dict], titles=TITLES, boundaries=BOUNDARIES) -> None:
    assert [c["tags"]["title"] for c in found] == list(titles)
    for chapter, start, end in zip(found, boundaries, boundaries[1:]):
        assert abs(float(chapter["start_time"]) - start) < 0.05
        assert abs(float(chapter["end_time"]) - end) < 0.05


def decode(data: bytes, rate: int = SR) -> np.ndarray:
    pcm = run_ffmpeg(["-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", str(rate), "pipe:1"],
                     input=data)  # fmt: skip
    return np.frombuffer(pcm, dtype="<i2")


# --- M4B --------------------------------------------------------------------------------------


@pytest.mark.parametrize("nero", [True, False])
def test_m4b_has_an_apple_chapter_track_and_nero_chapters(
    chapters: list[ChapterAudio], tmp_path: Path, nero: bool
) -> None:
    out = tmp_path / "book.m4b"
    report = write_book(chapters, out, META, OutputOptions(nero_chapters=nero))
    assert report.files == (out,) and report.format == "m4b"
    assert report.duration_s == pytest.approx(sum(LENGTHS))
    assert_chapters(probe_chapters(out))
    kinds = [(s["codec_type"], s.get("codec_tag_string")) for s in probe_streams(out)]
    assert ("data", "text") in kinds  # the QuickTime chapter track Apple players read
    assert (b"chpl" in out.read_bytes()) is nero  # Nero chapters, unless disabled
    mp4 = pytest.importorskip("mutagen.mp4").MP4(out)
    assert bytes(mp4.tags["covr"][0]) == META.cover
    assert mp4.tags["stik"] == [2]
    if nero:
        assert [c.title for c in mp4.chapters] == list(TITLES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.m4b"]


# --- MP3 --------------------------------------------------------------------------------------


def test_mp3_has_cbr_audio_and_id3_chapters_toc_and_cover(
    chapters: list[ChapterAudio], tmp_path: Path
) -> None:
    id3 = pytest.importorskip("mutagen.id3")
    mp3 = pytest.importorskip("mutagen.mp3")
    out = tmp_path / "book.mp3"
    write_book(chapters, out, META, OutputOptions(format="mp3"))
    info = mp3.MP3(out).info
    assert (info.bitrate, info.sample_rate, info.channels) == (64000, SR, 1)
    assert info.bitrate_mode in (mp3.BitrateMode.CBR, mp3.BitrateMode.UNKNOWN)
    tag = id3.ID3(out)
    assert tag.version[:2] == (2, 3)
    toc = tag.getall("CTOC")
    assert len(toc) == 1 and toc[0].flags & id3.CTOCFlags.TOP_LEVEL
    assert toc[0].flags & id3.CTOCFlags.ORDERED
    assert toc[0].sub_frames["TIT2"].text == [META.title]
    chaps = {c.element_id: c for c in tag.getall("CHAP")}
    ordered = [chaps[i] for i in toc[0].child_element_ids]
    assert len(ordered) == 3
    assert [c.sub_frames["TIT2"].text[0] for c in ordered] == list(TITLES)
    assert [(c.start_time, c.end_time) for c in ordered] == [(0, 1000), (1000, 3500), (3500, 4200)]
    (apic,) = tag.getall("APIC")
    assert (apic.data, apic.mime, apic.type) == (META.cover, "image/png", 3)
    assert tag["TIT2"].text == [META.title] and tag["TALB"].text == [META.title]
    assert tag["TPE1"].text == ["Ann Author, Bo Writer"] and tag["TCOM"].text == ["af_heart"]
    assert tag["TLAN"].text == ["eng"]
    assert_chapters(sorted(probe_chapters(out), key=lambda c: float(c["start_time"])))


def test_mp3_chapters_reach_ffprobe_in_time_order(
    chapters: list[ChapterAudio], tmp_path: Path
) -> None:
    """mutagen saves frames smallest first and ffmpeg lists ID3 chapters in file order: with the
    longest title first, ffprobe used to list the starts as [3.5, 1.0, 0.0]."""
    titles = ("The first chapter, with by far the longest title", "The second one", "C")
    book = [ChapterAudio(t, c.path, c.samples) for t, c in zip(titles, chapters)]
    options = OutputOptions(format="mp3", loudness="off")
    out = tmp_path / "book.mp3"
    write_book(book, out, META, options)
    assert_chapters(probe_chapters(out), titles)  # not sorted: in the order ffprobe gives
    sink = io.BytesIO()
    stream_book(book, META, options, sink)
    streamed = tmp_path / "streamed.mp3"
    streamed.write_bytes(sink.getvalue())
    assert_chapters(probe_chapters(streamed), titles)


# --- WAV, FLAC, Opus --------------------------------------------------------------------------


def test_flac_and_opus_carry_vorbis_tags_chapters_and_cover(
    chapters: list[ChapterAudio], tmp_path: Path
) -> None:
    flac = pytest.importorskip("mutagen.flac")
    oggopus = pytest.importorskip("mutagen.oggopus")
    for fmt, rate in (("flac", SR), ("opus", 48000)):
        out = tmp_path / f"book.{fmt}"
        write_book(chapters, out, META, OutputOptions(format=fmt))
        (audio,) = [s for s in probe_streams(out) if s["codec_type"] == "audio"]
        assert (audio["codec_name"], int(audio["sample_rate"]), audio["channels"]) == (
            fmt, rate, 1)  # fmt: skip
        assert_chapters(probe_chapters(out))
        tags = probe_format(out).get("tags") or audio.get("tags", {})
        assert {k.lower(): v for k, v in tags.items()}["title"] == META.title
        opened = flac.FLAC(out) if fmt == "flac" else oggopus.OggOpus(out)
        assert opened.tags["CHAPTER002"] == ["00:00:01.000"]
        assert opened.tags["CHAPTER003NAME"] == [TITLES[2]]
        if fmt == "flac":
            assert opened.pictures[0].data == META.cover
        else:
            picture = flac.Picture(__import__("base64").b64decode(
                opened.tags["METADATA_BLOCK_PICTURE"][0]))  # fmt: skip
            assert (picture.data, picture.mime, picture.type) == (META.cover, "image/png", 3)


def test_wav_is_16_bit_pcm_with_info_tags(chapters: list[ChapterAudio], tmp_path: Path) -> None:
    out = tmp_path / "book.wav"
    write_book(chapters, out, META, OutputOptions(format="wav", loudness="off"))
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (
        SR, 1, "PCM_16", round(sum(LENGTHS) * SR))  # fmt: skip
    assert probe_format(out)["tags"]["title"] == META.title


# --- loudness ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("preset", "fmt"), [("audiobook", "flac"), ("podcast", "flac"),
                                             ("ebu", "flac"), ("audiobook", "m4b")])  # fmt: skip
def test_output_loudness_meets_the_preset(
    quiet_book: list[ChapterAudio], tmp_path: Path, preset: str, fmt: str
) -> None:
    out = tmp_path / f"book.{fmt}"
    report = write_book(quiet_book, out, META, OutputOptions(format=fmt, loudness=preset))
    target = PRESETS[preset]
    assert report.gain_db > 10  # the input sits around -39 LUFS
    assert report.qc is not None and report.qc.passed, report.qc.problems
    measured = measure_file(out).book  # measured again, independently, from the file
    assert abs(measured.integrated_lufs - target.integrated_lufs) <= 1.0
    assert measured.true_peak_dbtp <= target.true_peak_dbtp + 0.5
    assert abs(report.qc.book.levels.integrated_lufs - target.integrated_lufs) <= 1.0
    assert [c.title for c in report.qc.chapters] == ["Chapter 1", "Chapter 2", "Chapter 3"]


def test_limiter_holds_the_true_peak_ceiling(tmp_path: Path) -> None:
    """A signal with sparse high peaks: the gain to -16 LUFS pushes them past -1 dBTP."""
    audio = speechy(6.0, 0.02, 3)
    audio[SR // 10 :: SR // 2] = 0.12  # one-sample spikes a few dB over the gained ceiling
    path = tmp_path / "peaky.wav"
    sf.write(path, audio, SR, subtype="PCM_16")
    out = tmp_path / "book.flac"
    chapter = ChapterAudio("Peaks", path, audio.size)
    report = write_book([chapter], out, META, OutputOptions(format="flac", loudness="podcast"))
    measured = measure_file(out).book
    assert measured.true_peak_dbtp <= -1.0 + 0.1
    assert abs(measured.integrated_lufs + 16) <= 1.0
    assert report.qc is not None and report.qc.passed, report.qc.problems
    assert sf.info(out).frames == audio.size  # the limiter's look-ahead is compensated


def test_one_gain_keeps_chapter_boundaries_sample_exact(
    chapters: list[ChapterAudio], tmp_path: Path
) -> None:
    out = tmp_path / "book.wav"
    report = write_book(chapters, out, META, OutputOptions(format="wav", loudness="ebu"))
    audio, _ = sf.read(out, dtype="int16")
    first, second = round(LENGTHS[0] * SR), round((LENGTHS[0] + LENGTHS[1]) * SR)
    assert audio.size == round(sum(LENGTHS) * SR)
    assert not audio[first:second].any()  # the silent chapter, exactly where it was
    assert audio[first - 1] != 0 and audio[second + 1] != 0
    source, _ = sf.read(chapters[0].path)
    gain = 10 ** (report.gain_db / 20)
    assert np.abs(audio[:first] / 32768 - source * gain).max() < 2e-4


def test_acx_delivers_mp3_files_per_chapter_with_room_tone(
    quiet_book: list[ChapterAudio], tmp_path: Path
) -> None:
    mp3 = pytest.importorskip("mutagen.mp3")
    options = OutputOptions(format="mp3", loudness="acx", split_chapters=True)
    report = write_book(quiet_book, tmp_path / "acx", META, options)
    assert [p.name for p in report.files] == [
        "01 - Chapter 1.mp3", "02 - Chapter 2.mp3", "03 - Chapter 3.mp3"]  # fmt: skip
    assert report.qc is not None and report.qc.passed, report.qc.problems
    for path, chapter in zip(report.files, quiet_book):
        info = mp3.MP3(path).info
        assert info.sample_rate == 44100 and abs(info.bitrate - 192000) < 1000
        levels = measure_file(path).book
        assert -23 <= levels.rms_dbfs <= -18 and levels.true_peak_dbtp <= -3.0
        assert levels.noise_floor_dbfs <= -60  # the room tone
        audio = decode(path.read_bytes())
        assert abs(audio.size / SR - (chapter.samples / SR + 2.0)) < 0.1
        assert not audio[: SR * 9 // 10].any()  # a second of room tone (less codec delay)


# --- split files and parts --------------------------------------------------------------------


def test_split_chapters_writes_numbered_tagged_files(
    chapters: list[ChapterAudio], tmp_path: Path
) -> None:
    mp4 = pytest.importorskip("mutagen.mp4")
    folder = tmp_path / "new" / "folder"
    options = OutputOptions(split_chapters=True, loudness="off")
    report = write_book(chapters, folder, META, options)
    names = ["01 - Ch 1 Quotes = 'x'; #1.m4b", "02 - Back slash new line.m4b",
             "03 - 日本語 — Ελληνικά.m4b"]  # fmt: skip
    assert [p.name for p in report.files] == names
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    assert output_paths(chapters, folder, META, options) == list(report.files)
    for number, (path, title, seconds) in enumerate(zip(report.files, TITLES, LENGTHS), 1):
        tags = mp4.MP4(path).tags
        assert tags["trkn"] == [(number, 3)]
        assert tags["©nam"] == [title] and tags["©alb"] == [META.title]
        assert_chapters(probe_chapters(path), [title], [0.0, seconds])


def test_long_books_are_cut_into_parts_at_chapter_boundaries(
    chapters: list[ChapterAudio], tmp_path: Path
) -> None:
    out = tmp_path / "Book.m4b"
    options = OutputOptions(loudness="off", max_part_hours=3.3 / 3600)  # parts of <= 3.3 s
    report = write_book(chapters, out, META, options)
    assert [p.name for p in report.files] == ["Book (Part 1).m4b", "Book (Part 2).m4b"]
    assert_chapters(probe_chapters(report.files[0]), TITLES[:1], [0.0, 1.0])
    assert_chapters(probe_chapters(report.files[1]), TITLES[1:], [0.0, 2.5, 3.2])
    assert probe_format(report.files[1])["tags"]["title"] == f"{META.title} (Part 2)"
    single = write_book(chapters, out, META, OutputOptions(loudness="off", max_part_hours=1.0))
    assert single.files == (out,)


def test_a_failed_split_leaves_no_files(chapters: list[ChapterAudio], tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not a wav file")
    broken = [*chapters[:2], ChapterAudio("bad", bad, 100)]
    folder = tmp_path / "out"
    with pytest.raises(FfmpegError, match="bad.wav"):
        write_book(broken, folder, META, OutputOptions(split_chapters=True, loudness="off"))
    assert list(folder.iterdir()) == []


# --- streams ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "magic"), [("wav", b"RIFF"), ("mp3", b"ID3"),
                                            ("flac", b"fLaC"), ("opus", b"OggS")])  # fmt: skip
def test_stream_book_writes_a_decodable_stream(
    chapters: list[ChapterAudio], fmt: str, magic: bytes
) -> None:
    sink = io.BytesIO()
    report = stream_book(chapters, META, OutputOptions(format=fmt, room_tone_ms=500), sink)
    data = sink.getvalue()
    assert data.startswith(magic) and report.files == ()
    assert report.duration_s == pytest.approx(sum(LENGTHS) + 1.0)
    seconds = decode(data).size / SR
    slack = 0.1 if fmt == "mp3" else 0.01  # a stream has no room to note the encoder delay
    assert report.duration_s - 0.01 <= seconds <= report.duration_s + slack
    if fmt == "wav":
        assert sf.info(io.BytesIO(data)).frames == round(report.duration_s * SR)
    if fmt == "mp3":
        tag = pytest.importorskip("mutagen.id3").ID3(io.BytesIO(data))
        starts = sorted(c.start_time for c in tag.getall("CHAP"))
        assert starts == [0, 1500, 4000]  # the head room tone belongs to chapter 1


def test_stream_book_refuses_m4b_and_several_files(chapters: list[ChapterAudio]) -> None:
    with pytest.raises(ValueError, match="m4b cannot be written to a stream"):
        stream_book(chapters, META, OutputOptions(format="m4b"), io.BytesIO())
    options = OutputOptions(format="mp3", split_chapters=True)
    with pytest.raises(ValueError, match="several files"):
        stream_book(chapters, META, options, io.BytesIO())


def test_write_m4b_keeps_the_levels(chapters: list[ChapterAudio], tmp_path: Path) -> None:
    from kokoro_cli.output.encode import write_m4b

    out = write_m4b(chapters, tmp_path / "plain.m4b", BookMeta(title="Plain"))
    source = measure_file(chapters[0].path).book
    lengths = [c.samples for c in chapters]
    measured = measure_file(out, lengths).chapters[0]
    assert abs(measured.integrated_lufs - source.integrated_lufs) < 1.0  # AAC at 64k, no gain
