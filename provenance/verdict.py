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
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from .align import GOOD_LINK_CHRF, Coverage
from .errors import UsageError
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
           thresholds: Thresholds) -> Verdict:
    """Label the article from its best candidate's scores, coverage and the site's signals."""
    declared = DECLARED_MT_SIGNAL in signals
    if best is None:
        notes = (_disclaimer_note(None, thresholds),) if declared else ()
        return Verdict(article_id, Label.UNRELATED, None, 1.0, 0.0, ("no candidate source was retrieved", *notes))
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
    shift = thresholds.machine_shift(thresholds.bleu_scale) if declared else 0.0
    return _Axis("doc BLEU", best.bleu, thresholds.machine_bleu - shift, shift, thresholds.bleu_scale, "BLEU")


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
