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

Sources are scored against many articles, so the BLEU and chrF objects built with a source's
reference statistics (sacrebleu's reference caching) are kept in a small LRU cache.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Sequence

from sacrebleu.metrics import BLEU, CHRF, TER

from .align import Alignment, align_sentences

logger = logging.getLogger(__name__)

REFERENCE_CACHE_SIZE = 64  # sources whose reference statistics are kept: covers the top-k of a batch of articles
DOCUMENT_SEGMENTATION = "seg:doc"  # appended to the BLEU/chrF signatures: whole document as one segment
ALIGNED_SEGMENTATION = "seg:aligned"  # appended to the TER signature: corpus TER over aligned links


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
               alignments: Sequence[Alignment] | None = None) -> PairScore:
    """Score back-translated sentences against source sentences; aligns them first when not given."""
    if alignments is None:
        alignments = align_sentences(hyp_sentences, ref_sentences)
    _check_alignments(alignments, len(hyp_sentences), len(ref_sentences))
    bleu, chrf = document_scores(hyp_sentences, ref_sentences)
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
    """Document BLEU and chrF, using the cached reference statistics of the source."""
    bleu, chrf = _reference_metrics(document_text(ref_sentences))
    hypothesis = [document_text(hyp_sentences)]
    return bleu.corpus_score(hypothesis, None).score, chrf.corpus_score(hypothesis, None).score


@functools.lru_cache(maxsize=REFERENCE_CACHE_SIZE)
def _reference_metrics(reference: str) -> tuple[BLEU, CHRF]:
    """BLEU and chrF objects holding one reference document's n-gram statistics (keyed by its text)."""
    references = [[reference]]
    return BLEU(references=references), CHRF(references=references)


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
    return TER().corpus_score(hyps, [refs]).score


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
