"""Load French articles (or English sources) from txt/html/JSONL/CSV and strip scraped boilerplate.

`load_articles` yields one `Article` or one `ItemError` per item and never raises for a bad item:
a scraped corpus always has a few empty, binary, mis-encoded or foreign-language files.
`clean_text` turns a scraped page's text into a title, a body and the list of lines it removed;
copies of one story from different sites clean to the same body, so digests and scores compare.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from .errors import (
    BadEncoding,
    BinaryInput,
    DuplicateId,
    EmptyInput,
    ItemError,
    MalformedRecord,
    NotFrench,
    ProvenanceError,
    TooLarge,
    UsageError,
)

log = logging.getLogger(__name__)

STAGE = "load"
SUPPORTED_LANGS = ("fr", "en")
LANGUAGE_NAMES = {"fr": "French", "en": "English"}
MAX_ARTICLE_BYTES = 2 * 1024 * 1024  # one article's text; a larger "article" is a dump, not a story
MAX_HTML_BYTES = 4 * MAX_ARTICLE_BYTES  # a page carries scripts and styles; its extracted text has the limit above
BINARY_SAMPLE_BYTES = 8192  # enough to tell a binary file from text without reading it all
TEXT_CONTROLS = frozenset(b"\t\n\v\f\r")  # the control characters that plain text does use
MAX_CONTROL_SHARE = 0.10  # text has almost no control characters; binary formats have many
MAX_TITLE_CHARS = 200  # longer first lines are body paragraphs
MAX_MENU_WORDS = 4  # "Nouvelles du monde", "Monde": navigation labels are a few words
DECLARED_MT = "declared_machine_translation"
CSV_FIELD_LIMIT = 8 * MAX_ARTICLE_BYTES  # parse over-long fields so they can be reported as too large
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class UnreadableInput(ProvenanceError):
    """A path that does not exist, cannot be read, or is not a supported kind of file."""

    code = "unreadable"


@dataclass(frozen=True, slots=True)
class Cleaned:
    title: str
    text: str  # paragraphs joined by "\n\n"
    removed: tuple[str, ...]  # lines (and title suffixes, header tokens) stripped as boilerplate
    signals: tuple[str, ...]  # e.g. "declared_machine_translation"
    date: str  # from a "date 2022-11" header token, else ""


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    origin: str  # file path, plus ":LINE" for JSONL/CSV rows
    lang: str
    title: str
    text: str
    removed: tuple[str, ...]
    digest: str  # sha256 hex[:16] of the normalised title + text: copy detection and caching
    url: str = ""
    date: str = ""
    signals: tuple[str, ...] = ()

    @property
    def full_text(self) -> str:
        return f"{self.title}\n\n{self.text}" if self.title else self.text


# --------------------------------------------------------------------------------------------
# Language detection: shares of function words, transparent and dependency-free.
# A word counts only for a language whose list alone contains it ("de", "la", "en" are shared
# by French, Spanish, Italian... and prove nothing). Spanish, Italian, Portuguese, German and
# Dutch compete so that their texts come out "unknown" instead of as French or English.

FUNCTION_WORDS = {
    "fr": """le la les des du de et est une un que qui qu dans pour pas sur au aux ce cette cet ces il
        elle ils elles nous vous ont été sont avec ne plus par son sa ses mais ou où leur leurs se
        était être avait fait aussi comme tout tous selon entre après depuis lors sans sous vers chez
        dont très même cela ceux celle l d n j c y en on a à déjà avons avez sera également ainsi
        deux ans lui aussi encore contre autres avant alors moins bien peut doit dit déclaré année
        notre votre nos vos quand comment pourquoi parce lorsque puis chaque plusieurs quelques
        beaucoup toujours jamais rien cependant notamment près afin""",
    "en": """the of and to in is that for it was with on as are be by this have from at his her he she
        they we you not but or an has had been were which their will would said its who more also
        after than about up out can one new there when what all into over other them some could
        just like him our these no only year years because while between against during before
        should did does people first two most many those then now been being through where how""",
    "es": """el la los las de del y que en un una es por para con no se su sus al lo como más pero
        sobre este esta ya también fue ha han entre cuando muy sin hasta desde donde porque le les
        qué son está están ser o u""",
    "it": """il lo la i gli le di del della dei delle che e è un una per con non si da dal alla al nel
        nella sono come più ma anche ha ho questo questa essere stato tra fra su sul""",
    "pt": """o a os as de do da dos das e que em no na nos nas um uma é para com não se por mais como
        mas foi ao aos seu sua ele ela são também já está pelo pela""",
    "de": """der die das den dem des und ist nicht ein eine einer einen zu mit von sich auf für im in
        es auch an dass wie als aus bei nach wird werden hat haben sind war oder aber noch nur er
        sie wir ihr so um über vor""",
    "nl": """de het een en van is dat die niet op te in voor met zijn er aan ook als bij maar om door
        naar dan wordt worden heeft hebben was of uit""",
}


def _distinctive_words(lists: dict[str, str]) -> dict[str, str]:
    """word -> the one language whose list has it; words in several lists are dropped."""
    owners: dict[str, set[str]] = {}
    for lang, words in lists.items():
        for word in words.split():
            owners.setdefault(word, set()).add(lang)
    return {word: next(iter(langs)) for word, langs in owners.items() if len(langs) == 1}


WORD_LANGUAGE = _distinctive_words(FUNCTION_WORDS)
WORD_PATTERN = re.compile(r"[^\W\d_]+")  # letters only: "l'avenir" -> "l", "avenir"
MIN_LANGUAGE_WORDS = 20  # below this a text is "short": any signal decides, "unknown" is acceptable
MIN_FUNCTION_SHARE = 0.05  # WMT news dev, 3-sentence chunks: median 28% (fr), 34% (en); 1st percentile 14%, 18%
MIN_DOMINANCE = 2.0  # the winner needs twice the hits of the runner-up on longer texts


def detect_language(text: str) -> str:
    """"fr", "en" or "unknown", from the shares of distinctive function words."""
    words = WORD_PATTERN.findall(text.lower())
    hits = Counter(WORD_LANGUAGE[w] for w in words if w in WORD_LANGUAGE)
    if not hits:
        return "unknown"
    ranked = hits.most_common(2)
    best, best_hits = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    if len(words) < MIN_LANGUAGE_WORDS:
        decided = best_hits > runner_up
    else:
        decided = best_hits / len(words) >= MIN_FUNCTION_SHARE and best_hits >= MIN_DOMINANCE * runner_up
    return best if decided and best in SUPPORTED_LANGS else "unknown"


def _check_language(text: str, lang: str) -> None:
    found = detect_language(text)
    if found == lang:
        return
    if found == "unknown" and len(WORD_PATTERN.findall(text)) < MIN_LANGUAGE_WORDS:
        return  # too short to tell: let it through rather than reject a brief item
    expected = LANGUAGE_NAMES[lang]
    if found == "unknown":
        raise NotFrench(
            f"expected {expected} text but it reads as neither French nor English (function-word check); remove it"
        )
    role = "an English original, load it as a source" if found == "en" else "a French article, load it as an article"
    raise NotFrench(
        f"expected {expected} text but it reads as {LANGUAGE_NAMES[found]} (function-word check); "
        f"if it is {role}, otherwise remove it"
    )


# --------------------------------------------------------------------------------------------
# Boilerplate tables. Each pattern is matched against one normalised line (straight quotes and
# apostrophes, collapsed spaces); a matching line is removed whole and recorded in `removed`.

def _lines(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


# WordPress theme nag that scrapers copy from the page header.
THEME_BANNERS = _lines(
    r"theme license is not validated",
    r"go to the theme options page to validate the license",
    r"you need a single license for each domain name",
)

# Share buttons rendered as text: an invitation, a lone "Partager", or a row of network names.
_NETWORKS = (
    r"facebook|twitter|x|whatsapp|telegram|linkedin|reddit|pinterest|vk|vkontakte|odnoklassniki|"
    r"email|e-mail|courriel|imprimer|print|messenger|tumblr|pocket|copier le lien|copy link|"
    r"partager|partagez|share|tweet|tweeter|flipboard|mastodon|bluesky|threads"
)
SHARE_LINES = _lines(
    r"^vous pouvez partager cette (?:histoire|information|actualité|article)\b.{0,60}$",
    r"^you can share this (?:story|article)\b.{0,60}$",
    r"^(?:partager|partagez|partage|share)"
    r"(?: (?:cet article|cette histoire|this article|this story|sur|on)\b.{0,40})?\s*:?$",
    # separators are either punctuation or plain spaces, so the repetition cannot backtrack badly
    rf"^(?:(?:{_NETWORKS})(?:\s*[,|·•/:-]\s*|\s+))*(?:{_NETWORKS})\s*[,|·•/:-]?$",
)

# Teasers for other stories injected into the body ("Lire la suite <other headline>").
TEASER_LINES = _lines(
    r"^(?:lire la suite|lire aussi|à lire aussi|a lire aussi|à lire également|lire également|voir aussi|"
    r"à voir aussi|sur le même sujet|read more|read also|also read|more on this)\b.{0,300}$",
    r"^related(?: articles?| stories| news)?\s*:?$",  # alone only: "Related to this, ..." is prose
)

# Theme widgets at the page bottom.
BACK_TO_TOP_LINES = _lines(
    r"^(?:bouton )?retour en haut(?: de la page)?$",
    r"^back to top(?: button)?$",
    r"^haut de (?:la )?page$",
)

# Source tags alone on a line: "RTEn", "RT", "Source : RT".
SOURCE_TAG_LINES = _lines(
    r"^(?:RT|RTEn|RT en français|RT France|RT World News|Sputnik|AFP|Reuters|TASS)\.?$",
    r"^sources? ?: ?.{1,80}$",
)

# Copyright footers.
COPYRIGHT_LINES = _lines(
    r"^(?:©|\(c\)|copyright\b).{0,150}$",
    r"^.{0,150}\b(?:tous droits réservés|all rights reserved)\.?$",
)

# Publication datelines kept apart from the story ("Publié le 3 octobre 2026 dans Monde").
DATELINE_LINES = _lines(
    # short, with a number, not ending like a sentence: "Publié en 2019, le rapport ..." stays
    r"^(?:publié|mis à jour|modifié|actualisé|published|updated)\b.{0,100}\d.{0,60}(?<![.!?])$",
)

# A republisher's statement that the page is machine-translated: removed from the text but kept
# as the signal "declared_machine_translation". The strong phrases are unambiguous; the weak ones
# ("traduction automatique") only count at the start of a line or about the page itself, so an
# article *about* machine translation keeps its paragraphs.
MT_DISCLAIMERS = _lines(
    r"technologie programmatique",
    r"non à partir d'un (?:éditeur|rédacteur|traducteur) humain",
    r"nous transmettons cette actualité automatiquement",
    r"^\W{0,3}(?:traduction automatique|traduit automatiquement|machine translation|machine[- ]translated|"
    r"automatically translated)\b.{0,300}$",
    r"\b(?:cet article|ce texte|ce contenu|cette actualité|cette dépêche|cette page|this article|this story|"
    r"this text|this content|this page)\b[^.]{0,80}\b(?:tradu(?:it|ite|ction)s? (?:automatiquement|automatique)|"
    r"(?:machine|automatically)[- ]translated|translated automatically)",
)

# Line kinds, checked in order; the first match names why a line was removed.
BOILERPLATE_TABLES: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...] = (
    ("mt_disclaimer", MT_DISCLAIMERS),
    ("theme_banner", THEME_BANNERS),
    ("share", SHARE_LINES),
    ("teaser", TEASER_LINES),
    ("back_to_top", BACK_TO_TOP_LINES),
    ("source_tag", SOURCE_TAG_LINES),
    ("copyright", COPYRIGHT_LINES),
    ("dateline", DATELINE_LINES),
)

# Section names that sites print alone on a line. Only exact (case-insensitive) whole lines in
# this list go, so real short paragraphs stay.
SECTION_LABELS = {
    "fr": {
        "nouvelles du monde", "monde", "actualités", "actualité", "actu", "accueil", "à la une",
        "international", "politique", "économie", "société", "culture", "sport", "sports", "opinion",
        "opinions", "dernières nouvelles", "dernières infos", "dernière minute", "info", "infos",
        "en direct", "vidéo", "vidéos", "science", "sciences", "santé", "tech", "high-tech",
        "environnement", "faits divers", "europe", "afrique", "moyen-orient", "asie", "amériques",
        "analyse", "tribune", "éditorial", "menu", "recherche",
    },
    "en": {
        "world news", "world", "news", "home", "latest news", "breaking news", "politics", "business",
        "opinion", "op-ed", "sport", "sports", "analysis", "menu", "search", "europe", "africa",
        "middle east", "asia", "americas",
    },
}

# Outlet names that sites append to titles: "... — RT World News", "... - RT", "... | RT en français".
TITLE_OUTLET_SUFFIXES = _lines(
    r"\s+[—–\-|]\s+(?:RT(?: World News| News| en français| France)?|RTEn|Sputnik(?: Afrique| France)?|"
    r"France 24|Le Monde|Le Figaro|Libération|20 Minutes|Euronews|TASS|Reuters|AFP|BBC News|CNN|"
    r"Al Jazeera)\s*$",
    r"\s+\|\s+[^|]{1,60}$",  # a pipe before a short tail is a site name, not part of the headline
)

# A header glued to the first line of an export: "date 2022-11 Les meilleurs espions ...".
HEADER_DATE = re.compile(
    r"^\s*date\s*[:=]?\s*(?P<date>\d{4}(?:-\d{2}){0,2}(?:T\d{2}:\d{2}(?::\d{2})?[^\s]*)?)(?:\s+|$)",
    re.IGNORECASE,
)

SENTENCE_PUNCTUATION = ".!?…,;:"  # a line ending so, inside any closing quotes, is a sentence, not a headline
CLOSING_MARKS = "\"')]»”"  # a headline may end with a quotation: « ... le dialogue »
SENTENCE_END = re.compile(r"[.!?…:;\"»”)\]]$")
INVISIBLE_CHARS = re.compile("[\u200b\u200c\u2060\ufeff\u00ad]")  # zero-width and soft hyphens
# Typography that differs between copies of one story; each pair maps to the straight form.
QUOTE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[«“„]\s*"), '"'),  # opening quotes hug the quoted text
    (re.compile(r"\s*[»”]"), '"'),  # closing quotes too
    (re.compile(r"[’‘ʼ]"), "'"),
)
WHITESPACE = re.compile(r"\s+")  # includes no-break and narrow no-break spaces


# --------------------------------------------------------------------------------------------
# Cleaning


def normalise_line(line: str) -> str:
    """One line with straight quotes hugging their text, straight apostrophes and single spaces."""
    line = INVISIBLE_CHARS.sub("", unicodedata.normalize("NFC", line))
    for pattern, replacement in QUOTE_RULES:
        line = pattern.sub(replacement, line)
    return WHITESPACE.sub(" ", line).strip()


def boilerplate_kind(line: str, lang: str = "fr") -> str | None:
    """Why a normalised line is boilerplate ("share", "teaser", ...), or None for a real line."""
    for kind, patterns in BOILERPLATE_TABLES:
        if any(p.search(line) for p in patterns):
            return kind
    if _is_section_label(line, lang):
        return "section"
    return None


def _is_section_label(line: str, lang: str) -> bool:
    label = line.strip(" :|>»-—").casefold()
    if lang == "fr":  # French sites keep English template labels too ("World News")
        return label in SECTION_LABELS["fr"] or label in SECTION_LABELS["en"]
    return label in SECTION_LABELS[lang]


def _split_header_date(text: str) -> tuple[str, str, str]:
    """(date, header token, text without it) for a "date 2022-11 ..." header at the very start."""
    match = HEADER_DATE.match(text)
    if not match:
        return "", "", text
    return match.group("date"), match.group(0).strip(), text[match.end():]


def _looks_like_title(line: str) -> bool:
    if not line or len(line) > MAX_TITLE_CHARS or not any(ch.isalpha() for ch in line):
        return False
    return not line.rstrip(CLOSING_MARKS).endswith(tuple(SENTENCE_PUNCTUATION))


def _is_menu_like(line: str) -> bool:
    return _looks_like_title(line) and len(line.split()) <= MAX_MENU_WORDS


def strip_title_suffix(title: str) -> tuple[str, str]:
    """(title without an outlet suffix, the suffix removed or "")."""
    for pattern in TITLE_OUTLET_SUFFIXES:
        match = pattern.search(title)
        if match and match.start() > 0:
            return title[: match.start()].strip(), match.group(0).strip()
    return title, ""


def _join_hard_wraps(lines: list[str]) -> list[str]:
    """Lines of one block; a line cut mid-sentence (no end punctuation, next starts lowercase) is rejoined."""
    paragraphs: list[str] = []
    for line in lines:
        if paragraphs and not SENTENCE_END.search(paragraphs[-1]) and line[:1].islower():
            paragraphs[-1] = f"{paragraphs[-1]} {line}"
        else:
            paragraphs.append(line)
    return paragraphs


def _paragraphs(lines: list[str | None]) -> list[str]:
    """Kept lines, None marking blank or removed lines (paragraph breaks), into paragraphs."""
    paragraphs: list[str] = []
    block: list[str] = []
    for line in [*lines, None]:
        if line:
            block.append(line)
        elif block:
            paragraphs.extend(_join_hard_wraps(block))
            block = []
    return paragraphs


def _take_title(paragraphs: list[str], removed: list[str]) -> tuple[str, list[str]]:
    """Title from the leading headline-like lines; menu labels before it are removed."""
    run = 0
    while run < len(paragraphs) and _looks_like_title(paragraphs[run]):
        run += 1
    if run == 0 or run == len(paragraphs):
        return "", paragraphs  # no headline, or nothing but headline-like lines: keep all as body
    position = next((i for i in range(run) if not _is_menu_like(paragraphs[i])), run - 1)
    removed.extend(paragraphs[:position])
    return paragraphs[position], paragraphs[position + 1:]


def _drop_repeated_title(paragraphs: list[str], title: str) -> list[str]:
    """Extractors often repeat the headline as the first body line."""
    if paragraphs and title and strip_title_suffix(paragraphs[0])[0].casefold() == title.casefold():
        return paragraphs[1:]
    return paragraphs


def clean_text(text: str, lang: str = "fr") -> Cleaned:
    """Title, body and removed boilerplate of a scraped article; the title is the first line if it looks like one."""
    return _clean(text, lang, title=None)


def _clean(text: str, lang: str, title: str | None) -> Cleaned:
    """`title` None: find it in the text; otherwise use it (cleaned) and drop its repeat from the body."""
    _check_lang_argument(lang)
    date, header, text = _split_header_date(unicodedata.normalize("NFC", text))
    removed: list[str] = [header] if header else []
    signals: list[str] = []
    kept: list[str | None] = []
    for raw in text.splitlines():
        line = normalise_line(raw)
        kind = boilerplate_kind(line, lang) if line else None
        if kind is not None:
            removed.append(WHITESPACE.sub(" ", raw).strip())
            if kind == "mt_disclaimer" and DECLARED_MT not in signals:
                signals.append(DECLARED_MT)
        kept.append(line if kind is None else None)
    paragraphs = _paragraphs(kept)
    if title is None:
        title, paragraphs = _take_title(paragraphs, removed)
    else:
        title = normalise_line(title)
    title, suffix = strip_title_suffix(title)
    if suffix:
        removed.append(suffix)
    paragraphs = _drop_repeated_title(paragraphs, title)
    return Cleaned(title=title, text="\n\n".join(paragraphs), removed=tuple(removed), signals=tuple(signals), date=date)


def declares_machine_translation(text: str) -> bool:
    """Whether any line of `text` is a machine-translation disclaimer."""
    return any(
        any(p.search(line) for p in MT_DISCLAIMERS) for line in map(normalise_line, text.splitlines()) if line
    )


def make_digest(title: str, text: str) -> str:
    """sha256 hex[:16] of lowercased, whitespace-collapsed title + text."""
    normalised = " ".join(f"{title}\n{text}".lower().split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Bytes -> text checks


def _check_lang_argument(lang: str) -> None:
    if lang not in SUPPORTED_LANGS:
        raise UsageError(f"unsupported language {lang!r}: use one of {', '.join(SUPPORTED_LANGS)}")


def _looks_binary(codes: Sequence[int]) -> bool:
    """NUL, or many control characters, among a sample's byte or character codes: not text."""
    if not codes:
        return False
    controls = sum(1 for c in codes if (c < 32 and c not in TEXT_CONTROLS) or c == 127)
    return 0 in codes or controls / len(codes) > MAX_CONTROL_SHARE


def _check_not_binary_text(text: str) -> None:
    if _looks_binary([ord(ch) for ch in text[:BINARY_SAMPLE_BYTES]]):
        raise BinaryInput("text is mostly control characters (binary data?); export the article as plain text")


def _binary_error() -> BinaryInput:
    return BinaryInput("file is binary (NUL bytes or control characters), not text; export it as UTF-8 .txt/.html")


def _strict_utf8(data: bytes, base_offset: int = 0) -> str:
    """Decode UTF-8 or say which byte of the file is wrong; never guesses another encoding."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadEncoding(
            f"not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {base_offset + exc.start}; "
            f"re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8); the encoding is not guessed"
        ) from None


def _check_not_utf16(data: bytes) -> None:
    if data.startswith(UTF16_BOMS):
        raise BadEncoding("file is UTF-16 (byte-order mark at byte 0); re-save it as UTF-8")


def _decode_utf8(data: bytes) -> str:
    """A whole file's bytes as strict UTF-8; a leading BOM is dropped."""
    _check_not_utf16(data)
    bom = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    return _strict_utf8(data[bom:], bom)


def _check_size(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise TooLarge(
            f"{what} is {size / 1_048_576:.1f} MB, over the {limit / 1_048_576:.0f} MB limit for one article; "
            f"split it into one file per article"
        )


def _read_text_file(path: Path, limit: int) -> str:
    """Checked, decoded contents of a one-article file; the size is checked before reading."""
    size = path.stat().st_size
    if size == 0:
        raise EmptyInput("file is empty (0 bytes); re-export the article or remove the file")
    _check_size(size, limit, "file")
    data = path.read_bytes()
    _check_not_utf16(data)  # before the binary check: UTF-16 is full of NUL bytes
    if _looks_binary(data[:BINARY_SAMPLE_BYTES]):
        raise _binary_error()
    return _decode_utf8(data)


# --------------------------------------------------------------------------------------------
# Text -> Article


def _build_article(
    item_id: str,
    origin: str,
    text: str,
    lang: str,
    *,
    title: str | None = None,
    url: str = "",
    date: str = "",
    signals: Iterable[str] = (),
) -> Article:
    """Check, clean and language-check one item's text; raises ProvenanceError subclasses."""
    _check_size(len(text.encode("utf-8")), MAX_ARTICLE_BYTES, "text")
    _check_not_binary_text(text)
    if not text.strip():
        raise EmptyInput("text is empty; give the article's body text")
    cleaned = _clean(text, lang, title=title or None)
    if not cleaned.text:
        raise EmptyInput(
            f"no article text left after removing boilerplate ({len(cleaned.removed)} line(s) removed); "
            f"check the file holds an article body"
        )
    all_signals = tuple(dict.fromkeys([*cleaned.signals, *signals]))
    article = Article(
        id=item_id,
        origin=origin,
        lang=lang,
        title=cleaned.title,
        text=cleaned.text,
        removed=cleaned.removed,
        digest=make_digest(cleaned.title, cleaned.text),
        url=url,
        date=date or cleaned.date,
        signals=all_signals,
    )
    _check_language(article.full_text, lang)
    return article


def _error(item_id: str, exc: BaseException, origin: str) -> ItemError:
    return ItemError.from_exception(item_id, STAGE, exc, origin)


def _load_txt(path: Path, lang: str) -> Iterator[Article | ItemError]:
    try:
        yield _build_article(path.stem, str(path), _read_text_file(path, MAX_ARTICLE_BYTES), lang)
    except ProvenanceError as exc:
        yield _error(path.stem, exc, str(path))


def _extract_html(html: str) -> tuple[str, str, str, str]:
    """(text, title, url, date) of a page's main content, by trafilatura."""
    try:
        import trafilatura
    except ImportError as exc:
        raise UnreadableInput(f"HTML needs trafilatura, which failed to import ({exc}); install it") from None
    try:
        document = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False)
    except Exception as exc:  # a third-party parser on untrusted markup: report, don't crash the batch
        raise UnreadableInput(f"trafilatura could not parse the page: {type(exc).__name__}: {exc}") from None
    if document is None:
        return "", "", "", ""
    return (
        getattr(document, "text", None) or "",
        getattr(document, "title", None) or "",
        getattr(document, "url", None) or "",
        getattr(document, "date", None) or "",
    )


def _visible_text(html: str) -> str:
    """All text of a page, footers included (extractors drop them, and disclaimers live there)."""
    from lxml import etree, html as lxml_html

    try:
        root = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    for node in root.xpath("//script|//style|//noscript"):
        node.drop_tree()
    return "\n".join(part.strip() for part in root.itertext() if part.strip())


def _load_html(path: Path, lang: str) -> Iterator[Article | ItemError]:
    try:
        html = _read_text_file(path, MAX_HTML_BYTES)
        text, title, url, date = _extract_html(html)
        if not text.strip():
            raise EmptyInput("no article text found in the page (trafilatura extracted nothing)")
        signals = (DECLARED_MT,) if declares_machine_translation(_visible_text(html)) else ()
        # trafilatura gives one paragraph per line; blank lines keep them apart in the cleaner
        body = "\n\n".join(text.splitlines())
        yield _build_article(path.stem, str(path), body, lang, title=title, url=url, date=date, signals=signals)
    except ProvenanceError as exc:
        yield _error(path.stem, exc, str(path))


# --------------------------------------------------------------------------------------------
# Records: JSONL and CSV


def _record_id(value: object, fallback: str) -> str:
    """The record's id as a string; numbers are stringified, other types are malformed."""
    if value is None:
        return fallback
    if isinstance(value, bool):
        raise MalformedRecord(f"'id' must be a string or a number, not {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise MalformedRecord(f"'id' must be a non-empty string or a number, not {value!r}")


def _optional_field(record: dict, name: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).strip()
    raise MalformedRecord(f"'{name}' must be a string, not {type(value).__name__}")


def _article_from_record(record: dict, fallback_id: str, origin: str, lang: str) -> Article:
    item_id = _record_id(record.get("id"), fallback_id)
    if "text" not in record:
        raise MalformedRecord("record has no 'text' field; each record needs id and text")
    text = record["text"]
    if not isinstance(text, str):
        raise MalformedRecord(f"'text' must be a string, not {type(text).__name__}")
    return _build_article(
        item_id,
        origin,
        text,
        lang,
        title=_optional_field(record, "title") or None,
        url=_optional_field(record, "url"),
        date=_optional_field(record, "date"),
    )


def _readable_id(record: object, fallback: str) -> str:
    """The id to name an error by: the record's own when it is usable."""
    if isinstance(record, dict):
        try:
            return _record_id(record.get("id"), fallback)
        except MalformedRecord:
            return fallback
    return fallback


def _parse_json_line(raw: bytes, offset: int) -> object:
    try:
        return json.loads(_strict_utf8(raw, offset))
    except json.JSONDecodeError as exc:
        raise MalformedRecord(f"line is not valid JSON ({exc.msg} at column {exc.colno}); fix or remove it") from None


def _check_record_file(path: Path) -> None:
    """Whole-file checks for JSONL/CSV: empty, UTF-16, binary."""
    if path.stat().st_size == 0:
        raise EmptyInput("file is empty (0 bytes); it needs one record per article (id and text)")
    with path.open("rb") as handle:
        sample = handle.read(BINARY_SAMPLE_BYTES)
    _check_not_utf16(sample)
    if _looks_binary(sample):
        raise _binary_error()


def _load_jsonl(path: Path, lang: str) -> Iterator[Article | ItemError]:
    try:
        _check_record_file(path)
    except ProvenanceError as exc:
        yield _error(path.name, exc, str(path))
        return
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line_offset, offset = offset, offset + len(raw)
            if number == 1 and raw.startswith(UTF8_BOM):
                raw, line_offset = raw[len(UTF8_BOM):], line_offset + len(UTF8_BOM)
            if not raw.strip():
                continue
            fallback, origin = f"{path.name}:{number}", f"{path}:{number}"
            record: object = None
            try:
                if b"\x00" in raw:
                    raise _binary_error()
                record = _parse_json_line(raw, line_offset)
                if not isinstance(record, dict):
                    raise MalformedRecord(f"line is a JSON {type(record).__name__}, not an object with id and text")
                yield _article_from_record(record, fallback, origin, lang)
            except ProvenanceError as exc:
                yield _error(_readable_id(record, fallback), exc, origin)


def _first_bad_utf8(path: Path) -> BadEncoding | None:
    """Scan a file line by line (streaming) for the first byte that is not UTF-8."""
    offset = 0
    with path.open("rb") as handle:
        for raw in handle:
            try:
                _strict_utf8(raw, offset)
            except BadEncoding as exc:
                return exc
            offset += len(raw)
    return None


def _csv_header(row: list[str]) -> list[str]:
    return [name.strip().lstrip("\ufeff").lower() for name in row]


def _load_csv(path: Path, lang: str) -> Iterator[Article | ItemError]:
    origin = str(path)
    try:
        _check_csv_file(path)
    except ProvenanceError as exc:
        yield _error(path.name, exc, origin)
        return
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)  # process-wide; raised once so long texts parse and get TooLarge
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = _csv_header(next(reader, []))
        if "text" not in header:
            columns = ", ".join(header) or "none"
            yield _error(path.name, MalformedRecord(
                f"CSV has no 'text' column (columns: {columns}); the first row must name id,text[,title,url,date]"
            ), origin)
            return
        yield from _csv_rows(reader, header, path, lang)


def _check_csv_file(path: Path) -> None:
    _check_record_file(path)
    bad = _first_bad_utf8(path)
    if bad is not None:
        raise bad


def _csv_rows(reader, header: list[str], path: Path, lang: str) -> Iterator[Article | ItemError]:
    last_line = reader.line_num
    while True:
        first_line = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _error(f"{path.name}:{first_line}", MalformedRecord(
                f"CSV cannot be parsed from line {first_line} on ({exc}); check its quoting"
            ), f"{path}:{first_line}")
            return
        last_line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        fallback, origin = f"{path.name}:{first_line}", f"{path}:{first_line}"
        record = dict(zip(header, row))
        try:
            if len(row) != len(header):
                raise MalformedRecord(
                    f"row has {len(row)} fields but the header has {len(header)}; quote fields that contain commas"
                )
            yield _article_from_record(record, fallback, origin, lang)
        except ProvenanceError as exc:
            yield _error(_readable_id(record, fallback), exc, origin)


# --------------------------------------------------------------------------------------------
# Files and folders

LOADERS: dict[str, Callable[[Path, str], Iterator[Article | ItemError]]] = {
    ".txt": _load_txt,
    ".html": _load_html,
    ".htm": _load_html,
    ".jsonl": _load_jsonl,
    ".csv": _load_csv,
}


def _files_under(folder: Path) -> list[Path]:
    """Supported files below a folder, recursively, sorted; hidden files and folders are skipped."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if path.suffix.lower() in LOADERS:
            found.append(path)
        else:
            log.debug("skipping %s: not a supported file type", path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _items_of_path(path: Path, lang: str) -> Iterator[Article | ItemError]:
    kinds = ", ".join(LOADERS)
    if not path.exists():
        missing = UnreadableInput(f"no such file or folder: {path}; check the path")
        yield _error(path.name or str(path), missing, str(path))
    elif path.is_dir():
        files = _files_under(path)
        if not files:
            yield _error(path.name, UnreadableInput(f"folder has no {kinds} files"), str(path))
        for file in files:
            yield from _items_of_file(file, lang)
    else:
        yield from _items_of_file(path, lang)


def _items_of_file(path: Path, lang: str) -> Iterator[Article | ItemError]:
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        yield _error(path.stem, UnreadableInput(
            f"unsupported file type {path.suffix or '(none)'!r}; use one of {', '.join(LOADERS)}"
        ), str(path))
        return
    try:
        yield from loader(path, lang)
    except OSError as exc:
        yield _error(path.stem, UnreadableInput(f"cannot read file: {exc.strerror or exc}"), str(path))


def load_articles(paths: Iterable[str | Path], lang: str = "fr") -> Iterator[Article | ItemError]:
    """One Article or ItemError (stage "load") per item of the given files and folders, in order.

    Folders are read recursively in sorted order. The second item with an id already seen is a
    DuplicateId error. Raises UsageError at once for an unsupported `lang`, nothing per item.
    """
    _check_lang_argument(lang)
    if isinstance(paths, (str, Path)):
        paths = [paths]  # one path, not an iterable of its characters
    return _unique_items(paths, lang)


def _unique_items(paths: Iterable[str | Path], lang: str) -> Iterator[Article | ItemError]:
    first_origin: dict[str, str] = {}
    for path in paths:
        for item in _items_of_path(Path(path), lang):
            if isinstance(item, Article):
                if item.id in first_origin:
                    yield _error(item.id, DuplicateId(
                        f"id {item.id!r} was already loaded from {first_origin[item.id]}; give each article a unique id"
                    ), item.origin)
                    continue
                first_origin[item.id] = item.origin
            yield item
