"""Read-along books: an EPUB 3 whose sentences are highlighted as the narration reads them
(EPUB Media Overlays), written from a job's chapter audio and timing.

``spans``    finding the spoken sentences in XHTML and wrapping each in ``<span id>``
``package``  SMIL, package metadata, navigation and a plain EPUB 3, as pure builders
``upgrade``  an EPUB 2 made EPUB 3 in place (package, navigation from the NCX, HTML5 XHTML)
``book``     :func:`write_read_along`: the original EPUB (upgraded if EPUB 2), or a new EPUB 3
             for other inputs, with the overlay
"""

from __future__ import annotations

from kokoro_cli.readalong.book import write_read_along

__all__ = ["write_read_along"]
