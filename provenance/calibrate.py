"""Fit the verdict models on a labelled set, with k-fold cross-validation, and write a thresholds file.

Two logistic models (scikit-learn, standardised features, L2, C=1):
- related: is the judged candidate the article's true source? Over verdict.RELATED_FEATURES of the
  back-translation. Fitted on articles whose English is a real back-translation only (labels
  "back_translation" != "proxy"); an article whose judged candidate is not its source is a negative.
- machine: machine or human French? Over verdict.MACHINE_FEATURES of the forward check, on articles whose
  judged candidate is their true source and that have a forward check.
A feature whose weight comes out against its expected sign is dropped and the model refitted, so a score
drifting upwards (e.g. a commercial engine agreeing less with the checker) can only move a verdict the
way the evidence says. The boundaries of the thresholds file (the fallbacks) are kept from the base file.

Cross-validation: folds from the labels' "fold" (whole documents per fold), else a hash of the id. For each
fold, models fitted on the other folds decide its articles; the out-of-fold figures are printed and the
fold models are stored under "cv" so that `provenance evaluate` on the same labels reports out-of-fold
figures too. The final models are fitted on all articles.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from .errors import UsageError
from .evaluate import LabelRecord, Prediction, redecide
from .verdict import MACHINE_FEATURES, RELATED_FEATURES, Label, LogisticModel, Thresholds

log = logging.getLogger(__name__)

MODEL_VERSION = "2-logistic"  # bump when the features or the fitting change
DEFAULT_FOLDS = 5
REGULARISATION_C = 1.0  # sklearn's default inverse L2 strength; the features are few and standardised
MIN_CLASS_ROWS = 2  # fewer rows of a class than this: no model (the boundaries decide)


def fold_of(record: LabelRecord, folds: int) -> int:
    return record.fold % folds if record.fold is not None else zlib.crc32(record.id.encode()) % folds


def related_rows(pairs: Sequence[tuple[LabelRecord, Prediction]]) -> tuple[list[dict], list[int]]:
    rows = [(r, p) for r, p in pairs if p.features and r.back_translation != "proxy"]
    return [p.features for _, p in rows], [int(r.source is not None and p.candidate == r.source) for r, p in rows]


def machine_rows(pairs: Sequence[tuple[LabelRecord, Prediction]]) -> tuple[list[dict], list[int]]:
    rows = [(r, p) for r, p in pairs
            if r.source is not None and p.candidate == r.source and "fwd_bleu" in p.features]
    return [p.features for _, p in rows], [int(r.verdict is Label.MT_REPUBLICATION) for r, _ in rows]


def fit_logistic(rows: Sequence[Mapping[str, float]], targets: Sequence[int], signs: Mapping[str, int]) -> LogisticModel | None:
    """Monotone logistic model over `signs`' features; None when a class has too few rows."""
    if min(sum(targets), len(targets) - sum(targets)) < MIN_CLASS_ROWS:
        return None
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    features = [name for name in signs if all(name in row for row in rows)]
    while features:
        matrix = np.array([[row[name] for name in features] for row in rows], dtype=float)
        mean = matrix.mean(axis=0)
        scale = matrix.std(axis=0)
        scale[scale == 0] = 1.0
        fitted = LogisticRegression(C=REGULARISATION_C, max_iter=5000).fit((matrix - mean) / scale, targets)
        coef = fitted.coef_[0]
        wrong = [name for name, weight in zip(features, coef) if weight * signs[name] < 0]
        if not wrong:
            return LogisticModel(tuple(features), tuple(_round(v) for v in mean), tuple(_round(v) for v in scale),
                                 tuple(_round(v) for v in coef), _round(float(fitted.intercept_[0])))
        log.info("dropping %s: fitted weight against its expected sign", ", ".join(wrong))
        features = [name for name in features if name not in wrong]
    return None


def _round(value: float) -> float:
    return round(float(value), 6)


def fit_models(pairs: Sequence[tuple[LabelRecord, Prediction]]) -> dict[str, LogisticModel | None]:
    return {"related": fit_logistic(*related_rows(pairs), RELATED_FEATURES),
            "machine": fit_logistic(*machine_rows(pairs), MACHINE_FEATURES)}


def with_models(base: Thresholds, models: Mapping[str, LogisticModel | None], version: str, source: str) -> Thresholds:
    if models.get("related") is None:
        raise UsageError("cannot fit the relatedness model: the labels need related and unrelated articles "
                         "with real back-translations")
    return replace(base, version=version, source=source, related_model=models["related"],
                   machine_model=models.get("machine"))


def cross_validate(labels: Sequence[LabelRecord], predictions: Mapping[str, Prediction], base: Thresholds,
                   folds: int = DEFAULT_FOLDS) -> tuple[dict[str, Prediction], dict[int, dict]]:
    """Out-of-fold predictions for every labelled article, and the fold models (fold -> models as dicts)."""
    pairs = [(record, predictions[record.id]) for record in labels]
    out_of_fold: dict[str, Prediction] = {}
    fold_models: dict[int, dict] = {}
    for fold in sorted({fold_of(record, folds) for record in labels}):
        training = [(r, p) for r, p in pairs if fold_of(r, folds) != fold]
        models = fit_models(training)
        thresholds = with_models(base, models, f"cv-fold-{fold}", "fitted without this fold")
        fold_models[fold] = {name: model.to_dict() for name, model in models.items() if model is not None}
        for record, prediction in pairs:
            if fold_of(record, folds) == fold:
                out_of_fold[record.id] = redecide(prediction, thresholds)
    return out_of_fold, fold_models


def thresholds_document(base: Thresholds, models: Mapping[str, LogisticModel | None], *, digest: str,
                        labels_path: str, command: str, folds: int, fold_models: Mapping[int, dict],
                        cv_summary: Mapping[str, Any], measured: Mapping[str, Any] | None) -> dict[str, Any]:
    """The thresholds file written by calibrate: base boundaries, fitted models, fold models and provenance."""
    version = f"{MODEL_VERSION}-{digest[:8]}"
    fitted = ", ".join(f"{name} over {', '.join(model.features)}" for name, model in models.items() if model)
    source = (f"Models fitted by `{command}` on {labels_path} (sha256 {digest}) on "
              f"{datetime.now(timezone.utc).date().isoformat()}: logistic regression ({fitted}), standardised "
              f"features, C={REGULARISATION_C}, features against their expected sign dropped. {folds}-fold "
              f"cross-validated figures (never in-sample) under cv.figures; fold models under cv.folds. "
              f"The relatedness model is fitted on real back-translations only; the machine model on the forward "
              f"check (article French vs the checker's French of the source). Boundaries kept from the base "
              f"file (fallbacks without a forward check): {base.source}")
    document = with_models(base, models, version, source).to_dict()
    document["cv"] = {"labels": labels_path, "labels_digest": digest, "folds": folds,
                      "models": {str(k): v for k, v in fold_models.items()}, "figures": dict(cv_summary)}
    if measured:
        document["measured"] = measured
    return document


def cv_fold_thresholds(data: Mapping[str, Any], base: Thresholds, digest: str) -> dict[int, Thresholds] | None:
    """Fold models of a thresholds file when they were fitted on labels with this digest."""
    cv = data.get("cv") or {}
    if cv.get("labels_digest") != digest:
        return None
    folds = {}
    for fold, models in (cv.get("models") or {}).items():
        parsed = Thresholds.from_dict({**base.to_dict(), "models": models}, f"cv fold {fold}")
        folds[int(fold)] = parsed
    return folds or None
