"""report.py: JSON/CSV round trips and an HTML page that stays inert whatever the scraped text holds."""

from __future__ import annotations

import copy
import csv
import re
import shutil
import subprocess
from dataclasses import FrozenInstanceError
from html.parser import HTMLParser
from pathlib import Path

import pytest

from provenance.errors import MalformedRecord, UsageError
from provenance.report import (
    SORTER_JS,
    ReportRow,
    UnsupportedSchema,
    read_json,
    render_html,
    site_of,
    summary_rows,
    write_csv,
    write_html,
    write_json,
    write_reports,
)

HOSTILE = ['<script>alert(1)</script>', "<img src=x onerror=alert(1)>", "x</table>y", '"><b>']
HOSTILE_ESCAPED = [
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&lt;img src=x onerror=alert(1)&gt;",
    "x&lt;/table&gt;y",
    "&quot;&gt;&lt;b&gt;",
]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def sample_report() -> dict:
    """A realistic run: one MT republication with evidence, one human translation, one unrelated, one error."""
    source_sentences = [
        "The European Central Bank raised interest rates by a quarter point on Thursday.",
        "It is the tenth consecutive increase since July 2022.",
        "Christine Lagarde said inflation remained too high for too long.",
        "Markets had widely expected the move.",
    ]
    return {
        "schema_version": 1,
        "tool": {"name": "provenance", "version": "0.1.0"},
        "run": {
            "id": "run-2024-05-02",
            "created": "2024-05-02T09:14:03+00:00",
            "model": "Helsinki-NLP/opus-mt-fr-en",
            "translations": None,
            "beams": 1,
            "top_k": 10,
            "thresholds": {"version": "2024-04", "mt_bleu": 45.0},
            "signatures": {
                "bleu": "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
                "chrf": "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
                "ter": "nrefs:1|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0",
            },
        },
        "summary": {
            "articles": 4, "mt_republication": 1, "translation": 1, "unrelated": 1, "error": 1,
            "sources": 3, "source_errors": 1,
        },
        "articles": [
            {
                "id": "actu-bce-0502",
                "origin": "corpus/actu-eco/feed.jsonl:3",
                "title": "La BCE relève ses taux pour la dixième fois",
                "url": "https://www.actu-eco.example/bce-taux",
                "date": "2024-05-02",
                "site": "",
                "status": "ok",
                "verdict": "mt_republication",
                "confidence": 0.93,
                "reasons": ["doc BLEU 62.4 >= 45 (machine-translation boundary)", "coverage 100% >= 80%"],
                "best_source": {
                    "id": "reuters-ecb", "title": "ECB raises rates for tenth time",
                    "bleu": 62.4, "chrf": 78.1, "ter": 28.3, "coverage": 1.0, "source_coverage": 0.75,
                },
                "candidates": [
                    {"id": "reuters-ecb", "rank": 1, "similarity": 0.812, "bleu": 62.4, "chrf": 78.1, "ter": 28.3},
                    {"id": "ap-fed", "rank": 2, "similarity": 0.204, "bleu": 4.1, "chrf": 22.0, "ter": 91.5},
                ],
                "signals": ["declared_machine_translation", "no_byline"],
                "cluster": {"id": "cluster-1", "earliest": "actu-bce-0502", "members": ["actu-bce-0502", "copie-bce"]},
                "sentences": {
                    "french": [
                        "La Banque centrale européenne a relevé ses taux d'un quart de point jeudi.",
                        "C'est la dixième hausse consécutive depuis juillet 2022.",
                        "Christine Lagarde a déclaré que l'inflation restait trop élevée trop longtemps.",
                        "Abonnez-vous à notre lettre.",
                    ],
                    "back_translation": [
                        "The European Central Bank raised its rates by a quarter point on Thursday.",
                        "This is the tenth consecutive increase since July 2022.",
                        "Christine Lagarde said inflation remained too high for too long.",
                        "Subscribe to our newsletter.",
                    ],
                },
                "alignment": [
                    {"french": [0], "source": [0], "chrf": 88.2, "kind": "1-1"},
                    {"french": [1], "source": [1], "chrf": 47.5, "kind": "1-1"},
                    {"french": [2], "source": [2, 3], "chrf": 21.0, "kind": "1-2"},
                ],
                "evidence": [
                    {
                        "french": "La Banque centrale européenne a relevé ses taux d'un quart de point jeudi.",
                        "back_translation": (
                            "The European Central Bank raised its rates by a quarter point on Thursday."
                        ),
                        "source": source_sentences[0],
                        "chrf": 88.2,
                    }
                ],
                "removed": ["Partager sur Facebook", "Publicité"],
                "errors": [],
            },
            {
                "id": "lemonde-climat",
                "origin": "corpus/lemonde/climat.html",
                "title": "Climat : l'accord de Paris à l'épreuve",
                "url": "",
                "date": "2024-04-30",
                "status": "ok",
                "verdict": "translation",
                "confidence": 0.71,
                "reasons": ["doc chrF 48.0 between 35 and 60 (human translation band)"],
                "best_source": {
                    "id": "guardian-climate", "title": "The Paris agreement under strain",
                    "bleu": 21.3, "chrf": 48.0, "ter": 66.0, "coverage": 0.62, "source_coverage": 0.4,
                },
                "candidates": [
                    {"id": "guardian-climate", "rank": 1, "similarity": 0.55, "bleu": 21.3, "chrf": 48.0, "ter": 66.0}
                ],
                "signals": [],
                "cluster": None,
                "sentences": {
                    "french": ["L'accord de Paris est mis à l'épreuve."],
                    "back_translation": ["The Paris agreement is being tested."],
                },
                "alignment": [{"french": [0], "source": [0], "chrf": 40.0, "kind": "1-1"}],
                "evidence": [],
                "removed": [],
                "errors": [],
            },
            {
                "id": "ouest-foot",
                "origin": "corpus/ouest/foot.txt",
                "title": "Le Stade rennais s'impose à domicile",
                "url": "http://www.ouest.example/sport/foot",
                "date": "",
                "status": "ok",
                "verdict": "unrelated",
                "confidence": 0.88,
                "reasons": ["doc chrF 12.0 < 35"],
                "best_source": {
                    "id": "ap-fed", "title": "Fed holds rates", "bleu": 1.2, "chrf": 12.0, "ter": 98.0,
                    "coverage": 0.0, "source_coverage": 0.0,
                },
                "candidates": [{"id": "ap-fed", "rank": 1, "similarity": 0.03, "bleu": 1.2, "chrf": 12.0, "ter": 98.0}],
                "signals": [],
                "cluster": None,
                "sentences": {"french": ["Rennes a gagné 2-0."], "back_translation": ["Rennes won 2-0."]},
                "alignment": [],
                "evidence": [],
                "removed": [],
                "errors": [],
            },
            {
                "id": "vide",
                "origin": "corpus/divers/vide.txt",
                "title": "",
                "url": "",
                "date": "",
                "status": "error",
                "verdict": "error",
                "confidence": None,
                "reasons": [],
                "best_source": None,
                "candidates": [],
                "signals": [],
                "cluster": None,
                "sentences": {"french": [], "back_translation": []},
                "alignment": [],
                "evidence": [],
                "removed": [],
                "errors": [{"stage": "load", "code": "empty", "message": "no text after cleaning"}],
            },
        ],
        "sources": {
            "reuters-ecb": {
                "title": "ECB raises rates for tenth time", "origin": "sources/reuters/ecb.txt",
                "url": "https://www.reuters.example/ecb", "date": "2024-05-01", "sentences": source_sentences,
            },
            "guardian-climate": {
                "title": "The Paris agreement under strain", "origin": "sources/guardian/climate.txt",
                "url": "", "date": "2024-04-29", "sentences": ["The Paris agreement is under strain."],
            },
            "ap-fed": {"title": "Fed holds rates", "origin": "sources/ap/fed.txt", "url": "", "date": "",
                       "sentences": ["The Fed held rates steady."]},
        },
        "source_errors": [
            {"item_id": "broken", "stage": "load", "code": "binary", "message": "looks like a binary file",
             "origin": "sources/ap/broken.txt"}
        ],
    }


def hostile_report() -> dict:
    """The sample with scraped fields full of markup and a javascript: URL."""
    report = sample_report()
    payload = " ".join(HOSTILE)
    article = report["articles"][0]
    article.update(
        id=f"id {payload}", title=f"Titre {payload}", url="javascript:alert(1)", origin=f"dir {payload}/f.txt",
        date=payload, reasons=[payload], signals=[payload], removed=[payload],
        cluster={"id": payload, "earliest": payload, "members": [payload]},
    )
    article["sentences"]["french"][0] = payload
    article["sentences"]["back_translation"][0] = payload
    article["evidence"][0].update(french=payload, back_translation=payload, source=payload)
    article["best_source"]["title"] = payload
    article["candidates"][1]["id"] = payload
    report["sources"]["reuters-ecb"]["sentences"][0] = payload
    report["sources"]["reuters-ecb"]["url"] = " javascript:alert(1)"
    report["articles"][2]["url"] = f"https://ok.example/?q={payload}"
    report["articles"][3]["errors"][0]["message"] = payload
    report["source_errors"][0].update(item_id=payload, message=payload, origin=payload)
    report["run"].update(id=payload, model=payload)
    report["run"]["signatures"]["bleu"] = payload
    return report


class PageParser(HTMLParser):
    """Collects what the safety checks look at: elements, attributes, script bodies, table balance."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.ends: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self.ends.append(tag)
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data

    def count(self, tag: str, **attrs: str) -> int:
        return sum(
            1 for name, found in self.tags
            if name == tag and all(attrs[key] in (found.get(key) or "").split() for key in attrs)
        )


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


# --------------------------------------------------------------------------- rows, CSV, JSON


@pytest.mark.parametrize(
    ("url", "origin", "expected"),
    [
        ("https://www.actu-eco.example/bce", "corpus/a/f.txt", "www.actu-eco.example"),
        ("HTTP://User:pw@News.Example:8080/x", "", "news.example"),
        ("", "corpus/lemonde/climat.html", "lemonde"),
        ("", "corpus/actu/feed.jsonl:12", "actu"),
        ("javascript:alert(1)", "corpus/ouest/a.txt", "ouest"),
        ("http://[::1", "corpus/bad/a.txt", "bad"),
        ("", "a.txt", ""),
        (None, None, ""),
    ],
)
def test_site_of(url, origin, expected):
    assert site_of(url, origin) == expected


def test_summary_rows_flatten_each_article():
    rows = summary_rows(sample_report())
    assert [row.id for row in rows] == ["actu-bce-0502", "lemonde-climat", "ouest-foot", "vide"]
    first = rows[0]
    assert first == ReportRow(
        id="actu-bce-0502", site="www.actu-eco.example", title="La BCE relève ses taux pour la dixième fois",
        status="ok", verdict="mt_republication", confidence=0.93, best_source="reuters-ecb", bleu=62.4,
        chrf=78.1, ter=28.3, coverage=1.0, source_coverage=0.75,
        signals="declared_machine_translation;no_byline", cluster="cluster-1", error="",
    )
    assert rows[1].site == "lemonde"
    error = rows[3]
    assert (error.status, error.verdict, error.error, error.bleu, error.best_source) == (
        "error", "error", "empty: no text after cleaning", None, ""
    )
    with pytest.raises(FrozenInstanceError):
        first.verdict = "unrelated"


def test_csv_round_trip(tmp_path):
    report = sample_report()
    write_csv(report, tmp_path / "report.csv")
    with (tmp_path / "report.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    for row, expected in zip(rows, summary_rows(report)):
        assert row["id"] == expected.id
        assert row["title"] == expected.title
        assert row["site"] == expected.site
        assert row["verdict"] == expected.verdict
        assert row["signals"] == expected.signals
        assert row["error"] == expected.error
        for name in ("confidence", "bleu", "chrf", "ter", "coverage", "source_coverage"):
            value = getattr(expected, name)
            assert (float(row[name]) if row[name] else None) == value, name
    assert rows[0]["title"] == "La BCE relève ses taux pour la dixième fois"


@pytest.mark.parametrize(
    ("title", "written"),
    [("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("@SUM(A1)", "'@SUM(A1)"), ("Normal", "Normal")],
)
def test_csv_neutralises_spreadsheet_formulas(tmp_path, title, written):
    report = sample_report()
    report["articles"][0]["title"] = title
    write_csv(report, tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(encoding="utf-8", newline="") as handle:
        assert next(csv.DictReader(handle))["title"] == written


def test_json_round_trip_is_utf8_and_stable(tmp_path):
    report = sample_report()
    path = write_json(report, tmp_path / "out" / "report.json")
    text = path.read_text(encoding="utf-8")
    assert "dixième" in text and "\\u00e8" not in text
    assert read_json(path) == report
    reordered = dict(reversed(list(copy.deepcopy(report).items())))
    assert write_json(reordered, tmp_path / "again.json").read_text(encoding="utf-8") == text
    assert not list(tmp_path.glob("**/*.partial"))


def test_json_writes_non_finite_numbers_as_null(tmp_path):
    report = sample_report()
    report["articles"][0]["best_source"]["ter"] = float("nan")
    assert read_json(write_json(report, tmp_path / "r.json"))["articles"][0]["best_source"]["ter"] is None


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        ('{"schema_version": 99, "articles": []}', UnsupportedSchema, "schema_version 99 is not supported"),
        ('{"schema_version": "1", "articles": []}', UnsupportedSchema, "schema_version '1'"),
        ('{"articles": []}', MalformedRecord, "no schema_version"),
        ("[1, 2]", MalformedRecord, "JSON object"),
        ('{"schema_version": 1,', MalformedRecord, "not valid JSON"),
        ('{"schema_version": 1, "articles": {}}', MalformedRecord, "must be a list"),
    ],
)
def test_read_json_rejects_unknown_or_broken_reports(tmp_path, content, error, message):
    path = tmp_path / "report.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(error, match=re.escape(message)):
        read_json(path)


def test_unsupported_schema_has_its_own_code(tmp_path):
    path = tmp_path / "report.json"
    path.write_text('{"schema_version": 2}', encoding="utf-8")
    with pytest.raises(UnsupportedSchema) as caught:
        read_json(path)
    assert caught.value.code == "unsupported_schema"
    assert "reads 1" in str(caught.value)


def test_read_json_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such report file"):
        read_json(tmp_path / "absent.json")


def test_write_reports_writes_the_formats_asked(tmp_path):
    paths = write_reports(sample_report(), tmp_path / "out")
    assert sorted(p.name for p in paths) == ["report.csv", "report.html", "report.json"]
    assert all(path.is_file() and path.stat().st_size for path in paths)
    assert [p.name for p in write_reports(sample_report(), tmp_path / "csv-only", ["csv"])] == ["report.csv"]


# --------------------------------------------------------------------------- HTML


def test_html_shows_run_counts_table_and_sections(tmp_path):
    report = sample_report()
    page = write_html(report, tmp_path / "report.html").read_text(encoding="utf-8")
    parsed = parse(page)
    assert "run-2024-05-02" in page and "Helsinki-NLP/opus-mt-fr-en" in page and "2024-04" in page
    assert "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0" in page
    assert parsed.count("table", **{"class": "summary"}) == 1
    assert parsed.count("section", **{"class": "article"}) == 4
    summary_body = page.split('<table class="summary sortable">')[1].split("</table>")[0]
    assert summary_body.count("<tr class=") == 4
    anchors = {attrs["id"] for tag, attrs in parsed.tags if tag == "section" and "id" in attrs}
    links = {attrs["href"][1:] for tag, attrs in parsed.tags if tag == "a" and attrs.get("href", "").startswith("#")}
    assert {anchor for anchor in anchors if anchor.startswith("article-")} <= links
    assert "Partager sur Facebook" in page and "<details><summary>Removed boilerplate (2 line(s))" in page
    assert "http-equiv=\"Content-Security-Policy\"" in page


def test_side_by_side_has_one_row_per_link_and_unaligned_sentence():
    page = render_html(sample_report())
    section = page.split('id="article-1-actu-bce-0502"')[1].split("</section>")[0]
    side = section.split('class="pairs side-by-side"')[1].split("</table>")[0]
    rows = re.findall(r"<tr class=\"([^\"]*)\"", side)
    # links at chrF 88.2, 47.5, 21.0 then the unaligned French sentence 4
    assert rows == ["chrf-high", "chrf-mid", "", "unaligned"]
    assert "Markets had widely expected the move." in side  # 1-2 link joins both source sentences
    assert "Abonnez-vous à notre lettre." in side and "not aligned" in side
    assert "3 of 4 French sentences aligned" in section


def test_error_article_shows_code_and_message():
    page = render_html(sample_report())
    section = page.split('id="article-4-vide"')[1].split("</section>")[0]
    assert "empty" in section and "no text after cleaning" in section and "during load" in section
    assert "Could not be checked" in section


def test_svg_has_one_point_per_ok_article():
    report = sample_report()
    parsed = parse(render_html(report))
    ok = [article for article in report["articles"] if article["status"] == "ok"]
    assert parsed.count("circle", **{"class": "point"}) == len(ok) == 3
    verdicts = [attrs["data-verdict"] for tag, attrs in parsed.tags if tag == "circle"]
    assert sorted(verdicts) == ["mt_republication", "translation", "unrelated"]
    assert parsed.count("rect", **{"class": "bar"}) == 3  # three distinct chrF bins


def test_report_with_zero_articles_renders(tmp_path):
    report = sample_report()
    report.update(articles=[], sources={}, source_errors=[])
    report["summary"].update(articles=0, sources=0, source_errors=0)
    page = render_html(report)
    parsed = parse(page)
    assert "No articles in this report." in page
    assert parsed.count("circle") == 0 and parsed.count("section", **{"class": "article"}) == 0
    assert summary_rows(report) == []
    write_csv(report, tmp_path / "empty.csv")
    assert (tmp_path / "empty.csv").read_text(encoding="utf-8").strip().startswith("id,site,title,status")


def test_minimal_report_renders():
    page = render_html({"schema_version": 1, "articles": [{"id": "a", "status": "ok"}]})
    assert "<section class=\"article\"" in page


def test_hostile_text_renders_as_text():
    page = render_html(hostile_report())
    for raw, escaped in zip(HOSTILE, HOSTILE_ESCAPED):
        assert raw not in page
        assert escaped in page
    assert "javascript:alert(1)" in page  # shown as text
    parsed = parse(page)
    assert parsed.scripts == [SORTER_JS]
    assert parsed.count("script") == 1
    assert parsed.count("img") == 0 and parsed.count("b") == 0
    for tag, attrs in parsed.tags:
        assert not [name for name in attrs if name.lower().startswith("on")], tag
        href = attrs.get("href")
        if href is not None:
            assert href.startswith(("#", "http://", "https://")), href
    assert parsed.count("table") == parsed.ends.count("table")
    summary_body = page.split('<table class="summary sortable">')[1].split("</table>")[0]
    assert summary_body.count("<tr class=") == 4


# --------------------------------------------------------------------------- headless browser

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def _chromium(tmp_path: Path, *args: str) -> str:
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}", *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@needs_chromium
def test_chromium_renders_rows_and_keeps_payloads_inert(tmp_path):
    page = write_html(hostile_report(), tmp_path / "report.html")
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    parsed = parse(dom)
    summary_body = dom.split('<table class="summary sortable">')[1].split("</table>")[0]
    assert summary_body.count("<tr class=") == 4
    assert "ouest-foot" in summary_body and "lemonde-climat" in summary_body
    assert parsed.count("img") == 0 and parsed.count("b") == 0
    assert parsed.count("th", tabindex="0") >= 8  # the sorter ran and wired the headers


@needs_chromium
def test_chromium_sorts_numerically_when_a_header_is_clicked(tmp_path):
    report = sample_report()
    report["articles"][2]["best_source"]["bleu"] = 9.5  # "9.5" sorts after "62.4" as text, before as a number
    page = render_html(report)
    # Test-only click: the page's policy would rightly block an added script, so drop it from this copy.
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    click = "<script>document.querySelectorAll('table.summary th')[4].click();</script>"
    (tmp_path / "sorted.html").write_text(page.replace("</body>", click + "</body>"), encoding="utf-8")
    dom = _chromium(tmp_path, "--dump-dom", (tmp_path / "sorted.html").as_uri())
    summary_body = dom.split('<table class="summary sortable">')[1].split("</table>")[0]
    order = re.findall(r'<div class="id">([^<]*)</div>', summary_body)
    assert order == ["ouest-foot", "lemonde-climat", "actu-bce-0502", "vide"]  # blank BLEU last


@needs_chromium
def test_chromium_takes_a_screenshot(tmp_path):
    page = write_html(sample_report(), tmp_path / "report.html")
    shot = tmp_path / "page.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,2000", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_lists_every_source_of_a_compilation(tmp_path):
    report = sample_report()
    article = report["articles"][0]
    article["matches"] = [
        {"id": "src-a", "bleu": 40.0, "chrf": 60.0, "coverage": 0.5, "source_coverage": 0.9,
         "spans": [{"french": [0, 2], "source": [0, 2]}]},
        {"id": "<b>src-b</b>", "bleu": 30.0, "chrf": 55.0, "coverage": 0.4, "source_coverage": 0.7,
         "spans": [{"french": [3, 4], "source": [5, 6]}]},
    ]
    page = render_html(report)
    assert "Sources of parts of the article" in page
    assert "French sentences 1–3 ↔ source sentences 1–3" in page and "4–5" in page and "6–7" in page
    assert "<b>src-b</b>" not in page and "&lt;b&gt;src-b&lt;/b&gt;" in page
