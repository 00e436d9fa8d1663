"""Reading alerts in insertion order from a mark, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from trustwatch.decisions.model import Verdict
from trustwatch.detectors.base import Signal
from trustwatch.storage import migrate
from trustwatch.storage.sqlite import SqliteStore

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def verdict(n: int, decision: str = "challenge", score: float = 0.7) -> Verdict:
    """Verdict ``v{n}``, about an event ``n`` minutes after T0."""
    signal = Signal(
        detector="d",
        detector_version="1",
        kind="brute_force",
        score=score,
        entity_type="account",
        entity="alice",
        event_id=f"e{n}",
    )
    return Verdict(
        verdict_id=f"v{n:03d}",
        event_id=f"e{n}",
        event_type="login",
        ts=T0 + timedelta(minutes=n),
        account="alice",
        ip="198.51.100.7",
        decision=decision,  # type: ignore[arg-type]
        score=score,
        signals=(signal,),
        rules=(),
        policy="default@1",
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An empty decision store on each backend."""
    if request.param == "sqlite":
        with SqliteStore(tmp_path / "decisions.sqlite") as sqlite:
            yield sqlite
        return
    from trustwatch.storage.postgres import PostgresStore

    dsn, schema = request.getfixturevalue("postgres_store_target")
    with PostgresStore(dsn, schema=schema) as postgres:
        yield postgres


def ids(found: list[tuple[int, Verdict]]) -> list[str]:
    return [v.verdict_id for _, v in found]


def test_alerts_come_in_insertion_order_not_event_time(store):
    store.write_verdicts([verdict(5), verdict(2, "allow", 0.1), verdict(7)])
    store.write_verdicts([verdict(1, "lock_account", 0.9)])

    found = store.alerts_since(None)

    assert ids(found) == ["v005", "v007", "v001"]
    marks = [mark for mark, _ in found]
    assert marks == sorted(marks) and len(set(marks)) == 3
    assert found[0][1] == verdict(5)


def test_reading_on_from_a_mark_returns_only_later_alerts(store):
    store.write_verdicts([verdict(1), verdict(2)])
    mark = store.alerts_since(None)[-1][0]

    assert store.alerts_since(mark) == []
    store.write_verdicts([verdict(3), verdict(2)])

    assert ids(store.alerts_since(mark)) == ["v003"]


def test_a_limit_pages_through_the_alerts(store):
    store.write_verdicts([verdict(n) for n in range(1, 8)])

    first = store.alerts_since(None, limit=3)
    second = store.alerts_since(first[-1][0], limit=3)
    third = store.alerts_since(second[-1][0], limit=3)

    assert [ids(first), ids(second), ids(third)] == [
        ["v001", "v002", "v003"],
        ["v004", "v005", "v006"],
        ["v007"],
    ]


def test_a_minimum_score_adds_allowed_verdicts_that_reach_it(store):
    store.write_verdicts(
        [verdict(1, "allow", 0.8), verdict(2, "allow", 0.3), verdict(3, "allow", 0.5)]
    )

    assert store.alerts_since(None) == []
    assert ids(store.alerts_since(None, min_score=0.5)) == ["v001", "v003"]


def test_the_newest_decision_revision_numbers_verdicts():
    assert migrate.scripts_head() == migrate.DECISION_SCHEMA_HEAD == "0005"


def _insert_row(conn: Any, schema: str, v: Verdict) -> None:
    """Insert a verdict the way an older trustwatch did (no ``seq`` given)."""
    from psycopg import sql

    conn.execute(
        sql.SQL(
            "INSERT INTO {}.verdicts (verdict_id, event_id, event_type, ts, account, "
            "ip, decision, score, kinds, policy, body) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(sql.Identifier(schema)),
        (
            v.verdict_id,
            v.event_id,
            v.event_type,
            v.ts,
            v.account,
            v.ip,
            v.decision,
            v.score,
            "brute_force",
            v.policy,
            msgspec.json.encode(v).decode(),
        ),
    )


def test_the_migration_numbers_the_verdicts_already_stored(postgres_store_target):
    import psycopg

    from trustwatch.storage.postgres import PostgresStore

    dsn, schema = postgres_store_target
    migrate.upgrade_decision_store(lambda: psycopg.connect(dsn), schema, "0003")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for n in (1, 2, 3):
            _insert_row(conn, schema, verdict(n, "allow" if n == 2 else "challenge"))

    with PostgresStore(dsn, schema=schema) as store:
        found = store.alerts_since(None)
        store.write_verdicts([verdict(4)])
        later = store.alerts_since(found[-1][0])

    assert ids(found) == ["v001", "v003"]
    assert ids(later) == ["v004"]
    revision = migrate.decision_store_revision(lambda: psycopg.connect(dsn), schema)
    assert revision == "0005"


def test_a_row_committed_out_of_order_shows_up_below_the_mark(postgres_store_target):
    """Two writers: the one that numbered its row first commits last."""
    import psycopg

    from trustwatch.storage.postgres import PostgresStore

    dsn, schema = postgres_store_target
    with PostgresStore(dsn, schema=schema) as store:
        with psycopg.connect(dsn) as slow_writer:
            _insert_row(slow_writer, schema, verdict(1))  # numbered, not committed
            store.write_verdicts([verdict(2)])
            seen = store.alerts_since(None)
            slow_writer.commit()
        mark = seen[-1][0]

        assert ids(seen) == ["v002"]
        assert store.alerts_since(mark) == []
        reread = store.alerts_since(max(mark - store.alert_mark_overlap, 0))
        assert ids(reread) == ["v001", "v002"]
        assert reread[0][0] < mark
