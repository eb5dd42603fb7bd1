import sqlite3

import pytest

from provenance.store import MIGRATIONS, Store, text_hash


def test_translation_cache_round_trip():
    store = Store(":memory:")
    store.cache_translations("model-a", [("Bonjour.", "Hello."), ("Merci.", "Thanks.")])
    assert store.cached_translations("model-a", ["Bonjour.", "Merci.", "Salut."]) == {
        "Bonjour.": "Hello.",
        "Merci.": "Thanks.",
    }
    # The key includes the model: another model's cache is separate.
    assert store.cached_translations("model-b", ["Bonjour."]) == {}
    assert store.count_translations() == 2


def test_cache_lookup_beyond_sqlite_parameter_limit():
    store = Store(":memory:")
    pairs = [(f"phrase {i}", f"sentence {i}") for i in range(2500)]
    store.cache_translations("m", pairs)
    found = store.cached_translations("m", [src for src, _ in pairs])
    assert len(found) == 2500 and found["phrase 1999"] == "sentence 1999"


def test_runs_resume_and_keep_item_order(tmp_path):
    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        assert store.open_run("run1", {"model": "m"}) is False
        store.save_items("run1", [("b", 1, "ok", {"id": "b"}), ("a", 0, "error", {"id": "a"})])
    with Store(path) as store:  # a new process sees what the first committed
        assert store.open_run("run1", {"model": "m"}) is True
        assert store.finished_items("run1") == {"a", "b"}
        assert [e["id"] for e in store.iter_items("run1")] == ["a", "b"]
        assert store.run_report("run1") is None
        store.finish_run("run1", {"schema_version": 1, "articles": []})
        assert store.run_report() == {"schema_version": 1, "articles": []}
        assert store.run_settings("run1") == {"model": "m"}


def test_migrations_apply_once(tmp_path):
    path = tmp_path / "store.sqlite"
    Store(path).close()
    Store(path).close()
    names = [r[0] for r in sqlite3.connect(path).execute("SELECT name FROM migrations")]
    assert names == [name for name, _ in MIGRATIONS]


@pytest.mark.parametrize("text", ["", "é", "a" * 10_000])
def test_text_hash_is_stable_sha256(text):
    assert len(text_hash(text)) == 64 and text_hash(text) == text_hash(str(text))
