"""A cast of voices (#27): quotes found by each language's conventions and attributed to their
speakers; ``--cast`` voices each piece (preview shows the voice and the rule), a character's
line sounds as that voice alone reading it, changing one character's voice re-synthesizes only
that character's pieces, and a bad cast is one line, exit 2, before anything is written."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from engine import token_count
from kokoro_cli.app import app
from kokoro_cli.jobs.job import list_jobs
from kokoro_cli.jobs.manifest import JobIdentity, Manifest
from preprocess import Cast, CastError, parse_text, plan, read_cast
from preprocess.dialogue import attribute

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TINY = "“Hello there,” said Ahab. “Are you ready?”\n\nStubb nodded. “Aye, sir.”\n"
CAST = 'narrator = "af_heart"\n[characters]\nAhab = "am_adam"\nStubb = "STUBB"\n'


@pytest.mark.parametrize("language, blocks, expected", [
    ("en", ["“Hello,” said Ahab. “Come.”", "“No,” Stubb replied."],
     [("“Hello,”", "Ahab", "tag"), ("“Come.”", "Ahab", "paragraph"),
      ("“No,”", "Stubb", "tag")]),
    ("en", ['"Aye," cried the captain.', "Stubb shook his head. 'Never!'", '"Why not?"',
            '"Because."'],
     [('"Aye,"', "the captain", "tag"), ("'Never!'", "Stubb", "beat"),
      ('"Why not?"', "the captain", "alternation"), ('"Because."', "Stubb", "alternation")]),
    ("en", ["Alice sighed. ‘It’s late,’ she said.", "‘So it is,’ they cried."],
     [("‘It’s late,’", "Alice", "pronoun"), ("‘So it is,’", None, "group")]),
    ("fr", ["« Bonjour », dit Pierre.", "— Bonsoir, répondit Marie. Tu viens ?"],
     [("« Bonjour »", "Pierre", "tag"), ("— Bonsoir,", "Marie", "tag"),
      ("Tu viens ?", "Marie", "paragraph")]),
    ("es", ["—Hola —dijo Juan—. ¿Cómo estás?"],
     [("—Hola", "Juan", "tag"), ("¿Cómo estás?", "Juan", "paragraph")]),
    ("de", ["„Guten Tag“, sagte Anna."], [("„Guten Tag“", "Anna", "tag")]),
    ("ja", ["「こんにちは」と言った。"], [("「こんにちは」", None, "unknown")]),
    ("en", ["HAMLET: To be, or not to be.", "OPHELIA: Good my lord."],
     [("To be, or not to be.", "HAMLET", "script"), ("Good my lord.", "OPHELIA", "script")]),
    ("en", ["Note: this is not a script."], []),
    ("en", ["“Listen,” said Holmes. “It began in June.", "“A man came.”", "“Who?” I asked."],
     [("“Listen,”", "Holmes", "tag"), ("“It began in June.", "Holmes", "paragraph"),
      ("“A man came.”", "Holmes", "continued"), ("“Who?”", "narrator", "pronoun")]),
])
def test_quotes_are_found_and_attributed_by_the_languages_conventions(
        language: str, blocks: list[str], expected: list) -> None:
    found = [(text[q.start:q.end], q.speaker, q.rule)
             for text, quotes in zip(blocks, attribute(blocks, language)) for q in quotes]
    assert found == expected


def test_aliases_make_one_speaker_of_several_names() -> None:
    blocks = ['"Do you?" cried his wife.', '"I do."', '"Then go."']
    quotes = attribute(blocks, "en", {"his wife": "Mrs. Bennet"})
    assert [q.speaker for b in quotes for q in b] == ["Mrs. Bennet", None, "Mrs. Bennet"]


def test_the_cast_file_gives_narrator_characters_aliases_and_chapter_rules(
        tmp_path: Path) -> None:
    cast = read_cast(SAMPLES / "pride.cast.toml")
    assert (cast.narrator, cast.dialogue) == ("bf_emma", "af_sky")
    assert cast.aliases["his wife"] == "Mrs. Bennet"
    assert cast.role("MRS. BENNET") == "af_bella:0.6,af_sky:0.4" == cast.role("his lady")
    (tmp_path / "c.toml").write_text('[[chapter]]\nrange = "3-4"\nvoice = "af_sky"\n'
                                     '[[chapter]]\ntitle = "^epi"\nvoice = "am_adam"\n')
    rules = read_cast(tmp_path / "c.toml").chapters
    assert [r.name for r in rules] == ["chapters 3-4", "title /^epi/"]
    document = parse_text("# One\n\nA.\n\n# Epilogue\n\nB.\n", name="t.md", fmt="markdown")
    with pytest.raises(CastError, match="chapters 3-4 is not a chapter"):
        read_cast(tmp_path / "c.toml").check(document)


def _convert(source: Path, tmp_path: Path, *extra: str):
    return runner.invoke(app, ["convert", str(source), "-o", str(tmp_path / "book.wav"),
                               "--loudness", "off", "--qc", "off", "--progress", "plain",
                               "--workers", "1", "--work-dir", str(tmp_path / "work"), *extra])


@pytest.mark.parametrize("cast, says", [
    (CAST.replace("STUBB", "zz_nope"), "characters.Stubb: unknown voice 'zz_nope'"),
    ('narator = "af_heart"\n', "unknown key 'narator'"),
    ('[[chapter]]\nnumber = 7\nvoice = "af_sky"\n', "chapter 7 is not a chapter"),
    ('narrator = \n', "not TOML"),
    ('[characters]\nAhab = 3\n', "characters.Ahab: a voice is a name"),
])
def test_a_bad_cast_is_one_line_and_exit_2_before_anything_is_written(
        tmp_path: Path, cast: str, says: str) -> None:
    (tmp_path / "tiny.txt").write_text(TINY)
    (tmp_path / "cast.toml").write_text(cast)
    result = _convert(tmp_path / "tiny.txt", tmp_path, "--cast", str(tmp_path / "cast.toml"))
    assert result.exit_code == 2, result.output
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "work").exists() and not (tmp_path / "book.wav").exists()


def test_preview_shows_each_pieces_voice_and_the_rule_that_chose_it() -> None:
    result = runner.invoke(app, ["preview", str(SAMPLES / "pride.txt"), "--json",
                                 "--cast", str(SAMPLES / "pride.cast.toml")])
    assert result.exit_code == 0, result.output
    chunks = json.loads(result.stdout)["chapters"][0]["chunks"]
    said = {c["text"]: c for c in chunks}
    first = said["“My dear Mister Bennet,”".replace("“", '"').replace("”", '"')]
    assert first["voice"] == "af_bella:0.6,af_sky:0.4"
    assert first["rule"] == "character Mrs. Bennet (speech tag)"
    assert first["pause_after_ms"] == 0  # the sentence goes on, in the narrator's voice
    tag = chunks[chunks.index(first) + 1]
    assert (tag["text"], tag["voice"], tag["rule"]) == ("said his lady to him one day,",
                                                        "bf_emma", "narrator")
    answer = said['"You want to tell me, and I have no objection to hearing it."']
    assert (answer["voice"], answer["rule"]) == ("bm_george",
                                                 "character Mr. Bennet (alternation)")
    # every sentence of a quote is the speaker's, its middle ones (no quote mark) too
    middle = next(c for c in chunks if "A single man of large fortune;" in c["text"])
    assert middle["voice"] == "af_bella:0.6,af_sky:0.4", middle
    voices = {c["voice"] for c in chunks}
    assert voices == {"bf_emma", "bm_george", "af_bella:0.6,af_sky:0.4"}


def test_a_chapter_rule_gives_its_chapters_narration_a_voice(tmp_path: Path) -> None:
    (tmp_path / "book.md").write_text("# One\n\nIt rained.\n\n# Two\n\nIt snowed. "
                                      "“Cold,” said Ahab.\n")
    (tmp_path / "cast.toml").write_text('narrator = "af_heart"\n[characters]\nAhab = '
                                        '"am_adam"\n[[chapter]]\ntitle = "^two$"\n'
                                        'voice = "bf_emma"\n')
    result = runner.invoke(app, ["preview", str(tmp_path / "book.md"), "--json",
                                 "--cast", str(tmp_path / "cast.toml")])
    assert result.exit_code == 0, result.output
    one, two = (ch["chunks"] for ch in json.loads(result.stdout)["chapters"])
    assert {(c["voice"], c["rule"]) for c in one} == {("af_heart", "narrator")}
    assert [(c["text"], c["voice"], c["rule"]) for c in two][1:] == [
        ("It snowed.", "bf_emma", "title /^two$/"),
        ("“Cold,”", "am_adam", "character Ahab (speech tag)"),
        ("said Ahab.", "bf_emma", "title /^two$/")]


def test_a_characters_line_sounds_as_that_voice_alone_reading_it(synth, english_g2p) -> None:
    cast = Cast("af_heart", characters=(dataclasses.replace(
        read_cast(SAMPLES / "pride.cast.toml").characters[1], name="Ahab"),))
    document = parse_text("Stubb waited. “Are you ready?” said Ahab.", name="t")
    pieces = [c for p in plan(document, english_g2p, token_count, cast=cast) for c in p.chunks]
    line, = [c for c in pieces if c.voice == "bm_george"]
    alone, = [c for p in plan(parse_text("“Are you ready?”", name="t"), english_g2p,
                              token_count) for c in p.chunks]
    assert (line.text, line.phonemes) == (alone.text, alone.phonemes)
    in_cast = next(synth.speak([line], synth.voice("af_heart")))
    solo = next(synth.speak([alone], synth.voice("bm_george")))
    assert in_cast.samples.size == solo.samples.size > 0
    assert np.array_equal(in_cast.samples, solo.samples)


def test_changing_one_characters_voice_resynthesizes_only_their_pieces(tmp_path: Path) -> None:
    (tmp_path / "tiny.txt").write_text(TINY)
    cast = tmp_path / "cast.toml"
    cast.write_text(CAST.replace("STUBB", "bm_george"))
    first = _convert(tmp_path / "tiny.txt", tmp_path, "--cast", str(cast), "--subtitles", "srt")
    assert first.exit_code == 0, first.output
    assert "5 pieces: 5 synthesized, 0 reused" in first.stderr
    # a sentence read by two voices is one cue, as written
    assert "\n“Hello there,” said Ahab.\n" in (tmp_path / "book.srt").read_text()
    job, = list_jobs(tmp_path / "work")
    identity = Manifest.from_json((job.path / "manifest.json").read_bytes()).identity
    assert identity.cast == read_cast(cast).with_voices(str).digest

    cast.write_text(CAST.replace("STUBB", "bm_lewis"))
    other = _convert(tmp_path / "tiny.txt", tmp_path, "--cast", str(cast))
    assert other.exit_code == 0, other.output
    assert "5 pieces: 1 synthesized, 4 reused" in other.stderr  # Stubb's “Aye, sir.”


def test_identities_without_a_cast_keep_their_key() -> None:
    identity = JobIdentity("in", "model", "onnx", "af_heart", 1.0, "a", "1", "", "chunks")
    assert "cast" not in identity.to_dict()
    assert Manifest.from_json(Manifest(identity, "t").to_json()).identity == identity
    cast = dataclasses.replace(identity, cast="abc")
    assert cast.key != identity.key
    assert Manifest.from_json(Manifest(cast, "t").to_json()).identity == cast


def test_the_config_file_gives_the_cast(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "tiny.txt").write_text(TINY)
    (tmp_path / "cast.toml").write_text(CAST.replace("STUBB", "zz_nope"))
    (tmp_path / "config.toml").write_text(f'cast = "{tmp_path / "cast.toml"}"\n')
    monkeypatch.setenv("KOKORO_CLI_CONFIG", str(tmp_path / "config.toml"))
    result = _convert(tmp_path / "tiny.txt", tmp_path)
    assert result.exit_code == 2 and "unknown voice 'zz_nope'" in result.stderr, result.output
