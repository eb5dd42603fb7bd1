"""Measured error rates: run the pipeline on a labelled set and score its verdicts.

LABELS is JSONL, one line per article: {"id", "source": true source id or null, "verdict"}, optionally
"fold" (cross-validation group) and "back_translation" ("real", or "proxy" when the English given for the
article is a stand-in, see benchmarks/build_eval_set.py). Figures:

- per verdict: precision, recall, F1 and support, and the confusion matrix (rows: truth, columns: predicted);
- "is a translation of its source" (retrieval in the loop): positive when the truth has a source; a
  prediction is positive only when the verdict is not unrelated AND the judged source is the true one;
- machine vs human translation (document level): over articles whose truth is a translation of a source,
  positive = mt_republication;
- ROC-AUC of each score for those two tasks, recall@k of retrieval;
- bootstrap 95 % intervals (articles resampled with replacement, seeded) for every F1 and recall.

When the thresholds file holds cross-validation models fitted on these very labels (`provenance calibrate`),
each article is re-decided from its features by the model fitted without its fold: the figures are then
out-of-fold, never in-sample. Otherwise the pipeline's own verdicts are scored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .verdict import DECLARED_MT_SIGNAL, MACHINE_FEATURES, RELATED_FEATURES, Label, Thresholds, classify

log = logging.getLogger(__name__)

LABELS = (Label.MT_REPUBLICATION, Label.TRANSLATION, Label.UNRELATED)
RECALL_AT = (1, 5, 10)
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20240607
CONFIDENCE_LEVEL = 0.95


@dataclass(frozen=True, slots=True)
class LabelRecord:
    id: str
    source: str | None
    verdict: Label
    fold: int | None = None
    back_translation: str = "real"  # "proxy": the article's English is a stand-in (figures shown apart)


@dataclass(frozen=True, slots=True)
class Prediction:
    id: str
    label: Label | None  # None: the pipeline failed on the article
    candidate: str | None  # the source the verdict judged
    retrieved: tuple[str, ...]  # candidate sources by retrieval rank
    features: dict[str, float]
    declared: bool
    p_related: float | None = None
    p_machine: float | None = None


def load_labels(path: str | Path) -> list[LabelRecord]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read labels file {path}: {exc}") from exc
    records, seen = [], set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            data = json.loads(line)
            record = LabelRecord(id=str(data["id"]), source=data.get("source"), verdict=Label(data["verdict"]),
                                 fold=int(data["fold"]) if data.get("fold") is not None else None,
                                 back_translation=str(data.get("back_translation", "real")))
        except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            raise UsageError(f"{where}: need a JSON object with id, source (id or null) and verdict "
                             f"({', '.join(label.value for label in LABELS)}): {exc}") from exc
        if (record.source is None) != (record.verdict is Label.UNRELATED):
            raise UsageError(f"{where}: an unrelated article has source null, any other has a source id")
        if record.id in seen:
            raise UsageError(f"{where}: id {record.id!r} appears twice")
        seen.add(record.id)
        records.append(record)
    if not records:
        raise UsageError(f"labels file {path} has no records")
    return records


def labels_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def predictions_from_report(report: Mapping[str, Any]) -> dict[str, Prediction]:
    """The pipeline's verdicts, judged sources, retrieval ranks and features per article id."""
    predictions = {}
    for entry in report["articles"]:
        decision = entry.get("decision") or {}
        label = Label(entry["verdict"]) if entry.get("status") == "ok" else None
        candidates = sorted(entry.get("candidates") or [], key=lambda c: c["rank"])
        judged = decision.get("candidate") or (entry.get("best_source") or {}).get("id")
        predictions[entry["id"]] = Prediction(
            id=entry["id"], label=label, candidate=judged,
            retrieved=tuple(c["id"] for c in candidates), features=dict(decision.get("features") or {}),
            declared=DECLARED_MT_SIGNAL in (entry.get("signals") or []))
    return predictions


def redecide(prediction: Prediction, thresholds: Thresholds) -> Prediction:
    """The same article decided from its stored features by other (e.g. out-of-fold) calibrated models."""
    if prediction.label is None or not prediction.features:
        return prediction
    result = classify(prediction.features, prediction.declared, thresholds)
    return Prediction(prediction.id, result.label, prediction.candidate, prediction.retrieved,
                      prediction.features, prediction.declared, result.p_related, result.p_machine)


# ---- metrics -------------------------------------------------------------------------------------------

def precision_recall_f1(true_positive: int, false_positive: int, false_negative: int) -> tuple[float, float, float]:
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def confusion_matrix(truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> list[list[int]]:
    """Rows: true class; columns: predicted class (an extra last column counts anything else, e.g. errors)."""
    index = {name: i for i, name in enumerate(classes)}
    matrix = [[0] * (len(classes) + 1) for _ in classes]
    for true, guess in zip(truth, predicted):
        if true in index:
            matrix[index[true]][index.get(guess, len(classes))] += 1
    return matrix


def per_class(truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> dict[str, dict[str, float]]:
    table = {}
    for name in classes:
        tp = sum(t == name and p == name for t, p in zip(truth, predicted))
        fp = sum(t != name and p == name for t, p in zip(truth, predicted))
        fn = sum(t == name and p != name for t, p in zip(truth, predicted))
        precision, recall, f1 = precision_recall_f1(tp, fp, fn)
        table[name] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    return table


def binary_scores(truth: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float]:
    tp = sum(t and p for t, p in zip(truth, predicted))
    fp = sum(p and not t for t, p in zip(truth, predicted))
    fn = sum(t and not p for t, p in zip(truth, predicted))
    tn = len(truth) - tp - fp - fn
    precision, recall, f1 = precision_recall_f1(tp, fp, fn)
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def roc_auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """P(a positive scores above a negative), ties counting half (the Mann-Whitney U form); None if a side is empty."""
    if not positives or not negatives:
        return None
    ranked = sorted([(value, 1) for value in positives] + [(value, 0) for value in negatives])
    rank_sum, position = 0.0, 0
    while position < len(ranked):
        end = position
        while end < len(ranked) and ranked[end][0] == ranked[position][0]:
            end += 1
        average_rank = (position + 1 + end) / 2  # 1-based ranks position+1 .. end share their mean
        rank_sum += average_rank * sum(flag for _, flag in ranked[position:end])
        position = end
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def bootstrap_interval(items: Sequence[Any], statistic: Callable[[Sequence[Any]], float],
                       resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                       level: float = CONFIDENCE_LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over `items` resampled with replacement (seeded)."""
    if not items:
        return (0.0, 0.0)
    rng = random.Random(seed)
    values = sorted(statistic([items[rng.randrange(len(items))] for _ in items]) for _ in range(resamples))
    tail = (1 - level) / 2
    return values[int(tail * (resamples - 1))], values[int(round((1 - tail) * (resamples - 1)))]


def recall_at_k(retrieved: Sequence[Sequence[str]], truths: Sequence[str], k: int) -> float:
    return sum(truth in list(found)[:k] for found, truth in zip(retrieved, truths)) / len(truths) if truths else 0.0


# ---- the evaluation ------------------------------------------------------------------------------------

def evaluate(labels: Sequence[LabelRecord], predictions: Mapping[str, Prediction], *,
             resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED, how: str = "",
             notes: Sequence[str] = ()) -> dict[str, Any]:
    """All figures as one JSON-ready dict (see the module docstring)."""
    missing = [record.id for record in labels if record.id not in predictions]
    if missing:
        raise UsageError(f"{len(missing)} labelled articles are not in the run, e.g. {missing[0]!r}")
    pairs = [(record, predictions[record.id]) for record in labels]
    interval = lambda items, stat: list(bootstrap_interval(items, stat, resamples, seed))
    classes = [label.value for label in LABELS]
    truth = [record.verdict.value for record, _ in pairs]
    guess = [p.label.value if p.label else "error" for _, p in pairs]
    verdicts = per_class(truth, guess, classes)
    for name in classes:
        verdicts[name]["f1_ci"] = interval(pairs, lambda s, n=name: per_class(
            [r.verdict.value for r, _ in s], [p.label.value if p.label else "error" for _, p in s], [n])[n]["f1"])
    figures: dict[str, Any] = {
        "articles": len(pairs),
        "decided_by": how,
        "verdicts": verdicts,
        "accuracy": sum(t == g for t, g in zip(truth, guess)) / len(pairs),
        "confusion": {"classes": classes, "columns": [*classes, "error"],
                      "matrix": confusion_matrix(truth, guess, classes)},
        "is_translation": {},
        "machine_vs_human": {},
        "retrieval": {},
        "auc": {},
        "not_measured": list(notes),
        "bootstrap": {"resamples": resamples, "seed": seed, "level": CONFIDENCE_LEVEL},
    }
    subsets = {"real back-translations": [(r, p) for r, p in pairs if r.back_translation != "proxy"],
               "all (proxy back-translations included)": pairs}
    for name, subset in subsets.items():
        if subset and (name.startswith("all") and len(subset) != len(subsets["real back-translations"])
                       or not name.startswith("all")):
            scores = _is_translation(subset)
            scores["f1_ci"] = interval(subset, lambda s: _is_translation(s)["f1"])
            scores["articles"] = len(subset)
            figures["is_translation"][name] = scores
    related = [(r, p) for r, p in pairs if r.verdict is not Label.UNRELATED]
    if related:
        scores = _machine_vs_human(related)
        scores["f1_ci"] = interval(related, lambda s: _machine_vs_human(s)["f1"])
        scores["accuracy_ci"] = interval(related, lambda s: _machine_vs_human(s)["accuracy"])
        scores["articles"] = len(related)
        figures["machine_vs_human"] = scores
    with_source = [(r, p) for r, p in pairs if r.source is not None]
    if with_source:
        retrieval = {}
        for k in RECALL_AT:
            stat = lambda s, k=k: recall_at_k([p.retrieved for _, p in s], [r.source for r, _ in s], k)
            retrieval[f"recall@{k}"] = {"value": stat(with_source), "ci": interval(with_source, stat)}
        retrieval["articles"] = len(with_source)
        figures["retrieval"] = retrieval
    figures["auc"] = _aucs(pairs)
    return figures


def _is_translation(pairs) -> dict[str, float]:
    truth = [r.source is not None for r, _ in pairs]
    guess = [p.label not in (None, Label.UNRELATED) and (r.source is None or p.candidate == r.source)
             for r, p in pairs]
    return binary_scores(truth, guess)


def _machine_vs_human(pairs) -> dict[str, float]:
    truth = [r.verdict is Label.MT_REPUBLICATION for r, _ in pairs]
    guess = [p.label is Label.MT_REPUBLICATION for _, p in pairs]
    scores = binary_scores(truth, guess)
    scores["accuracy"] = sum(t == g for t, g in zip(truth, guess)) / len(pairs)
    return scores


def _aucs(pairs) -> dict[str, dict[str, float | None]]:
    """ROC-AUC of each feature (oriented by its sign) and of the models' probabilities, per task."""
    out: dict[str, dict[str, float | None]] = {}
    judged = [(r, p) for r, p in pairs if p.features and r.back_translation != "proxy"]
    positive = lambda r, p: r.source is not None and p.candidate == r.source
    out["related (real back-translations)"] = _task_aucs(judged, positive, {**RELATED_FEATURES, "p_related": 1})
    machine = [(r, p) for r, p in pairs if r.verdict is not Label.UNRELATED and "fwd_bleu" in p.features]
    out["machine vs human (forward check)"] = _task_aucs(
        machine, lambda r, p: r.verdict is Label.MT_REPUBLICATION, {**MACHINE_FEATURES, "p_machine": 1})
    return out


def _task_aucs(pairs, positive, signs: Mapping[str, int]) -> dict[str, float | None]:
    result = {}
    for name, sign in signs.items():
        values = [(positive(r, p), _value(p, name)) for r, p in pairs]
        values = [(flag, sign * value) for flag, value in values if value is not None]
        auc = roc_auc([v for flag, v in values if flag], [v for flag, v in values if not flag])
        if auc is not None:
            result[name] = auc
    return result


def _value(prediction: Prediction, name: str) -> float | None:
    if name in ("p_related", "p_machine"):
        return getattr(prediction, name)
    return prediction.features.get(name)


# ---- rendering -----------------------------------------------------------------------------------------

def render_markdown(figures: Mapping[str, Any], title: str = "Evaluation") -> str:
    """The figures as Markdown tables (the README's table is this output)."""
    pct = lambda v: f"{100 * v:.1f}"
    ci = lambda pair: f"[{pct(pair[0])}, {pct(pair[1])}]"
    lines = [f"## {title}", "", f"{figures['articles']} articles; {figures['decided_by']}", "",
             "| figure | value (%) | 95 % CI |", "|---|---|---|"]
    for name, scores in figures["is_translation"].items():
        lines.append(f"| is a translation of its source, F1 ({name}, {scores['articles']} articles) | "
                     f"{pct(scores['f1'])} | {ci(scores['f1_ci'])} |")
    for key, value in figures["retrieval"].items():
        if key != "articles":
            lines.append(f"| retrieval {key} ({figures['retrieval']['articles']} articles) | {pct(value['value'])}"
                         f" | {ci(value['ci'])} |")
    mvh = figures["machine_vs_human"]
    if mvh:
        lines.append(f"| machine vs human translation, F1 of mt_republication ({mvh['articles']} articles) | "
                     f"{pct(mvh['f1'])} | {ci(mvh['f1_ci'])} |")
        lines.append(f"| machine vs human translation, accuracy | {pct(mvh['accuracy'])} | {ci(mvh['accuracy_ci'])} |")
    lines.append(f"| three-way verdict accuracy | {pct(figures['accuracy'])} | |")
    lines += ["", "| verdict | precision | recall | F1 | F1 95 % CI | support |", "|---|---|---|---|---|---|"]
    for name, row in figures["verdicts"].items():
        lines.append(f"| {name} | {pct(row['precision'])} | {pct(row['recall'])} | {pct(row['f1'])} | "
                     f"{ci(row['f1_ci'])} | {row['support']} |")
    confusion = figures["confusion"]
    lines += ["", "Confusion matrix (rows: truth, columns: predicted):", "",
              "| truth \\ predicted | " + " | ".join(confusion["columns"]) + " |",
              "|---" * (len(confusion["columns"]) + 1) + "|"]
    for name, row in zip(confusion["classes"], confusion["matrix"]):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    for task, aucs in figures["auc"].items():
        if aucs:
            lines += ["", f"ROC-AUC, {task}: " + ", ".join(f"{k} {v:.3f}" for k, v in aucs.items())]
    if figures["not_measured"]:
        lines += ["", "Not measured here:", ""] + [f"- {note}" for note in figures["not_measured"]]
    return "\n".join(lines) + "\n"


# ---- running on a labelled folder ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LabelledInputs:
    """The files of a labelled set; by default next to the labels file (benchmarks/build_eval_set.py)."""

    labels: Path
    articles: tuple[Path, ...]
    sources: tuple[Path, ...]
    translations: Path | None
    forward_translations: Path | None

    @classmethod
    def resolve(cls, labels: Path, articles=None, sources=None, translations=None, forward_translations=None,
                use_model: bool = False) -> "LabelledInputs":
        folder = Path(labels).parent
        beside = lambda name: folder / name if (folder / name).is_file() else None
        inputs = cls(
            labels=Path(labels),
            articles=tuple(articles or [p for p in [beside("articles.jsonl")] if p]),
            sources=tuple(sources or [p for p in [beside("sources.jsonl")] if p]),
            translations=None if use_model else (translations or beside("translations.jsonl")),
            forward_translations=forward_translations or beside("forward.jsonl"),
        )
        missing = [str(p) for p in [inputs.labels, *inputs.articles, *inputs.sources, inputs.translations,
                                    inputs.forward_translations] if p is not None and not Path(p).exists()]
        if missing:
            raise UsageError(f"no such file: {', '.join(missing)}")
        if not inputs.articles or not inputs.sources:
            raise UsageError(f"no articles or sources: pass --articles and --sources, or put articles.jsonl and "
                             f"sources.jsonl next to {labels}")
        return inputs


def unmeasured_notes(labels: Sequence[LabelRecord], predictions: Mapping[str, Prediction],
                     inputs: LabelledInputs) -> list[str]:
    """Which figures this run could not measure, in words."""
    notes = []
    proxies = sum(record.back_translation == "proxy" for record in labels)
    if proxies:
        notes.append(
            f"back-translation of machine French: no fr->en output of machine French is stored and no fr->en "
            f"model ran, so {proxies} articles carry a proxy back-translation (MT English of the human French of "
            f"the same text). 'Is a translation of its source' is scored on real back-translations (the line "
            f"with proxies is for reference); the round-trip (back-translation) machine-vs-human separation is "
            f"not measured: without a forward check the machine decision falls back to the boundary measured "
            f"on two MT systems' English (benchmarks/measure_thresholds.py, a proxy).")
    if not any("fwd_bleu" in p.features for p in predictions.values()):
        notes.append("forward check: no checker French (--forward-translations or --forward-model), so machine "
                     "vs human rests on the back-translation alone.")
    if inputs.translations is None:
        notes.append("back-translations came from the --model given: figures measure that model; a random-weight "
                     "test model measures nothing.")
    return notes
