"""Monotonic sentence alignment of a back-translation against a candidate source, and coverage.

In the spirit of Bleualign / Gale-Church: a dynamic programme over sentence chrF (sacrebleu's CHRF,
default settings) finds the best monotonic path of 1-1, 2-1 and 1-2 links and skips. A link earns its
chrF minus `MIN_LINK_CHRF` (the skip cost), a skip earns nothing, so a link is made only when its chrF
beats that minimum; merges pay `MERGE_PENALTY` on top so they win only when clearly better. The DP uses
chrF averaged over both directions: chrF2 weighs recall four times precision, so one-way scores would
barely reward a 1-2 merge and would let a 2-1 merge swallow a stray sentence. Each link then reports
sacrebleu's one-way chrF (back-translation against source) and is kept only if that beats the minimum.

For articles of ordinary size every link score (spans of one or two sentences on each side) is computed
at once by `count_ngram_matches`, which counts sacrebleu's clipped n-gram matches with one numpy sort per
n-gram order: the same integers sacrebleu counts, hence the same chrF bit for bit; and the DP settles
without a second look the cells where no link can gain (most cells of unrelated text). Measured on
newstest2013 (15 x 15 sentences, this machine): 28-50 ms -> 5 ms per alignment. Very long documents
(more than `BAND_MIN_PAIRS` sentence pairs) are aligned inside a band around a rough path found with
cheap word-overlap similarities, scoring only the links the band reaches.

`match_sources` explains an article by several sources: after the best one, the part of the article it
leaves unexplained is aligned again, against that source (paragraphs moved out of order) or the next
candidates, which finds partial republications (a few paragraphs of a source plus the site's own text)
and compilations (one article from two sources).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
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
# A part of the article the best source leaves unexplained is worth a second source when it has at least
# this many sentences or this share of the article's characters (a paragraph or two of the site's own text
# is common and explains nothing).
REMAINDER_MIN_SENTENCES = 3
REMAINDER_MIN_SHARE = 0.25
# A further source is accepted when its well-aligned links hold at least this many sentences of that
# remainder and this share of its characters; chance links reach GOOD_LINK_CHRF for about 1 pair in 1,000.
EXTRA_SOURCE_MIN_SENTENCES = 2
EXTRA_SOURCE_MIN_SHARE = 0.2
PARTIAL_REPUBLICATION = "partial_republication"  # report signal: one source, republished in part
COMPILATION = "compilation"  # report signal: several sources explain one article
MAX_SOURCES = 3  # sources named for one article: compilations of more are rare; the rest stays unexplained
EXTRA_SOURCE_TRIES = 2  # references aligned per further source: the best by character n-gram precision

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


# ---- exact n-gram match counts for many texts at once ------------------------------------------
_PACK_LIMIT = 1 << 62  # packed n-gram keys stay below this, so the int64 arithmetic cannot overflow


@dataclass(frozen=True, slots=True)
class NgramCounts:
    """Clipped n-gram matches of hypothesis texts against reference texts, orders 1..max_order.

    `hyp_totals[o, h]` and `ref_totals[o, r]` count the n-grams of order o+1 of each text; `matches[o, h, r]`
    is the sum over n-grams of min(count in hypothesis h, count in reference r): the integers sacrebleu's
    chrF and BLEU statistics are made of.
    """

    hyp_totals: np.ndarray
    ref_totals: np.ndarray
    matches: np.ndarray

    def swapped(self) -> "NgramCounts":
        """The references as hypotheses (for the reverse direction of chrF)."""
        return NgramCounts(self.ref_totals, self.hyp_totals, self.matches.transpose(0, 2, 1))


def char_symbols(text: str) -> np.ndarray:
    """The characters chrF counts (whitespace removed, as sacrebleu does by default) as code points."""
    return np.frombuffer("".join(text.split()).encode("utf-32-le"), dtype=np.uint32)


def count_ngram_matches(sequences: Sequence[np.ndarray], hyp_count: int, max_order: int) -> NgramCounts:
    """Exact clipped n-gram matches of `sequences[:hyp_count]` against `sequences[hyp_count:]`.

    Sequences are integer symbols (code points, token ids). All texts are handled together: n-grams are
    packed into integers order by order, and one sort of (n-gram, text) keys per order gives every count.
    """
    lengths = np.fromiter((len(seq) for seq in sequences), dtype=np.int64, count=len(sequences))
    texts, refs = len(sequences), len(sequences) - hyp_count
    hyp_totals = np.zeros((max_order, hyp_count), np.int64)
    ref_totals = np.zeros((max_order, refs), np.int64)
    matches = np.zeros((max_order, hyp_count, refs), np.int64)
    total = int(lengths.sum())
    if not total or not hyp_count or not refs:
        for order in range(max_order):
            hyp_totals[order] = np.maximum(lengths[:hyp_count] - order, 0)
            ref_totals[order] = np.maximum(lengths[hyp_count:] - order, 0)
        return NgramCounts(hyp_totals, ref_totals, matches)
    _, symbols = np.unique(np.concatenate(sequences).astype(np.int64), return_inverse=True)
    symbols = symbols.reshape(-1).astype(np.int64)
    alphabet = int(symbols.max()) + 1
    text_of = np.repeat(np.arange(texts), lengths)
    remaining = np.repeat(np.cumsum(lengths), lengths) - np.arange(total)  # symbols from here to the text's end
    grams, span = symbols, alphabet
    for order in range(1, max_order + 1):
        if order > 1:
            if span * alphabet * texts >= _PACK_LIMIT:  # re-number the n-grams densely before they overflow
                _, grams = np.unique(grams, return_inverse=True)
                grams, span = grams.reshape(-1).astype(np.int64), int(grams.max()) + 1
            grams = grams[:-1] * alphabet + symbols[order - 1:]
            span *= alphabet
        valid = remaining[: len(grams)] >= order
        gram, text = grams[valid], text_of[: len(grams)][valid]
        counts_per_text = np.bincount(text, minlength=texts)
        hyp_totals[order - 1], ref_totals[order - 1] = counts_per_text[:hyp_count], counts_per_text[hyp_count:]
        if len(gram):
            matches[order - 1] = _clipped_matches(gram, text, texts, hyp_count)
    return NgramCounts(hyp_totals, ref_totals, matches)


def _clipped_matches(gram: np.ndarray, text: np.ndarray, texts: int, hyp_count: int) -> np.ndarray:
    """(hyp_count, texts - hyp_count) sums of min(count in hyp, count in ref) over the n-grams of one order.

    Sorting (n-gram, text) keys groups each n-gram's texts, hypotheses first; every (hypothesis, reference)
    pair inside a group adds min(count, count) to its cell.
    """
    refs = texts - hyp_count
    keys, counts = np.unique(gram * texts + text, return_counts=True)
    key_gram, key_text = keys // texts, keys % texts
    first = np.empty(len(keys), dtype=bool)
    first[0] = True
    np.not_equal(key_gram[1:], key_gram[:-1], out=first[1:])
    group_start = np.flatnonzero(first)
    group_of = np.cumsum(first) - 1
    is_hyp = key_text < hyp_count
    hyps_in_group = np.add.reduceat(is_hyp.astype(np.int64), group_start)
    refs_in_group = np.diff(np.append(group_start, len(keys))) - hyps_in_group
    hyp_entries = np.flatnonzero(is_hyp)
    hyp_group = group_of[hyp_entries]
    repeats = refs_in_group[hyp_group]  # each hypothesis entry pairs with every reference entry of its group
    pairs = int(repeats.sum())
    if not pairs:
        return np.zeros((hyp_count, refs), dtype=np.int64)
    pair_hyp = np.repeat(hyp_entries, repeats)
    offset = np.arange(pairs) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    pair_ref = np.repeat(group_start[hyp_group] + hyps_in_group[hyp_group], repeats) + offset
    cells = key_text[pair_hyp] * refs + (key_text[pair_ref] - hyp_count)
    clipped = np.minimum(counts[pair_hyp], counts[pair_ref])
    sums = np.bincount(cells, weights=clipped, minlength=hyp_count * refs)
    return sums.astype(np.int64).reshape(hyp_count, refs)


def chrf_scores(counts: NgramCounts, beta: int = CHRF.BETA) -> np.ndarray:
    """(hypotheses, references) chrF from character n-gram counts: `CHRF._compute_f_score` for every pair.

    The same floating-point operations in the same order as sacrebleu (effective-order averaging of precision
    and recall, no eps smoothing), so each value equals sacrebleu's sentence chrF bit for bit.
    """
    factor = beta ** 2
    order_count, hyps, refs = counts.matches.shape
    avg_prec, avg_rec = np.zeros((hyps, refs)), np.zeros((hyps, refs))
    effective_order = np.zeros((hyps, refs), dtype=np.int64)
    for order in range(order_count):
        n_ref = np.broadcast_to(counts.ref_totals[order][None, :], (hyps, refs))
        n_hyp = np.where(n_ref > 0, counts.hyp_totals[order][:, None], 0)  # no hits without a reference n-gram
        both = (n_hyp > 0) & (n_ref > 0)
        n_match = counts.matches[order][both]
        avg_prec[both] += n_match / n_hyp[both]
        avg_rec[both] += n_match / n_ref[both]
        effective_order += both
    scores = np.zeros((hyps, refs))
    some = effective_order > 0
    prec, rec = avg_prec[some] / effective_order[some], avg_rec[some] / effective_order[some]
    nonzero = (prec + rec) != 0
    f_beta = np.zeros(len(prec))
    numerator = (1 + factor) * prec[nonzero] * rec[nonzero]
    f_beta[nonzero] = 100 * (numerator / ((factor * prec[nonzero]) + rec[nonzero]))
    scores[some] = f_beta
    return scores


class _DenseChrfTable:
    """Every link score of a hyp/ref pair, computed at once (same interface and values as `_ChrfTable`)."""

    def __init__(self, hyp: Sequence[str], ref: Sequence[str]):
        self._hyp_count, self._ref_count = len(hyp), len(ref)
        hyp_spans, ref_spans = _one_and_two_sentence_spans(hyp), _one_and_two_sentence_spans(ref)
        counts = count_ngram_matches([char_symbols(text) for text in hyp_spans + ref_spans], len(hyp_spans),
                                     _CHRF.char_order)
        forward = chrf_scores(counts)
        two_way = (forward + chrf_scores(counts.swapped()).T) / 2
        self._forward, self._two_way = forward.tolist(), two_way.tolist()
        self.evaluations = forward.size
        self.skips_only = _skips_only(two_way, len(hyp), len(ref)).tolist()

    def scores(self, i: int, hyp_size: int, j: int, ref_size: int) -> tuple[float, float]:
        """(chrF, two-way chrF) of hyp[i:i+hyp_size] against ref[j:j+ref_size]."""
        row = i if hyp_size == 1 else self._hyp_count + i
        column = j if ref_size == 1 else self._ref_count + j
        return self._forward[row][column], self._two_way[row][column]


def _skips_only(two_way: np.ndarray, n: int, m: int) -> np.ndarray:
    """(n+1, m+1): True where no link ending at the DP cell can gain (1-1, 2-1 and 1-2 all score below their
    cost), so a skip wins the cell: a link with a negative gain can never beat a skip, whose value is
    at least the link's starting cell's."""
    merge_floor = MIN_LINK_CHRF + MERGE_PENALTY
    gains = np.zeros((n + 1, m + 1), dtype=bool)
    gains[1:, 1:] = two_way[:n, :m] >= MIN_LINK_CHRF
    gains[2:, 1:] |= two_way[n:2 * n - 1, :m] >= merge_floor  # hyp sentences i-2, i-1 with ref sentence j-1
    gains[1:, 2:] |= two_way[:n, m:2 * m - 1] >= merge_floor  # hyp sentence i-1 with ref sentences j-2, j-1
    skips_only = ~gains
    skips_only[0, :] = skips_only[:, 0] = False  # the border has a single way in; _best_step handles it
    return skips_only


def _one_and_two_sentence_spans(sentences: Sequence[str]) -> list[str]:
    """Each sentence, then each pair of neighbours joined as `_ChrfTable` joins them."""
    return list(sentences) + [" ".join(sentences[i:i + 2]) for i in range(len(sentences) - 1)]


def align_sentences(hyp: Sequence[str], ref: Sequence[str]) -> list[Alignment]:
    """Best monotonic alignment of back-translated sentences `hyp` with source sentences `ref`.

    Returns the links in order; sentences in no link were skipped. Every link has chrF > MIN_LINK_CHRF.
    """
    if not hyp or not ref:
        return []
    if len(hyp) * len(ref) > BAND_MIN_PAIRS:
        table, rows = _ChrfTable(hyp, ref), _band_rows(hyp, ref)
    else:
        table, rows = _DenseChrfTable(hyp, ref), None
    links = _best_path(table, len(hyp), len(ref), rows)
    logger.debug("aligned %dx%d sentences with %d chrF evaluations", len(hyp), len(ref), table.evaluations)
    return [link for link in links if link.chrf > MIN_LINK_CHRF]


def _best_path(table: _ChrfTable, n: int, m: int, rows: list[tuple[int, int]] | None) -> list[Alignment]:
    """Dynamic programme over (hyp prefix, ref prefix); `rows[i]` limits the columns of row i when given."""
    best = [[-math.inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int, float] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    best[0][0] = 0.0
    skips_only = getattr(table, "skips_only", None)  # known for a dense table: most cells of unrelated text
    for i in range(n + 1):
        low, high = rows[i] if rows else (0, m)
        for j in range(low, high + 1):
            if skips_only is not None and skips_only[i][j]:
                up, left = best[i - 1][j], best[i][j - 1]
                best[i][j], back[i][j] = (up, (1, 0, 0.0)) if up >= left else (left, (0, 1, 0.0))
            elif i or j:
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


# ---- several sources for one article ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Span:
    """A run of consecutive well-aligned sentences: first and last index on each side, inclusive."""

    french: tuple[int, int]  # back-translated (= French) sentence indexes
    source: tuple[int, int]  # source sentence indexes


@dataclass(frozen=True, slots=True)
class SourceMatch:
    """One source that explains part of an article: which reference, its links and what they cover."""

    position: int  # index of the source in the references given to `match_sources`
    alignments: tuple[Alignment, ...]  # the links found for this source (article-wide sentence indexes)
    coverage: Coverage  # shares of the whole article and of this source in its well-aligned links
    spans: tuple[Span, ...]
    linked: Coverage  # shares in links of any strength (chrF > MIN_LINK_CHRF): what was translated at all


def aligned_spans(alignments: Sequence[Alignment], min_chrf: float = GOOD_LINK_CHRF) -> list[Span]:
    """Runs of well-aligned links that follow each other on both sides, as first..last index spans."""
    spans: list[Span] = []
    for link in alignments:
        if link.chrf < min_chrf:
            continue
        if spans and spans[-1].french[1] + 1 == link.src[0] and spans[-1].source[1] + 1 == link.tgt[0]:
            spans[-1] = Span((spans[-1].french[0], link.src[-1]), (spans[-1].source[0], link.tgt[-1]))
        else:
            spans.append(Span((link.src[0], link.src[-1]), (link.tgt[0], link.tgt[-1])))
    return spans


def match_sources(hyp: Sequence[str], references: Sequence[Sequence[str]],
                  first_alignment: Sequence[Alignment] | None = None,
                  max_sources: int = MAX_SOURCES) -> list[SourceMatch]:
    """The sources that together explain the article `hyp`, best first: `references[0]`, then others.

    references[0] is the best candidate (aligned already when `first_alignment` is given). While the
    sentences outside every accepted source's well-aligned links make a substantial remainder (at least
    REMAINDER_MIN_SENTENCES sentences or REMAINDER_MIN_SHARE of the characters), the remainder alone is
    aligned against the EXTRA_SOURCE_TRIES references whose character n-grams it shares most, and the one
    covering most of it is kept if it covers enough (EXTRA_SOURCE_MIN_*): a new source (a compilation), or
    a source already named, whose links then grow (paragraphs the copy moved, out of reach of one
    monotonic alignment). At most `max_sources` sources; [] when references[0] has no well-aligned link.
    """
    if not hyp or not references:
        return []
    first = list(first_alignment) if first_alignment is not None else align_sentences(hyp, references[0])
    matches = [_source_match(0, first, hyp, references[0])]
    if not matches[0].spans:
        return []
    while True:
        remainder = unexplained_sentences(hyp, [link for match in matches for link in match.alignments])
        named = {match.position: number for number, match in enumerate(matches)}
        room = len(matches) < max_sources
        allowed = [p for p in range(len(references)) if references[p] and (p in named or room)]
        found = _align_remainder(hyp, references, remainder, allowed) if remainder else None
        if found is None:
            return matches
        position, links = found
        if position in named:
            links = sorted([*matches[named[position]].alignments, *links], key=lambda link: link.src)
            matches[named[position]] = _source_match(position, links, hyp, references[position])
        else:
            matches.append(_source_match(position, links, hyp, references[position]))


def match_signals(matches: Sequence[SourceMatch], partial_below: float = 0.5) -> list[str]:
    """COMPILATION for two sources or more; PARTIAL_REPUBLICATION when the one source's links cover less
    than `partial_below` of the article, or the article's links less than that of the source.

    Links of any strength count here, not only well-aligned ones: a free human translation of a whole
    story has many sentences linked below GOOD_LINK_CHRF (its well-aligned coverage is often under one
    half), whereas the site's own text and the paragraphs it left out link to nothing.
    """
    if len(matches) >= 2:
        return [COMPILATION]
    if matches and min(matches[0].linked.article, matches[0].linked.source) < partial_below:
        return [PARTIAL_REPUBLICATION]
    return []


def unexplained_sentences(hyp: Sequence[str], alignments: Sequence[Alignment]) -> list[int]:
    """Non-empty sentences of `hyp` outside the well-aligned links, if they make a substantial part of it
    (REMAINDER_MIN_SENTENCES sentences or REMAINDER_MIN_SHARE of the characters), else []."""
    linked = _linked(alignments)
    remainder = [i for i, sentence in enumerate(hyp) if i not in linked and sentence.strip()]
    return remainder if _is_substantial(remainder, hyp) else []


def _good(alignments: Sequence[Alignment]) -> list[Alignment]:
    return [link for link in alignments if link.chrf >= GOOD_LINK_CHRF]


def _source_match(position: int, links: Sequence[Alignment], hyp: Sequence[str],
                  ref: Sequence[str]) -> SourceMatch:
    return SourceMatch(position, tuple(links), measure_coverage(links, hyp, ref), tuple(aligned_spans(links)),
                       measure_coverage(links, hyp, ref, min_chrf=-math.inf))


def _chars(sentences: Sequence[str], indexes) -> int:
    return sum(len("".join(sentences[i].split())) for i in indexes)


def _is_substantial(remainder: Sequence[int], hyp: Sequence[str]) -> bool:
    total = _chars(hyp, range(len(hyp)))
    return bool(total) and (len(remainder) >= REMAINDER_MIN_SENTENCES
                            or _chars(hyp, remainder) >= REMAINDER_MIN_SHARE * total)


def _align_remainder(hyp: Sequence[str], references: Sequence[Sequence[str]], remainder: Sequence[int],
                     positions: Sequence[int]) -> tuple[int, list[Alignment]] | None:
    """(reference position, links) of the reference whose alignment with the remainder covers most of it,
    among the EXTRA_SOURCE_TRIES of `positions` sharing most of its character n-grams; None if it covers
    too little (EXTRA_SOURCE_MIN_SENTENCES sentences, EXTRA_SOURCE_MIN_SHARE of the remainder)."""
    if not positions:
        return None
    texts = [" ".join(hyp[i] for i in remainder)] + [" ".join(references[p]) for p in positions]
    # Precision (beta 0): the share of the remainder's character n-grams found in the reference.
    precision = chrf_scores(count_ngram_matches([char_symbols(t) for t in texts], 1, _CHRF.char_order), beta=0)[0]
    shortlist = [positions[i] for i in np.argsort(-precision, kind="stable")[:EXTRA_SOURCE_TRIES]]
    # Sentences outside the remainder are blanked: they keep their indexes but can no longer link.
    kept = set(remainder)
    blanked = [sentence if i in kept else "" for i, sentence in enumerate(hyp)]
    aligned = [(position, align_sentences(blanked, references[position])) for position in shortlist]
    position, links = max(aligned, key=lambda item: _chars(hyp, _linked(item[1])))
    linked = _linked(links)
    too_little = _chars(hyp, linked) < EXTRA_SOURCE_MIN_SHARE * _chars(hyp, remainder)
    if len(linked) < EXTRA_SOURCE_MIN_SENTENCES or too_little:
        return None
    return position, links


def _linked(alignments: Sequence[Alignment]) -> set[int]:
    """Back-translated sentences in well-aligned links."""
    return {i for link in _good(alignments) for i in link.src}
