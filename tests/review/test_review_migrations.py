"""The review store's Alembic migrations: from empty, again, and when missing."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.errors import ConfigError
from trustwatch.review import migrate
from trustwatch.review.store import (
    PostgresReviewStore,
    SqliteReviewStore,
    open_review_store,
)

REVIEW_TABLES = {
    "cases",
    "case_accounts",
    "case_verdicts",
    "labels",
    "audit_log",
    "review_state",
    migrate.VERSION_TABLE,
}


def test_the_newest_revision_is_the_case_kind_index():
    assert migrate.head_revision() == "0002"


def test_a_new_sqlite_store_is_migrated_on_open(tmp_path: Path):
    path = tmp_path / "review.sqlite"

    with SqliteReviewStore(path) as store:
        assert store.revision() == migrate.head_revision()

    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert tables >= REVIEW_TABLES


def test_upgrading_twice_changes_nothing(tmp_path: Path):
    path = tmp_path / "review.sqlite"
    with SqliteReviewStore(path) as store:
        store.upsert_cases([])
        assert store.upgrade() == migrate.head_revision()
    with SqliteReviewStore(path) as store:
        assert store.upgrade() == migrate.head_revision()
        assert store.cases() == []


def test_an_unmigrated_sqlite_file_reports_no_revision(tmp_path: Path):
    with SqliteReviewStore(tmp_path / "r.sqlite", migrate=False) as store:
        assert store.revision() is None


def test_a_missing_folder_or_unknown_scheme_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="folder does not exist"):
        SqliteReviewStore(tmp_path / "nowhere" / "review.sqlite")
    with pytest.raises(ConfigError, match=r"mysql://app:\*\*\*@db/x"):
        open_review_store("mysql://app:secret@db/x")


def test_postgres_refuses_an_unmigrated_schema_with_a_hint(postgres_store_target):
    dsn, schema = postgres_store_target

    with pytest.raises(ConfigError, match="trustwatch db upgrade --review-db"):
        PostgresReviewStore(dsn, schema=schema)

    with PostgresReviewStore(dsn, schema=schema, migrate=True) as store:
        assert store.revision() == migrate.head_revision()
    with PostgresReviewStore(dsn, schema=schema) as store:
        assert store.upgrade() == migrate.head_revision()
        assert store.cases() == []


def test_postgres_keeps_its_tables_in_the_named_schema(postgres_store_target):
    dsn, schema = postgres_store_target

    with (
        PostgresReviewStore(dsn, schema=schema, migrate=True) as store,
        store._engine.connect() as db,
    ):
        tables = set(sa.inspect(db).get_table_names(schema=schema))

    assert tables >= REVIEW_TABLES


def test_db_upgrade_and_current_commands(postgres_store_target, capsys):
    dsn, schema = postgres_store_target
    target = ["--review-db", dsn, "--review-schema", schema]

    assert main(["db", "current", *target]) == ExitCode.OK
    assert "revision none" in capsys.readouterr().out
    assert main(["db", "upgrade", *target]) == ExitCode.OK
    assert "at revision 0002 (was empty)" in capsys.readouterr().out
    assert main(["db", "upgrade", *target]) == ExitCode.OK
    assert "(was 0002)" in capsys.readouterr().out
    assert main(["db", "current", *target]) == ExitCode.OK
    assert "up to date" in capsys.readouterr().out
    assert main(["cases", "list", *target]) == ExitCode.OK


def test_cases_refuse_an_unmigrated_postgres_schema(postgres_store_target, capsys):
    dsn, schema = postgres_store_target

    status = main(["cases", "list", "--review-db", dsn, "--review-schema", schema])

    assert status == ExitCode.BAD_CONFIG
    assert "db upgrade" in capsys.readouterr().err


def test_db_upgrade_on_a_sqlite_file(tmp_path: Path, capsys):
    path = tmp_path / "data" / "review.sqlite"

    assert main(["db", "current", "--review-db", str(path)]) == ExitCode.OK
    assert "revision none" in capsys.readouterr().out
    assert main(["db", "upgrade", "--review-db", str(path)]) == ExitCode.OK
    assert main(["db", "current", "--review-db", str(path)]) == ExitCode.OK
    assert "revision 0002 (newest 0002): up to date" in capsys.readouterr().out


def test_workers_migrating_together_do_not_race(postgres_store_target):
    dsn, schema = postgres_store_target
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def open_migrated() -> None:
        start.wait()
        try:
            PostgresReviewStore(dsn, schema=schema, migrate=True).close()
        except BaseException as exc:  # collected for the assertion below
            failures.append(exc)

    workers = [threading.Thread(target=open_migrated) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert failures == []
    with PostgresReviewStore(dsn, schema=schema) as store:
        assert store.revision() == migrate.head_revision()
