"""Everything about text: the document model, parsers, the normalizer, the pronunciation
dictionary, the chunker and the plan that joins them.

The application imports only the names below. Importing this package stays cheap: no G2P,
no spaCy, no model; the engine is reached only through the callables given to :func:`plan`.
"""

from preprocess.by_language import spoken_by_language
from preprocess.cast import Cast, CastError, read_cast
from preprocess.detect import detect_language
from preprocess.chunk import (Chunk, ChunkOptions, Pauses, Span, chunk_chapter,
                              split_sentences)
from preprocess.compare import (Comparison, compare, language_of_voice, threshold_for,
                                unchecked_reason, whisper_language)
from preprocess.document import (CODE_POLICIES, Block, BlockKind, Chapter, Cover, Document,
                                 LanguageRun)
from preprocess.encoding import decode_text
from preprocess.epub_archive import check_archive, parse_strict_xml
from preprocess.errors import InputError, ParseError
from preprocess.languages import Language, languages, resolve_language
from preprocess.lexicon import (LEXICON_VERSION, DictionaryError, Lexicon, lexicon_for,
                                read_dictionary)
from preprocess.normalize import (NORMALIZER_VERSION, Normalizer, NormalizerOptions,
                                  normalizer_identity)
from preprocess.parse import FORMATS, MAX_TEXT_BYTES, parse_bytes, parse_file, parse_text
from preprocess.voicing import Speaker, speakers
from preprocess.written import cue_texts
from preprocess.planning import ChapterPlan, plan
from preprocess.scripts import unreadable_script

__all__ = [
    "CODE_POLICIES", "Cast", "CastError", "FORMATS", "LEXICON_VERSION", "MAX_TEXT_BYTES", "NORMALIZER_VERSION",
    "Block", "BlockKind", "Chapter", "ChapterPlan", "Chunk", "ChunkOptions", "Comparison",
    "Cover",
    "DictionaryError", "Document", "InputError", "Language", "LanguageRun", "Lexicon",
    "Normalizer",
    "NormalizerOptions",
    "ParseError", "Pauses", "Span", "Speaker", "check_archive", "chunk_chapter", "compare",
    "cue_texts", "decode_text", "detect_language", "language_of_voice", "threshold_for",
    "unchecked_reason",
    "whisper_language",
    "languages", "lexicon_for", "normalizer_identity", "parse_strict_xml",
    "parse_bytes", "parse_file", "parse_text", "plan", "read_cast", "read_dictionary", "resolve_language", "speakers",
    "split_sentences", "spoken_by_language", "unreadable_script",
]
