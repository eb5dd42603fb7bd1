"""Write and read the run report: report.json (the contract), a flat CSV and one self-contained HTML page.

Every writer works from the report dict alone, so any format can be regenerated from a stored
report.json without recomputing. Scraped text is hostile: the HTML writer escapes every value it
prints, links only http(s) URLs, embeds no data in its one script, and pins that script with a
Content-Security-Policy hash so that anything that slipped through escaping still cannot run.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import json
import logging
import math
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path, PurePath
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from provenance import __version__
from provenance.errors import MalformedRecord, UsageError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = (1,)
TOP_LEVEL_ORDER = ("schema_version", "tool", "run", "summary", "articles", "sources", "source_errors")
VERDICTS = ("mt_republication", "translation", "unrelated", "error")
VERDICT_NAMES = {
    "mt_republication": "MT republication",
    "translation": "translation",
    "unrelated": "unrelated",
    "error": "error",
}
VERDICT_COLOURS = {  # shared by badges, plot points and histogram bars
    "mt_republication": "#b42318",
    "translation": "#1d5fa8",
    "unrelated": "#7a828e",
    "error": "#9a5b00",
}
# Reading aids for the side-by-side view only; the verdict uses provenance/thresholds.json.
CHRF_HIGH = 60.0  # sentence chrF at which a pair reads as the same sentence, lightly reworded
CHRF_MID = 35.0  # shared content but visibly different wording
HISTOGRAM_BIN = 10.0  # chrF points per histogram bar
_SAFE_URL_SCHEMES = ("http", "https")
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheets run these as formulas
_ORIGIN_LINE = re.compile(r":\d+$")  # "feed.jsonl:12" -> "feed.jsonl"


class UnsupportedSchema(MalformedRecord):
    """A report.json written for another version of the contract."""

    code = "unsupported_schema"


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One flat row per article: the CSV line and the summary-table row."""

    id: str
    site: str
    title: str
    status: str  # "ok" or "error"
    verdict: str
    confidence: float | None
    best_source: str
    bleu: float | None
    chrf: float | None
    ter: float | None
    coverage: float | None
    source_coverage: float | None
    signals: str  # ";"-joined
    cluster: str  # copy-cluster id
    error: str  # "code: message", "; "-joined when several


# --------------------------------------------------------------------------- JSON


def write_json(report: Mapping[str, Any], path: str | Path) -> Path:
    """Write the report as UTF-8 JSON, top-level keys in contract order, so equal reports give equal bytes."""
    ordered = {key: report[key] for key in TOP_LEVEL_ORDER if key in report}
    ordered.update((key, report[key]) for key in sorted(report) if key not in ordered)
    text = json.dumps(_finite(ordered), ensure_ascii=False, indent=2, allow_nan=False)
    return _write_text(path, text + "\n")


def read_json(path: str | Path) -> dict:
    """Read a report.json, refusing files that are not a report of a schema version we read."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:
            report = json.load(handle)
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such report file") from exc
    except UnicodeDecodeError as exc:
        raise MalformedRecord(f"{path}: report is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise MalformedRecord(f"{path}: report is not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    _validate(report, path)
    return report


def _validate(report: Any, path: Path) -> None:
    if not isinstance(report, dict):
        raise MalformedRecord(f"{path}: a report is a JSON object, found {type(report).__name__}")
    if "schema_version" not in report:
        raise MalformedRecord(f"{path}: no schema_version; is this a provenance report.json?")
    version = report["schema_version"]
    if isinstance(version, bool) or version not in SUPPORTED_SCHEMA_VERSIONS:
        readable = ", ".join(str(v) for v in SUPPORTED_SCHEMA_VERSIONS)
        raise UnsupportedSchema(
            f"{path}: report schema_version {version!r} is not supported by provenance {__version__} "
            f"(it reads {readable}); use the provenance version that wrote it, or rerun the check"
        )
    if not isinstance(report.get("articles", []), list):
        raise MalformedRecord(f"{path}: 'articles' must be a list")


def _finite(value: Any) -> Any:
    """Copy of value with NaN/inf as null: they are not JSON, and other readers reject them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _write_text(path: str | Path, text: str) -> Path:
    """Write via a temporary file, so a crash never leaves a half-written report behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8", newline="\n")
    os.replace(partial, path)
    return path


# --------------------------------------------------------------------------- rows and CSV


def summary_rows(report: Mapping[str, Any]) -> list[ReportRow]:
    return [_row(article) for article in _articles(report)]


def write_csv(report: Mapping[str, Any], path: str | Path) -> Path:
    """One line per article. Text cells that a spreadsheet would run as a formula get a leading '."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [field.name for field in fields(ReportRow)]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for row in summary_rows(report):
            writer.writerow(_csv_cell(getattr(row, name)) for name in names)
    return path


def site_of(url: Any, origin: Any) -> str:
    """Host of the article URL, else the name of the folder its file came from."""
    host = _host(url)
    if host:
        return host
    file_path = _ORIGIN_LINE.sub("", _text(origin))
    return PurePath(file_path).parent.name if file_path else ""


def _row(article: Mapping[str, Any]) -> ReportRow:
    best = _mapping(article.get("best_source"))
    cluster = _mapping(article.get("cluster"))
    status = _status(article)
    return ReportRow(
        id=_text(article.get("id")),
        site=_site(article),
        title=_text(article.get("title")),
        status=status,
        verdict=_text(article.get("verdict")) or ("error" if status == "error" else ""),
        confidence=_number(article.get("confidence")),
        best_source=_text(best.get("id")),
        bleu=_number(best.get("bleu")),
        chrf=_number(best.get("chrf")),
        ter=_number(best.get("ter")),
        coverage=_number(best.get("coverage")),
        source_coverage=_number(best.get("source_coverage")),
        signals=";".join(_texts(article.get("signals"))),
        cluster=_text(cluster.get("id")),
        error="; ".join(_error_text(error) for error in _mappings(article.get("errors"))),
    )


def _status(article: Mapping[str, Any]) -> str:
    status = _text(article.get("status"))
    if status:
        return status
    return "error" if article.get("errors") else "ok"


def _site(article: Mapping[str, Any]) -> str:
    return _text(article.get("site")) or site_of(article.get("url"), article.get("origin"))


def _error_text(error: Mapping[str, Any]) -> str:
    return f"{_text(error.get('code')) or 'error'}: {_text(error.get('message'))}"


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_CSV_FORMULA_START):
        return "'" + value
    return value


def _host(url: Any) -> str:
    try:
        return urlsplit(_text(url)).hostname or ""
    except ValueError:  # e.g. a malformed IPv6 host in a scraped URL
        return ""


# --------------------------------------------------------------------------- small readers


def _articles(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _mappings(report.get("articles"))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value or () if isinstance(item, Mapping)]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [_text(item) for item in value or ()]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _indexes(value: Any) -> list[int]:
    return [item for item in value or () if isinstance(item, int) and not isinstance(item, bool)]


# --------------------------------------------------------------------------- HTML


def write_html(report: Mapping[str, Any], path: str | Path) -> Path:
    return _write_text(path, render_html(report))


WRITERS = {"json": write_json, "csv": write_csv, "html": write_html}


def write_reports(report: Mapping[str, Any], out_dir: str | Path, formats: Sequence[str] = tuple(WRITERS)) -> list[Path]:
    """report.json / report.csv / report.html in out_dir, for the formats asked."""
    out_dir = Path(out_dir)
    return [WRITERS[fmt](report, out_dir / f"report.{fmt}") for fmt in formats]


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page as one string: inline CSS, inline SVG, one small sorting script."""
    articles = _articles(report)
    anchors = _anchors(articles)
    sources = _mapping(report.get("sources"))
    run = _mapping(report.get("run"))
    title = f"Provenance report {_text(run.get('id'))}".strip()
    body = "\n".join(
        [
            _run_header(report),
            _counts(report, articles),
            _summary_table(articles, anchors),
            _plots(articles, anchors),
            '<h2 id="articles">Articles</h2>',
            *(_article_section(article, anchor, sources) for article, anchor in zip(articles, anchors)),
            _source_errors(report),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<main id="top">\n{body}\n</main>\n<script>{SORTER_JS}</script>\n</body>\n</html>\n'
    )


def _e(value: Any) -> str:
    return html.escape(_text(value), quote=True)


def _link(url: Any, label: Any) -> str:
    """A link only for http(s) URLs; anything else (javascript:, data:, relative) stays text."""
    url = _text(url)
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        scheme = ""
    if scheme in _SAFE_URL_SCHEMES:
        return f'<a href="{_e(url)}" rel="noopener noreferrer nofollow">{_e(label)}</a>'
    return _e(label)


def _anchors(articles: Sequence[Mapping[str, Any]]) -> list[str]:
    """Unique, attribute-safe ids: the position keeps them unique, the slug keeps them readable."""
    anchors = []
    for position, article in enumerate(articles, 1):
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", _text(article.get("id"))).strip("-")[:40]
        anchors.append(f"article-{position}-{slug}" if slug else f"article-{position}")
    return anchors


def _badge(verdict: str) -> str:
    key = verdict if verdict in VERDICT_COLOURS else "unknown"
    return f'<span class="badge v-{_e(key)}">{_e(VERDICT_NAMES.get(verdict, verdict or "none"))}</span>'


def _fixed(value: Any, digits: int = 1) -> str:
    number = _number(value)
    return "—" if number is None else f"{number:.{digits}f}"


def _percent(value: Any) -> str:
    number = _number(value)
    return "—" if number is None else f"{number * 100:.0f}%"


def _sort_key(value: Any) -> str:
    number = _number(value)
    return "" if number is None else repr(number)


def _num_cell(value: Any, shown: str) -> str:
    return f'<td class="num" data-sort="{_e(_sort_key(value))}">{_e(shown)}</td>'


def _run_header(report: Mapping[str, Any]) -> str:
    run = _mapping(report.get("run"))
    tool = _mapping(report.get("tool"))
    thresholds = _mapping(run.get("thresholds"))
    if run.get("translations"):
        engine = ("Translations file", _text(run.get("translations")))
    else:
        engine = ("Model", f"{_text(run.get('model'))} (beams {_text(run.get('beams')) or '?'})")
    facts = [
        ("Run", run.get("id")),
        ("Created", run.get("created")),
        engine,
        ("Candidates per article", run.get("top_k")),
        ("Thresholds version", thresholds.get("version")),
        ("Tool", f"{_text(tool.get('name')) or 'provenance'} {_text(tool.get('version'))}".strip()),
        ("Report schema", report.get("schema_version")),
    ]
    items = "".join(f"<dt>{_e(name)}</dt><dd>{_e(value) or '—'}</dd>" for name, value in facts)
    signatures = _mapping(run.get("signatures"))
    signature_items = "".join(
        f"<dt>{_e(name)}</dt><dd><code>{_e(signatures[name])}</code></dd>" for name in sorted(signatures)
    )
    return (
        "<header>\n<h1>Provenance report</h1>\n"
        '<p class="lede">Is each French article a machine-translated republication of an English original? '
        "Each article was back-translated to English and compared with candidate English sources.</p>\n"
        f'<dl class="facts">{items}</dl>\n'
        f'<h3>sacrebleu signatures</h3>\n<dl class="facts signatures">{signature_items or "<dd>—</dd>"}</dl>\n'
        "</header>"
    )


def _counts(report: Mapping[str, Any], articles: Sequence[Mapping[str, Any]]) -> str:
    verdicts = [_row(article).verdict for article in articles]
    summary = _mapping(report.get("summary"))
    source_count = summary.get("sources", len(_mapping(report.get("sources"))))
    cells = [
        f'<li><span class="count">{verdicts.count(verdict)}</span> {_badge(verdict)}</li>' for verdict in VERDICTS
    ]
    cells.append(f'<li><span class="count">{_e(source_count)}</span> sources</li>')
    cells.append(f'<li><span class="count">{len(_mappings(report.get("source_errors")))}</span> source errors</li>')
    return (
        f'<section class="counts"><h2>{len(articles)} articles</h2>'
        f'<ul class="counts">{"".join(cells)}</ul></section>'
    )


def _summary_table(articles: Sequence[Mapping[str, Any]], anchors: Sequence[str]) -> str:
    headers = ["Article", "Site", "Verdict", "Best source", "BLEU", "chrF", "Coverage", "Signals"]
    head = "".join(f'<th scope="col">{name}</th>' for name in headers)
    rows = "\n".join(_summary_row(_row(article), anchor) for article, anchor in zip(articles, anchors))
    return (
        '<section><h2 id="summary">Summary</h2>\n'
        '<p class="hint">Click a column header to sort; click an article to see its evidence.</p>\n'
        f'<table class="summary sortable"><thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody></table>'
        + ("" if articles else '<p class="empty">No articles in this report.</p>')
        + "</section>"
    )


def _summary_row(row: ReportRow, anchor: str) -> str:
    label = row.title or row.id
    article = (
        f'<td data-sort="{_e(label.casefold())}"><a href="#{_e(anchor)}">{_e(label)}</a>'
        f'<div class="id">{_e(row.id)}</div></td>'
    )
    signals = "".join(f'<span class="tag">{_e(signal)}</span>' for signal in row.signals.split(";") if signal)
    return (
        f'<tr class="status-{_e(row.status)}">{article}<td>{_e(row.site)}</td>'
        f'<td data-sort="{_e(row.verdict)}">{_badge(row.verdict)}</td><td>{_e(row.best_source) or "—"}</td>'
        f"{_num_cell(row.bleu, _fixed(row.bleu))}{_num_cell(row.chrf, _fixed(row.chrf))}"
        f"{_num_cell(row.coverage, _percent(row.coverage))}<td>{signals}</td></tr>"
    )


# --------------------------------------------------------------------------- SVG plots

_PLOT_WIDTH, _PLOT_HEIGHT = 480, 360
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 16, 40, 48  # margins around the plotting area; legend on top


def _plots(articles: Sequence[Mapping[str, Any]], anchors: Sequence[str]) -> str:
    points = [
        (row.chrf, row.bleu, row.verdict, row.title or row.id, anchor)
        for row, anchor in ((_row(article), anchor) for article, anchor in zip(articles, anchors))
        if row.status == "ok" and row.chrf is not None and row.bleu is not None
    ]
    ok_count = sum(1 for article in articles if _status(article) == "ok")
    missing = ok_count - len(points)
    note = f'<p class="hint">{missing} ok article(s) without a scored source are not plotted.</p>' if missing else ""
    return (
        '<section><h2 id="plots">Batch</h2>\n<div class="plots">'
        f"<figure>{_scatter_svg(points)}<figcaption>Document BLEU against chrF of each article's best source"
        " (click a point to open the article).</figcaption></figure>"
        f"<figure>{_histogram_svg(points)}<figcaption>chrF of the best source, stacked by verdict."
        f"</figcaption></figure></div>{note}</section>"
    )


def _x(chrf: float) -> float:
    return _LEFT + min(max(chrf, 0.0), 100.0) / 100.0 * (_PLOT_WIDTH - _LEFT - _RIGHT)


def _y(fraction: float) -> float:
    """fraction 0..1 of the plot height, 0 at the bottom axis."""
    return _PLOT_HEIGHT - _BOTTOM - min(max(fraction, 0.0), 1.0) * (_PLOT_HEIGHT - _TOP - _BOTTOM)


def _svg_open(label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_PLOT_WIDTH} {_PLOT_HEIGHT}" '
        f'width="{_PLOT_WIDTH}" height="{_PLOT_HEIGHT}" role="img" aria-label="{_e(label)}">'
    )


def _axes(y_ticks: Iterable[tuple[float, str]], y_label: str) -> str:
    parts = []
    for tick in range(0, 101, 20):
        x = _x(tick)
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{_y(0):.1f}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{_y(0) + 16:.1f}" text-anchor="middle">{tick}</text>')
    for fraction, label in y_ticks:
        y = _y(fraction)
        parts.append(f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{_x(100):.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(label)}</text>')
    mid_y = (_TOP + _y(0)) / 2
    parts.append(
        f'<text class="axis" x="{(_LEFT + _x(100)) / 2:.1f}" y="{_PLOT_HEIGHT - 8}" text-anchor="middle">chrF</text>'
        f'<text class="axis" transform="translate(14 {mid_y:.1f}) rotate(-90)" text-anchor="middle">'
        f"{_e(y_label)}</text>"
    )
    return "".join(parts)


def _legend(verdicts: Sequence[str]) -> str:
    """One row above the plotting area, where it can hide no point or bar."""
    items, x = [], float(_LEFT)
    for verdict in verdicts:
        name = VERDICT_NAMES[verdict]
        items.append(
            f'<rect x="{x:.1f}" y="10" width="10" height="10" rx="2" fill="{VERDICT_COLOURS[verdict]}"/>'
            f'<text x="{x + 15:.1f}" y="19">{_e(name)}</text>'
        )
        x += 15 + 7 * len(name) + 18  # about 7 px per character at 11 px
    return f'<g class="legend">{"".join(items)}</g>'


def _scatter_svg(points: Sequence[tuple[float, float, str, str, str]]) -> str:
    y_ticks = [(tick / 100, str(tick)) for tick in range(0, 101, 20)]
    circles = []
    for chrf, bleu, verdict, label, anchor in points:
        colour = VERDICT_COLOURS.get(verdict, "#333333")
        circles.append(
            f'<a href="#{_e(anchor)}"><circle class="point" data-verdict="{_e(verdict)}" '
            f'cx="{_x(chrf):.1f}" cy="{_y(bleu / 100):.1f}" r="5" fill="{colour}">'
            f"<title>{_e(label)}: BLEU {bleu:.1f}, chrF {chrf:.1f}</title></circle></a>"
        )
    return (
        _svg_open("BLEU against chrF per article")
        + _axes(y_ticks, "BLEU")
        + _legend([verdict for verdict in VERDICTS if verdict != "error"])
        + "".join(circles)
        + "</svg>"
    )


def _histogram_svg(points: Sequence[tuple[float, float, str, str, str]]) -> str:
    bins = int(100 / HISTOGRAM_BIN)
    counts = {verdict: [0] * bins for verdict in VERDICTS}
    for chrf, _bleu, verdict, _label, _anchor in points:
        position = min(int(max(chrf, 0.0) // HISTOGRAM_BIN), bins - 1)
        counts.setdefault(verdict, [0] * bins)[position] += 1
    totals = [sum(column) for column in zip(*counts.values())]
    top = max(totals + [1])
    step = max(1, math.ceil(top / 5))
    y_ticks = [(value / top, str(value)) for value in range(0, top + 1, step)]
    bars = []
    for position in range(bins):
        stacked = 0
        left, right = _x(position * HISTOGRAM_BIN) + 1, _x((position + 1) * HISTOGRAM_BIN) - 1
        for verdict, column in counts.items():
            if not column[position]:
                continue
            y_low, y_high = _y(stacked / top), _y((stacked + column[position]) / top)
            stacked += column[position]
            low_edge = position * HISTOGRAM_BIN
            bars.append(
                f'<rect class="bar" x="{left:.1f}" y="{y_high:.1f}" width="{right - left:.1f}" '
                f'height="{y_low - y_high:.1f}" fill="{VERDICT_COLOURS.get(verdict, "#333333")}">'
                f"<title>chrF {low_edge:.0f}–{low_edge + HISTOGRAM_BIN:.0f}: {column[position]} "
                f"{_e(VERDICT_NAMES.get(verdict, verdict))}</title></rect>"
            )
    return (
        _svg_open("Histogram of best-source chrF")
        + _axes(y_ticks, "articles")
        + _legend([verdict for verdict in VERDICTS if verdict != "error"])
        + "".join(bars)
        + "</svg>"
    )


# --------------------------------------------------------------------------- article sections


def _article_section(article: Mapping[str, Any], anchor: str, sources: Mapping[str, Any]) -> str:
    row = _row(article)
    best = _mapping(article.get("best_source"))
    source = _mapping(sources.get(_text(best.get("id")))) if best else {}
    parts = [
        f'<section class="article" id="{_e(anchor)}">',
        f'<h3>{_badge(row.verdict)} <span lang="fr">{_e(row.title or row.id)}</span></h3>',
        _article_meta(article, row),
        _errors(article),
        _verdict_block(article, row),
        _best_source_block(best, source) if row.status == "ok" else "",
        _matches_block(article, sources),
        _candidates_table(article, best),
        _signals_block(article),
        _evidence_table(article),
        _side_by_side(article, source, open_=row.verdict in ("mt_republication", "translation")),
        _removed_block(article),
        '<p class="back"><a href="#summary">Back to the summary</a></p>',
        "</section>",
    ]
    return "\n".join(part for part in parts if part)


def _article_meta(article: Mapping[str, Any], row: ReportRow) -> str:
    url = _text(article.get("url"))
    facts = [
        ("Id", _e(row.id)),
        ("Site", _e(row.site) or "—"),
        ("URL", _link(url, url) if url else "—"),
        ("Date", _e(article.get("date")) or "—"),
        ("File", _e(article.get("origin")) or "—"),
        ("Status", _e(row.status)),
    ]
    items = "".join(f"<div><dt>{name}</dt><dd>{value}</dd></div>" for name, value in facts)
    return f'<dl class="meta">{items}</dl>'


def _errors(article: Mapping[str, Any]) -> str:
    errors = _mappings(article.get("errors"))
    if not errors:
        return ""
    items = "".join(
        f'<li><code class="code">{_e(error.get("code")) or "error"}</code> '
        f'<span class="stage">during {_e(error.get("stage")) or "?"}</span>: {_e(error.get("message"))}</li>'
        for error in errors
    )
    return f'<div class="errors"><strong>Could not be checked.</strong><ul>{items}</ul></div>'


def _verdict_block(article: Mapping[str, Any], row: ReportRow) -> str:
    if row.status == "error" and not article.get("reasons"):
        return ""
    reasons = "".join(f"<li>{_e(reason)}</li>" for reason in _texts(article.get("reasons")))
    return (
        f'<p class="verdict">Verdict: {_badge(row.verdict)} '
        f"with confidence <strong>{_percent(row.confidence)}</strong></p>"
        + (f'<ul class="reasons">{reasons}</ul>' if reasons else "")
    )


def _best_source_block(best: Mapping[str, Any], source: Mapping[str, Any]) -> str:
    if not best:
        return '<p class="muted">No English source scored.</p>'
    title = _text(best.get("title")) or _text(source.get("title")) or _text(best.get("id"))
    url = _text(source.get("url"))
    scores = (
        f"BLEU {_fixed(best.get('bleu'))} · chrF {_fixed(best.get('chrf'))} · TER {_fixed(best.get('ter'))} · "
        f"covers {_percent(best.get('coverage'))} of the article and {_percent(best.get('source_coverage'))} "
        "of the source"
    )
    origin = _e(source.get("origin"))
    return (
        f'<p class="best">Best source: <strong>{_link(url, title) if url else _e(title)}</strong> '
        f'<span class="id">{_e(best.get("id"))}</span>'
        + (f' <span class="muted">{_e(source.get("date"))}</span>' if source.get("date") else "")
        + f"<br>{scores}"
        + (f'<br><span class="muted">File: {origin}</span>' if origin else "")
        + "</p>"
    )


def _matches_block(article: Mapping[str, Any], sources: Mapping[str, Any]) -> str:
    """Every source that explains part of the article (partial copies, compilations), with its spans."""
    matches = _mappings(article.get("matches"))
    if len(matches) < 2 and not any(len(_mappings(m.get("spans"))) > 1 for m in matches):
        return ""  # one source in one piece: the best-source line says it all
    items = []
    for match in matches:
        title = _text(_mapping(sources.get(_text(match.get("id")))).get("title")) or _text(match.get("id"))
        spans = ", ".join(
            f"French sentences {_span(span.get('french'))} ↔ source sentences {_span(span.get('source'))}"
            for span in _mappings(match.get("spans"))
        )
        items.append(
            f"<li><strong>{_e(title)}</strong> <span class=\"id\">{_e(match.get('id'))}</span>: "
            f"covers {_percent(match.get('coverage'))} of the article, {_percent(match.get('source_coverage'))} "
            f"of the source; {_e(spans)}</li>"
        )
    return f'<div class="matches"><strong>Sources of parts of the article</strong><ul>{"".join(items)}</ul></div>'


def _span(pair: Any) -> str:
    bounds = _indexes(pair)
    if len(bounds) != 2:
        return "?"
    first, last = bounds[0] + 1, bounds[1] + 1  # people count sentences from 1
    return f"{first}" if first == last else f"{first}–{last}"


def _candidates_table(article: Mapping[str, Any], best: Mapping[str, Any]) -> str:
    candidates = _mappings(article.get("candidates"))
    if not candidates:
        return ""
    best_id = _text(best.get("id"))
    rows = "".join(
        f'<tr class="{"best" if _text(c.get("id")) == best_id else ""}">'
        f"{_num_cell(c.get('rank'), _text(c.get('rank')))}<td>{_e(c.get('id'))}</td>"
        f"{_num_cell(c.get('similarity'), _fixed(c.get('similarity'), 3))}"
        f"{_num_cell(c.get('bleu'), _fixed(c.get('bleu')))}{_num_cell(c.get('chrf'), _fixed(c.get('chrf')))}"
        f"{_num_cell(c.get('ter'), _fixed(c.get('ter')))}</tr>"
        for c in candidates
    )
    return (
        f"<details><summary>{len(candidates)} candidate source(s)</summary>"
        '<table class="candidates sortable"><thead><tr><th>Rank</th><th>Source</th><th>Similarity</th>'
        f"<th>BLEU</th><th>chrF</th><th>TER</th></tr></thead><tbody>{rows}</tbody></table></details>"
    )


def _signals_block(article: Mapping[str, Any]) -> str:
    signals = _texts(article.get("signals"))
    cluster = _mapping(article.get("cluster"))
    parts = []
    if signals:
        tags = "".join(f'<span class="tag">{_e(signal)}</span>' for signal in signals)
        parts.append(f'<p class="signals">Signals: {tags}</p>')
    if cluster:
        members = ", ".join(_e(member) for member in _texts(cluster.get("members")))
        parts.append(
            f'<p class="cluster">Copy cluster <code>{_e(cluster.get("id"))}</code>: '
            f"earliest {_e(cluster.get('earliest')) or '—'}; members {members or '—'}</p>"
        )
    return "".join(parts)


def _chrf_class(chrf: float | None) -> str:
    if chrf is None:
        return ""
    if chrf >= CHRF_HIGH:
        return "chrf-high"
    return "chrf-mid" if chrf >= CHRF_MID else ""


def _evidence_table(article: Mapping[str, Any]) -> str:
    evidence = _mappings(article.get("evidence"))
    if not evidence:
        return ""
    rows = "".join(
        f'<tr class="{_chrf_class(_number(pair.get("chrf")))}"><td lang="fr">{_e(pair.get("french"))}</td>'
        f'<td>{_e(pair.get("back_translation"))}</td><td>{_e(pair.get("source"))}</td>'
        f"{_num_cell(pair.get('chrf'), _fixed(pair.get('chrf')))}</tr>"
        for pair in evidence
    )
    return (
        "<h4>Strongest aligned pairs</h4>"
        '<table class="pairs"><thead><tr><th>French</th><th>Back-translation</th><th>English source</th>'
        f'<th class="num">chrF</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def _side_by_side(article: Mapping[str, Any], source: Mapping[str, Any], open_: bool) -> str:
    sentences = _mapping(article.get("sentences"))
    french = _texts(sentences.get("french"))
    back = _texts(sentences.get("back_translation"))
    english = _texts(source.get("sentences"))
    links = _mappings(article.get("alignment"))
    if not french and not links:
        return ""
    rows = _side_by_side_rows(french, back, english, links)
    aligned = len({index for link in links for index in _indexes(link.get("french"))})
    return (
        f'<details class="side"{" open" if open_ else ""}><summary>Side by side: {len(links)} alignment link(s); '
        f"{aligned} of {len(french)} French sentences aligned</summary>"
        '<table class="pairs side-by-side"><thead><tr><th class="idx">FR</th><th>French</th>'
        '<th>Back-translation</th><th class="idx">EN</th><th>English source</th><th class="num">chrF</th>'
        f'</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f'<p class="hint">Rows: green chrF ≥ {CHRF_HIGH:.0f}, amber ≥ {CHRF_MID:.0f}; '
        "unaligned French sentences are shown without a source.</p></details>"
    )


def _side_by_side_rows(
    french: Sequence[str], back: Sequence[str], english: Sequence[str], links: Sequence[Mapping[str, Any]]
) -> list[str]:
    """One row per link and per unaligned French sentence, in French document order."""
    keyed: list[tuple[float, int, str]] = []
    covered = set()
    for order, link in enumerate(links):
        fr_indexes, en_indexes = _indexes(link.get("french")), _indexes(link.get("source"))
        covered.update(fr_indexes)
        chrf = _number(link.get("chrf"))
        row = (
            f'<tr class="{_chrf_class(chrf)}" data-kind="{_e(link.get("kind"))}">'
            f'<td class="idx">{_span(fr_indexes)}</td><td lang="fr">{_pick(french, fr_indexes)}</td>'
            f'<td>{_pick(back, fr_indexes)}</td><td class="idx">{_span(en_indexes)}</td>'
            f"<td>{_pick(english, en_indexes)}</td>{_num_cell(chrf, _fixed(chrf))}</tr>"
        )
        keyed.append((min(fr_indexes, default=math.inf), order, row))
    for index in range(len(french)):
        if index not in covered:
            row = (
                f'<tr class="unaligned"><td class="idx">{index + 1}</td><td lang="fr">{_e(french[index])}</td>'
                f'<td>{_pick(back, [index])}</td><td class="idx"></td>'
                '<td class="muted">not aligned</td><td class="num">—</td></tr>'
            )
            keyed.append((index, -1, row))
    return [row for _index, _order, row in sorted(keyed, key=lambda item: (item[0], item[1]))]


def _span(indexes: Sequence[int]) -> str:
    """1-based sentence numbers for readers: [3, 4] -> "4–5"."""
    if not indexes:
        return ""
    low, high = min(indexes) + 1, max(indexes) + 1
    return str(low) if low == high else f"{low}–{high}"


def _pick(sentences: Sequence[str], indexes: Sequence[int]) -> str:
    """The sentences at indexes, escaped; an index past the end (a stale report) is marked, not fatal."""
    return " ".join(
        _e(sentences[index]) if 0 <= index < len(sentences) else _missing(index)
        for index in indexes
    )


def _missing(index: int) -> str:
    return f'<span class="muted">[sentence {index + 1} missing]</span>'


def _removed_block(article: Mapping[str, Any]) -> str:
    removed = _texts(article.get("removed"))
    if not removed:
        return ""
    items = "".join(f'<li lang="fr">{_e(line)}</li>' for line in removed)
    return f"<details><summary>Removed boilerplate ({len(removed)} line(s))</summary><ul>{items}</ul></details>"


def _source_errors(report: Mapping[str, Any]) -> str:
    errors = _mappings(report.get("source_errors"))
    if not errors:
        return '<section><h2 id="source-errors">Source errors</h2><p class="muted">None.</p></section>'
    rows = "".join(
        f"<tr><td>{_e(error.get('item_id'))}</td><td>{_e(error.get('stage'))}</td>"
        f'<td><code>{_e(error.get("code"))}</code></td><td>{_e(error.get("message"))}</td>'
        f"<td>{_e(error.get('origin'))}</td></tr>"
        for error in errors
    )
    return (
        f'<section><h2 id="source-errors">Source errors ({len(errors)})</h2>'
        '<table class="source-errors sortable"><thead><tr><th>Source</th><th>Stage</th><th>Code</th>'
        f"<th>Message</th><th>File</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


# --------------------------------------------------------------------------- page assets

# Reads sort keys from the cells (data-sort, else the text): the page embeds no data in script.
SORTER_JS = """
(function () {
  "use strict";
  function key(row, col) {
    var cell = row.cells[col];
    if (!cell) { return ""; }
    var raw = cell.getAttribute("data-sort");
    return raw === null ? cell.textContent.trim() : raw;
  }
  function compare(a, b) {
    var x = Number(a), y = Number(b);
    if (a !== "" && b !== "" && !isNaN(x) && !isNaN(y)) { return x - y; }
    return a.localeCompare(b, undefined, {numeric: true, sensitivity: "base"});
  }
  function sortBy(table, th, col) {
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.querySelectorAll("th[aria-sort]"), function (other) {
      other.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var a = key(r1, col), b = key(r2, col);
      if (a === "" || b === "") { return (a === "") - (b === ""); }  /* blanks last both ways */
      return ascending ? compare(a, b) : compare(b, a);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.title = "Sort";
      th.addEventListener("click", function () { sortBy(table, th, col); });
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, th, col); }
      });
    });
  });
}());
"""

_SORTER_HASH = base64.b64encode(hashlib.sha256(SORTER_JS.encode("utf-8")).digest()).decode("ascii")
# Only our sorter may run; nothing may be fetched, so the page works offline and leaks nothing.
_CSP = (
    f"default-src 'none'; script-src 'sha256-{_SORTER_HASH}'; style-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

_CSS = """
:root { --ink: #1f2328; --muted: #5d6672; --line: #d8dee4; --head: #f3f5f7;
  --high: #d4f0da; --mid: #fbe8c4; --mt: #b42318; --tr: #1d5fa8; --un: #7a828e; --err: #9a5b00; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45; font-size: 15px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1400px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 36px 0 10px; font-size: 20px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { margin: 18px 0 6px; font-size: 15px; }
h4 { margin: 16px 0 6px; font-size: 14px; }
.lede, .hint, .muted, .id, figcaption { color: var(--muted); }
.hint, .id, figcaption { font-size: 13px; }
.muted { font-style: italic; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px;
  overflow-wrap: anywhere; }
a { color: #0b57b0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
dl.meta { display: flex; flex-wrap: wrap; gap: 2px 22px; margin: 4px 0 10px; font-size: 13.5px; }
dl.meta div { display: flex; gap: 6px; min-width: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
ul.counts { display: flex; flex-wrap: wrap; gap: 10px 22px; list-style: none; padding: 0; margin: 0; }
ul.counts li { display: flex; align-items: center; gap: 6px; }
.count { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px;
  font-weight: 600; white-space: nowrap; vertical-align: 1px; background: #444; }
.v-mt_republication { background: var(--mt); } .v-translation { background: var(--tr); }
.v-unrelated { background: var(--un); } .v-error { background: var(--err); }
.tag { display: inline-block; margin: 1px 4px 1px 0; padding: 0 6px; border: 1px solid var(--line);
  border-radius: 4px; font-size: 12px; background: #f8f9fa; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
thead th { position: sticky; top: 0; z-index: 1; background: var(--head); font-size: 13px;
  box-shadow: inset 0 -1px 0 var(--line); }
table.sortable thead th { cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.summary tbody tr:hover { background: #f6f8fa; }
table.summary td:first-child { min-width: 260px; }
tr.status-error td { background: #fff7ec; }
tr.best td { font-weight: 600; }
.plots { display: flex; flex-wrap: wrap; gap: 24px; }
figure { margin: 0; }
svg { max-width: 100%; height: auto; font-family: inherit; }
svg .grid { stroke: #e6e9ed; stroke-width: 1; }
svg .tick { font-size: 11px; fill: var(--muted); }
svg .axis { font-size: 12px; fill: var(--ink); }
svg .legend text { font-size: 11px; fill: var(--ink); }
svg .point { fill-opacity: 0.8; stroke: #fff; stroke-width: 1; }
section.article { margin: 0 0 28px; padding: 8px 16px 4px; border: 1px solid var(--line); border-radius: 8px;
  scroll-margin-top: 12px; }
section.article:target { border-color: #0b57b0; box-shadow: 0 0 0 2px #cfe0f5; }
section.article h3 { font-size: 17px; }
.errors { background: #fff4e5; border-left: 4px solid var(--err); padding: 6px 12px; margin: 8px 0; }
.errors ul { margin: 4px 0; padding-left: 20px; }
.reasons { margin: 4px 0 8px; padding-left: 20px; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: 600; font-size: 14px; }
table.pairs { table-layout: fixed; font-size: 13.5px; }
table.pairs th.num, table.pairs td.num { width: 64px; }
table.pairs .idx { width: 50px; color: var(--muted); font-variant-numeric: tabular-nums; }
tr.chrf-high td { background: var(--high); }
tr.chrf-mid td { background: var(--mid); }
tr.unaligned td { color: var(--muted); }
.back { font-size: 13px; }
@media print { thead th { position: static; } details { display: block; } }
"""
