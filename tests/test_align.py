import pytest
from sacrebleu.metrics import CHRF

from provenance import align
from provenance.align import (GOOD_LINK_CHRF, MIN_LINK_CHRF, Alignment, Coverage, align_sentences,
                              measure_coverage)

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
