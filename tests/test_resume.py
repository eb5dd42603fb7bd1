"""A run killed mid-way (SIGINT or kill -9) resumes: nothing finished is recomputed, the report is unchanged."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from provenance.pipeline import run
from provenance.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SENTENCES = [
    "Le conseil municipal a voté le budget de l'année prochaine après un long débat.",
    "Les agriculteurs de la région réclament des aides après la sécheresse de l'été.",
    "La compagnie ferroviaire annonce la réouverture de la ligne entre les deux villes.",
    "Le festival de musique a attiré plus de visiteurs que prévu ce week-end.",
    "Les enseignants se sont mobilisés pour dénoncer la fermeture de plusieurs classes.",
    "Le port a enregistré une hausse de ses exportations de céréales au printemps.",
]


def _write_articles(folder: Path, count: int) -> None:
    folder.mkdir()
    for i in range(count):
        body = " ".join(SENTENCES[(i + j) % len(SENTENCES)] for j in range(3))
        (folder / f"article-{i:02d}.txt").write_text(f"Dépêche numéro {i}\n\n{body} Fin de la dépêche {i}.", encoding="utf-8")


def _finished(store: Path) -> dict[str, float]:
    if not store.exists():
        return {}
    try:
        with sqlite3.connect(store) as db:
            return dict(db.execute("SELECT item_id, updated FROM items"))
    except sqlite3.OperationalError:  # tables not created yet
        return {}


def _command(articles: Path, model: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "provenance", "check", str(articles), "--sources", str(EXAMPLES / "sources"),
            "--model", str(model), "--device", "cpu", "--articles-per-step", "1", "--out", str(out), "-q"]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "sigint"])
def test_killed_run_resumes_and_matches_an_uninterrupted_run(tmp_path, tiny_marian_dir, how):
    articles = tmp_path / "articles"
    _write_articles(articles, 8)
    out = tmp_path / "out"
    store = out / "provenance.sqlite"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}

    process = subprocess.Popen(_command(articles, tiny_marian_dir, out), env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(_finished(store)) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, f"the run ended before it could be interrupted: {process.stderr.read()}"
    process.send_signal(how)
    process.wait(timeout=60)
    before = _finished(store)
    assert 2 <= len(before) < 8, "the kill should land mid-run"
    if how == signal.SIGINT:
        assert process.returncode == 130 and "resume" in process.stderr.read()

    resumed = subprocess.run(_command(articles, tiny_marian_dir, out), env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    after = _finished(store)
    assert set(after) == {f"article-{i:02d}" for i in range(8)}
    # Articles finished before the kill were not recomputed: their rows were not rewritten.
    assert {item: after[item] for item in before} == before

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    uninterrupted = run(Settings(articles=(articles,), sources=(EXAMPLES / "sources",), model=str(tiny_marian_dir),
                                 device="cpu", out_dir=tmp_path / "clean", strict=True))
    assert report["articles"] == uninterrupted["articles"]
    assert report["summary"] == uninterrupted["summary"]
