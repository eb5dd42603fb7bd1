"""Split French and English text into sentences, and cut sentences past the model's token limit.

`split_sentences` is rule-based: a sentence ends at . ! ? … (with closing quotes or brackets)
before a space and a capital, digit or opening quote, unless the word before the period is a known
abbreviation or an initial; every line break ends a sentence (cleaned text has one paragraph per line).
`segment_text` keeps each sentence whole when it fits the model and otherwise cuts it at word
boundaries into chunks that all fit: nothing is ever truncated.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from .errors import UsageError
from .settings import MAX_INPUT_TOKENS

log = logging.getLogger(__name__)

SUPPORTED_LANGS = ("fr", "en")
RESERVED_TOKENS = 2  # the end-of-sentence token (and a spare) that the model adds to every input
ESTIMATED_TOKENS_PER_WORD = 2  # without a tokenizer: Marian's SentencePiece rarely exceeds 2 pieces per word

# Words that end with a period without ending the sentence (matched case-sensitively, without the
# period). Titles and honorifics come before a name, so the capital after them is no evidence.
ABBREVIATIONS = {
    "fr": {
        "M", "MM", "Mme", "Mmes", "Mlle", "Mlles", "Me", "Mgr", "Dr", "Pr", "Prof", "St", "Ste", "Sts",
        "av", "apr", "J.-C", "cf", "env", "art", "chap", "éd", "vol", "fig", "p", "pp",
        "janv", "févr", "avr", "juil", "sept", "oct", "nov", "déc", "Gal", "Cie", "Lt", "Col", "Cdt",
    },
    "en": {
        "Mr", "Mrs", "Ms", "Messrs", "Dr", "Prof", "St", "Sr", "Jr", "Gen", "Gov", "Sen", "Rep", "Rev",
        "Hon", "Col", "Lt", "Sgt", "Capt", "Cmdr", "Adm", "Maj", "Pres", "Supt", "Det", "vs", "approx",
        "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
        "cf", "e.g", "i.e", "fig", "vol", "pp",
    },
}
# Abbreviations that only precede a number ("No. 10", "p. 12"); before a word they end a sentence.
NUMBER_ABBREVIATIONS = {"No", "Nos", "no", "nos", "n", "p", "pp", "art", "vol", "ch", "fig", "Art", "Vol"}
# After a dotted acronym ("U.S.") a new sentence starts only with one of these common openers.
SENTENCE_OPENERS = {
    "fr": {"Le", "La", "Les", "Il", "Elle", "Ils", "Elles", "Un", "Une", "Des", "Ce", "Cette", "Mais",
           "Selon", "En", "Dans", "Pour", "Nous", "On", "Cela"},
    "en": {"The", "He", "She", "It", "They", "We", "I", "But", "In", "This", "That", "A", "An", "There",
           "According", "However", "Meanwhile", "His", "Her", "Their"},
}

# Candidate boundary: end punctuation, then closing quotes/brackets (» and ” may follow a space,
# a straight quote only touching, since a spaced one opens the next sentence), then whitespace.
BOUNDARY = re.compile(r"(?P<end>[.!?…]+(?:[\"')\]’”»]|\s+[»”])*)\s+")
LINE = re.compile(r"[^\r\n]+")  # every line break is a paragraph break
WORD_BEFORE_PERIOD = re.compile(r"(\S+)\.$")
DOTTED_ACRONYM = re.compile(r"(?:[A-Z]\.){2,}$")  # U.S. U.K. U.N.
INITIAL = re.compile(r"(?:^|[\s(\"«“])(?:[A-Z]\.-)?[A-Z]$")  # "J. Biden", "J.-P. Sartre" (word before ".")
OPENING_CHARS = "\"'«“„([—–-¿¡"
CUT_PREFERENCES = (";", ",:")  # punctuation after which a long sentence is preferably cut, best first


@dataclass(frozen=True, slots=True)
class Segment:
    article_id: str
    index: int  # sentence number in the article
    text: str
    start: int  # character offsets in the text that was split
    end: int
    chunk: int = 0  # 0 unless a long sentence was cut: then 0, 1, 2 ... with the same index


def _check_lang(lang: str) -> None:
    if lang not in SUPPORTED_LANGS:
        raise UsageError(f"unsupported language {lang!r}: use one of {', '.join(SUPPORTED_LANGS)}")


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in OPENING_CHARS


def _next_word(text: str, position: int) -> str:
    match = re.match(r"[\"'«“„(]*\s*(\w+)", text[position:])
    return match.group(1) if match else ""


def _is_abbreviation(before: str, next_word: str, lang: str) -> bool:
    """Whether the period that ends `before` belongs to an abbreviation rather than ending a sentence."""
    match = WORD_BEFORE_PERIOD.search(before)
    if not match:
        return False
    word = match.group(1).lstrip("\"'«“(")
    if word in NUMBER_ABBREVIATIONS:
        return next_word[:1].isdigit()
    if word in ABBREVIATIONS[lang] or INITIAL.search(before[:-1]):
        return True
    if DOTTED_ACRONYM.search(before):
        return next_word not in SENTENCE_OPENERS[lang]
    return False


def _is_boundary(paragraph: str, match: re.Match[str], lang: str) -> bool:
    after = match.end()
    if after >= len(paragraph) or not _starts_sentence(paragraph[after]):
        return False
    end = match.group("end")
    if end.strip(" »”\"')]’") != ".":
        return True  # ! ? … and runs like "..." or "?!" always end a sentence before a capital
    before = paragraph[: match.start("end") + 1]
    return not _is_abbreviation(before, _next_word(paragraph, after), lang)


def _paragraph_spans(paragraph: str, offset: int, lang: str) -> list[tuple[int, int]]:
    spans = []
    start = 0
    for match in BOUNDARY.finditer(paragraph):
        if _is_boundary(paragraph, match, lang):
            spans.append((start, match.end("end")))
            start = match.end()
    spans.append((start, len(paragraph)))
    return [(offset + a, offset + b) for a, b in spans]


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentence_spans(text: str, lang: str = "fr") -> list[tuple[int, int]]:
    """(start, end) offsets of each stripped, non-empty sentence of `text`."""
    _check_lang(lang)
    spans = []
    for line in LINE.finditer(text):
        for start, end in _paragraph_spans(line.group(0), line.start(), lang):
            start, end = _strip_span(text, start, end)
            if start < end:
                spans.append((start, end))
    return spans


def split_sentences(text: str, lang: str = "fr") -> list[str]:
    """The stripped, non-empty sentences of `text`, in order."""
    return [text[start:end] for start, end in split_sentence_spans(text, lang)]


# --------------------------------------------------------------------------------------------
# Chunking sentences past the token limit


@functools.lru_cache(maxsize=1)
def _warn_estimated_tokens() -> None:
    log.warning(
        "no tokenizer given: token counts are estimated as %d per word; pass count_tokens for exact limits",
        ESTIMATED_TOKENS_PER_WORD,
    )


def estimate_tokens(text: str) -> int:
    """A conservative token count without a tokenizer: words x ESTIMATED_TOKENS_PER_WORD."""
    return len(text.split()) * ESTIMATED_TOKENS_PER_WORD


def _word_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]


def _longest_fitting(text: str, words: list[tuple[int, int]], fits: Callable[[str], bool]) -> int:
    """How many leading words fit (binary search: token counts grow with the prefix); at least 0."""
    low, high = 0, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(text[words[0][0]: words[middle - 1][1]]):
            low = middle
        else:
            high = middle - 1
    return low


def _preferred_cut(text: str, words: list[tuple[int, int]], fitting: int) -> int:
    """Words in the chunk: cut after ; then , or : when that keeps at least half of what fits."""
    for marks in CUT_PREFERENCES:
        for count in range(fitting, max(fitting // 2, 1) - 1, -1):
            if text[words[count - 1][1] - 1] in marks:
                return count
    return fitting


def _cut_word(text: str, start: int, end: int, fits: Callable[[str], bool]) -> list[tuple[int, int]]:
    """A single word longer than the limit (a URL, a run without spaces): cut by characters, the only way left."""
    pieces = []
    while start < end:
        low, high = 1, end - start
        while low < high:
            middle = (low + high + 1) // 2
            if fits(text[start: start + middle]):
                low = middle
            else:
                high = middle - 1
        pieces.append((start, start + low))
        start += low
    return pieces


def _chunk_spans(text: str, start: int, end: int, fits: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Cut text[start:end] into spans at word boundaries, each one fitting."""
    words = _word_spans(text, start, end)
    chunks = []
    while words:
        fitting = _longest_fitting(text, words, fits)
        if fitting == 0:
            chunks.extend(_cut_word(text, *words[0], fits))
            words = words[1:]
            continue
        count = _preferred_cut(text, words, fitting) if fitting < len(words) else fitting
        chunks.append((words[0][0], words[count - 1][1]))
        words = words[count:]
    return chunks


def segment_text(
    article_id: str,
    text: str,
    lang: str = "fr",
    count_tokens: Callable[[str], int] | None = None,
    max_tokens: int = MAX_INPUT_TOKENS,
) -> list[Segment]:
    """Sentences of `text` as Segments; a sentence over max_tokens - RESERVED_TOKENS is cut into chunks.

    Without `count_tokens` the count is estimated as ESTIMATED_TOKENS_PER_WORD per whitespace word
    (logged once): pass the translator's own counter whenever a model is involved.
    """
    budget = max_tokens - RESERVED_TOKENS
    if budget < 1:
        raise UsageError(f"max_tokens must be more than {RESERVED_TOKENS}, got {max_tokens}")
    if count_tokens is None:
        _warn_estimated_tokens()
        count_tokens = estimate_tokens

    def fits(piece: str) -> bool:
        return count_tokens(piece) <= budget

    segments = []
    for index, (start, end) in enumerate(split_sentence_spans(text, lang)):
        spans = [(start, end)] if fits(text[start:end]) else _chunk_spans(text, start, end, fits)
        segments.extend(
            Segment(article_id, index, text[a:b], a, b, chunk) for chunk, (a, b) in enumerate(spans)
        )
    return segments


def rejoin(segments: Sequence[Segment], texts: Sequence[str]) -> list[str]:
    """One string per sentence index, in sentence order; chunk texts are joined by a space in chunk order."""
    if len(segments) != len(texts):
        raise ValueError(f"rejoin needs one text per segment: {len(segments)} segments, {len(texts)} texts")
    by_sentence: dict[int, list[tuple[int, str]]] = {}
    for segment, text in zip(segments, texts):
        by_sentence.setdefault(segment.index, []).append((segment.chunk, text.strip()))
    return [
        " ".join(piece for _, piece in sorted(by_sentence[index]) if piece)
        for index in sorted(by_sentence)
    ]
