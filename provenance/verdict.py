"""Turn the scores of an article's best candidate source into a labelled, explained `Verdict`.

Two questions, each answered on one number:

1. Is the candidate related at all? Yes when doc BLEU (whole back-translation vs whole source) reaches
   `related.bleu`, or when the aligned part is substantial: at least `partial.min_article_coverage` of the
   article and `partial.min_sentences` sentences in well-aligned links (chrF >= align.GOOD_LINK_CHRF).
   The second route catches partial republications, whose doc BLEU the unaligned part drags down
   (brevity penalty, lost precision). Otherwise: UNRELATED.
2. Human or machine translation? Judged on the shared text: the mean chrF of the well-aligned sentences
   against `machine.link_chrf`, which does not depend on how much of either text is shared; doc BLEU
   against `machine.bleu` only when coverage was not measured or too few sentences align. At or above the
   boundary: MT_REPUBLICATION, below: TRANSLATION. When less than `partial.coverage` of the article or of
   the source aligns well, the reasons say it is a partial republication.

The "declared_machine_translation" signal (the site says it translates automatically) is read as prior
odds `declared_machine_translation.prior_odds` in favour of machine translation: on the logistic
confidence curve that lowers the machine boundary by scale * ln(odds). It is always listed in reasons.

Confidence is logistic in the margin to the nearest boundary (relatedness or machine), in units of that
boundary's scale (`confidence.*_scale`): 1 / (1 + exp(-margin / scale)): 0.5 on a boundary, rising towards
1 away from it. The scales are set so
that the median of the nearer measured class gets 0.95; it is a monotone score, not a calibrated
probability. All numbers live in provenance/thresholds.json (see its "source" for how they were measured).

Calibrated models. When the thresholds file holds "models" (written by `provenance calibrate`), both
questions are answered by small logistic models over named features instead (`decision_features`):
`models.related` over the back-translation scores (doc BLEU, chrF, TER, coverage of article and source,
mean chrF of the well-aligned sentences) and `models.machine` over the forward check (`forward.py`: FR-FR
doc BLEU, chrF, TER, mean and spread of the aligned-sentence chrF, coverage, length gap). Without a forward
check the machine question falls back to the back-translation boundaries above. The disclaimer adds
ln(prior_odds) to the machine logit. Confidence is then the probability of the less certain of the
decisions taken: P(unrelated), or min(P(related), P(machine or human)).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

from .align import GOOD_LINK_CHRF, Coverage
from .errors import UsageError
from .forward import ForwardCheck
from .score import PairScore

DECLARED_MT_SIGNAL = "declared_machine_translation"


class Label(str, Enum):
    MT_REPUBLICATION = "mt_republication"
    TRANSLATION = "translation"
    UNRELATED = "unrelated"


@dataclass(frozen=True, slots=True)
class Verdict:
    article_id: str
    label: Label
    source_id: str | None
    confidence: float  # 0..1, see the module docstring
    coverage: float  # share of the back-translated article in well-aligned sentences (0.0 when not measured)
    reasons: tuple[str, ...]
    features: dict[str, float] = field(default_factory=dict)  # the numbers decided on (`decision_features`)
    candidate_id: str | None = None  # the best candidate judged, also when the verdict is unrelated


# Features of the two decisions and the sign each must have in a calibrated model: a larger value may only
# make the pair more related (more machine-like), or less where the sign is -1. `calibrate` drops a feature
# whose fitted weight comes out with the other sign, so the models stay monotone when scores drift.
RELATED_FEATURES = {"bleu": 1, "chrf": 1, "ter": -1, "coverage": 1, "source_coverage": 1, "link_chrf": 1}
MACHINE_FEATURES = {"fwd_bleu": 1, "fwd_chrf": 1, "fwd_ter": -1, "fwd_aligned_bleu": 1, "fwd_link_chrf": 1,
                    "fwd_link_spread": -1, "fwd_coverage": 1, "fwd_length_gap": -1}
TER_CAP = 200.0  # TER of unrelated pairs runs into the hundreds; beyond this it says nothing more


@dataclass(frozen=True, slots=True)
class LogisticModel:
    """P(positive) = 1 / (1 + exp(-(intercept + sum_i coef_i * (x_i - mean_i) / scale_i)))."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def logit(self, values: Mapping[str, float]) -> float:
        return self.intercept + sum(c * (float(values.get(name, 0.0)) - m) / s
                                    for name, m, s, c in zip(self.features, self.mean, self.scale, self.coef))

    def probability(self, values: Mapping[str, float], shift: float = 0.0) -> float:
        return _sigmoid(self.logit(values) + shift)

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: Any, origin: str, name: str) -> "LogisticModel":
        where = f"thresholds file {origin}: models.{name}"
        if not isinstance(data, dict):
            raise UsageError(f"{where} must be an object")
        try:
            model = cls(features=tuple(str(f) for f in data["features"]),
                        mean=tuple(float(v) for v in data["mean"]), scale=tuple(float(v) for v in data["scale"]),
                        coef=tuple(float(v) for v in data["coef"]), intercept=float(data["intercept"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{where} needs features, mean, scale, coef and intercept ({exc})") from exc
        sizes = {len(model.features), len(model.mean), len(model.scale), len(model.coef)}
        numbers = (*model.mean, *model.scale, *model.coef, model.intercept)
        if len(sizes) != 1 or not all(math.isfinite(v) for v in numbers) or min(model.scale, default=1) <= 0:
            raise UsageError(f"{where}: lists of one length, finite numbers and positive scales needed")
        return model


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(value, 500.0), -500.0)))


def decision_features(best: PairScore, coverage: Coverage | None, forward: ForwardCheck | None) -> dict[str, float]:
    """The named numbers both decisions read: back-translation scores, and the forward check's when run."""
    good = [chrf for chrf in best.sentence_chrf if chrf >= GOOD_LINK_CHRF]
    features = {
        "bleu": best.bleu, "chrf": best.chrf, "ter": min(best.ter, TER_CAP),
        "coverage": coverage.article if coverage else 0.0,
        "source_coverage": coverage.source if coverage else 0.0,
        "coverage_measured": 1.0 if coverage else 0.0,
        "link_chrf": sum(good) / len(good) if good else 0.0,
        "link_count": float(len(good)),
    }
    if forward is not None:
        features.update({
            "fwd_bleu": forward.bleu, "fwd_chrf": forward.chrf, "fwd_ter": min(forward.ter, TER_CAP),
            "fwd_aligned_bleu": forward.aligned_bleu,
            "fwd_link_chrf": forward.link_chrf, "fwd_link_spread": forward.link_spread,
            "fwd_coverage": forward.coverage,
            "fwd_length_gap": abs(math.log(forward.length_ratio)) if forward.length_ratio > 0 else 5.0,
        })
    return {name: round(float(value), 4) for name, value in features.items()}


# Field name -> (section, key) in thresholds.json.
_THRESHOLD_KEYS = {
    "related_bleu": ("related", "bleu"),
    "machine_bleu": ("machine", "bleu"),
    "machine_link_chrf": ("machine", "link_chrf"),
    "partial_coverage": ("partial", "coverage"),
    "partial_min_article_coverage": ("partial", "min_article_coverage"),
    "partial_min_sentences": ("partial", "min_sentences"),
    "bleu_scale": ("confidence", "bleu_scale"),
    "chrf_scale": ("confidence", "chrf_scale"),
    "coverage_scale": ("confidence", "coverage_scale"),
    "declared_mt_prior_odds": ("declared_machine_translation", "prior_odds"),
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Decision boundaries; read them with `Thresholds.load()`, never hard-code them."""

    version: str
    source: str  # how the numbers were obtained
    related_bleu: float
    machine_bleu: float
    machine_link_chrf: float  # mean chrF of well-aligned sentences, for partial republications
    partial_coverage: float  # below this share (article or source side) the aligned-part view is used
    partial_min_article_coverage: float  # the aligned part must cover at least this share of the article
    partial_min_sentences: int  # ... and at least this many well-aligned sentences
    bleu_scale: float
    chrf_scale: float
    coverage_scale: float
    declared_mt_prior_odds: float
    related_model: LogisticModel | None = None  # fitted by `provenance calibrate`; None: the boundaries decide
    machine_model: LogisticModel | None = None  # over the forward check's features

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Thresholds":
        """Read `path`, or the thresholds.json shipped in the package; UsageError if it is unusable."""
        if path is None:
            text = resources.files("provenance").joinpath("thresholds.json").read_text(encoding="utf-8")
            origin = "provenance/thresholds.json"
        else:
            origin = str(path)
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot read thresholds file {origin}: {exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"thresholds file {origin} is not valid JSON: {exc}") from exc
        return cls.from_dict(data, origin)

    @classmethod
    def from_dict(cls, data: Any, origin: str = "thresholds") -> "Thresholds":
        if not isinstance(data, dict):
            raise UsageError(f"thresholds file {origin}: expected a JSON object at the top level")
        values: dict[str, Any] = {}
        for name in ("version", "source"):
            if not isinstance(data.get(name), str) or not data[name].strip():
                raise UsageError(f"thresholds file {origin}: '{name}' must be a non-empty string")
            values[name] = data[name]
        for field_name, (section, key) in _THRESHOLD_KEYS.items():
            values[field_name] = _number(data, section, key, origin)
        values["partial_min_sentences"] = int(values["partial_min_sentences"])
        models = data.get("models") or {}
        if not isinstance(models, dict):
            raise UsageError(f"thresholds file {origin}: 'models' must be an object")
        for name in ("related", "machine"):
            if models.get(name) is not None:
                values[f"{name}_model"] = LogisticModel.from_dict(models[name], origin, name)
        thresholds = cls(**values)
        thresholds._validate(origin)
        return thresholds

    def _validate(self, origin: str) -> None:
        problems = []
        if not 0 <= self.related_bleu < self.machine_bleu <= 100:
            problems.append("need 0 <= related.bleu < machine.bleu <= 100")
        if not GOOD_LINK_CHRF <= self.machine_link_chrf <= 100:
            problems.append(f"machine.link_chrf must lie in [{GOOD_LINK_CHRF}, 100] (well-aligned sentences)")
        if not 0 < self.partial_min_article_coverage <= self.partial_coverage <= 1:
            problems.append("need 0 < partial.min_article_coverage <= partial.coverage <= 1")
        if self.partial_min_sentences < 1:
            problems.append("partial.min_sentences must be at least 1")
        if min(self.bleu_scale, self.chrf_scale, self.coverage_scale) <= 0:
            problems.append("confidence scales must be positive")
        if self.declared_mt_prior_odds < 1:
            problems.append("declared_machine_translation.prior_odds must be at least 1")
        if problems:
            raise UsageError(f"thresholds file {origin}: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """The file's nested shape (for the report's run.thresholds)."""
        flat = asdict(self)
        nested: dict[str, Any] = {"version": self.version, "source": self.source}
        for field_name, (section, key) in _THRESHOLD_KEYS.items():
            nested.setdefault(section, {})[key] = flat[field_name]
        models = {name: model.to_dict() for name, model in (("related", self.related_model),
                                                              ("machine", self.machine_model)) if model}
        if models:
            nested["models"] = models
        return nested

    def machine_shift(self, scale: float) -> float:
        """How far a site's machine-translation disclaimer lowers a machine boundary on an axis."""
        return scale * math.log(self.declared_mt_prior_odds)


def _number(data: dict, section: str, key: str, origin: str) -> float:
    value = data.get(section, {}).get(key) if isinstance(data.get(section), dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"thresholds file {origin}: '{section}.{key}' must be a number, got {value!r}")
    return float(value)


def confidence_from_margin(margin: float) -> float:
    """Logistic in a margin already divided by its scale: 0.5 on a boundary, towards 1 beyond it."""
    return 1.0 / (1.0 + math.exp(-margin))


@dataclass(frozen=True, slots=True)
class _Links:
    """The well-aligned part of the pair."""

    count: int  # back-translated sentences in links with chrF >= GOOD_LINK_CHRF
    mean_chrf: float
    article: float | None  # coverage shares (None when not measured)
    source: float | None


@dataclass(frozen=True, slots=True)
class _Axis:
    """One decision number with its machine boundary (already shifted for a disclaimer) and scale."""

    name: str
    value: float
    machine: float
    shift: float  # how much a disclaimer lowered the machine boundary (0 without one)
    scale: float
    unit: str


def decide(article_id: str, best: PairScore | None, coverage: Coverage | None, signals: Sequence[str],
           thresholds: Thresholds, forward: ForwardCheck | str | None = None) -> Verdict:
    """Label the article from its best candidate's scores, coverage, the site's signals and the forward check.

    `forward`: the FR-FR comparison with the checker's French of `best`'s source, a one-line reason why it
    was skipped, or None when no forward check was asked for.
    """
    declared = DECLARED_MT_SIGNAL in signals
    if best is None:
        notes = (_disclaimer_note(None, thresholds),) if declared else ()
        return Verdict(article_id, Label.UNRELATED, None, 1.0, 0.0, ("no candidate source was retrieved", *notes))
    check = forward if isinstance(forward, ForwardCheck) else None
    features = decision_features(best, coverage, check)
    if thresholds.related_model is not None:
        verdict = _decide_by_models(article_id, best, coverage, features, declared, thresholds)
    else:
        verdict = _decide_by_boundaries(article_id, best, coverage, declared, thresholds)
    notes = [_forward_note(check, thresholds)] if check else [forward] if isinstance(forward, str) else []
    reasons = (*verdict.reasons[:-1], *notes, verdict.reasons[-1])  # the confidence line stays last
    return replace(verdict, reasons=reasons, features=features, candidate_id=best.source_id)


@dataclass(frozen=True, slots=True)
class Classification:
    """A label from the feature values alone, with the probabilities behind it."""

    label: Label
    confidence: float
    p_related: float
    p_machine: float | None  # None when the back-translation boundaries took the machine decision
    axis: "_Axis | None"  # the boundary used in that case


def classify(features: Mapping[str, float], declared: bool, thresholds: Thresholds) -> Classification:
    """The calibrated models' decision on `decision_features` output (needs `thresholds.related_model`)."""
    if thresholds.related_model is None:
        raise UsageError("classify needs a thresholds file with calibrated models (provenance calibrate)")
    p_related = thresholds.related_model.probability(features)
    if p_related < 0.5:
        return Classification(Label.UNRELATED, 1.0 - p_related, p_related, None, None)
    if thresholds.machine_model is not None and "fwd_bleu" in features:
        shift = math.log(thresholds.declared_mt_prior_odds) if declared else 0.0
        p_machine = thresholds.machine_model.probability(features, shift)
        label = Label.MT_REPUBLICATION if p_machine >= 0.5 else Label.TRANSLATION
        return Classification(label, min(p_related, max(p_machine, 1.0 - p_machine)), p_related, p_machine, None)
    links = _Links(int(features.get("link_count", 0)), features.get("link_chrf", 0.0),
                   features.get("coverage") if features.get("coverage_measured") else None, None)
    if _has_link_evidence(links, thresholds):
        axis = _link_axis(links, declared, thresholds)
    else:
        axis = _document_axis_value(features.get("bleu", 0.0), declared, thresholds)
    label = Label.MT_REPUBLICATION if axis.value >= axis.machine else Label.TRANSLATION
    machine_confidence = confidence_from_margin(abs(axis.value - axis.machine) / axis.scale)
    return Classification(label, min(p_related, machine_confidence), p_related, None, axis)


def _document_axis_value(bleu: float, declared: bool, thresholds: Thresholds) -> "_Axis":
    shift = thresholds.machine_shift(thresholds.bleu_scale) if declared else 0.0
    return _Axis("doc BLEU", bleu, thresholds.machine_bleu - shift, shift, thresholds.bleu_scale, "BLEU")


def _decide_by_models(article_id: str, best: PairScore, coverage: Coverage | None, features: Mapping[str, float],
                      declared: bool, thresholds: Thresholds) -> Verdict:
    decision = classify(features, declared, thresholds)
    links = _links(best, coverage)
    _, _, described = _relatedness(best, links, _has_link_evidence(links, thresholds), thresholds)
    described[0] = described[0].replace(f" {'>=' if best.bleu >= thresholds.related_bleu else '<'} "
                                        f"{thresholds.related_bleu:g} (related boundary)", "")
    reasons = [f"P(related) {decision.p_related:.3f} from the calibrated model over "
               f"{', '.join(thresholds.related_model.features)}", *described]
    if decision.label is not Label.UNRELATED:
        if decision.p_machine is not None:
            lowered = (f", prior odds {thresholds.declared_mt_prior_odds:g}:1 for the disclaimer included"
                       if declared else "")
            reasons.insert(0, f"P(machine translation) {decision.p_machine:.3f} from the calibrated forward-check "
                              f"model over {', '.join(thresholds.machine_model.features)}{lowered}")
        else:
            reasons.insert(0, _machine_reason(decision.axis) + "; no forward check, so the back-translation decides")
        reasons += _partial_notes(links, thresholds)
    if declared:
        reasons.append(_disclaimer_note(decision.axis if decision.axis and decision.label is not Label.UNRELATED
                                        else None, thresholds))
    reasons.append(f"confidence {decision.confidence:.2f}: probability of the less certain decision")
    source_id = best.source_id if decision.label is not Label.UNRELATED or links.count else None
    return Verdict(article_id, decision.label, source_id, decision.confidence, links.article or 0.0, tuple(reasons))


def _forward_note(check: ForwardCheck, thresholds: Thresholds) -> str:
    used = "" if thresholds.machine_model is not None else " (reported only: no calibrated forward model)"
    return (f"forward check against {check.checker}'s French of {check.source_id}: doc BLEU {check.bleu:.1f}, "
            f"chrF {check.chrf:.1f}, TER {check.ter:.1f}; aligned-sentence chrF mean {check.link_chrf:.1f} "
            f"(spread {check.link_spread:.1f}) over {check.coverage:.0%} of the article{used}")


def _decide_by_boundaries(article_id: str, best: PairScore, coverage: Coverage | None, declared: bool,
                          thresholds: Thresholds) -> Verdict:
    links = _links(best, coverage)
    link_view = _has_link_evidence(links, thresholds)
    axis = _link_axis(links, declared, thresholds) if link_view else _document_axis(best, declared, thresholds)
    related, related_margin, reasons = _relatedness(best, links, link_view, thresholds)
    if not related:
        label, margin = Label.UNRELATED, related_margin
    else:
        label = Label.MT_REPUBLICATION if axis.value >= axis.machine else Label.TRANSLATION
        margin = min(abs(axis.value - axis.machine) / axis.scale, related_margin)
        reasons.insert(0, _machine_reason(axis))
        reasons += _partial_notes(links, thresholds)
    if declared:
        reasons.append(_disclaimer_note(axis if label is not Label.UNRELATED else None, thresholds))
    confidence = confidence_from_margin(margin)
    reasons.append(f"confidence {confidence:.2f}: {margin:.2f} scale units from the nearest boundary")
    source_id = best.source_id if label is not Label.UNRELATED or links.count else None
    return Verdict(article_id, label, source_id, confidence, links.article or 0.0, tuple(reasons))


def _links(best: PairScore, coverage: Coverage | None) -> _Links:
    good = [chrf for chrf in best.sentence_chrf if chrf >= GOOD_LINK_CHRF]
    return _Links(
        count=len(good),
        mean_chrf=sum(good) / len(good) if good else 0.0,
        article=coverage.article if coverage else None,
        source=coverage.source if coverage else None,
    )


def _has_link_evidence(links: _Links, thresholds: Thresholds) -> bool:
    """Enough well-aligned sentences to judge the shared text on its own."""
    return (links.article is not None
            and links.article >= thresholds.partial_min_article_coverage
            and links.count >= thresholds.partial_min_sentences)


def _link_axis(links: _Links, declared: bool, thresholds: Thresholds) -> _Axis:
    shift = thresholds.machine_shift(thresholds.chrf_scale) if declared else 0.0
    return _Axis("mean chrF of the well-aligned sentences", links.mean_chrf,
                 thresholds.machine_link_chrf - shift, shift, thresholds.chrf_scale, "chrF")


def _document_axis(best: PairScore, declared: bool, thresholds: Thresholds) -> _Axis:
    return _document_axis_value(best.bleu, declared, thresholds)


def _relatedness(best: PairScore, links: _Links, link_view: bool,
                 thresholds: Thresholds) -> tuple[bool, float, list[str]]:
    """Whether the pair is related, the margin (scale units) to the nearest relatedness boundary, and why."""
    related = thresholds.related_bleu
    bleu_margin = (best.bleu - related) / thresholds.bleu_scale
    comparison = ">=" if bleu_margin >= 0 else "<"
    reasons = [f"doc BLEU {best.bleu:.1f} {comparison} {related:g} (related boundary); "
               f"doc chrF {best.chrf:.1f}, TER {best.ter:.1f} against {best.source_id}"]
    if links.article is None:
        return bleu_margin >= 0, abs(bleu_margin), reasons + ["coverage not measured"]
    reasons.append(f"{links.count} well-aligned sentences (chrF >= {GOOD_LINK_CHRF:g}) covering "
                   f"{links.article:.0%} of the article and {links.source:.0%} of the source")
    coverage_margin = (links.article - thresholds.partial_min_article_coverage) / thresholds.coverage_scale
    if link_view:
        if bleu_margin < 0:
            reasons.append(f"related through its aligned part: {links.article:.0%} of the article >= "
                           f"{thresholds.partial_min_article_coverage:.0%}; the unaligned part lowers doc BLEU")
        return True, max(bleu_margin, coverage_margin), reasons
    if bleu_margin >= 0:
        return True, bleu_margin, reasons
    if links.count:
        # Some sentences align, just too few to count: the coverage boundary may be the nearer one
        # (0 when the share is reached but not the sentence count).
        reasons.append(f"too few well-aligned sentences to count as a partial republication (needs "
                       f"{thresholds.partial_min_article_coverage:.0%} of the article and "
                       f"{thresholds.partial_min_sentences} sentences)")
        return False, min(-bleu_margin, max(-coverage_margin, 0.0)), reasons
    return False, -bleu_margin, reasons


def _machine_reason(axis: _Axis) -> str:
    comparison = ">=" if axis.value >= axis.machine else "<"
    lowered = f", lowered by {axis.shift:.1f} for the disclaimer" if axis.shift else ""
    return f"{axis.name} {axis.value:.1f} {comparison} {axis.machine:.1f} (machine-translation boundary{lowered})"


def _partial_notes(links: _Links, thresholds: Thresholds) -> list[str]:
    if links.article is None or not links.count:
        return []
    notes = []
    if links.article < thresholds.partial_coverage:
        notes.append(f"partial republication: only {links.article:.0%} of the article aligns well with the "
                     f"source (< {thresholds.partial_coverage:.0%}); the rest does not align with it")
    if links.source < thresholds.partial_coverage:
        notes.append(f"partial republication: the article covers only {links.source:.0%} of the source "
                     f"(< {thresholds.partial_coverage:.0%})")
    return notes


def _disclaimer_note(axis: _Axis | None, thresholds: Thresholds) -> str:
    note = f"the site declares machine translation (signal '{DECLARED_MT_SIGNAL}')"
    if axis is None:
        return note
    return (f"{note}: read as prior odds {thresholds.declared_mt_prior_odds:g}:1, lowering the machine-translation "
            f"boundary on {axis.name} by {axis.shift:.1f} {axis.unit}")
