"""Evaluation metrics, calibration and the evaluate/calibrate commands on tiny hand-made sets."""

import json
import random

import pytest

from provenance.calibrate import cross_validate, fit_models, thresholds_document, with_models
from provenance.cli import main
from provenance.errors import UsageError
from provenance.evaluate import (LabelRecord, Prediction, binary_scores, bootstrap_interval, confusion_matrix,
                                 evaluate, load_labels, per_class, recall_at_k, roc_auc)
from provenance.forward import compare_french
from provenance.score import PairScore
from provenance.verdict import Label, Thresholds, classify, decide

MT, TR, UN = "mt_republication", "translation", "unrelated"


def test_confusion_matrix_and_per_class_scores():
    truth = [MT, MT, MT, TR, TR, UN, UN, UN]
    guess = [MT, MT, TR, TR, MT, UN, UN, "error"]
    assert confusion_matrix(truth, guess, [MT, TR, UN]) == [[2, 1, 0, 0], [1, 1, 0, 0], [0, 0, 2, 1]]
    table = per_class(truth, guess, [MT, TR, UN])
    assert table[MT] == {"precision": 2 / 3, "recall": 2 / 3, "f1": pytest.approx(2 / 3), "support": 3}
    assert table[TR]["precision"] == 0.5 and table[TR]["recall"] == 0.5
    assert table[UN] == {"precision": 1.0, "recall": 2 / 3, "f1": pytest.approx(0.8), "support": 3}


@pytest.mark.parametrize("truth, guess, expected", [
    ([True, True, False, False], [True, False, True, False], (0.5, 0.5, 0.5)),
    ([True, True, True, False], [True, True, True, False], (1.0, 1.0, 1.0)),
    ([True, False], [False, False], (0.0, 0.0, 0.0)),
])
def test_binary_scores(truth, guess, expected):
    scores = binary_scores(truth, guess)
    assert (scores["precision"], scores["recall"], scores["f1"]) == pytest.approx(expected)


def test_roc_auc_matches_scikit_learn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = random.Random(3)
    positives = [round(rng.gauss(1.0, 1.0), 1) for _ in range(60)]
    negatives = [round(rng.gauss(0.0, 1.0), 1) for _ in range(80)]
    expected = roc_auc_score([1] * 60 + [0] * 80, positives + negatives)
    assert roc_auc(positives, negatives) == pytest.approx(expected)
    assert roc_auc([2.0, 3.0], [0.0, 1.0]) == 1.0 and roc_auc([1.0], [1.0]) == 0.5
    assert roc_auc([], [1.0]) is None


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    items = [1] * 70 + [0] * 30
    mean = lambda sample: sum(sample) / len(sample)
    low, high = bootstrap_interval(items, mean, resamples=500, seed=7)
    assert low <= mean(items) <= high and high - low < 0.3
    assert bootstrap_interval(items, mean, resamples=500, seed=7) == (low, high)


def test_recall_at_k():
    assert recall_at_k([["a", "b"], ["c", "d"], ["e"]], ["b", "c", "x"], 1) == pytest.approx(1 / 3)
    assert recall_at_k([["a", "b"], ["c", "d"], ["e"]], ["b", "c", "x"], 2) == pytest.approx(2 / 3)


@pytest.mark.parametrize("line, message", [
    ('{"id": "a", "source": null, "verdict": "maybe"}', "verdict"),
    ('{"id": "a", "source": "s", "verdict": "unrelated"}', "source null"),
    ('{"id": "a", "source": null, "verdict": "translation"}', "source null"),
    ("not json", "JSON object"),
])
def test_bad_labels_are_usage_errors(tmp_path, line, message):
    path = tmp_path / "labels.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_labels(path)


def _synthetic(count: int = 60, seed: int = 0):
    """Separable features: related pairs score high, machine French agrees with the checker."""
    rng = random.Random(seed)
    labels, predictions = [], {}
    for i in range(count):
        kind = (MT, TR, UN)[i % 3]
        related = kind != UN
        features = {"bleu": rng.uniform(25, 60) if related else rng.uniform(0, 6),
                    "chrf": rng.uniform(55, 80) if related else rng.uniform(25, 45),
                    "ter": rng.uniform(20, 70) if related else rng.uniform(150, 200),
                    "coverage": rng.uniform(0.6, 1) if related else rng.uniform(0, 0.05),
                    "source_coverage": rng.uniform(0.6, 1) if related else 0.0,
                    "link_chrf": rng.uniform(55, 85) if related else 0.0, "coverage_measured": 1.0,
                    "link_count": 10.0 if related else 0.0}
        if related:
            machine = kind == MT
            features.update({"fwd_bleu": rng.uniform(60, 85) if machine else rng.uniform(20, 50),
                             "fwd_aligned_bleu": rng.uniform(60, 85) if machine else rng.uniform(20, 50),
                             "fwd_chrf": rng.uniform(78, 92) if machine else rng.uniform(50, 70),
                             "fwd_ter": rng.uniform(10, 25) if machine else rng.uniform(45, 70),
                             "fwd_link_chrf": rng.uniform(80, 92) if machine else rng.uniform(55, 72),
                             "fwd_link_spread": rng.uniform(3, 8), "fwd_coverage": rng.uniform(0.9, 1.0),
                             "fwd_length_gap": rng.uniform(0, 0.1)})
        source = None if kind == UN else f"s{i}"
        labels.append(LabelRecord(f"a{i}", source, Label(kind), fold=(i // 3) % 3))
        predictions[f"a{i}"] = Prediction(f"a{i}", Label.TRANSLATION, f"s{i}", (f"s{i}", "other"), features, False)
    return labels, predictions


def test_calibrate_writes_a_thresholds_file_that_reproduces_the_labels(tmp_path):
    labels, predictions = _synthetic()
    base = Thresholds.load()
    pairs = [(record, predictions[record.id]) for record in labels]
    models = fit_models(pairs)
    assert models["related"] is not None and models["machine"] is not None
    out_of_fold, fold_models = cross_validate(labels, predictions, base, folds=3)
    assert set(fold_models) == {0, 1, 2}
    assert all(out_of_fold[r.id].label is r.verdict for r in labels)  # separable: no out-of-fold error either
    document = thresholds_document(base, models, digest="0" * 16, labels_path="labels.jsonl", command="test",
                                   folds=3, fold_models=fold_models, cv_summary={}, measured=None)
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    loaded = Thresholds.load(path)
    assert loaded.related_model == models["related"] and loaded.version.startswith("2-logistic")
    assert Thresholds.from_dict(loaded.to_dict()) == loaded
    for record, prediction in pairs:
        assert classify(prediction.features, False, loaded).label is record.verdict


def test_calibrated_models_drive_decide_with_a_forward_check():
    labels, predictions = _synthetic()
    thresholds = with_models(Thresholds.load(), fit_models([(r, predictions[r.id]) for r in labels]), "t", "test")
    sentences = ["Le président a annoncé une réforme des retraites.", "Les syndicats ont critiqué le projet."]
    best = PairScore("art", "src", bleu=45.0, chrf=70.0, ter=40.0, sentence_chrf=(75.0, 72.0), signatures={})
    from provenance.align import Coverage

    machine = decide("art", best, Coverage(1.0, 1.0), (), thresholds, compare_french("src", "checker", sentences, sentences))
    assert machine.label is Label.MT_REPUBLICATION and machine.features["fwd_link_chrf"] == 100.0
    assert any("P(machine translation)" in reason for reason in machine.reasons)
    skipped = decide("art", best, Coverage(1.0, 1.0), (), thresholds, "forward check skipped: no model")
    assert "forward check skipped: no model" in skipped.reasons and skipped.label is not Label.UNRELATED
    unrelated = PairScore("art", "src", bleu=1.0, chrf=30.0, ter=190.0, sentence_chrf=(0.0, 0.0), signatures={})
    assert decide("art", unrelated, Coverage(0.0, 0.0), (), thresholds).label is Label.UNRELATED


def test_evaluate_reports_every_figure():
    labels, predictions = _synthetic(30)
    truth = {r.id: r for r in labels}
    decided = {key: Prediction(p.id, truth[key].verdict, p.candidate, p.retrieved, p.features, False)
               for key, p in predictions.items()}
    figures = evaluate(labels, decided, resamples=50)
    assert figures["accuracy"] == 1.0
    assert figures["machine_vs_human"]["f1"] == 1.0 and figures["machine_vs_human"]["f1_ci"] == [1.0, 1.0]
    assert figures["retrieval"]["recall@1"]["value"] == 1.0
    assert figures["auc"]["machine vs human (forward check)"]["fwd_link_chrf"] == 1.0


STORIES = [
    ("Le port de Merridew est paralysé par une grève des dockers. Les grutiers refusent les nouvelles machines "
     "automatiques. La chambre de commerce craint des pertes importantes pour les exportateurs.",
     "The port of Merridew is paralysed by a dockworkers' strike. Crane operators refuse the new automatic "
     "machines. The chamber of commerce fears heavy losses for exporters."),
    ("La ville de Kestria a signé un accord sur les céréales avec Dalmora. Le contrat porte sur dix ans. Les "
     "agriculteurs saluent une bonne nouvelle pour la région.",
     "The city of Kestria signed a grain agreement with Dalmora. The contract runs for ten years. Farmers "
     "welcome good news for the region."),
    ("Le musée municipal rouvre ses portes après deux ans de travaux. Une exposition consacrée aux peintres "
     "locaux attend les visiteurs. L'entrée sera gratuite le premier dimanche du mois.",
     "The municipal museum reopens after two years of renovation. An exhibition devoted to local painters "
     "awaits visitors. Entry will be free on the first Sunday of the month."),
]


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def test_evaluate_command_on_a_tiny_set(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    _write_jsonl(folder / "articles.jsonl", [{"id": f"a{i}", "text": fr} for i, (fr, _) in enumerate(STORIES)])
    _write_jsonl(folder / "translations.jsonl", [{"id": f"a{i}", "text": en} for i, (_, en) in enumerate(STORIES)])
    _write_jsonl(folder / "sources.jsonl", [{"id": f"s{i}", "text": en} for i, (_, en) in enumerate(STORIES[:2])])
    _write_jsonl(folder / "forward.jsonl", [{"id": f"s{i}", "text": fr} for i, (fr, _) in enumerate(STORIES[:2])])
    _write_jsonl(folder / "labels.jsonl", [
        {"id": "a0", "source": "s0", "verdict": MT}, {"id": "a1", "source": "s1", "verdict": MT},
        {"id": "a2", "source": None, "verdict": UN}])
    out = tmp_path / "out"
    assert main(["evaluate", str(folder / "labels.jsonl"), "--out", str(out), "--resamples", "20", "-q"]) == 0
    figures = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    assert figures["articles"] == 3 and figures["retrieval"]["recall@1"]["value"] == 1.0
    assert figures["verdicts"][UN]["recall"] == 1.0
    assert "| retrieval recall@10" in (out / "evaluation.md").read_text(encoding="utf-8")


def test_evaluate_command_names_a_missing_file(tmp_path, capsys):
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"id": "a", "source": null, "verdict": "unrelated"}\n', encoding="utf-8")
    assert main(["evaluate", str(labels), "--out", str(tmp_path / "out"), "-q"]) == 2
    assert "articles" in capsys.readouterr().err
