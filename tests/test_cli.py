"""The command line: CliRunner for the surface, the installed console script for real runs."""

from __future__ import annotations

import json
import subprocess

import pytest
from typer.testing import CliRunner

from kokoro_cli.app import app
from tests.conftest import SAMPLES, cli_script

runner = CliRunner()


def test_version_and_help():
    assert runner.invoke(app, ["--version"]).output.startswith("kokoro-cli ")
    for command in (["--help"], ["convert", "--help"], ["voices", "--help"],
                    ["models", "fetch", "--help"], ["models", "status", "--help"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, command
    assert "Exit codes" in runner.invoke(app, ["--help"]).output
    # install hints keep their extra: Rich markup would take "[ray]" for a tag
    wide = runner.invoke(app, ["convert", "--help"], env={"COLUMNS": "250"}).output
    assert "'kokoro-audiobook[ray]'" in wide and "'kokoro-audiobook'" not in wide


def test_voices_lists_54_with_language_and_gender():
    lines = runner.invoke(app, ["voices"]).output.strip().splitlines()
    assert len(lines) == 54
    assert lines[0].split()[:3] == ["af_alloy", "en-us", "female"]
    data = json.loads(runner.invoke(app, ["voices", "--json", "--lang", "en-gb"]).output)
    assert {v["name"] for v in data} == {"bf_alice", "bf_emma", "bf_isabella", "bf_lily",
                                          "bm_daniel", "bm_fable", "bm_george", "bm_lewis"}


@pytest.mark.parametrize("args, code, message", [
    (["convert", "missing.md", "-o", "x.m4b"], 3, "cannot read"),
    (["convert", str(SAMPLES / "report.md"), "-o", "x.mp4a"], 2, "does not end in .m4b"),
    (["convert", str(SAMPLES / "report.md"), "-o", "x.m4b", "--speed", "0"], 2, "speed"),
    (["convert", str(SAMPLES / "report.md"), "-o", "x.m4b", "--voice", "af_nobody"], 2, "unknown voice"),
    (["convert", str(SAMPLES / "report.md"), "-o", "/nonexistent/dir/x.m4b"], 5, "does not exist"),
    (["models", "fetch", "--source", "ftp"], 2, "unknown source"),
])
def test_bad_input_is_one_line_and_an_exit_code(args, code, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_models_status_shows_verified_files(resolver):
    result = runner.invoke(app, ["models", "status", "--json"])
    rows = json.loads(result.stdout)["files"]
    model = next(r for r in rows if r["name"] == "kokoro-v1.0.int8.onnx")
    assert model["state"] == "verified"
    assert next(r for r in rows if r["name"] == "voices/af_heart")["state"] == "verified"


def test_installed_script_reports_errors_without_traceback(tmp_path):
    bad = tmp_path / "book.epub"
    bad.write_bytes(b"this is not a zip file")
    proc = subprocess.run(cli_script() + ["convert", str(bad), "-o", str(tmp_path / "b.m4b")],
                          capture_output=True, text=True)
    assert proc.returncode == 3
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert not (tmp_path / "b.m4b").exists()


def test_inspect_json_plan_matches_the_document():
    result = runner.invoke(app, ["inspect", str(SAMPLES / "story.txt"), "--json"])
    plan = json.loads(result.stdout)
    assert plan["title"] == "The Clockmaker of Vell" and plan["authors"] == ["Maren Holt"]
    assert [c["index"] for c in plan["chapters"]] == [1, 2, 3]
    assert all(c["words"] > 50 and c["est_seconds"] > 10 for c in plan["chapters"])


def test_inspect_selects_chapters_and_reads_stdin():
    picked = json.loads(runner.invoke(app, ["inspect", str(SAMPLES / "report.md"), "--json",
                                            "--chapters", "2-"]).stdout)
    assert [(c["index"], c["title"]) for c in picked["chapters"]] == [(2, "Release Notes"),
                                                                       (3, "Next Steps")]
    text = "# Notes\n\nFirst part.\n\n# More\n\nSecond part.\n"
    result = runner.invoke(app, ["inspect", "-", "--input-format", "markdown", "--json"], input=text)
    assert [c["title"] for c in json.loads(result.stdout)["chapters"]] == ["Notes", "More"]


def test_inspect_code_policy_and_split_level():
    text = "# Book\n\n## One\n\nText.\n\n```\nx = 1\n```\n\n## Two\n\nMore text.\n"
    split = json.loads(runner.invoke(app, ["inspect", "-", "--input-format", "markdown",
                                           "--json", "--split-level", "2"], input=text).stdout)
    assert [c["title"] for c in split["chapters"]] == ["One", "Two"]
    words = {policy: json.loads(runner.invoke(app, ["inspect", "-", "--input-format", "markdown",
                                                    "--json", "--code", policy], input=text).stdout)
             ["chapters"][0]["words"] for policy in ("skip", "read")}
    assert words["read"] > words["skip"]


def test_preview_json_is_what_convert_speaks():
    result = runner.invoke(app, ["preview", str(SAMPLES / "report.md"), "--json", "--chapters", "2"])
    (chapter,) = json.loads(result.stdout)["chapters"]
    assert chapter["title"] == "Release Notes"
    texts = [c["text"] for c in chapter["chunks"]]
    assert texts[0] == "Release Notes"
    assert any("version 2 point 4 point 1" in t.lower() for t in texts)
    assert all(0 < c["tokens"] <= 510 and c["pause_after_ms"] > 0 for c in chapter["chunks"])


def test_preview_lists_unknown_words_and_a_dictionary_teaches_them(tmp_path):
    text = "Ilse met the Zorblatt twice. The Zorblatt waved."
    result = runner.invoke(app, ["preview", "-", "--unknown-words", "--json"], input=text)
    words = {w["word"]: w["count"] for w in json.loads(result.stdout)["unknown_words"]}
    assert words["Zorblatt"] == 2
    dictionary = tmp_path / "words.toml"
    dictionary.write_text('[words]\nZorblatt = { phonemes = "zˈɔɹblæt" }\n', encoding="utf-8")
    result = runner.invoke(app, ["preview", "-", "--unknown-words", "--json", "--dict",
                                 str(dictionary)], input=text)
    assert "Zorblatt" not in {w["word"] for w in json.loads(result.stdout)["unknown_words"]}
    spoken = json.loads(runner.invoke(app, ["preview", "-", "--json", "--dict", str(dictionary)],
                                      input=text).stdout)
    assert "zˈɔɹblæt" in spoken["chapters"][0]["chunks"][0]["phonemes"]
