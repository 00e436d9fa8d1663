"""A decision store and an intel database never take each other's files."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustwatch.errors import ConfigError, StorageError
from trustwatch.intel.sync import IntelDatabase
from trustwatch.review.store import SqliteReviewStore
from trustwatch.storage.sqlite import SqliteStore


def _tables(path: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_a_decision_store_refuses_an_intel_database(tmp_path: Path) -> None:
    path = tmp_path / "intel.sqlite"
    IntelDatabase(path).close()
    before = _tables(path)
    with pytest.raises(ConfigError, match=r"is an intel database .*hint:"):
        SqliteStore(path)
    assert _tables(path) == before  # no decision table was added


@pytest.mark.parametrize("kind", ["decision", "review"])
def test_an_intel_database_refuses_another_store(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.sqlite"
    if kind == "decision":
        SqliteStore(path).close()
    else:
        SqliteReviewStore(path).close()
    before = _tables(path)
    with pytest.raises(StorageError, match=rf"is a {kind} store .*hint:"):
        IntelDatabase(path)
    assert _tables(path) == before


def test_each_opens_its_own_kind_and_a_new_file(tmp_path: Path) -> None:
    IntelDatabase(tmp_path / "intel.sqlite").close()
    IntelDatabase(tmp_path / "intel.sqlite").close()
    SqliteStore(tmp_path / "store.sqlite").close()
    SqliteStore(tmp_path / "store.sqlite").close()
