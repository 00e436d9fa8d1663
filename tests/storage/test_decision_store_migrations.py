"""The PostgreSQL decision store's tables come from an Alembic baseline."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from trustwatch.errors import StorageError
from trustwatch.storage import migrate
from trustwatch.storage.postgres import PostgresStore

OLD_TABLES = """
CREATE TABLE {s}.verdicts (verdict_id TEXT PRIMARY KEY, event_id TEXT NOT NULL,
    event_type TEXT NOT NULL, ts TIMESTAMPTZ NOT NULL, account TEXT, ip TEXT,
    decision TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, kinds TEXT NOT NULL,
    policy TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE {s}.actions (action_id TEXT PRIMARY KEY, verdict_id TEXT NOT NULL,
    event_id TEXT NOT NULL, type TEXT NOT NULL, target_type TEXT NOT NULL,
    target TEXT NOT NULL, mode TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ, body TEXT NOT NULL);
CREATE TABLE {s}.dead_letters (dead_letter_id TEXT PRIMARY KEY,
    source TEXT NOT NULL, location TEXT NOT NULL, reason TEXT NOT NULL,
    message TEXT NOT NULL, raw BYTEA NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY);
CREATE TABLE {s}.stream_checkpoints (group_id TEXT NOT NULL,
    partition INTEGER NOT NULL, offsets JSONB NOT NULL, state BYTEA NOT NULL,
    saved_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (group_id, partition));
INSERT INTO {s}.verdicts VALUES ('v1', 'e1', 'login', now(), 'a', NULL,
    'allow', 0.0, '', 'p@1', '{{}}');
"""


def _revision(dsn: str, schema: str) -> str | None:
    return migrate.decision_store_revision(lambda: psycopg.connect(dsn), schema)


def test_the_head_constant_matches_the_scripts():
    assert migrate.scripts_head() == migrate.DECISION_SCHEMA_HEAD


def test_a_new_store_is_at_the_newest_revision(postgres_store_target):
    dsn, schema = postgres_store_target

    with PostgresStore(dsn, schema=schema) as store:
        assert store.counts()["verdicts"] == 0

    assert _revision(dsn, schema) == migrate.DECISION_SCHEMA_HEAD


def test_a_store_made_before_migrations_is_stamped_and_kept(postgres_store_target):
    dsn, schema = postgres_store_target
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        for statement in OLD_TABLES.split(";"):
            if statement.strip():
                admin.execute(
                    sql.SQL(statement).format(s=sql.Identifier(schema))  # type: ignore[arg-type]
                )
    assert _revision(dsn, schema) is None

    with PostgresStore(dsn, schema=schema) as store:
        assert store.counts()["verdicts"] == 1

    assert _revision(dsn, schema) == migrate.DECISION_SCHEMA_HEAD


def test_reopening_does_not_migrate_again(postgres_store_target, monkeypatch):
    dsn, schema = postgres_store_target
    PostgresStore(dsn, schema=schema).close()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("migrated an up-to-date store")

    monkeypatch.setattr("trustwatch.storage.postgres.upgrade_decision_store", refuse)
    with PostgresStore(dsn, schema=schema) as store:
        assert store.counts()["verdicts"] == 0


def test_a_migrated_store_missing_a_table_is_refused_with_a_hint(
    postgres_store_target,
):
    dsn, schema = postgres_store_target
    PostgresStore(dsn, schema=schema).close()
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP TABLE {}.dead_letters").format(sql.Identifier(schema))
        )

    with pytest.raises(StorageError, match="lacks dead_letters; hint"):
        PostgresStore(dsn, schema=schema)

    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP TABLE {}.{}").format(
                sql.Identifier(schema), sql.Identifier(migrate.VERSION_TABLE)
            )
        )
    with PostgresStore(dsn, schema=schema) as store:
        assert store.counts()["dead_letters"] == 0
