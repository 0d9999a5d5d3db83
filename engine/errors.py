"""Errors of the audio side: assets, voices, G2P and model backends."""

from __future__ import annotations

from kokoro_common import ExitCode, KokoroError

__all__ = ["AssetError", "BackendError", "G2PError", "SettingError", "VoiceError"]


class AssetError(KokoroError):
    """A model or voice file is missing, unreachable, or fails its size or sha256 check."""

    exit_code = ExitCode.ASSET


class VoiceError(KokoroError):
    """A voice name or blend spec is unknown or malformed."""

    exit_code = ExitCode.USAGE  # the user named it


class G2PError(KokoroError):
    """Text could not be turned into phonemes (missing language support, bad input)."""

    exit_code = ExitCode.ASSET


class BackendError(KokoroError):
    """The model runtime is missing or failed on an input."""

    exit_code = ExitCode.ASSET


class SettingError(KokoroError):
    """A synthesis setting (speed, language) is invalid; the message gives the valid range."""

    exit_code = ExitCode.USAGE
