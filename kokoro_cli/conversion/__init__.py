"""The conversion layer under the commands: ``convert``, ``watch`` and ``say`` are thin Typer
adapters over it.

``request``  the request builder: a command's settings from its flags, the environment and
             the config file (one declaration of each in :mod:`kokoro_cli.settings`)
``reading``  the language a document is read in and the voice that reads it
``targets``  every output of a run named before any synthesis; no output replaced by another
             input's conversion
``runner``   :func:`open_converter`: the command's engine (model and workers, loaded once)
             and the :class:`Converter` every input goes through
"""

from kokoro_cli.conversion.reading import (Reading, choose_reading, show_warnings,
                                           voice_for_warnings, voices_for)
from kokoro_cli.conversion.request import (ConversionSettings, SpeechSettings, build_settings,
                                           feed_settings, refresh_feed, speech_settings)
from kokoro_cli.conversion.runner import Converter, Prepared, open_converter, qc_summary
from kokoro_cli.conversion.targets import OutputOwners, claim_target, source_of

__all__ = [
    "ConversionSettings", "Converter", "OutputOwners", "Prepared", "Reading", "SpeechSettings",
    "build_settings", "choose_reading", "claim_target", "feed_settings", "open_converter",
    "qc_summary", "refresh_feed", "show_warnings", "source_of", "speech_settings",
    "voice_for_warnings", "voices_for",
]
