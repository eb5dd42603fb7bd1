import json
import math

import pytest

from provenance.align import Coverage
from provenance.errors import UsageError
from provenance.score import PairScore
from provenance.verdict import (DECLARED_MT_SIGNAL, Label, Thresholds, Verdict, confidence_from_margin,
                                decide)

# Round numbers for the decision tests, so they do not move when thresholds.json is recalibrated.
THRESHOLDS_DATA = {
    "version": "test",
    "source": "round numbers for tests",
    "related": {"bleu": 10.0},
    "machine": {"bleu": 50.0, "link_chrf": 75.0},
    "partial": {"coverage": 0.5, "min_article_coverage": 0.15, "min_sentences": 2},
    "confidence": {"bleu_scale": 4.0, "chrf_scale": 3.0, "coverage_scale": 0.05},
    "declared_machine_translation": {"prior_odds": 9.0},
}
THRESHOLDS = Thresholds.from_dict(THRESHOLDS_DATA)
DECLARED = (DECLARED_MT_SIGNAL,)


def pair(bleu: float, sentence_chrf=(), chrf: float | None = None) -> PairScore:
    return PairScore(article_id="art", source_id="src", bleu=bleu, chrf=bleu + 20 if chrf is None else chrf,
                     ter=100 - bleu, sentence_chrf=tuple(sentence_chrf), signatures={})


def full(chrf: float, count: int = 20) -> tuple[float, ...]:
    return (chrf,) * count


def part(chrf: float, aligned: int, total: int = 20) -> tuple[float, ...]:
    return (chrf,) * aligned + (0.0,) * (total - aligned)


@pytest.mark.parametrize("best, coverage, signals, label, source_id", [
    (None, None, (), Label.UNRELATED, None),
    (pair(2.0), Coverage(0.0, 0.0), (), Label.UNRELATED, None),
    (pair(2.0), None, (), Label.UNRELATED, None),
    (pair(30.0, full(62.0)), Coverage(0.9, 0.9), (), Label.TRANSLATION, "src"),
    (pair(70.0, full(85.0)), Coverage(1.0, 1.0), (), Label.MT_REPUBLICATION, "src"),
    (pair(30.0), None, (), Label.TRANSLATION, "src"),  # no coverage: doc BLEU decides
    (pair(70.0), None, (), Label.MT_REPUBLICATION, "src"),
    (pair(8.0, part(86.0, 5)), Coverage(0.25, 0.5), (), Label.MT_REPUBLICATION, "src"),  # partial, machine
    (pair(8.0, part(60.0, 5)), Coverage(0.25, 0.5), (), Label.TRANSLATION, "src"),  # partial, human
    (pair(12.0, part(62.0, 10)), Coverage(0.95, 0.3), (), Label.TRANSLATION, "src"),  # excerpt of the source
    (pair(5.0, part(90.0, 1)), Coverage(0.05, 0.05), (), Label.UNRELATED, "src"),  # one matching sentence
    (pair(5.0, part(90.0, 1, 3)), Coverage(0.33, 0.05), (), Label.UNRELATED, "src"),  # too few sentences
    (pair(2.0), Coverage(0.0, 0.0), DECLARED, Label.UNRELATED, None),  # a disclaimer alone proves nothing
])
def test_labels(best, coverage, signals, label, source_id):
    verdict = decide("art", best, coverage, signals, THRESHOLDS)
    assert (verdict.label, verdict.source_id) == (label, source_id)
    assert verdict.article_id == "art"
    assert 0.0 <= verdict.confidence <= 1.0
    assert verdict.reasons


@pytest.mark.parametrize("best, coverage", [
    (pair(40.0, full(72.0)), Coverage(0.9, 0.9)),  # 72 < 75 but above 75 - 3 * ln 9 = 68.4
    (pair(45.0), None),  # 45 < 50 but above 50 - 4 * ln 9 = 41.2
])
def test_disclaimer_flips_a_borderline_translation(best, coverage):
    assert decide("art", best, coverage, (), THRESHOLDS).label is Label.TRANSLATION
    verdict = decide("art", best, coverage, DECLARED, THRESHOLDS)
    assert verdict.label is Label.MT_REPUBLICATION
    assert any(DECLARED_MT_SIGNAL in reason for reason in verdict.reasons)


def test_disclaimer_does_not_flip_a_clear_translation_but_is_still_reported():
    verdict = decide("art", pair(30.0, full(60.0)), Coverage(0.9, 0.9), DECLARED, THRESHOLDS)
    assert verdict.label is Label.TRANSLATION
    assert any(DECLARED_MT_SIGNAL in reason for reason in verdict.reasons)


def test_disclaimer_is_listed_even_without_a_candidate():
    verdict = decide("art", None, None, DECLARED, THRESHOLDS)
    assert verdict == Verdict("art", Label.UNRELATED, None, 1.0, 0.0, verdict.reasons)
    assert any(DECLARED_MT_SIGNAL in reason for reason in verdict.reasons)


def test_reasons_give_the_numbers_and_the_boundaries():
    verdict = decide("art", pair(70.0, full(85.0), chrf=86.1), Coverage(1.0, 0.98), (), THRESHOLDS)
    text = "\n".join(verdict.reasons)
    for expected in ("85.0 >= 75.0 (machine-translation boundary)", "doc BLEU 70.0 >= 10 (related boundary)",
                     "doc chrF 86.1", "100% of the article", "98% of the source"):
        assert expected in text


def test_unrelated_reason_names_the_related_boundary():
    verdict = decide("art", pair(2.5), Coverage(0.0, 0.0), (), THRESHOLDS)
    assert any("doc BLEU 2.5 < 10 (related boundary)" in reason for reason in verdict.reasons)


@pytest.mark.parametrize("coverage, expected", [
    (Coverage(0.25, 0.5), "only 25% of the article"),
    (Coverage(0.95, 0.3), "covers only 30% of the source"),
])
def test_partial_republication_is_said(coverage, expected):
    verdict = decide("art", pair(8.0, part(80.0, 6)), coverage, (), THRESHOLDS)
    assert verdict.label is not Label.UNRELATED
    assert any("partial republication" in reason and expected in reason for reason in verdict.reasons)


def test_coverage_is_reported():
    assert decide("art", pair(30.0, full(62.0)), Coverage(0.8, 0.7), (), THRESHOLDS).coverage == 0.8
    assert decide("art", pair(30.0), None, (), THRESHOLDS).coverage == 0.0


def test_confidence_is_logistic_in_the_margin():
    assert confidence_from_margin(0.0) == 0.5
    assert confidence_from_margin(math.log(19)) == pytest.approx(0.95)
    assert 0.0 <= confidence_from_margin(-50) <= confidence_from_margin(50) <= 1.0


@pytest.mark.parametrize("values, coverage", [
    ([50.0, 55.0, 60.0, 70.0, 90.0], None),  # doc BLEU above the machine boundary
    ([10.0, 7.0, 4.0, 1.0, 0.0], None),  # doc BLEU below the related boundary
])
def test_confidence_increases_with_the_margin(values, coverage):
    confidences = [decide("art", pair(value), coverage, (), THRESHOLDS).confidence for value in values]
    assert confidences == sorted(confidences)
    assert confidences[0] == pytest.approx(0.5) and confidences[-1] > 0.9


def test_translation_confidence_peaks_between_the_boundaries():
    confidences = [decide("art", pair(bleu), None, (), THRESHOLDS).confidence for bleu in (11, 20, 30, 40, 49)]
    assert confidences[0] < confidences[1] < confidences[2] > confidences[3] > confidences[4]


def test_shipped_thresholds_load():
    thresholds = Thresholds.load()
    assert thresholds.version and "benchmarks/measure_thresholds.py" in thresholds.source
    assert 0 < thresholds.related_bleu < thresholds.machine_bleu < 100
    assert Thresholds.from_dict(thresholds.to_dict()) == thresholds


def test_thresholds_load_a_custom_path(tmp_path):
    data = json.loads(json.dumps(THRESHOLDS_DATA))
    data["machine"]["bleu"] = 42.5
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    thresholds = Thresholds.load(path)
    assert thresholds.machine_bleu == 42.5
    assert thresholds.partial_min_sentences == 2


def _without(section: str, key: str) -> dict:
    data = json.loads(json.dumps(THRESHOLDS_DATA))
    del data[section][key]
    return data


def _with(section: str, key: str, value) -> dict:
    data = json.loads(json.dumps(THRESHOLDS_DATA))
    data[section][key] = value
    return data


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    (json.dumps({**THRESHOLDS_DATA, "version": ""}), "'version'"),
    (json.dumps(_without("machine", "bleu")), "'machine.bleu' must be a number"),
    (json.dumps(_with("related", "bleu", "ten")), "'related.bleu' must be a number"),
    (json.dumps(_with("related", "bleu", True)), "'related.bleu' must be a number"),
    (json.dumps(_with("related", "bleu", 60.0)), "related.bleu < machine.bleu"),
    (json.dumps(_with("confidence", "bleu_scale", 0)), "scales must be positive"),
    (json.dumps(_with("partial", "coverage", 1.5)), "partial.coverage <= 1"),
])
def test_bad_thresholds_file_is_a_clear_usage_error(tmp_path, content, message):
    path = tmp_path / "thresholds.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message) as caught:
        Thresholds.load(path)
    assert str(path) in str(caught.value)


def test_missing_thresholds_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read thresholds file"):
        Thresholds.load(tmp_path / "absent.json")


def test_label_serialises_as_its_value():
    assert json.dumps(Label.MT_REPUBLICATION) == '"mt_republication"'
    assert Label("translation") is Label.TRANSLATION
