"""SQLite store: the translation cache and the runs, so a crashed batch resumes where it stopped.

One file holds everything (default: ``<out>/provenance.sqlite``). Translations are keyed by the model's
identity (weights and decoding options) and the SHA-256 of the source sentence, so a second run over
the same articles translates nothing. Each finished article of a run is written as one JSON entry in
its own transaction: killing the process loses at most the step in flight.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

# Named migrations, applied in order once each; never edit one that has shipped, add a new one.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001_initial",
        """
        CREATE TABLE translations (
            model_key TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            source TEXT NOT NULL,
            translation TEXT NOT NULL,
            created REAL NOT NULL,
            PRIMARY KEY (model_key, text_hash)
        );
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            settings TEXT NOT NULL,
            created REAL NOT NULL,
            finished REAL,
            report TEXT
        );
        CREATE TABLE items (
            run_id TEXT NOT NULL REFERENCES runs(id),
            item_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            status TEXT NOT NULL,
            entry TEXT NOT NULL,
            updated REAL NOT NULL,
            PRIMARY KEY (run_id, item_id)
        );
        """,
    ),
)

_CACHE_LOOKUP_CHUNK = 500  # SQLite caps bound parameters per statement (999 in old builds)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Store:
    """The embedded store. Use one per process; it is not shared across threads."""

    def __init__(self, path: str | Path = ":memory:"):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            # WAL keeps committed steps safe across kill -9 and lets a reader look at a live run.
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _migrate(self) -> None:
        with self.db:
            self.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
        done = {row[0] for row in self.db.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            log.debug("applying migration %s to %s", name, self.path)
            with self.db:
                for statement in filter(str.strip, sql.split(";")):
                    self.db.execute(statement)
                self.db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))

    # -- translation cache -------------------------------------------------------------------

    def cached_translations(self, model_key: str, texts: Iterable[str]) -> dict[str, str]:
        """Source text -> cached translation, for the texts that are in the cache."""
        by_hash = {text_hash(t): t for t in texts}
        found: dict[str, str] = {}
        hashes = list(by_hash)
        for start in range(0, len(hashes), _CACHE_LOOKUP_CHUNK):
            chunk = hashes[start : start + _CACHE_LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT text_hash, translation FROM translations WHERE model_key = ? AND text_hash IN ({marks})",
                (model_key, *chunk),
            )
            for digest, translation in rows:
                found[by_hash[digest]] = translation
        return found

    def cache_translations(self, model_key: str, pairs: Iterable[tuple[str, str]]) -> None:
        now = time.time()
        rows = [(model_key, text_hash(src), src, tgt, now) for src, tgt in pairs]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?)", rows)

    def count_translations(self, model_key: str | None = None) -> int:
        if model_key is None:
            return self.db.execute("SELECT COUNT(*) FROM translations").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM translations WHERE model_key = ?", (model_key,)).fetchone()[0]

    # -- runs --------------------------------------------------------------------------------

    def open_run(self, run_id: str, settings: dict) -> bool:
        """Create the run if new; True when it already existed (a resume)."""
        existing = self.db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone()
        if existing:
            return True
        with self.db:
            self.db.execute(
                "INSERT INTO runs (id, settings, created) VALUES (?, ?, ?)",
                (run_id, json.dumps(settings, sort_keys=True), time.time()),
            )
        return False

    def run_settings(self, run_id: str) -> dict:
        row = self.db.execute("SELECT settings FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return json.loads(row[0])

    def run_created(self, run_id: str) -> float:
        row = self.db.execute("SELECT created FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return row[0]

    def runs(self) -> list[dict]:
        rows = self.db.execute("SELECT id, created, finished FROM runs ORDER BY created")
        return [{"id": r[0], "created": r[1], "finished": r[2]} for r in rows]

    def finished_items(self, run_id: str) -> set[str]:
        rows = self.db.execute("SELECT item_id FROM items WHERE run_id = ?", (run_id,))
        return {r[0] for r in rows}

    def save_items(self, run_id: str, entries: Iterable[tuple[str, int, str, dict]]) -> None:
        """Write (item_id, position, status, entry) rows in one transaction."""
        now = time.time()
        rows = [
            (run_id, item_id, position, status, json.dumps(entry, ensure_ascii=False), now)
            for item_id, position, status, entry in entries
        ]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?)", rows)

    def iter_items(self, run_id: str) -> Iterator[dict]:
        rows = self.db.execute("SELECT entry FROM items WHERE run_id = ? ORDER BY position, item_id", (run_id,))
        for (entry,) in rows:
            yield json.loads(entry)

    def finish_run(self, run_id: str, report: dict) -> None:
        with self.db:
            self.db.execute(
                "UPDATE runs SET finished = ?, report = ? WHERE id = ?",
                (time.time(), json.dumps(report, ensure_ascii=False), run_id),
            )

    def run_report(self, run_id: str | None = None) -> dict | None:
        """The stored final report of a run (the latest finished one when run_id is None)."""
        if run_id is None:
            row = self.db.execute(
                "SELECT report FROM runs WHERE report IS NOT NULL ORDER BY finished DESC LIMIT 1"
            ).fetchone()
        else:
            row = self.db.execute("SELECT report FROM runs WHERE id = ?", (run_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None
