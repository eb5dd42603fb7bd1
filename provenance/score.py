"""sacrebleu scores of a back-translated article against one candidate English source.

Document level, the honest simple reading: BLEU and chrF treat the whole back-translation (sentences
joined with spaces) as one hypothesis segment and the whole source as one reference segment. They do not
depend on the sentence alignment, so an alignment mistake cannot move them. Both reward recall, so a
republication of only part of the source scores lower; `align.measure_coverage` says how much.

TER is the exception: sacrebleu's TER shift search is slow on long segments (measured with sacrebleu
2.6: 18 s for one 40-sentence document, 0.02 s for the same text as 40 sentence pairs, with TER within
1.2 points). So document TER is corpus TER over the aligned links (joined sentences on each side) plus
every unaligned sentence against an empty segment: an unaligned back-translated sentence counts as
insertions, an unaligned source sentence as deletions. The TER signature says so ("seg:aligned").

An article is scored against its k candidate sources at once (`document_scores_many`): the n-gram
statistics sacrebleu would count (13a tokens for BLEU, whitespace-free characters for chrF) are counted for
all k pairs together by `align.count_ngram_matches`, and sacrebleu's own formulas turn them into scores, so
each number equals `BLEU().corpus_score` / `CHRF().corpus_score` on the pair exactly, about six times faster
than scoring the pairs one by one (10 candidates: 37 -> 6 ms). TER segments with an empty side skip
sacrebleu's shift search: their edit count is the other side's word count, which is what the search
returns for them; the statistics of the other segments are cached by sentence pair.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sacrebleu.metrics import BLEU, CHRF, TER

from .align import Alignment, align_sentences, char_symbols, chrf_scores, count_ngram_matches

logger = logging.getLogger(__name__)

DOCUMENT_SEGMENTATION = "seg:doc"  # appended to the BLEU/chrF signatures: whole document as one segment
ALIGNED_SEGMENTATION = "seg:aligned"  # appended to the TER signature: corpus TER over aligned links
# Sentence pairs whose TER statistics are remembered: TER's shift search is the slowest metric, and the
# same pairs come back when copies of one story are checked against one source, or two candidates share
# a sentence.
TER_CACHE_SIZE = 16_384

# Metric objects with sacrebleu's defaults; their private hooks (tokenizer, score-from-statistics) are what
# corpus_score calls, so the numbers are sacrebleu's (tests compare them with corpus_score).
_BLEU, _CHRF, _TER = BLEU(), CHRF(), TER()


@dataclass(frozen=True, slots=True)
class PairScore:
    """Scores of one back-translated article against one candidate source (sacrebleu, 0-100)."""

    article_id: str
    source_id: str
    bleu: float
    chrf: float
    ter: float
    sentence_chrf: tuple[float, ...]  # per back-translated sentence: chrF of its link, 0.0 when unaligned
    signatures: dict[str, str]  # sacrebleu signature per metric, with our segmentation appended


def score_pair(article_id: str, source_id: str, hyp_sentences: Sequence[str], ref_sentences: Sequence[str],
               alignments: Sequence[Alignment] | None = None, *,
               document: tuple[float, float] | None = None) -> PairScore:
    """Score back-translated sentences against source sentences; aligns them first when not given.

    `document`: the pair's (doc BLEU, doc chrF) when `document_scores_many` already computed them.
    """
    if alignments is None:
        alignments = align_sentences(hyp_sentences, ref_sentences)
    _check_alignments(alignments, len(hyp_sentences), len(ref_sentences))
    bleu, chrf = document if document is not None else document_scores(hyp_sentences, ref_sentences)
    return PairScore(
        article_id=article_id,
        source_id=source_id,
        bleu=bleu,
        chrf=chrf,
        ter=aligned_ter(hyp_sentences, ref_sentences, alignments),
        sentence_chrf=sentence_chrf(alignments, len(hyp_sentences)),
        signatures=metric_signatures(),
    )


def document_text(sentences: Sequence[str]) -> str:
    """The document as one segment: non-empty sentences joined with single spaces."""
    return " ".join(sentence.strip() for sentence in sentences if sentence.strip())


def document_scores(hyp_sentences: Sequence[str], ref_sentences: Sequence[str]) -> tuple[float, float]:
    """Document BLEU and chrF of one pair."""
    return document_scores_many(hyp_sentences, [ref_sentences])[0]


def document_scores_many(hyp_sentences: Sequence[str],
                         references: Sequence[Sequence[str]]) -> list[tuple[float, float]]:
    """(doc BLEU, doc chrF) of one back-translated document against each reference document, in order."""
    if not references:
        return []
    texts = [document_text(hyp_sentences)] + [document_text(ref) for ref in references]
    chrf = chrf_scores(count_ngram_matches([char_symbols(text) for text in texts], 1, _CHRF.char_order))[0]
    return list(zip(_bleu_many(texts), chrf.tolist()))


def _bleu_many(texts: Sequence[str]) -> list[float]:
    """BLEU of texts[0] against each of texts[1:], from `BLEU._compute_score_from_stats`."""
    tokens = [_BLEU._preprocess_segment(text).split() for text in texts]
    vocabulary: dict[str, int] = {}
    sequences = [np.fromiter((vocabulary.setdefault(token, len(vocabulary)) for token in words), dtype=np.int64,
                             count=len(words)) for words in tokens]
    counts = count_ngram_matches(sequences, 1, _BLEU.max_ngram_order)
    hyp_length, hyp_totals = len(tokens[0]), counts.hyp_totals[:, 0].tolist()
    scores = []
    for ref in range(len(texts) - 1):
        # sacrebleu's segment statistics: [hyp length, ref length, correct per order, total per order].
        stats = [hyp_length, len(tokens[ref + 1]), *counts.matches[:, 0, ref].tolist(), *hyp_totals]
        scores.append(_BLEU._compute_score_from_stats(stats).score)
    return scores


def aligned_ter(hyp_sentences: Sequence[str], ref_sentences: Sequence[str],
                alignments: Sequence[Alignment]) -> float:
    """Corpus TER over aligned links plus unaligned sentences (see the module docstring for why)."""
    hyps, refs = [], []
    for link in alignments:
        hyps.append(" ".join(hyp_sentences[i] for i in link.src))
        refs.append(" ".join(ref_sentences[j] for j in link.tgt))
    aligned_hyp = {i for link in alignments for i in link.src}
    aligned_ref = {j for link in alignments for j in link.tgt}
    for i, sentence in enumerate(hyp_sentences):
        if i not in aligned_hyp:
            hyps.append(sentence)
            refs.append("")
    for j, sentence in enumerate(ref_sentences):
        if j not in aligned_ref:
            hyps.append("")
            refs.append(sentence)
    if not hyps:
        return 0.0  # both documents empty: nothing to edit, as sacrebleu scores "" against ""
    edits, ref_length = 0.0, 0.0
    for hyp, ref in zip(hyps, refs):
        segment_edits, segment_length = _ter_statistics(hyp, ref)
        edits, ref_length = edits + segment_edits, ref_length + segment_length
    return _TER._compute_score_from_stats([edits, ref_length]).score


@functools.lru_cache(maxsize=TER_CACHE_SIZE)
def _ter_statistics(hyp: str, ref: str) -> tuple[float, float]:
    """(edits, reference length) of one segment, as `TER.corpus_score` counts them."""
    hyp_words, ref_words = _TER._preprocess_segment(hyp).split(), _TER._preprocess_segment(ref).split()
    if not hyp_words or not ref_words:
        # Nothing to shift or substitute: every word is an insertion (empty reference, which sacrebleu
        # counts with length 0) or a deletion.
        return float(len(hyp_words) or len(ref_words)), float(len(ref_words))
    edits, length = _TER._compute_segment_statistics(" ".join(hyp_words), {"ref_words": [ref_words]})
    return float(edits), float(length)


def sentence_chrf(alignments: Sequence[Alignment], hyp_count: int) -> tuple[float, ...]:
    """Per back-translated sentence, the chrF of the link it belongs to (0.0 when unaligned).

    For a 1-1 or 1-2 link this is the sentence's chrF against its source sentence(s); the two sentences
    of a 2-1 link share the link's chrF, since each alone covers only part of the source sentence.
    """
    scores = [0.0] * hyp_count
    for link in alignments:
        for i in link.src:
            scores[i] = link.chrf
    return tuple(scores)


@functools.cache
def _signatures() -> tuple[tuple[str, str], ...]:
    # sacrebleu fills the number of references into a signature only once the metric has scored something.
    metrics = {"bleu": BLEU(), "chrf": CHRF(), "ter": TER()}
    segmentation = {"bleu": DOCUMENT_SEGMENTATION, "chrf": DOCUMENT_SEGMENTATION, "ter": ALIGNED_SEGMENTATION}
    signatures = []
    for name, metric in metrics.items():
        metric.corpus_score(["signature probe"], [["signature probe"]])
        signatures.append((name, f"{metric.get_signature()}|{segmentation[name]}"))
    return tuple(signatures)


def metric_signatures() -> dict[str, str]:
    """{"bleu": ..., "chrf": ..., "ter": ...}: sacrebleu signatures plus how documents were segmented."""
    return dict(_signatures())


def _check_alignments(alignments: Sequence[Alignment], hyp_count: int, ref_count: int) -> None:
    for link in alignments:
        if any(not 0 <= i < hyp_count for i in link.src) or any(not 0 <= j < ref_count for j in link.tgt):
            raise ValueError(f"alignment {link.src}->{link.tgt} points outside {hyp_count}x{ref_count} sentences")
