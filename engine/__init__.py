"""Everything about turning text pieces into samples: G2P, voices, model backends, assets.

The public seam is :meth:`Synthesizer.speak`: pieces in, :class:`AudioChunk` out, in reading
order, from this process's model, a :class:`SynthPool` of worker processes, or a
:class:`RayPool` of actors on a Ray cluster (Ray itself is imported only when one is made).
An :class:`Engine` holds the loaded models and the pool for a whole command.
"""

from engine.assets import SOURCES, AssetResolver, FileStatus, voice_names
from engine.audio import AudioChunk, Piece, silence, to_pcm16
from engine.backends import BACKENDS, backend_help, backend_names
from engine.errors import AssetError, BackendError, G2PError, SettingError, VoiceError
from engine.g2p import ExtraMissing, Phonemizer, VoiceG2P, phonemizer_for
from engine.hearing import DEFAULT_WHISPER, VERIFY_EXTRA, Hearing, hear, locate_whisper
from engine.pool import SynthPool, default_workers
from engine.ray_pool import RAY_EXTRA, RayExecutor, RayPool
from engine.runtime import Engine
from engine.synth import (MAX_PHONEMES, SAMPLE_RATE, SynthOptions, Synthesizer, model_id,
                          resolve_backend, runtime_model, token_count, tokenize)
from engine.tune import tune
from engine.voices import Voice, VoiceInfo, catalogue, describe_spec, parse_spec
from engine.word_lists import word_lists

__all__ = [
    "BACKENDS", "DEFAULT_WHISPER", "MAX_PHONEMES", "VERIFY_EXTRA", "Hearing", "hear",
    "locate_whisper", "RAY_EXTRA", "SAMPLE_RATE", "SOURCES", "AssetError",
    "AssetResolver", "AudioChunk", "BackendError", "Engine", "ExtraMissing", "FileStatus",
    "G2PError", "Phonemizer", "Piece", "RayExecutor", "RayPool", "SettingError", "SynthOptions",
    "SynthPool", "Synthesizer", "Voice", "VoiceError", "VoiceG2P", "VoiceInfo", "backend_help",
    "backend_names", "catalogue", "default_workers", "describe_spec", "model_id", "parse_spec",
    "phonemizer_for", "resolve_backend", "runtime_model", "silence", "to_pcm16", "token_count",
    "tokenize", "tune", "voice_names", "word_lists",
]
