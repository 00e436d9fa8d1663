"""Checkpoints in the store's ``meta`` table: kept, replaced, refused if damaged."""

import sqlite3

import pytest

from trustwatch.errors import ConfigError, StorageError
from trustwatch.storage.sqlite import SqliteStore


def test_a_checkpoint_is_kept_and_replaced(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite") as store:
        assert store.load_state("k") is None
        store.save_state("k", {"a": [1, 2.5, None], "b": "x"})
        store.save_state("k", {"a": [3]})
        assert store.load_state("k") == {"a": [3]}
    with SqliteStore(tmp_path / "s.sqlite") as store:
        assert store.load_state("k") == {"a": [3]}


@pytest.mark.parametrize("value", ["{not json", "", '{"a": 1', "\x00", "[1]]"])
def test_a_checkpoint_that_is_not_json_is_a_config_error(tmp_path, value):
    path = tmp_path / "s.sqlite"
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('k', ?)", (value,))
    conn.close()
    damaged = pytest.raises(ConfigError, match="checkpoint 'k' is damaged: not valid")
    with SqliteStore(path) as store, damaged:
        store.load_state("k")


def test_a_store_that_cannot_be_read_or_written_is_a_storage_error(tmp_path):
    path = tmp_path / "s.sqlite"
    store = SqliteStore(path)
    store._db.execute("DROP TABLE meta")
    with pytest.raises(StorageError, match="cannot read checkpoint 'k' from store"):
        store.load_state("k")
    with pytest.raises(StorageError, match="cannot save checkpoint 'k' to store"):
        store.save_state("k", {})
    store.close()
