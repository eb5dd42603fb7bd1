import random
from collections import Counter

import numpy as np
import pytest
from sacrebleu.metrics import CHRF

from provenance import align
from provenance.align import (COMPILATION, GOOD_LINK_CHRF, MIN_LINK_CHRF, PARTIAL_REPUBLICATION, Alignment,
                              Coverage, Span, align_sentences, aligned_spans, char_symbols, chrf_scores,
                              count_ngram_matches, match_signals, match_sources, measure_coverage,
                              unexplained_sentences)

# Three short "paragraphs" of an English source, and unrelated text.
ECONOMY = [
    "The European Central Bank left interest rates unchanged on Thursday.",
    "Its president said inflation would stay above target until next year.",
    "Markets had expected a cut after weak growth figures from Germany.",
]
FOOTBALL = [
    "Lyon beat Marseille three goals to one in a tense derby on Sunday night.",
    "The striker scored twice before being substituted with a knee injury.",
    "The coach praised the young defenders who started their first league match.",
]
WEATHER = [
    "Heavy snow closed several mountain roads in the Alps this weekend.",
    "Forecasters warned of avalanches above two thousand metres.",
    "Ski resorts nevertheless reported record numbers of visitors.",
]
SOURCE = ECONOMY + FOOTBALL + WEATHER
UNRELATED = [
    "A new museum dedicated to photography opened in the old harbour district.",
    "Its collection includes portraits taken by sailors over two centuries.",
    "Entry is free for students and residents under twenty-five.",
]


def test_precomputed_chrf_matches_sacrebleu():
    pairs = [(h, r) for h in SOURCE[:4] + UNRELATED[:2] + ["", "a", "aaaa aa"] for r in SOURCE[2:5] + ["", "aaa"]]
    metric = CHRF()
    for hyp, ref in pairs:
        fast = align._profile_chrf(align._Profile.of(hyp), align._Profile.of(ref))
        assert fast == metric.sentence_score(hyp, [ref]).score, (hyp, ref)


@pytest.mark.parametrize("hyp, ref", [([], SOURCE), (SOURCE, []), ([], [])])
def test_empty_side_gives_no_links_and_zero_coverage(hyp, ref):
    links = align_sentences(hyp, ref)
    assert links == []
    assert measure_coverage(links, hyp, ref) == Coverage(0.0, 0.0)


@pytest.mark.parametrize("hyp, ref, expected_links", [
    (ECONOMY[:1], ECONOMY[:1], [Alignment((0,), (0,), 100.0, "1-1")]),
    (ECONOMY[:1], UNRELATED[:1], []),
])
def test_one_sentence_each(hyp, ref, expected_links):
    assert align_sentences(hyp, ref) == expected_links


def test_identical_documents_align_one_to_one_with_full_coverage():
    links = align_sentences(SOURCE, SOURCE)
    assert [(link.src, link.tgt, link.kind) for link in links] == [((i,), (i,), "1-1") for i in range(len(SOURCE))]
    assert all(link.chrf == 100.0 for link in links)
    assert measure_coverage(links, SOURCE, SOURCE) == Coverage(1.0, 1.0)


def test_two_short_sentences_merge_into_one_source_sentence():
    hyp = ECONOMY[:1] + ["The striker scored twice.", "He was then substituted with a knee injury."] + FOOTBALL[2:]
    ref = ECONOMY[:1] + FOOTBALL[1:]
    links = align_sentences(hyp, ref)
    assert Alignment((1, 2), (1,), links[1].chrf, "2-1") == links[1]
    assert links[1].chrf > GOOD_LINK_CHRF
    assert [link.kind for link in links] == ["1-1", "2-1", "1-1"]


def test_one_sentence_can_cover_two_source_sentences():
    hyp = ["Lyon beat Marseille three goals to one on Sunday night and the striker scored twice."]
    ref = ["Lyon beat Marseille three goals to one on Sunday night.", "The striker scored twice."]
    assert [(link.src, link.tgt, link.kind) for link in align_sentences(hyp, ref)] == [((0,), (0, 1), "1-2")]


def test_partial_republication_covers_the_article_but_not_the_source():
    hyp = ECONOMY + WEATHER  # the football paragraph of the source was not republished
    links = align_sentences(hyp, SOURCE)
    coverage = measure_coverage(links, hyp, SOURCE)
    assert coverage.article == pytest.approx(1.0)
    assert 0.5 < coverage.source < 0.8
    assert {j for link in links for j in link.tgt} == {0, 1, 2, 6, 7, 8}


def test_reordered_paragraphs_align_only_one_of_them():
    # A monotonic alignment cannot link both paragraphs once their order is swapped: it keeps the larger
    # one (here equal sizes, so whichever scores higher) and skips the other.
    hyp = FOOTBALL + ECONOMY
    ref = ECONOMY + FOOTBALL
    links = align_sentences(hyp, ref)
    coverage = measure_coverage(links, hyp, ref)
    assert 0.3 < coverage.article < 0.7 and 0.3 < coverage.source < 0.7
    sources = [j for link in links for j in link.tgt]
    targets = [i for link in links for i in link.src]
    assert sources == sorted(sources) and targets == sorted(targets)


def test_unrelated_documents_have_no_good_links():
    links = align_sentences(UNRELATED, SOURCE)
    assert all(link.chrf < GOOD_LINK_CHRF for link in links)
    assert measure_coverage(links, UNRELATED, SOURCE) == Coverage(0.0, 0.0)


def test_every_link_beats_the_minimum_and_is_monotonic():
    hyp = ECONOMY[:2] + UNRELATED[:1] + FOOTBALL + ["The striker scored twice.", "Snow closed roads."]
    links = align_sentences(hyp, SOURCE)
    assert all(link.chrf > MIN_LINK_CHRF for link in links)
    for before, after in zip(links, links[1:]):
        assert max(before.src) < min(after.src) and max(before.tgt) < min(after.tgt)


def test_coverage_counts_characters_of_links_above_the_minimum():
    hyp, ref = ["aaaa", "bb"], ["aaaa", "bb"]
    links = [Alignment((0,), (0,), 90.0, "1-1"), Alignment((1,), (1,), 40.0, "1-1")]
    assert measure_coverage(links, hyp, ref) == Coverage(4 / 6, 4 / 6)
    assert measure_coverage(links, hyp, ref, min_chrf=30.0) == Coverage(1.0, 1.0)


def test_banded_alignment_agrees_with_the_full_one(monkeypatch):
    hyp = SOURCE[:5] + UNRELATED + SOURCE[5:] + ECONOMY
    ref = ECONOMY + SOURCE + FOOTBALL
    full = align_sentences(hyp, ref)

    calls = []
    original = align._profile_chrf
    monkeypatch.setattr(align, "_profile_chrf", lambda h, r: calls.append(1) or original(h, r))
    monkeypatch.setattr(align, "BAND_MIN_PAIRS", 10)
    monkeypatch.setattr(align, "BAND_WIDTH", 3)
    banded = align_sentences(hyp, ref)
    assert banded == full
    assert len(calls) < len(hyp) * len(ref)  # the band skipped part of the 1-1 grid


# ---- the all-at-once n-gram counts behind the dense link table and the document scores -------------
ODD_TEXTS = ["", " ", "a", "aa a", "aaaa aa", "été à Noël, 😀 !", "The the THE the.", "x" * 40, "ab" * 15]


def test_all_pairs_chrf_equals_sacrebleu_bit_for_bit():
    hyps = SOURCE[:4] + UNRELATED[:2] + ODD_TEXTS
    refs = SOURCE[2:6] + ODD_TEXTS
    counts = count_ngram_matches([char_symbols(t) for t in hyps + refs], len(hyps), CHRF.CHAR_ORDER)
    scores = chrf_scores(counts)
    metric = CHRF()
    expected = [[metric.sentence_score(h, [r]).score for r in refs] for h in hyps]
    assert scores.tolist() == expected


def brute_force_matches(hyp: list[int], ref: list[int], order: int) -> int:
    grams = [Counter(tuple(seq[i:i + order]) for i in range(len(seq) - order + 1)) for seq in (hyp, ref)]
    return sum(min(count, grams[1][gram]) for gram, count in grams[0].items())


@pytest.mark.parametrize("alphabet", [3, 5000])  # 5000 symbols overflow the packed keys: the renumbering path
def test_ngram_matches_equal_brute_force_counts(alphabet):
    rng = random.Random(alphabet)
    sequences = [[rng.randrange(alphabet) for _ in range(rng.randint(0, 60))] for _ in range(7)]
    sequences.append(sequences[0][5:30])  # long shared runs, so high orders match too
    counts = count_ngram_matches([np.array(s, dtype=np.int64) for s in sequences], 3, 6)
    for order in range(1, 7):
        for h in range(3):
            assert counts.hyp_totals[order - 1, h] == max(0, len(sequences[h]) - order + 1)
            for r in range(len(sequences) - 3):
                assert counts.matches[order - 1, h, r] == brute_force_matches(sequences[h], sequences[3 + r], order)


def lazy_alignment(hyp, ref):
    """The pair-by-pair table and DP (what long documents use), for comparison with the dense table."""
    links = align._best_path(align._ChrfTable(hyp, ref), len(hyp), len(ref), None)
    return [link for link in links if link.chrf > MIN_LINK_CHRF]


@pytest.mark.parametrize("hyp, ref", [
    (SOURCE, SOURCE),
    (ECONOMY[:1] + ["The striker scored twice.", "He was then substituted with a knee injury."] + FOOTBALL[2:],
     ECONOMY[:1] + FOOTBALL[1:]),
    (["Lyon beat Marseille three goals to one on Sunday night and the striker scored twice."],
     ["Lyon beat Marseille three goals to one on Sunday night.", "The striker scored twice."]),
    (FOOTBALL + ["", "  "] + ECONOMY + UNRELATED, ECONOMY + FOOTBALL + WEATHER),
    (UNRELATED, SOURCE),
])
def test_dense_table_aligns_like_the_pair_by_pair_table(hyp, ref):
    assert align_sentences(hyp, ref) == lazy_alignment(hyp, ref)


# ---- spans and several sources ----------------------------------------------------------------
def link(src, tgt, chrf=80.0):
    return Alignment(tuple(src), tuple(tgt), chrf, {(1, 1): "1-1", (2, 1): "2-1", (1, 2): "1-2"}[(len(src), len(tgt))])


@pytest.mark.parametrize("links, expected", [
    ([], []),
    ([link([0], [0]), link([1], [1]), link([2, 3], [2])], [Span((0, 3), (0, 2))]),
    ([link([0], [4]), link([1], [6])], [Span((0, 0), (4, 4)), Span((1, 1), (6, 6))]),  # a source sentence skipped
    ([link([0], [0]), link([2], [1])], [Span((0, 0), (0, 0)), Span((2, 2), (1, 1))]),  # an article sentence skipped
    ([link([0], [0]), link([1], [1], chrf=40.0), link([2], [2])], [Span((0, 0), (0, 0)), Span((2, 2), (2, 2))]),
    ([link([0], [3, 4]), link([1], [5])], [Span((0, 1), (3, 5))]),
])
def test_aligned_spans_are_runs_of_well_aligned_links(links, expected):
    assert aligned_spans(links) == expected


def test_compilation_of_two_sources_names_both_with_their_spans():
    first, second = ECONOMY + WEATHER, FOOTBALL + UNRELATED
    hyp = ECONOMY + FOOTBALL
    matches = match_sources(hyp, [first, ["Nothing to do with it."], second])
    assert [m.position for m in matches] == [0, 2]
    assert [m.spans for m in matches] == [(Span((0, 2), (0, 2)),), (Span((3, 5), (0, 2)),)]
    assert matches[0].coverage.article + matches[1].coverage.article == pytest.approx(1.0)
    assert match_signals(matches) == [COMPILATION]


def test_three_paragraphs_plus_own_text_is_a_partial_republication():
    council = ["The city council approved a new budget for public transport after a long debate on Tuesday.",
               "Bus fares will fall by a fifth next year, while two tram lines are extended to the suburbs."]
    source = ECONOMY + FOOTBALL + WEATHER + UNRELATED + council  # a long story; three paragraphs are taken
    own_text = ["Our readers have asked us about this many times.", "We will come back to it next week.",
                "Share your opinion in the comments below."]
    hyp = own_text[:1] + ECONOMY[:2] + FOOTBALL[1:] + own_text[1:] + WEATHER[:2]
    matches = match_sources(hyp, [source, UNRELATED])
    assert len(matches) == 1 and matches[0].position == 0
    assert matches[0].spans == (Span((1, 2), (0, 1)), Span((3, 4), (4, 5)), Span((7, 8), (6, 7)))
    assert matches[0].coverage.source < 0.5 < matches[0].coverage.article
    assert match_signals(matches) == [PARTIAL_REPUBLICATION]


def test_reordered_paragraphs_are_found_by_aligning_the_remainder_again():
    # One monotonic alignment links one of the two swapped paragraphs; the remainder, aligned again with the
    # same source, adds the other: one source, two spans, the whole of both texts.
    hyp, ref = WEATHER + FOOTBALL + ECONOMY, ECONOMY + FOOTBALL + WEATHER
    matches = match_sources(hyp, [ref])
    assert len(matches) == 1
    assert matches[0].spans == (Span((0, 2), (6, 8)), Span((3, 5), (3, 5)), Span((6, 8), (0, 2)))
    assert matches[0].coverage == Coverage(1.0, 1.0)
    assert match_signals(matches) == []


@pytest.mark.parametrize("hyp, refs, expected_positions", [
    ([], [SOURCE], []),
    (SOURCE, [], []),
    (SOURCE, [[]], []),
    (UNRELATED, [SOURCE, ECONOMY], []),  # no well-aligned link with the best candidate: nothing to explain
    (ECONOMY[:1], [ECONOMY], [0]),  # one sentence
    (SOURCE, [SOURCE, ECONOMY, FOOTBALL], [0]),  # a whole copy: nothing left for the others
    (ECONOMY + UNRELATED[:1], [SOURCE, UNRELATED], [0]),  # one own sentence: no substantial remainder
])
def test_match_sources_edge_cases(hyp, refs, expected_positions):
    assert [m.position for m in match_sources(hyp, refs)] == expected_positions


def test_first_alignment_is_reused_not_recomputed(monkeypatch):
    given = align_sentences(ECONOMY, SOURCE)
    monkeypatch.setattr(align, "align_sentences", lambda *args: pytest.fail("aligned again"))
    matches = match_sources(ECONOMY, [SOURCE], given)
    assert matches[0].alignments == tuple(given)


def test_match_sources_stops_at_max_sources():
    hyp = ECONOMY + FOOTBALL + WEATHER
    refs = [ECONOMY + UNRELATED, FOOTBALL, WEATHER]
    assert [m.position for m in match_sources(hyp, refs)] == [0, 1, 2]
    assert [m.position for m in match_sources(hyp, refs, max_sources=2)] == [0, 1]


@pytest.mark.parametrize("linked, expected", [
    ([0, 1, 2, 3, 4, 5, 6, 7], []),  # 1 sentence left out of 9
    ([0, 1, 2, 3, 4, 5], [6, 7, 8]),  # 3 sentences: enough
    ([3, 4, 5, 6, 7, 8], [0, 1, 2]),
    ([], list(range(9))),
])
def test_unexplained_sentences_need_a_substantial_remainder(linked, expected):
    links = [link([i], [i]) for i in linked]
    assert unexplained_sentences(SOURCE, links) == expected


def test_partial_signal_reads_links_of_any_strength():
    # A free translation: every sentence links, but below the well-aligned boundary: not partial.
    loose = align.SourceMatch(0, (), Coverage(0.3, 0.3), (), linked=Coverage(0.95, 0.9))
    copied_part = align.SourceMatch(0, (), Coverage(0.9, 0.3), (), linked=Coverage(0.9, 0.3))
    assert match_signals([loose]) == []
    assert match_signals([copied_part]) == [PARTIAL_REPUBLICATION]
    assert match_signals([loose, copied_part]) == [COMPILATION]
    assert match_signals([]) == []
