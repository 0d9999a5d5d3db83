"""kokoro-cli: the application (commands, progress, the job runner and the muxer)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
