"""Everything about turning text pieces into samples: G2P, voices, model backends, assets."""

from engine.assets import AssetResolver, FileStatus, voice_names
from engine.errors import AssetError, BackendError, G2PError, SettingError, VoiceError
from engine.synth import MAX_PHONEMES, SAMPLE_RATE, Synthesizer, token_count, tokenize
from engine.voices import Voice, VoiceInfo, catalogue, describe_spec, parse_spec

__all__ = [
    "AssetError", "AssetResolver", "BackendError", "FileStatus", "G2PError", "MAX_PHONEMES",
    "SAMPLE_RATE", "SettingError", "Synthesizer", "Voice", "VoiceError", "VoiceInfo", "catalogue",
    "describe_spec", "parse_spec", "token_count", "tokenize", "voice_names",
]
