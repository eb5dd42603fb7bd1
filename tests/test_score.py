import pytest
import sacrebleu
from sacrebleu.metrics import BLEU, CHRF, TER

from provenance.align import Alignment, align_sentences
from provenance.score import (PairScore, _ter_statistics, aligned_ter, document_scores, document_scores_many,
                              metric_signatures, score_pair, sentence_chrf)

STORY = [
    "The European Central Bank left interest rates unchanged on Thursday.",
    "Its president said inflation would stay above target until next year.",
    "Markets had expected a cut after weak growth figures from Germany.",
]
BACK_TRANSLATION = [
    "The European Central Bank kept interest rates unchanged on Thursday.",
    "Its president said that inflation would remain above the target until next year.",
    "The markets expected a cut after weak growth figures in Germany.",
]


def one_to_one(count: int) -> list[Alignment]:
    return [Alignment((i,), (i,), 50.0, "1-1") for i in range(count)]


def test_identical_texts_score_perfectly():
    score = score_pair("a", "s", STORY, STORY)
    assert (score.bleu, score.chrf, score.ter) == (pytest.approx(100.0), pytest.approx(100.0), 0.0)
    assert score.sentence_chrf == (100.0, 100.0, 100.0)
    assert (score.article_id, score.source_id) == ("a", "s")


@pytest.mark.parametrize("hyp, ref", [
    (BACK_TRANSLATION, STORY),
    (BACK_TRANSLATION[:1], STORY[:1]),
    (["the cat sat on the mat"], ["the cat is on the mat"]),
    (["A short one.", "Another short sentence here."], ["A short one!", "Another sentence, short, here."]),
    (STORY[::-1], STORY),
])
def test_scores_match_sacrebleu_convenience_functions(hyp, ref):
    # Doc BLEU/chrF: the whole document as one segment; TER: corpus TER over the (given) 1-1 links.
    score = score_pair("a", "s", hyp, ref, one_to_one(len(hyp)))
    assert score.bleu == pytest.approx(sacrebleu.corpus_bleu([" ".join(hyp)], [[" ".join(ref)]]).score)
    assert score.chrf == pytest.approx(sacrebleu.corpus_chrf([" ".join(hyp)], [[" ".join(ref)]]).score)
    assert score.ter == pytest.approx(sacrebleu.corpus_ter(list(hyp), [list(ref)]).score)


def test_unaligned_sentences_count_as_insertions_and_deletions_in_ter():
    hyp, ref = ["the cat sat on the mat", "an extra line"], ["the cat sat on a mat", "a dropped line"]
    ter = aligned_ter(hyp, ref, [Alignment((0,), (0,), 70.0, "1-1")])
    expected = sacrebleu.corpus_ter(["the cat sat on the mat", "an extra line", ""],
                                    [["the cat sat on a mat", "", "a dropped line"]]).score
    assert ter == pytest.approx(expected)


def test_merged_links_are_joined_for_ter():
    hyp, ref = ["the cat sat.", "it was on the mat."], ["the cat sat and it was on the mat."]
    ter = aligned_ter(hyp, ref, [Alignment((0, 1), (0,), 80.0, "2-1")])
    assert ter == pytest.approx(sacrebleu.corpus_ter(["the cat sat. it was on the mat."], [ref]).score)


@pytest.mark.parametrize("hyp, ref, expected", [
    ([], STORY, (0.0, 0.0, 100.0)),  # nothing back-translated: everything deleted
    ([], [], (0.0, 0.0, 0.0)),
    (STORY, [], (0.0, 0.0, 100.0)),
    (["", "  "], STORY, (0.0, 0.0, 100.0)),
])
def test_empty_sides(hyp, ref, expected):
    score = score_pair("a", "s", hyp, ref)
    assert (score.bleu, score.chrf, score.ter) == pytest.approx(expected)
    assert score.sentence_chrf == (0.0,) * len(hyp)


REFERENCES = [
    STORY,
    BACK_TRANSLATION[:2],
    ["Unrelated text about football, the derby and a late goal."],
    [],
    ["", "  "],
    ["The the the the. The THE the!", "été à Noël — « très » bien 😀"],
    STORY[::-1] + STORY,
]


@pytest.mark.parametrize("hyp", [BACK_TRANSLATION, STORY, [], ["été à Noël — « très » bien 😀"],
                                 BACK_TRANSLATION * 3])
def test_scores_against_many_references_equal_sacrebleu_corpus_scores(hyp):
    # One hypothesis against k references at once: the numbers of BLEU()/CHRF().corpus_score on each pair.
    expected = [(BLEU().corpus_score([" ".join(hyp)], [[" ".join(ref)]]).score,
                 CHRF().corpus_score([" ".join(hyp)], [[" ".join(ref)]]).score) for ref in REFERENCES]
    assert document_scores_many(hyp, REFERENCES) == expected
    assert [document_scores(hyp, ref) for ref in REFERENCES] == expected
    assert document_scores_many(hyp, []) == []


def test_given_document_scores_are_used_as_they_are():
    score = score_pair("a", "s", BACK_TRANSLATION, STORY, one_to_one(3), document=(12.5, 34.5))
    assert (score.bleu, score.chrf) == (12.5, 34.5)
    assert score.ter == aligned_ter(BACK_TRANSLATION, STORY, one_to_one(3))


@pytest.mark.parametrize("hyp, ref", [
    ("", "a dropped line"),
    ("an extra line", ""),
    ("", ""),
    ("  ", "a b c"),
    ("the cat sat on the mat", "the cat is on the mat"),
    ("on the mat the cat sat", "the cat sat on the mat"),  # shifts
])
def test_segment_ter_statistics_are_sacrebleus(hyp, ref):
    # Empty sides skip the shift search; the counts must still be TER's.
    edits, length = _ter_statistics(hyp, ref)
    expected = TER().corpus_score([hyp], [[ref]])
    assert TER()._compute_score_from_stats([edits, length]).score == expected.score
    assert length == len(ref.split())


def test_sentence_chrf_follows_the_links():
    links = [Alignment((0,), (0,), 81.5, "1-1"), Alignment((2, 3), (1,), 66.0, "2-1")]
    assert sentence_chrf(links, 5) == (81.5, 0.0, 66.0, 66.0, 0.0)


def test_score_pair_aligns_when_no_alignment_is_given():
    hyp = BACK_TRANSLATION + ["A sentence about the weather in Paris that the source never had."]
    score = score_pair("a", "s", hyp, STORY)
    links = align_sentences(hyp, STORY)
    assert score.sentence_chrf[:3] == tuple(link.chrf for link in links)
    assert score.sentence_chrf[3] == 0.0
    assert score.sentence_chrf[0] == pytest.approx(CHRF().sentence_score(hyp[0], [STORY[0]]).score)


def test_signatures_come_from_sacrebleu_and_name_the_segmentation():
    signatures = metric_signatures()
    assert set(signatures) == {"bleu", "chrf", "ter"}
    assert all(f"version:{sacrebleu.__version__}" in s for s in signatures.values())
    assert "tok:13a" in signatures["bleu"] and signatures["bleu"].endswith("seg:doc")
    assert "nc:6" in signatures["chrf"]
    assert signatures["ter"].endswith("seg:aligned")
    assert score_pair("a", "s", STORY, STORY).signatures == signatures


def test_alignment_outside_the_documents_is_rejected():
    with pytest.raises(ValueError, match="outside"):
        score_pair("a", "s", STORY, STORY, [Alignment((0,), (7,), 50.0, "1-1")])


def test_pair_score_is_frozen():
    score = score_pair("a", "s", STORY, STORY)
    assert isinstance(score, PairScore)
    with pytest.raises(AttributeError):
        score.bleu = 0.0
