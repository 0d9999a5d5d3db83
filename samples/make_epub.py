"""Write samples/lighthouse.epub: a three-chapter story with EPUB 3 nav, NCX and a PNG cover.

Run from anywhere: ``python samples/make_epub.py``. The story is original to this project.
"""

from __future__ import annotations

import struct
import zlib
from html import escape
from pathlib import Path

from ebooklib import epub

TITLE = "The Lighthouse Keeper's Daughter"
AUTHOR = "Ada Quill"
OUTPUT = Path(__file__).resolve().parent / "lighthouse.epub"

CHAPTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "The Storm",
        (
            "The storm came in from the west just after supper, and by dark the waves were "
            "breaking white over the rocks below Gull Point. Nell Harrow pressed her face to the "
            "kitchen window and counted the seconds between the flashes of the great lamp above "
            "her. Eight seconds, always eight. Her father said a sailor could set his watch by it.",
            "But tonight her father was not in the tower. He had rowed to the mainland that "
            "morning for medicine, and the wind had risen too fast for him to return. Nell was "
            "eleven years old, and for the first time in her life the light was hers to keep.",
            "She climbed the iron stairs with a can of oil in one hand and a lantern in the "
            "other, and the whole tower hummed around her like the inside of a drum.",
        ),
    ),
    (
        "The Signal",
        (
            "Near midnight she saw it: a small red light, low on the water, rising and falling "
            "far too close to the reef. A fishing boat had lost its way in the rain. Nell knew "
            "the channel as well as she knew her own name, but the boat could not hear her, and "
            "the lamp could only say one thing, over and over.",
            "Then she remembered the old signal shutter her grandfather had built, rusted now "
            "and nearly forgotten. She dragged it into place, braced her feet, and began to work "
            "the handle. Long, short, long. Turn to port. Long, short, long.",
            "For a long time nothing changed. Her arms ached, and the rain found every gap in "
            "the glass, and still she kept the rhythm going. Then, slowly, the red light swung "
            "away from the rocks and crept toward the safe, dark water of the channel. Nell "
            "laughed out loud, alone in the roaring tower, and did not stop working the handle "
            "until the boat was well inside the cove.",
        ),
    ),
    (
        "Morning",
        (
            "The storm blew itself out before dawn. When the sun came up, the sea was flat and "
            "grey and tired, and a battered fishing boat lay at anchor in the cove below the "
            "lighthouse. Three men in oilskins stood on its deck, waving their caps.",
            "Her father came home on the noon tide. He found Nell asleep on the floor of the "
            "lamp room, her hands black with oil and rust, the shutter handle still within "
            "reach. He did not wake her. He trimmed the wick, polished the glass, and sat beside "
            "her until she opened her eyes.",
            "Eight seconds, she told him, before he could ask. Always eight. And when the "
            "fishermen climbed the hill that evening with a basket of herring and a new brass "
            "handle for the shutter, she showed them how it worked.",
        ),
    ),
)


def png(width: int = 64, height: int = 64) -> bytes:
    """A small RGB PNG: a white tower with a yellow lamp on a night-blue sea and sky."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type 0 for every scanline
        for x in range(width):
            row += bytes(_cover_pixel(x, y, width, height))
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(b"".join(rows), 9)),
            _chunk(b"IEND", b""),
        ]
    )


def _cover_pixel(x: int, y: int, width: int, height: int) -> tuple[int, int, int]:
    centre = width // 2
    if abs(x - centre) <= 3 and 10 <= y <= 16:
        return (250, 210, 60)  # the lamp
    if abs(x - centre) <= 4 + (y - 16) // 8 and 16 < y < 52:
        return (235, 235, 225)  # the tower, widening toward its base
    if y >= 52:
        return (20, 60 + (y - 52) * 4, 110)  # the sea
    return (15, 20, 60 + y)  # the night sky


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def build_book() -> epub.EpubBook:
    """The book in memory: metadata, cover, three chapters, nav and NCX."""
    book = epub.EpubBook()
    book.set_identifier("urn:uuid:6f1c2b4e-0d7a-4c55-9a1e-lighthouse01")
    book.set_title(TITLE)
    book.set_language("en")
    book.add_author(AUTHOR)
    book.add_metadata("DC", "publisher", "Kokoro Audiobook Samples")
    book.add_metadata("DC", "date", "2024-05-01")
    book.set_cover("cover.png", png())
    chapters = []
    for number, (title, paragraphs) in enumerate(CHAPTERS, start=1):
        page = epub.EpubHtml(title=title, file_name=f"chapter_{number}.xhtml", lang="en")
        body = "".join(f"<p>{escape(text)}</p>" for text in paragraphs)
        page.content = f"<h1>{escape(title)}</h1>{body}"
        book.add_item(page)
        chapters.append(page)
    book.toc = tuple(
        epub.Link(page.file_name, page.title, f"chapter-{n}") for n, page in enumerate(chapters, 1)
    )
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["cover", "nav", *chapters]
    return book


def main() -> None:
    epub.write_epub(str(OUTPUT), build_book(), {"raise_exceptions": True})
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
