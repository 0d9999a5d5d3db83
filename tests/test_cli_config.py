"""Configuration precedence (command line > environment > config file > default) and batches."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kokoro_cli.app import app
from kokoro_cli.output import output_name

runner = CliRunner()


def _show(*args: str, env: dict | None = None) -> dict:
    result = runner.invoke(app, [*args, "config", "show", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["settings"]


def test_precedence_environment_over_file_over_default(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('voice = "bf_emma"\nspeed = 0.9\nprogress = "plain"\n')
    settings = _show("--config", str(config), env={"KOKORO_CLI_SPEED": "1.2"})
    assert settings["voice"] == {"value": "bf_emma", "source": f"config file ({config})",
                                 "env": "KOKORO_CLI_VOICE", "flags": ["--voice", "-v"]}
    assert (settings["speed"]["value"], settings["speed"]["source"]) == (1.2, "environment (KOKORO_CLI_SPEED)")
    assert settings["work_dir"]["source"] == "default"


@pytest.mark.parametrize("content, message", [
    ("voice = ", "not valid TOML"),
    ("colour = 'red'", "unknown setting(s) colour"),
    ("speed = 'fast'", "bad value for speed"),
])
def test_bad_config_is_a_usage_error(tmp_path, content, message):
    config = tmp_path / "config.toml"
    config.write_text(content)
    result = runner.invoke(app, ["--config", str(config), "config", "show"])
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder", "huge"])
def test_config_that_is_not_a_small_regular_file_is_refused_not_read(tmp_path, special):
    import os

    path = {"fifo": tmp_path / "fifo", "folder": tmp_path, "huge": tmp_path / "huge.toml"}.get(
        special, Path(special))
    if special == "fifo":
        os.mkfifo(path)
    elif special == "huge":
        path.write_text("# padding\n" * 200_000)
    result = runner.invoke(app, ["--config", str(path), "config", "show"])
    assert result.exit_code == 2
    assert any(why in result.output for why in ("not a regular file", "over 1 MB", "directory"))


def test_command_line_beats_config_file(resolver, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('voice = "af_nobody"\n')  # would fail if used
    doc = tmp_path / "note.txt"
    doc.write_text("Short note.")
    result = runner.invoke(app, ["--config", str(config), "convert", str(doc), "--voice", "am_michael",
                                 "-o", str(tmp_path / "n.m4b"), "--work-dir", str(tmp_path / "w"),
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["--config", str(config), "convert", str(doc),
                                 "-o", str(tmp_path / "n2.m4b"), "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 2 and "unknown voice 'af_nobody'" in result.output


def test_batch_with_out_dir_names_outputs_by_title_and_keeps_going(resolver, tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    (books / "a.md").write_text('---\ntitle: "First: Notes/Log"\n---\n\nOne line.\n')
    (books / "b.txt").write_text("Another short line.")
    (books / "c.epub").write_bytes(b"not a zip")
    out = tmp_path / "out"
    out.mkdir()
    exe = Path(sys.executable).with_name("kokoro-cli")
    proc = subprocess.run([str(exe), "convert", str(books / "*"), "--out-dir", str(out),
                           "--work-dir", str(tmp_path / "w")], capture_output=True, text=True)
    assert proc.returncode == 3  # the corrupt EPUB's input error; the others were converted
    assert sorted(p.name for p in out.iterdir()) == ["First Notes Log.m4b", "b.m4b"]
    assert proc.stdout.splitlines() == [str(out / "First Notes Log.m4b"), str(out / "b.m4b")]
    assert "c.epub" in proc.stderr and "\x1b[" not in proc.stderr


def test_missing_model_file_is_an_asset_error(tmp_path):
    doc = tmp_path / "note.txt"
    doc.write_text("Short note.")
    result = runner.invoke(app, ["convert", str(doc), "-o", str(tmp_path / "n.m4b"),
                                 "--model", str(tmp_path / "missing.onnx")])
    assert result.exit_code == 4 and "does not exist" in result.output


@pytest.mark.parametrize("title, expected", [
    ("Weekly Report", "Weekly Report"),
    ("A/B: the \"test\"?", "A B the test"),
    ("  ..dots.. ", "dots"),
    ("\x00\x01", "fallback"),
])
def test_output_names(title, expected):
    assert output_name(title, "fallback") == expected


def _kokoro() -> list[str]:
    return [str(Path(sys.executable).with_name("kokoro-cli"))]


def test_say_from_stdin_to_a_file_and_to_a_pipe(resolver, tmp_path):
    import soundfile as sf

    out = tmp_path / "done.wav"
    proc = subprocess.run(_kokoro() + ["say", "-o", str(out)], input="Build finished.",
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{out}\n"  # the result's path on stdout, as convert prints it
    audio, rate = sf.read(out)
    assert rate == 24000 and 0.4 < len(audio) / rate < 3.0
    piped = subprocess.run(_kokoro() + ["say", "Build finished.", "-o", "-"], capture_output=True)
    assert piped.returncode == 0 and piped.stdout[:4] == b"RIFF"
    assert piped.stdout == out.read_bytes()  # same input, same bytes
    mp3 = subprocess.run(_kokoro() + ["say", "Done.", "-o", "-", "--format", "mp3"], capture_output=True)
    assert mp3.returncode == 0 and (mp3.stdout[:3] == b"ID3" or mp3.stdout[0] == 0xFF)


def test_say_errors(tmp_path):
    assert runner.invoke(app, ["say", "-o", str(tmp_path / "x.wav")], input="   ").exit_code == 3
    result = runner.invoke(app, ["say", "hi", "-o", str(tmp_path / "x.xyz")])
    assert result.exit_code == 2 and "cannot write 'xyz' audio" in result.output


def test_installed_script_honours_environment_and_config_precedence(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('voice = "bf_emma"\nspeed = 0.9\n')
    env = {**__import__("os").environ, "KOKORO_CLI_CONFIG": str(config), "KOKORO_CLI_SPEED": "1.3",
           "NO_COLOR": "1"}
    proc = subprocess.run(_kokoro() + ["config", "show", "--json"], capture_output=True,
                          text=True, env=env)
    settings = json.loads(proc.stdout)["settings"]
    assert settings["voice"]["value"] == "bf_emma" and settings["speed"]["value"] == 1.3
    proc = subprocess.run(_kokoro() + ["--config", str(tmp_path / "none.toml"), "config", "show"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and proc.stderr.startswith("error: config file")
