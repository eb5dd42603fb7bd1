"""Forward check: the French article against a checker's machine French of its best English source (FR–FR).

Machine French of a source sits much closer to another MT system's French of the same source than a human
translation does (measured on newstest2013, see README). The checker's French comes from an en->fr
MarianMT (`forward_model`, e.g. Helsinki-NLP/opus-mt-en-fr), translated once per source and cached in the
store, or from a precomputed JSONL file (`forward_translations`, lines {"id": source_id, "text": french}).
The check is optional: without a model or a file there is none, and a model that cannot load or a source
missing from the file makes it skip with a note (the verdict then falls back to the back-translation).
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from sacrebleu.metrics import BLEU

from .align import GOOD_LINK_CHRF, align_sentences, measure_coverage
from .errors import ProvenanceError
from .score import score_pair
from .segment import rejoin, segment_text, split_sentences

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class ForwardCheck:
    """Scores of the French article against the checker's French of one source (sacrebleu, 0-100)."""

    source_id: str
    checker: str  # model id or "file:PATH"
    bleu: float  # document BLEU, article as hypothesis, checker French as reference
    chrf: float
    ter: float
    aligned_bleu: float  # corpus BLEU over the well-aligned links only: blind to unshared parts (partial copies)
    link_chrf: float  # mean chrF of the well-aligned article sentences (0.0 when none)
    link_spread: float  # standard deviation of those (0.0 below two)
    coverage: float  # share of the article in well-aligned links
    length_ratio: float  # article characters / checker French characters


def compare_french(source_id: str, checker: str, french: Sequence[str], checker_french: Sequence[str]) -> ForwardCheck:
    """Align and score the article's French sentences against the checker's French of the source."""
    links = align_sentences(french, checker_french)
    pair = score_pair("article", source_id, french, checker_french, alignments=links)
    coverage = measure_coverage(links, french, checker_french)
    good = [chrf for chrf in pair.sentence_chrf if chrf >= GOOD_LINK_CHRF]
    good_links = [link for link in links if link.chrf >= GOOD_LINK_CHRF]
    size = lambda sentences: sum(len("".join(s.split())) for s in sentences)
    return ForwardCheck(
        source_id=source_id,
        checker=checker,
        bleu=pair.bleu,
        chrf=pair.chrf,
        ter=pair.ter,
        aligned_bleu=_aligned_bleu(good_links, french, checker_french),
        link_chrf=statistics.fmean(good) if good else 0.0,
        link_spread=statistics.pstdev(good) if len(good) > 1 else 0.0,
        coverage=coverage.article,
        length_ratio=size(french) / size(checker_french) if size(checker_french) else 0.0,
    )


def _aligned_bleu(links, french: Sequence[str], checker_french: Sequence[str]) -> float:
    if not links:
        return 0.0
    hypotheses = [" ".join(french[i] for i in link.src) for link in links]
    references = [" ".join(checker_french[j] for j in link.tgt) for link in links]
    return BLEU().corpus_score(hypotheses, [references]).score


class ForwardChecker:
    """Gives the checker's French of a source (from a file or an en->fr model) and runs the comparison."""

    def __init__(self, *, model: str | None = None, translations: Path | None = None, store=None,
                 device: str | None = None, batch_tokens: int | None = None):
        self.model = model
        self.translations = translations
        self.store = store
        self.device = device
        self.batch_tokens = batch_tokens
        self._given: dict[str, str] | None = None
        self._translator = None
        self._failure: str | None = None  # why the model could not be used (said once per article)
        self._french: dict[str, tuple[str, ...]] = {}  # source id -> checker French sentences, this run
        if translations is not None:
            from .translate import load_translations

            self._given, errors = load_translations(translations)
            for error in errors:
                log.warning("%s: %s", error.item_id, error.message)

    @classmethod
    def from_settings(cls, settings, store=None) -> "ForwardChecker | None":
        """None when the settings name neither a forward model nor a forward translations file."""
        model, translations = settings.forward_model, settings.forward_translations
        if not model and not translations:
            return None
        return cls(model=model or None, translations=Path(translations) if translations else None, store=store,
                   device=settings.device, batch_tokens=settings.batch_tokens)

    @property
    def checker(self) -> str:
        return f"file:{self.translations}" if self._given is not None else str(self.model)

    def check(self, source_id: str, source_sentences: Sequence[str], french: Sequence[str]) -> ForwardCheck | str:
        """The comparison, or a one-line reason why it was skipped."""
        checker_french = self.checker_french(source_id, source_sentences)
        if isinstance(checker_french, str):
            return checker_french
        if not french or not checker_french:
            return f"forward check skipped: no French sentences to compare for {source_id}"
        return compare_french(source_id, self.checker, french, checker_french)

    def checker_french(self, source_id: str, source_sentences: Sequence[str]) -> tuple[str, ...] | str:
        if source_id in self._french:
            return self._french[source_id]
        if self._given is not None:
            text = self._given.get(source_id)
            if text is None:
                return f"forward check skipped: no checker French for source {source_id} in {self.translations}"
            french = tuple(split_sentences(text, "fr"))
        else:
            translator = self._load()
            if isinstance(translator, str):
                return translator
            french = tuple(self._translate(translator, source_id, source_sentences))
        self._french[source_id] = french
        return french

    def _load(self):
        if self._translator is None and self._failure is None:
            from .translate import Translator

            try:
                options = {"device": self.device}
                if self.batch_tokens:
                    options["batch_tokens"] = self.batch_tokens
                self._translator = Translator.load(self.model, **options)
            except ProvenanceError as exc:
                self._failure = f"forward check skipped: en->fr model {self.model} unavailable ({exc})"
                log.warning("%s", self._failure)
        return self._failure if self._translator is None else self._translator

    def _translate(self, translator, source_id: str, sentences: Sequence[str]) -> list[str]:
        from .translate import translate_cached

        segments = segment_text(source_id, "\n\n".join(sentences), "en", translator.count_tokens,
                                translator.max_input_tokens)
        outputs = [text for text, _ in translate_cached([s.text for s in segments], translator, self.store)]
        return rejoin(segments, outputs)
