"""The command line through its entry points: exit codes, one-line errors, reports on disk."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from provenance.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FRENCH = (
    "Le gouvernement a annoncé mardi une nouvelle réforme des retraites. Les syndicats ont dénoncé un projet "
    "qui, selon eux, pèse sur les travailleurs les plus modestes. La ministre a défendu le texte devant "
    "les députés et a promis des discussions dans les prochaines semaines avec les partenaires sociaux."
)


@pytest.fixture
def mixed_batch(tmp_path):
    """One good French article and each kind of bad input, with its translation file."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "good.txt").write_text("Réforme des retraites\n\n" + FRENCH, encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00" * 50)
    (folder / "english.txt").write_text(
        "Pension reform\n\nThe government announced a new pension reform on Tuesday. The unions said that the "
        "plan would weigh on the poorest workers, and the minister defended it before the members of parliament.",
        encoding="utf-8",
    )
    (folder / "latin1.txt").write_bytes(("Titre\n\n" + FRENCH).encode("latin-1"))
    (folder / "feed.jsonl").write_text(
        json.dumps({"id": "rec-1", "text": FRENCH}) + "\n" + '{"id": "rec-2", "text": "tronqu\n', encoding="utf-8"
    )
    (folder / "huge.txt").write_text("Titre\n\n" + (FRENCH + "\n\n") * 30_000, encoding="utf-8")  # ~10 MB
    (folder / "no_text.csv").write_text("id,title\nx1,Un titre sans texte\n", encoding="utf-8")
    (folder / "dup").mkdir()
    (folder / "dup" / "good.txt").write_text("Autre titre\n\n" + FRENCH, encoding="utf-8")  # same id as good.txt
    translations = tmp_path / "translations.jsonl"
    english = "The government announced a new pension reform on Tuesday."
    translations.write_text(
        "".join(json.dumps({"id": i, "text": english}) + "\n" for i in ("good", "rec-1")), encoding="utf-8"
    )
    return folder, translations


def test_check_reports_each_bad_input_and_goes_on(mixed_batch, tmp_path, capsys):
    folder, translations = mixed_batch
    out = tmp_path / "out"
    code = main(["check", str(folder), "--sources", str(EXAMPLES / "sources"), "--translations", str(translations), "--out", str(out)])
    assert code == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    codes = {
        (e["id"], Path(e["origin"]).parent.name): e["errors"][0]["code"] if e["errors"] else e["verdict"]
        for e in report["articles"]
    }
    assert codes == {
        ("binary", "articles"): "binary",
        ("empty", "articles"): "empty",
        ("english", "articles"): "wrong_language",
        ("latin1", "articles"): "bad_encoding",
        ("feed.jsonl:2", "articles"): "malformed_record",
        ("rec-1", "articles"): "unrelated",
        ("huge", "articles"): "too_large",
        ("no_text.csv", "articles"): "malformed_record",
        ("good", "dup"): "unrelated",  # folders are read in sorted order: dup/good.txt comes first
        ("good", "articles"): "duplicate_id",
    }
    assert {p.name for p in out.iterdir()} >= {"report.json", "report.csv", "report.html"}
    printed = capsys.readouterr().out
    assert "good" in printed and "bad_encoding" in printed and "10 articles" in printed


def test_strict_exits_1_when_an_item_failed(mixed_batch, tmp_path):
    folder, translations = mixed_batch
    args = ["check", str(folder), "--translations", str(translations), "--out", str(tmp_path / "o"), "-q", "--strict"]
    assert main(args) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "no/such/folder"], "no such file or folder"),
        (["check", str(EXAMPLES / "articles"), "--translations", "missing.jsonl"], "no such file"),
        (["check", str(EXAMPLES / "articles"), "--top-k", "0"], "must be positive"),
        (["check", str(EXAMPLES / "articles"), "--format", "pdf"], "unknown report format"),
        (["report", "nowhere"], "no store"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_offline_model_is_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    article = tmp_path / "a.txt"
    article.write_text("Titre\n\n" + FRENCH, encoding="utf-8")
    code = main(["check", str(article), "--model", "Helsinki-NLP/opus-mt-fr-en", "--out", str(tmp_path / "o"), "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert "Helsinki-NLP/opus-mt-fr-en" in err and "--model" in err and "Traceback" not in err


def test_report_command_regenerates_from_the_store(tmp_path):
    out = tmp_path / "run"
    args = ["check", str(EXAMPLES / "articles"), "--sources", str(EXAMPLES / "sources"),
            "--translations", str(EXAMPLES / "translations.jsonl"), "--out", str(out), "-q", "--format", "json"]
    assert main(args) == 0
    assert not (out / "report.html").exists()
    assert main(["report", str(out), "--format", "html,csv", "-q"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "merridew-dockworkers-strike" in page
    assert (out / "report.csv").read_text(encoding="utf-8").count("\n") == 9  # header + 8 articles


def test_console_script_runs_the_examples(tmp_path):
    """The installed entry point, as a user runs it (python -m provenance is the same main)."""
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "provenance", "check", str(EXAMPLES / "articles"), "--sources", str(EXAMPLES / "sources"),
         "--translations", str(EXAMPLES / "translations.jsonl"), "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "mt_republication" in result.stdout and "3 mt_republication" in result.stdout
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["summary"]["articles"] == 8


def test_log_json_writes_one_json_object_per_line(tmp_path, capsys):
    args = ["check", str(EXAMPLES / "articles"), "--sources", str(EXAMPLES / "sources"),
            "--translations", str(EXAMPLES / "translations.jsonl"), "--out", str(tmp_path), "-q", "-v", "--log-json"]
    assert main(args) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
