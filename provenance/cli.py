"""Command line: each command builds Settings, calls one library function and prints a summary."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from . import __version__
from .errors import ProvenanceError
from .settings import (
    ARTICLES_PER_STEP,
    DEFAULT_BATCH_TOKENS,
    DEFAULT_BEAMS,
    DEFAULT_ENGINE,
    DEFAULT_FORWARD_MODEL,
    DEFAULT_MODEL,
    DEFAULT_OUT_DIR,
    DEFAULT_TOP_K,
    STORE_NAME,
    Settings,
)

log = logging.getLogger("provenance")

EXIT_OK, EXIT_ITEM_FAILED, EXIT_USAGE = 0, 1, 2
REPORT_FORMATS = ("json", "csv", "html")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provenance",
        description="Tell whether French news articles are machine-translated republications of English sources.",
    )
    parser.add_argument("--version", action="version", version=f"provenance {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="judge French articles against English sources")
    check.add_argument("articles", nargs="+", type=Path, help="French articles: files or folders (.txt .html .jsonl .csv)")
    check.add_argument("--sources", nargs="+", type=Path, default=[], help="English candidate sources: files or folders")

    english = check.add_argument_group("back-translation")
    english.add_argument("--model", default=DEFAULT_MODEL, help=f"fr->en MarianMT hub id or local folder (default {DEFAULT_MODEL})")
    english.add_argument("--translations", type=Path, help='precomputed English, JSONL lines {"id": ..., "text": ...}; no model is run')
    english.add_argument("--beams", type=int, default=DEFAULT_BEAMS, help=f"beam size, 1 = greedy (default {DEFAULT_BEAMS})")
    english.add_argument("--batch-tokens", type=int, default=DEFAULT_BATCH_TOKENS, help="source tokens per translation batch")
    english.add_argument("--device", choices=("cpu", "cuda"), help="default: CUDA when available")
    english.add_argument("--engine", choices=("torch", "ct2"), default=DEFAULT_ENGINE,
                         help="translation engine: torch, or ct2 (CTranslate2: pip install 'provenance[ct2]')")
    english.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), help="torch weights (default: float32 on CPU, float16 on CUDA)")
    english.add_argument("--quantize", choices=("int8",), help="torch on CPU: dynamic int8, faster, changes some outputs")
    english.add_argument("--compute-type", help="ct2: int8, int16, float32 (CPU); float16, int8_float16 (CUDA)")
    english.add_argument("--shortlist", type=int, help="torch: score only N likely output tokens; faster, changes some outputs")

    judging = check.add_argument_group("sources and verdicts")
    judging.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help=f"candidate sources scored per article (default {DEFAULT_TOP_K})")
    judging.add_argument("--window-days", type=int, metavar="N",
                         help="only sources published on or before the article and at most N days earlier "
                              "(undated items are not filtered)")
    judging.add_argument("--forward-model", nargs="?", const=DEFAULT_FORWARD_MODEL, metavar="ID_OR_DIR",
                         help=f"forward check: translate the matched source to French with this en->fr model and "
                              f"compare it with the article (no value: {DEFAULT_FORWARD_MODEL})")
    judging.add_argument("--forward-translations", type=Path, metavar="FILE",
                         help='forward check from precomputed French of the sources, JSONL {"id": source_id, "text": ...}')
    judging.add_argument("--thresholds", type=Path, help="verdict thresholds file (default: the calibrated one shipped)")

    run = check.add_argument_group("run and output")
    run.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help=f"report folder (default {DEFAULT_OUT_DIR})")
    run.add_argument("--db", type=Path, help=f"SQLite store: cache and resumable runs (default OUT/{STORE_NAME})")
    run.add_argument("--format", default="json,csv,html", help="report formats to write, comma-separated")
    run.add_argument("--strict", action="store_true", help="exit 1 when any article failed")
    run.add_argument("--articles-per-step", type=int, default=ARTICLES_PER_STEP,
                     help=f"articles translated and scored between two commits to the store (default {ARTICLES_PER_STEP})")
    run.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                     help="run on Ray: no value starts a local instance; 'auto' or ray://HOST:PORT joins a cluster")
    run.add_argument("--ray-actors", type=int, help="translation actors on Ray (default: one per GPU)")
    _add_output_options(check)

    report = commands.add_parser("report", help="rewrite a run's report from its store, recomputing nothing")
    report.add_argument("run_dir", type=Path, help="the --out folder of a run (or its SQLite file)")
    report.add_argument("--format", default="json,csv,html", help="formats to write, comma-separated")
    report.add_argument("--run", help="run id (default: the latest finished run in the store)")
    _add_output_options(report)
    _add_evaluation_commands(commands)
    return parser


def _add_evaluation_commands(commands) -> None:
    """`evaluate` and `calibrate`: the pipeline on a labelled set (benchmarks/build_eval_set.py writes one)."""
    evaluate = commands.add_parser("evaluate", help="precision, recall, F1, AUC and CIs of the verdicts on a labelled set")
    calibrate = commands.add_parser("calibrate", help="fit the verdict models with cross-validation, write thresholds")
    for sub in (evaluate, calibrate):
        sub.add_argument("labels", type=Path, help='JSONL {"id", "source": id|null, "verdict"}; the other files default to its folder')
        sub.add_argument("--articles", nargs="+", type=Path, help="French articles (default LABELS_DIR/articles.jsonl)")
        sub.add_argument("--sources", nargs="+", type=Path, help="English sources (default LABELS_DIR/sources.jsonl)")
        sub.add_argument("--translations", type=Path, help="precomputed English (default LABELS_DIR/translations.jsonl)")
        sub.add_argument("--model", help="run this fr->en model instead of a translations file")
        sub.add_argument("--forward-translations", type=Path, help="checker French per source (default LABELS_DIR/forward.jsonl)")
        sub.add_argument("--forward-model", help="en->fr model for the forward check when no forward file is given")
        sub.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, help=f"candidate sources per article (default {DEFAULT_TOP_K})")
        sub.add_argument("--out", type=Path, default=Path("provenance-evaluation"), help="folder for the run and the figures")
        sub.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
        sub.add_argument("--seed", type=int, default=20240607, help="bootstrap seed")
        _add_output_options(sub)
    evaluate.add_argument("--thresholds", type=Path, help="thresholds file (default: the one shipped)")
    calibrate.add_argument("--base", type=Path, help="thresholds file whose boundaries are kept (default: the one shipped)")
    calibrate.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    calibrate.add_argument("--write", type=Path, help="where to write the thresholds (default: the package's thresholds.json)")


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    parser.add_argument("--log-json", action="store_true", help="log to stderr as JSON lines (for log collectors)")


def _formats(text: str) -> tuple[str, ...]:
    formats = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in formats if f not in REPORT_FORMATS]
    if unknown or not formats:
        raise ProvenanceError(f"unknown report format {', '.join(unknown) or text!r}; use {', '.join(REPORT_FORMATS)}")
    return formats


def _validate_check(args) -> None:
    missing = [str(p) for p in [*args.articles, *args.sources] if not p.exists()]
    if missing:
        raise ProvenanceError(f"no such file or folder: {', '.join(missing)}")
    if args.translations is not None and not args.translations.is_file():
        raise ProvenanceError(f"--translations {args.translations}: no such file")
    if min(args.beams, args.top_k, args.batch_tokens, args.articles_per_step) < 1:
        raise ProvenanceError("--beams, --top-k, --batch-tokens and --articles-per-step must be positive")


def settings_from_args(args) -> Settings:
    return Settings(
        articles=tuple(args.articles),
        sources=tuple(args.sources),
        out_dir=args.out,
        db_path=args.db,
        model=args.model,
        translations=args.translations,
        beams=args.beams,
        batch_tokens=args.batch_tokens,
        device=args.device,
        top_k=args.top_k,
        window_days=args.window_days,
        thresholds=args.thresholds,
        articles_per_step=args.articles_per_step,
        engine=args.engine,
        dtype=args.dtype,
        quantize=args.quantize,
        compute_type=args.compute_type,
        shortlist=args.shortlist,
        ray=args.ray,
        ray_actors=args.ray_actors,
        forward_model=args.forward_model,
        forward_translations=args.forward_translations,
    )


def cmd_check(args) -> int:
    from .pipeline import run
    from .report import write_reports

    _validate_check(args)
    formats = _formats(args.format)
    settings = settings_from_args(args)
    report = run(settings, progress=None if args.quiet else _progress_bar())
    paths = write_reports(report, settings.out_dir, formats)
    if not args.quiet:
        print(render_summary(report))
        print("\n".join(f"wrote {p}" for p in paths))
    failed = report["summary"].get("error", 0)
    return EXIT_ITEM_FAILED if args.strict and failed else EXIT_OK


def cmd_report(args) -> int:
    from .report import write_reports
    from .store import Store

    store_path = args.run_dir if args.run_dir.is_file() else args.run_dir / STORE_NAME
    if not store_path.is_file():
        raise ProvenanceError(f"no store at {store_path}: pass the --out folder of a run or its {STORE_NAME}")
    with Store(store_path) as store:
        report = store.run_report(args.run)
    if report is None:
        raise ProvenanceError(f"no finished run {args.run or ''} in {store_path}".replace("  ", " "))
    out_dir = args.run_dir if args.run_dir.is_dir() else args.run_dir.parent
    for path in write_reports(report, out_dir, _formats(args.format)):
        if not args.quiet:
            print(f"wrote {path}")
    return EXIT_OK


def _progress_bar():
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="article", desc="articles", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


def render_summary(report: dict) -> str:
    """A plain-text table: one line per article, then the counts."""
    header = ("article", "verdict", "best source", "BLEU", "chrF", "cover", "signals / error")
    rows = []
    for entry in report["articles"]:
        best = entry.get("best_source") or {}
        cluster = entry.get("cluster") or {}
        detail = "; ".join([*(entry.get("signals") or []), *(["copy of " + cluster["earliest"]] if cluster and cluster.get("earliest") != entry["id"] else [])])
        if entry["status"] == "error":
            error = entry["errors"][0]
            detail = f"{error['code']}: {error['message']}"
        rows.append(
            (
                _clip(entry["id"], 28),
                entry["verdict"],
                _clip(best.get("id", "-"), 28),
                _number(best.get("bleu")),
                _number(best.get("chrf")),
                _number(best.get("coverage"), percent=True),
                _clip(detail, 60),
            )
        )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    summary = report["summary"]
    counts = ", ".join(
        f"{summary.get(k, 0)} {k}" for k in ("mt_republication", "translation", "unrelated", "error")
    )
    lines.append("")
    lines.append(f"{summary['articles']} articles: {counts}; {summary['sources']} sources")
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _number(value, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.0f}%" if percent else f"{value:.1f}"


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def _configure_logging(verbose: bool, as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True)


def _labelled_run(args, thresholds: Path | None):
    """Run the pipeline on a labelled set; (inputs, labels, predictions)."""
    from .evaluate import LabelledInputs, load_labels, predictions_from_report
    from .pipeline import run

    inputs = LabelledInputs.resolve(args.labels, args.articles, args.sources, args.translations,
                                    args.forward_translations, use_model=bool(args.model))
    labels = load_labels(inputs.labels)
    settings = Settings(articles=inputs.articles, sources=inputs.sources, out_dir=args.out,
                        model=args.model or DEFAULT_MODEL, translations=inputs.translations, top_k=args.top_k,
                        thresholds=thresholds, forward_translations=inputs.forward_translations,
                        forward_model=args.forward_model)
    args.out.mkdir(parents=True, exist_ok=True)
    report = run(settings, progress=None if args.quiet else _progress_bar())
    return inputs, labels, predictions_from_report(report)


def _package_thresholds() -> Path:
    return Path(__file__).resolve().parent / "thresholds.json"


def cmd_evaluate(args) -> int:
    import json

    from .calibrate import cv_fold_thresholds, fold_of
    from .evaluate import evaluate, labels_digest, redecide, render_markdown, unmeasured_notes
    from .verdict import Thresholds

    inputs, labels, predictions = _labelled_run(args, args.thresholds)
    path = args.thresholds or _package_thresholds()
    thresholds = Thresholds.load(path)
    folds = cv_fold_thresholds(json.loads(Path(path).read_text(encoding="utf-8")), thresholds,
                               labels_digest(inputs.labels))
    if folds:
        count = len(folds)
        predictions = {r.id: redecide(predictions[r.id], folds[fold_of(r, count)]) for r in labels if r.id in predictions}
        how = (f"out-of-fold: each article decided by the {thresholds.version} models fitted without its fold "
               f"({count}-fold cross-validation, retrieval in the loop)")
    elif thresholds.related_model is not None:
        predictions = {key: redecide(p, thresholds) for key, p in predictions.items()}
        how = f"the pipeline's verdicts with thresholds {thresholds.version}, which were not fitted on these labels"
    else:
        how = f"the pipeline's verdicts with the boundaries of thresholds {thresholds.version}"
    figures = evaluate(labels, predictions, resamples=args.resamples, seed=args.seed, how=how,
                       notes=unmeasured_notes(labels, predictions, inputs))
    figures["thresholds"] = thresholds.version
    text = render_markdown(figures, f"Evaluation on {inputs.labels}")
    (args.out / "evaluation.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    (args.out / "evaluation.md").write_text(text, encoding="utf-8")
    if not args.quiet:
        print(text)
        print(f"wrote {args.out / 'evaluation.json'} and {args.out / 'evaluation.md'}")
    return EXIT_OK


def cmd_calibrate(args) -> int:
    import json

    from .calibrate import cross_validate, fit_models, thresholds_document
    from .evaluate import evaluate, labels_digest, render_markdown, unmeasured_notes
    from .verdict import Thresholds

    if args.folds < 2:
        raise ProvenanceError("--folds must be at least 2")
    base_path = args.base or _package_thresholds()
    base = Thresholds.load(base_path)
    inputs, labels, predictions = _labelled_run(args, base_path)
    out_of_fold, fold_models = cross_validate(labels, predictions, base, args.folds)
    figures = evaluate(labels, out_of_fold, resamples=args.resamples, seed=args.seed,
                       how=f"out-of-fold ({args.folds}-fold cross-validation, retrieval in the loop)",
                       notes=unmeasured_notes(labels, predictions, inputs))
    models = fit_models([(r, predictions[r.id]) for r in labels if r.id in predictions])
    measured = json.loads(Path(base_path).read_text(encoding="utf-8")).get("measured")
    summary = {"is_translation_f1": {k: v["f1"] for k, v in figures["is_translation"].items()},
               "machine_vs_human_f1": figures["machine_vs_human"].get("f1"), "accuracy": figures["accuracy"]}
    document = thresholds_document(base, models, digest=labels_digest(inputs.labels), labels_path=str(args.labels),
                                   command="provenance calibrate " + str(args.labels), folds=args.folds,
                                   fold_models=fold_models, cv_summary=summary, measured=measured)
    target = args.write or _package_thresholds()
    target.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    text = render_markdown(figures, f"Calibration on {inputs.labels} (cross-validated)")
    (args.out / "calibration.md").write_text(text, encoding="utf-8")
    if not args.quiet:
        print(text)
        print(f"wrote {target} (version {document['version']})")
    return EXIT_OK


COMMANDS = {"check": cmd_check, "report": cmd_report, "evaluate": cmd_evaluate, "calibrate": cmd_calibrate}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(verbose=args.verbose, as_json=args.log_json)
    if args.quiet:
        # transformers and huggingface_hub draw their own download/loading bars unless told not to.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        return COMMANDS[args.command](args)
    except ProvenanceError as exc:
        print(f"provenance: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("provenance: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
