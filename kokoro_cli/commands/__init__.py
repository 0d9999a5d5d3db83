"""One module per command group; :mod:`kokoro_cli.app` puts them under one root.

- ``convert``: documents into audiobooks (resumable jobs).
- ``say``: a short text into a file or a pipe; ``serve``: a warm engine that ``say`` uses.
- ``inspect``: ``inspect`` (the chapter plan) and ``preview`` (the pieces as spoken).
- ``voices``, ``models``, ``jobs``, ``config``: the sub-command groups of those names.
- ``options``: the options and global settings several commands share.
"""

__all__: list[str] = []
