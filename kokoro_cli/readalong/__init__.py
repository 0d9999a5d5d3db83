"""Read-along books: an EPUB 3 whose sentences are highlighted as the narration reads them
(EPUB Media Overlays), written from a job's chapter audio and timing.

``spans``    finding the spoken sentences in XHTML and wrapping each in ``<span id>``
``package``  SMIL, package metadata and a plain EPUB 3, as pure builders
``book``     :func:`write_read_along`: the original EPUB 3, or a new one, with the overlay
"""

from __future__ import annotations

from kokoro_cli.readalong.book import write_read_along

__all__ = ["write_read_along"]
