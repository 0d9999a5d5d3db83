"""The conversion layer under the commands, for real (model, ffmpeg, files): one declaration of
the settings, every output named before any synthesis (same-title inputs never overwrite each
other, in one run, in two runs and through --feed), one model load per command, and warnings
that reach the user whatever the progress mode."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_cli.conversion import OutputOwners, claim_target
from kokoro_cli.errors import UsageError
from kokoro_cli.settings import SETTINGS

runner = CliRunner()
PER_RUN = {"inputs", "output", "chapters", "force", "read_along", "qc_json"}


def _doc(folder: Path, sentence: str, title: str = "Report") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "notes.md"
    path.write_text(f"---\ntitle: {title}\n---\n\n# One\n\n{sentence}\n", encoding="utf-8")
    return path


def _convert(*args: object, work: Path) -> object:
    return runner.invoke(app, ["convert", *map(str, args), "--work-dir", str(work),
                               "--format", "wav", "--qc", "off"])


def _loads(log: Path) -> int:
    return log.read_text(encoding="utf-8").count("loading the model")


def test_every_shared_flag_is_one_setting_with_a_config_key_and_watch_takes_them_all():
    commands = get_command(app).commands
    keys = {s.key for s in SETTINGS}
    convert = {p.name for p in commands["convert"].params}
    watch = {p.name for p in commands["watch"].params}
    assert convert - keys == PER_RUN
    assert watch - keys == {"folder", "settle"}
    assert {s.key for s in SETTINGS if "convert" in s.commands and s.flags} == convert & keys
    assert {s.key for s in SETTINGS if "watch" in s.commands and s.flags} == watch & keys
    assert convert & keys <= watch  # every shared convert option works in watch
    say = {p.name for p in commands["say"].params}
    assert {"voice", "speed", "lang", "dict", "backend", "model", "voices"} <= say
    shown = json.loads(runner.invoke(app, ["config", "show", "--json"]).stdout)["settings"]
    assert set(shown) == keys
    assert shown["out_dir"]["flags"] == ["--out-dir"]
    assert shown["feed_keep"]["env"] == "KOKORO_CLI_FEED_KEEP"


@pytest.mark.parametrize("content, message", [
    ("work_dir = {a = 1}", "work_dir"),
    ('out_dir = ["a", "b"]', "out_dir"),
    ("workers = true", "workers"),
    ('quiet = "maybe"', "quiet"),
])
def test_config_values_of_the_wrong_type_are_a_usage_error_naming_file_and_key(
        tmp_path, content, message):
    config = tmp_path / "config.toml"
    config.write_text(content + "\n")
    doc = _doc(tmp_path / "x", "Hello.")
    result = runner.invoke(app, ["--config", str(config), "convert", str(doc), "-o",
                                 str(tmp_path / "x.wav")])
    assert result.exit_code == 2, result.output
    assert str(config) in result.stderr and message in result.stderr
    assert not (tmp_path / "x.wav").exists()


def test_a_missing_config_named_by_the_environment_is_an_error(tmp_path):
    result = runner.invoke(app, ["config", "show"],
                           env={"KOKORO_CLI_CONFIG": str(tmp_path / "none.toml")})
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_numbered_names_follow_input_order_and_owners(tmp_path):
    owners, taken = OutputOwners(tmp_path / "work"), set()
    out = tmp_path / "out"
    out.mkdir()
    first = claim_target(out / "Report.m4b", "/x", owners, taken, named=False, force=False)
    second = claim_target(out / "Report.m4b", "/y", owners, taken, named=False, force=False)
    assert (first.name, second.name) == ("Report.m4b", "Report (2).m4b")
    first.write_bytes(b"x")
    second.write_bytes(b"y")
    # A later run, one input at a time, in either order: each finds its own file again.
    for source, name in (("/y", "Report (2).m4b"), ("/x", "Report.m4b"), ("/z", "Report (3).m4b")):
        assert claim_target(out / "Report.m4b", source, owners, set(), named=False,
                            force=False).name == name
    folder = claim_target(out / "Vol. 2", "/z", owners, set(), named=False, force=False,
                          folder=True)
    assert folder.name == "Vol. 2"
    (out / "Vol. 2").mkdir()
    assert claim_target(out / "Vol. 2", "/w", owners, set(), named=False, force=False,
                        folder=True).name == "Vol. 2 (2)"
    with pytest.raises(UsageError, match="--force"):
        claim_target(first, "/y", owners, set(), named=True, force=False)
    assert claim_target(first, "/y", owners, set(), named=True, force=True) == first
    assert owners.owner(first) == "/y"


@pytest.mark.slow
def test_same_title_inputs_keep_both_outputs_in_one_run_and_in_two(resolver, tmp_path):
    x = _doc(tmp_path / "x", "The first report is short.")
    y = _doc(tmp_path / "y", "The second report says something else entirely.")
    work, out, log = tmp_path / "work", tmp_path / "out", tmp_path / "run.log"
    out.mkdir()
    result = runner.invoke(app, ["--log-file", str(log), "convert", str(x), str(y), "--out-dir",
                                 str(out), "--work-dir", str(work), "--format", "wav",
                                 "--qc", "off"])
    assert result.exit_code == 0, result.output
    first, second = out / "Report.wav", out / "Report (2).wav"
    assert result.stdout.splitlines() == [str(first), str(second)]
    assert first.stat().st_size < second.stat().st_size  # the longer sentence, not a copy
    assert _loads(log) == 1  # one model for both books
    again = _convert(x, y, "--out-dir", out, work=work)
    assert again.stdout.splitlines() == [str(first), str(second)]
    assert again.stderr.count("is up to date") == 2

    # Two runs into a fresh folder: the second input gets its own file, and both re-run as no-ops.
    other = tmp_path / "other"
    other.mkdir()
    assert _convert(x, "--out-dir", other, work=work).stdout.strip() == str(other / "Report.wav")
    made = _convert(y, "--out-dir", other, work=work)
    assert made.stdout.strip() == str(other / "Report (2).wav"), made.output
    for doc, name in ((y, "Report (2).wav"), (x, "Report.wav")):
        rerun = _convert(doc, "--out-dir", other, work=work)
        assert rerun.stdout.strip() == str(other / name) and "is up to date" in rerun.stderr

    # -o naming another input's output is refused (exit 2, the file kept) unless --force.
    before = (other / "Report.wav").read_bytes()
    refused = _convert(y, "-o", other / "Report.wav", work=work)
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert (other / "Report.wav").read_bytes() == before


@pytest.mark.slow
def test_feed_lists_both_same_title_episodes(resolver, tmp_path):
    x = _doc(tmp_path / "x", "Morning.")
    y = _doc(tmp_path / "y", "Evening news.")
    work, out = tmp_path / "work", tmp_path / "out"
    out.mkdir()
    assert runner.invoke(app, ["feed", str(out), "--base-url", "https://host/a/", "--work-dir",
                               str(work)]).exit_code == 0
    for doc in (x, y):  # two runs, as a cron job would make them
        result = runner.invoke(app, ["convert", str(doc), "--out-dir", str(out), "--feed",
                                     "--format", "mp3", "--work-dir", str(work), "--qc", "off"])
        assert result.exit_code == 0, result.output
    entries = feedparser.parse((out / "feed.xml").read_bytes()).entries
    assert sorted(e.enclosures[0].href for e in entries) == [
        "https://host/a/Report%20%282%29.mp3", "https://host/a/Report.mp3"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["--quiet", "--progress=json"])
def test_warnings_reach_the_user_in_quiet_and_json_modes_and_the_qc_report(
        resolver, tmp_path, mode):
    doc = _doc(tmp_path / "x", "Hello there.")
    qc = tmp_path / "qc.json"
    result = runner.invoke(app, ["convert", str(doc), "--lang", "de", mode, "-o",
                                 str(tmp_path / "x.wav"), "--qc-json", str(qc),
                                 "--work-dir", str(tmp_path / "work")])
    assert result.exit_code == 0, result.output
    expected = "language 'de' is not one Kokoro speaks; reading it as English"
    if mode == "--quiet":
        assert f"warning: {expected}" in result.stderr.splitlines()
    else:
        events = [json.loads(line) for line in result.stderr.splitlines()]
        assert {"event": "warning", "message": expected} in events
    assert json.loads(qc.read_text())["warnings"] == [expected]


@pytest.mark.slow
def test_three_inputs_load_the_model_once(resolver, tmp_path):
    docs = [_doc(tmp_path / name, f"Book {name} is read aloud.", title=f"Book {name}")
            for name in ("a", "b", "c")]
    log = tmp_path / "run.log"
    result = runner.invoke(app, ["--log-file", str(log), "convert", *map(str, docs),
                                 "--out-dir", str(tmp_path), "--work-dir", str(tmp_path / "w"),
                                 "--format", "wav", "--qc", "off", "--voice", "am_michael"])
    assert result.exit_code == 0, result.output
    assert [Path(p).name for p in result.stdout.splitlines()] == ["Book a.wav", "Book b.wav",
                                                                 "Book c.wav"]
    assert _loads(log) == 1


@pytest.mark.slow
def test_the_engine_lends_one_pool_to_every_book_until_a_book_fails(resolver):
    from engine import Engine

    model = resolver.model()
    with Engine(resolver, workers=2) as engine:
        assert not engine.warm(model, 2) and engine.capacity() == 2
        first = engine.lend(model, 2)
        first.close()  # the book ended well: the workers stay
        assert engine.warm(model, 2) and not engine.warm(model, 1)
        second = engine.lend(model, 2)
        assert second.pool is first.pool and engine.loads == 1
        assert engine.synthesizer("onnx-int8") is engine.synthesizer("onnx-int8")
        assert engine.loads == 2  # the pool and one in-process model
        second.terminate()  # the book failed mid-way: its workers are ended
        assert not engine.warm(model, 2)
        third = engine.lend(model, 2)
        assert third.pool is not first.pool and engine.loads == 3
    assert not engine.warm(model, 2)


@pytest.mark.parametrize("args, env, config, origin", [
    (["--qc", "maybe"], {}, "", "--qc 'maybe': use report, strict, off"),
    ([], {"KOKORO_CLI_PROGRESS": "fancy"}, "", "$KOKORO_CLI_PROGRESS 'fancy': use auto, bars"),
    ([], {}, 'loudness = "loud"', "loudness 'loud': use audiobook, acx"),
    ([], {"KOKORO_CLI_EXECUTOR": "slurm"}, "", "$KOKORO_CLI_EXECUTOR 'slurm': use local, ray"),
])
def test_a_bad_value_names_where_it_came_from(tmp_path, args, env, config, origin):
    path = tmp_path / "config.toml"
    path.write_text(config + "\n")
    doc = _doc(tmp_path / "x", "Hello.")
    result = runner.invoke(app, ["--config", str(path), "convert", str(doc), "-o",
                                 str(tmp_path / "x.wav"), *args], env=env)
    assert result.exit_code == 2 and origin in result.stderr, result.output
    if config:
        assert f"config file ({path}): loudness" in result.stderr


def test_titles_that_sanitize_to_one_name_get_their_own_files(tmp_path):
    from kokoro_cli.output import output_name

    owners, taken = OutputOwners(tmp_path / "work"), set()
    names = [claim_target(tmp_path / f"{output_name(title, 'x')}.m4b", source, owners, taken,
                          named=False, force=False).name
             for title, source in (("Report?", "/a"), ("Report*", "/b"), ("Report/", "/c"))]
    assert names == ["Report.m4b", "Report (2).m4b", "Report (3).m4b"]
