"""Monotonic sentence alignment of a back-translation against a candidate source, and coverage.

In the spirit of Bleualign / Gale-Church: a dynamic programme over sentence chrF (sacrebleu's CHRF,
default settings) finds the best monotonic path of 1-1, 2-1 and 1-2 links and skips. A link earns its
chrF minus `MIN_LINK_CHRF` (the skip cost), a skip earns nothing, so a link is made only when its chrF
beats that minimum; merges pay `MERGE_PENALTY` on top so they win only when clearly better. The DP uses
chrF averaged over both directions: chrF2 weighs recall four times precision, so one-way scores would
barely reward a 1-2 merge and would let a 2-1 merge swallow a stray sentence. Each link then reports
sacrebleu's one-way chrF (back-translation against source) and is kept only if that beats the minimum.

Character n-gram counts are extracted once per sentence and per adjacent sentence pair, and each
(hypothesis span, reference span) chrF is computed at most once. Very long documents (more than
`BAND_MIN_PAIRS` sentence pairs) are aligned inside a band around a rough path found with cheap
word-overlap similarities.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

from sacrebleu.metrics import CHRF
from sacrebleu.metrics.helpers import extract_all_char_ngrams

logger = logging.getLogger(__name__)

# Measured on newstest2013 in 20-line blocks (benchmarks/measure_thresholds.py prints them): sentence chrF
# between unrelated sentences of the same block has median 16, 99th percentile 32.5, 99.9th 41; between a
# human English sentence and the MT of its French, 5th percentile 29, median 57.
MIN_LINK_CHRF = 30.0  # weaker links are mostly chance overlaps (function words, names) and are skipped
GOOD_LINK_CHRF = 45.0  # coverage counts only links above the 99.9th percentile of chance overlaps
MERGE_PENALTY = 5.0  # a 2-1/1-2 link must beat 1-1 + skip by this much: stops a merge swallowing a stray sentence
MERGE_SEED_CHRF = 20.0  # a merge is tried only if a 1-1 part reaches this two-way chrF (chance median ~16)
BAND_MIN_PAIRS = 10_000  # above this many sentence pairs, the DP runs inside a band (articles are ~30x30)
BAND_WIDTH = 10  # sentences either side of the rough path that the banded DP may still use

_CHRF = CHRF()  # defaults: chrF2, character 6-grams, whitespace ignored, as in score.py
_CHEAP_FLOOR = 0.1  # word-set Jaccard a rough-path link must beat (chance overlap of function words)
_LINK_KINDS = {(1, 1): "1-1", (2, 1): "2-1", (1, 2): "1-2"}


@dataclass(frozen=True, slots=True)
class Alignment:
    """One link: back-translated sentence indexes `src` are aligned with source sentence indexes `tgt`."""

    src: tuple[int, ...]
    tgt: tuple[int, ...]
    chrf: float  # sacrebleu sentence chrF of the joined `src` sentences against the joined `tgt` sentences
    kind: str  # "1-1", "1-2" or "2-1"


@dataclass(frozen=True, slots=True)
class Coverage:
    """Character-weighted shares that sit in well-aligned links (chrF >= the coverage minimum)."""

    article: float  # of the back-translated article
    source: float  # of the candidate source


@dataclass(frozen=True, slots=True)
class _Profile:
    """Character n-gram counts of one text, orders 1..CHRF.CHAR_ORDER, with their totals."""

    grams: tuple[frozenset[str], ...]  # distinct n-grams per order
    repeated: tuple[dict[str, int], ...]  # n-grams seen more than once: the only ones where min() matters
    totals: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> "_Profile":
        counts = extract_all_char_ngrams(text, _CHRF.char_order, _CHRF.whitespace)
        return cls(
            grams=tuple(frozenset(c) for c in counts),
            repeated=tuple({gram: count for gram, count in c.items() if count > 1} for c in counts),
            totals=tuple(sum(c.values()) for c in counts),
        )


def _profile_chrf(hyp: _Profile, ref: _Profile) -> float:
    """sacrebleu's sentence chrF of `hyp` against `ref`, from precomputed counts."""
    return _link_scores(hyp, ref)[0]


def _link_scores(hyp: _Profile, ref: _Profile) -> tuple[float, float]:
    """(chrF of hyp against ref, mean of the chrF in both directions) from one pass over the n-grams.

    The statistics are those of CHRF._get_match_statistics; matches are symmetric, so the reverse
    direction only swaps the totals.
    """
    forward: list[int] = []
    backward: list[int] = []
    for order in range(len(hyp.grams)):
        # sum(min(h, r)) over shared n-grams = number shared + extra copies shared by n-grams repeated on both
        # sides; the set operations run in C, which makes this several times faster than the plain loop.
        hyp_repeated, ref_repeated = hyp.repeated[order], ref.repeated[order]
        matches = len(hyp.grams[order] & ref.grams[order]) + sum(
            min(hyp_repeated[gram], ref_repeated[gram]) - 1 for gram in hyp_repeated.keys() & ref_repeated.keys())
        hyp_total, ref_total = hyp.totals[order], ref.totals[order]
        forward += [hyp_total if ref_total else 0, ref_total, matches]
        backward += [ref_total if hyp_total else 0, hyp_total, matches]
    chrf = _CHRF._compute_f_score(forward)
    return chrf, (chrf + _CHRF._compute_f_score(backward)) / 2


class _ChrfTable:
    """Lazy, memoised link scores between spans of 1 or 2 consecutive sentences on each side."""

    def __init__(self, hyp: Sequence[str], ref: Sequence[str]):
        self._hyp, self._ref = hyp, ref
        self._profiles: dict[tuple[str, int, int], _Profile] = {}
        self._scores: dict[tuple[int, int, int, int], tuple[float, float]] = {}

    def _profile(self, side: str, start: int, size: int) -> _Profile:
        key = (side, start, size)
        if key not in self._profiles:
            sentences = self._hyp if side == "hyp" else self._ref
            self._profiles[key] = _Profile.of(" ".join(sentences[start:start + size]))
        return self._profiles[key]

    def scores(self, i: int, hyp_size: int, j: int, ref_size: int) -> tuple[float, float]:
        """(chrF, two-way chrF) of hyp[i:i+hyp_size] against ref[j:j+ref_size]."""
        key = (i, hyp_size, j, ref_size)
        if key not in self._scores:
            self._scores[key] = _link_scores(self._profile("hyp", i, hyp_size), self._profile("ref", j, ref_size))
        return self._scores[key]

    @property
    def evaluations(self) -> int:
        return len(self._scores)


def align_sentences(hyp: Sequence[str], ref: Sequence[str]) -> list[Alignment]:
    """Best monotonic alignment of back-translated sentences `hyp` with source sentences `ref`.

    Returns the links in order; sentences in no link were skipped. Every link has chrF > MIN_LINK_CHRF.
    """
    if not hyp or not ref:
        return []
    table = _ChrfTable(hyp, ref)
    rows = _band_rows(hyp, ref) if len(hyp) * len(ref) > BAND_MIN_PAIRS else None
    links = _best_path(table, len(hyp), len(ref), rows)
    logger.debug("aligned %dx%d sentences with %d chrF evaluations", len(hyp), len(ref), table.evaluations)
    return [link for link in links if link.chrf > MIN_LINK_CHRF]


def _best_path(table: _ChrfTable, n: int, m: int, rows: list[tuple[int, int]] | None) -> list[Alignment]:
    """Dynamic programme over (hyp prefix, ref prefix); `rows[i]` limits the columns of row i when given."""
    best = [[-math.inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int, float] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    for i in range(n + 1):
        low, high = rows[i] if rows else (0, m)
        for j in range(low, high + 1):
            if i or j:
                best[i][j], back[i][j] = _best_step(table, best, i, j)
    return _trace(back, n, m)


def _best_step(table: _ChrfTable, best: list[list[float]], i: int, j: int) -> tuple[float, tuple[int, int, float]]:
    """Best way to reach cell (i, j): returns (score, (hyp sentences used, ref sentences used, link chrF))."""
    options: list[tuple[float, tuple[int, int, float]]] = []
    if i >= 1 and j >= 1 and best[i - 1][j - 1] > -math.inf:
        chrf, two_way = table.scores(i - 1, 1, j - 1, 1)
        options.append((best[i - 1][j - 1] + two_way - MIN_LINK_CHRF, (1, 1, chrf)))
    for hyp_size, ref_size in ((2, 1), (1, 2)):
        if i >= hyp_size and j >= ref_size and best[i - hyp_size][j - ref_size] > -math.inf:
            if _merge_is_plausible(table, i - hyp_size, hyp_size, j - ref_size, ref_size):
                chrf, two_way = table.scores(i - hyp_size, hyp_size, j - ref_size, ref_size)
                gain = two_way - MIN_LINK_CHRF - MERGE_PENALTY
                options.append((best[i - hyp_size][j - ref_size] + gain, (hyp_size, ref_size, chrf)))
    if i >= 1:
        options.append((best[i - 1][j], (1, 0, 0.0)))
    if j >= 1:
        options.append((best[i][j - 1], (0, 1, 0.0)))
    # max() keeps the first of equal options: links before merges before skips.
    return max(options, key=lambda option: option[0])


def _merge_is_plausible(table: _ChrfTable, i: int, hyp_size: int, j: int, ref_size: int) -> bool:
    """Cheap pre-check: a merge can only be good if one of its 1-1 parts already overlaps."""
    parts = [(i + a, j + b) for a in range(hyp_size) for b in range(ref_size)]
    return any(table.scores(a, 1, b, 1)[1] >= MERGE_SEED_CHRF for a, b in parts)


def _trace(back: list[list[tuple[int, int, float] | None]], n: int, m: int) -> list[Alignment]:
    links: list[Alignment] = []
    i, j = n, m
    while i or j:
        step = back[i][j]
        if step is None:  # unreachable with a connected band; guards against an inconsistent one
            raise RuntimeError(f"alignment path broken at ({i}, {j})")
        hyp_size, ref_size, chrf = step
        if hyp_size and ref_size:
            links.append(Alignment(
                src=tuple(range(i - hyp_size, i)),
                tgt=tuple(range(j - ref_size, j)),
                chrf=chrf,
                kind=_LINK_KINDS[(hyp_size, ref_size)],
            ))
        i, j = i - hyp_size, j - ref_size
    links.reverse()
    return links


def _band_rows(hyp: Sequence[str], ref: Sequence[str]) -> list[tuple[int, int]]:
    """Per DP row i, the column range [low, high] within BAND_WIDTH of a rough path."""
    path = _rough_path(hyp, ref)
    n, m = len(hyp), len(ref)
    first = [m] * (n + 1)
    last = [0] * (n + 1)
    for i, j in path:
        first[i], last[i] = min(first[i], j), max(last[i], j)
    rows = []
    for i in range(n + 1):
        near = range(max(0, i - BAND_WIDTH), min(n, i + BAND_WIDTH) + 1)
        rows.append((max(0, min(first[k] for k in near) - BAND_WIDTH), min(m, max(last[k] for k in near) + BAND_WIDTH)))
    return rows


def _rough_path(hyp: Sequence[str], ref: Sequence[str]) -> list[tuple[int, int]]:
    """Cells of the best monotonic 1-1/skip path over word-set Jaccard similarity, (0, 0) to (n, m)."""
    hyp_words = [set(sentence.lower().split()) for sentence in hyp]
    ref_words = [set(sentence.lower().split()) for sentence in ref]
    n, m = len(hyp), len(ref)
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            options = []
            if i and j:
                options.append(best[i - 1][j - 1] + _jaccard(hyp_words[i - 1], ref_words[j - 1]) - _CHEAP_FLOOR)
            if i:
                options.append(best[i - 1][j])
            if j:
                options.append(best[i][j - 1])
            best[i][j] = max(options) if options else 0.0
    path = [(n, m)]
    i, j = n, m
    while i or j:
        if i and j and best[i][j] == best[i - 1][j - 1] + _jaccard(hyp_words[i - 1], ref_words[j - 1]) - _CHEAP_FLOOR:
            i, j = i - 1, j - 1
        elif i and best[i][j] == best[i - 1][j]:
            i -= 1
        else:
            j -= 1
        path.append((i, j))
    return path


def _jaccard(a: set[str], b: set[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def measure_coverage(alignments: Sequence[Alignment], hyp: Sequence[str], ref: Sequence[str],
                     min_chrf: float = GOOD_LINK_CHRF) -> Coverage:
    """Share of the back-translation's and of the source's characters (whitespace ignored, as chrF does)
    that lie in links with chrF >= `min_chrf`. An empty side has coverage 0.0."""
    good = [link for link in alignments if link.chrf >= min_chrf]
    return Coverage(
        article=_covered_share(hyp, {i for link in good for i in link.src}),
        source=_covered_share(ref, {j for link in good for j in link.tgt}),
    )


def _covered_share(sentences: Sequence[str], covered: set[int]) -> float:
    sizes = [len("".join(sentence.split())) for sentence in sentences]
    total = sum(sizes)
    if not total:
        return 0.0
    return sum(size for index, size in enumerate(sizes) if index in covered) / total
