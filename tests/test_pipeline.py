"""End to end through `pipeline.run`: the examples corpus (precomputed translations) and the model path."""

import json
import shutil
from pathlib import Path

import pytest

from provenance.pipeline import run
from provenance.settings import Settings
from provenance.store import Store

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _by_id(report):
    return {entry["id"]: entry for entry in report["articles"]}


@pytest.fixture(scope="module")
def examples_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("examples")
    settings = Settings(
        articles=(EXAMPLES / "articles",),
        sources=(EXAMPLES / "sources",),
        translations=EXAMPLES / "translations.jsonl",
        out_dir=out,
        strict=True,
    )
    return run(settings)


@pytest.mark.parametrize(
    "article_id, verdict, source",
    [
        ("site-a_story-a", "mt_republication", "merridew-dockworkers-strike"),
        ("site-b_story-a", "mt_republication", "merridew-dockworkers-strike"),
        ("rec-port-merridew", "mt_republication", "merridew-dockworkers-strike"),
        ("journal_story-b", "translation", "kestria-dalmora-grain-deal"),
        ("blog_unrelated", "unrelated", None),
        ("rec-marche-couvert", "unrelated", None),
    ],
)
def test_examples_are_judged_against_the_right_source(examples_report, article_id, verdict, source):
    entry = _by_id(examples_report)[article_id]
    assert entry["status"] == "ok"
    assert entry["verdict"] == verdict
    assert (entry["best_source"] or {}).get("id") == source
    if source:
        # The true source must beat the same-topic distractors, which were scored too.
        assert entry["candidates"][0]["id"] == source and len(entry["candidates"]) > 1
        assert entry["evidence"] and all(item["source"] for item in entry["evidence"])


def test_examples_bad_inputs_are_per_item_errors(examples_report):
    entries = _by_id(examples_report)
    assert entries["empty"]["verdict"] == "error" and entries["empty"]["errors"][0]["code"] == "empty"
    assert entries["records.jsonl:3"]["errors"][0]["code"] == "malformed_record"
    assert examples_report["summary"]["error"] == 2


def test_examples_report_contract(examples_report):
    report = examples_report
    assert report["schema_version"] == 1
    assert set(report["run"]["signatures"]) == {"bleu", "chrf", "ter"}
    for entry in report["articles"]:
        for key in ("id", "verdict", "best_source", "candidates", "signals", "errors", "cluster"):
            assert key in entry
    assert "merridew-dockworkers-strike" in report["sources"]
    json.dumps(report)  # serialisable as is


def test_disclaimer_signal_and_copy_cluster(examples_report):
    entries = _by_id(examples_report)
    assert "declared_machine_translation" in entries["site-a_story-a"]["signals"]
    cluster_a, cluster_b = entries["site-a_story-a"]["cluster"], entries["site-b_story-a"]["cluster"]
    assert cluster_a and cluster_a == cluster_b
    assert set(cluster_a["members"]) >= {"site-a_story-a", "site-b_story-a"}
    assert entries["blog_unrelated"]["cluster"] is None


def test_rerun_resumes_without_recomputing(tmp_path):
    articles = tmp_path / "articles"
    shutil.copytree(EXAMPLES / "articles", articles)
    settings = Settings(
        articles=(articles,), sources=(EXAMPLES / "sources",), translations=EXAMPLES / "translations.jsonl",
        out_dir=tmp_path / "out", strict=True,
    )
    first = run(settings)
    with Store(settings.store_path) as store:
        run_id = first["run"]["id"]
        assert store.finished_items(run_id) == {e["id"] for e in first["articles"]}
    second = run(settings)
    assert second["articles"] == first["articles"]


def test_model_path_end_to_end_caches_translations(tmp_path, tiny_marian_dir, monkeypatch):
    settings = Settings(
        articles=(EXAMPLES / "articles" / "site-a_story-a.txt", EXAMPLES / "articles" / "blog_unrelated.txt"),
        sources=(EXAMPLES / "sources",),
        model=str(tiny_marian_dir),
        out_dir=tmp_path / "out",
        device="cpu",
        strict=True,
    )
    report = run(settings)
    entries = _by_id(report)
    assert [e["status"] for e in entries.values()] == ["ok", "ok"]
    site_a = entries["site-a_story-a"]
    assert len(site_a["sentences"]["back_translation"]) == len(site_a["sentences"]["french"]) > 3
    with Store(settings.store_path) as store:
        cached = store.count_translations()
    assert cached > 0

    # A new run (another output folder, same store) translates nothing: the cache answers.
    import provenance.translate as translate

    def no_model(*args, **kwargs):
        raise AssertionError("the model ran although every sentence is cached")

    monkeypatch.setattr(translate.Translator, "translate", no_model)
    again = run(settings.replace(out_dir=tmp_path / "other", db_path=settings.store_path, top_k=3))
    assert _by_id(again)["site-a_story-a"]["sentences"] == site_a["sentences"]


SHARED_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "examples"


@pytest.mark.skipif(not SHARED_EXAMPLES.is_dir(), reason="../shared/data/examples is absent")
def test_shared_seed_copies_cluster_and_carry_the_disclaimer(tmp_path):
    english = {  # any English text will do: the check is on the French side
        "000_a4a6c44a581a7d26": "The top spies of both sides met to discuss avoiding miscalculations.",
        "001_98f579475307935d": "The top spies of both sides met to discuss avoiding miscalculations.",
    }
    translations = tmp_path / "t.jsonl"
    translations.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in english.items()))
    report = run(Settings(articles=(SHARED_EXAMPLES,), translations=translations, out_dir=tmp_path, strict=True))
    entries = _by_id(report)
    assert entries["000_a4a6c44a581a7d26"]["cluster"]["id"] == entries["001_98f579475307935d"]["cluster"]["id"]
    assert "declared_machine_translation" in entries["001_98f579475307935d"]["signals"]
    assert entries["000_a4a6c44a581a7d26"]["verdict"] == "unrelated"  # no sources given


def test_over_long_sentence_is_chunked_not_truncated(tmp_path, tiny_marian_dir, tiny_translator):
    clause = "le conseil municipal a voté le budget de la ville après un débat animé avec les habitants"
    long_sentence = "Selon le maire, " + ", puis ".join([clause] * 40) + "."
    assert tiny_translator.count_tokens(long_sentence) > tiny_translator.max_input_tokens
    article = tmp_path / "long.txt"
    article.write_text(f"Un très long article\n\n{long_sentence} Une phrase courte suit.", encoding="utf-8")
    report = run(Settings(articles=(article,), model=str(tiny_marian_dir), device="cpu", out_dir=tmp_path, strict=True))
    entry = report["articles"][0]
    assert entry["status"] == "ok"
    # One French sentence (rejoined from its chunks) and one back-translation per sentence, nothing dropped.
    assert entry["sentences"]["french"][1] == long_sentence
    assert len(entry["sentences"]["back_translation"]) == len(entry["sentences"]["french"]) == 3


def test_compilation_of_two_sources_names_both_with_spans(tmp_path):
    from provenance.segment import split_sentences

    def body(name):
        return (EXAMPLES / "sources" / name).read_text(encoding="utf-8").split("\n", 1)[1]

    strike, grain = split_sentences(body("merridew-dockworkers-strike.txt"), "en"), split_sentences(
        body("kestria-dalmora-grain-deal.txt"), "en")
    english = " ".join(strike[:5] + grain[:5])
    article = tmp_path / "compil.txt"
    article.write_text("Deux nouvelles\n\n" + " ".join(["Le port est en grève et les céréales partent."] * 10),
                       encoding="utf-8")
    translations = tmp_path / "t.jsonl"
    translations.write_text(json.dumps({"id": "compil", "text": english}) + "\n", encoding="utf-8")
    report = run(Settings(articles=(article,), sources=(EXAMPLES / "sources",), translations=translations,
                          out_dir=tmp_path, strict=True))
    entry = report["articles"][0]
    assert {m["id"] for m in entry["matches"]} == {"merridew-dockworkers-strike", "kestria-dalmora-grain-deal"}
    assert "compilation" in entry["signals"]
    assert set(report["sources"]) >= {"merridew-dockworkers-strike", "kestria-dalmora-grain-deal"}
    for match in entry["matches"]:
        assert match["spans"] and all(span["french"][0] <= span["french"][1] for span in match["spans"])


@pytest.mark.parametrize("source_date, window, found", [
    ("2026-10-01", 7, True),     # two days before the copy: inside the window
    ("2026-09-01", 7, False),    # a month before: outside a 7-day window
    ("2026-10-05", 7, False),    # published after the copy: cannot be its source
    ("2026-10-05", None, True),  # no window asked for: dates are not used
])
def test_date_window_filters_candidate_sources(tmp_path, source_date, window, found):
    text = (EXAMPLES / "sources" / "merridew-dockworkers-strike.txt").read_text(encoding="utf-8")
    title, body = text.split("\n", 1)
    sources = tmp_path / "sources.jsonl"
    sources.write_text(json.dumps({"id": "strike", "title": title, "text": body, "date": source_date}) + "\n",
                       encoding="utf-8")
    report = run(Settings(articles=(EXAMPLES / "articles" / "site-b_story-a.html",), sources=(sources,),
                          translations=EXAMPLES / "translations.jsonl", out_dir=tmp_path, window_days=window,
                          strict=True))
    entry = report["articles"][0]
    assert entry["date"] == "2026-10-03"
    assert (entry["best_source"] is not None) is found
