"""Everything about text: the document model, parsers, the normalizer and the chunker."""

from preprocess.chunk import Chunk, ChunkOptions, Pauses, chunk_chapter, split_sentences
from preprocess.document import Block, BlockKind, Chapter, Cover, Document
from preprocess.errors import InputError, ParseError
from preprocess.normalize import NORMALIZER_VERSION, Normalizer, NormalizerOptions
from preprocess.parse import FORMATS, parse_file, parse_text

__all__ = [
    "Block", "BlockKind", "FORMATS", "Chapter", "Chunk", "ChunkOptions", "Cover", "Document",
    "InputError", "NORMALIZER_VERSION", "Normalizer", "NormalizerOptions",
    "ParseError", "Pauses", "chunk_chapter", "parse_file", "parse_text",
    "split_sentences",
]
