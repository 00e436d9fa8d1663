"""Ring snapshots in the PostgreSQL decision store, as the SQLite store keeps them.

Every behaviour runs against both stores, so the two cannot drift apart; the
PostgreSQL ones use a fresh schema on the loopback server (see conftest).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from trustwatch.api.decisions import DecisionReader
from trustwatch.decisions.model import Verdict
from trustwatch.detectors.base import Signal
from trustwatch.errors import StorageError
from trustwatch.graph.rings import RingSnapshot
from trustwatch.review.cases import build_cases, case_evidence
from trustwatch.review.store import SqliteReviewStore
from trustwatch.storage import migrate
from trustwatch.storage.postgres import PostgresStore
from trustwatch.storage.sqlite import SqliteStore

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def ring(
    ring_id: str,
    members: tuple[str, ...],
    *,
    risk: float = 0.8,
    updated_minute: int = 10,
    method: str = "lockstep",
) -> RingSnapshot:
    return RingSnapshot(
        ring_id=ring_id,
        method=method,
        size=len(members),
        risk=risk,
        reasons=(f"{len(members)} accounts acting in lockstep",),
        founded=T0.timestamp(),
        updated=(T0 + timedelta(minutes=updated_minute)).timestamp(),
        members=members,
        evidence=(("ip:192.0.2.1", len(members)),),
        holdings={members[0]: ("ip:192.0.2.1",)},
        evidence_kinds={"ip": 1},
    )


def alert(n: int, account: str) -> Verdict:
    signal = Signal(
        detector="d",
        detector_version="1",
        kind="brute_force",
        score=0.8,
        entity_type="account",
        entity=account,
        event_id=f"e{n}",
    )
    return Verdict(
        verdict_id=f"v{n:03d}",
        event_id=f"e{n}",
        event_type="login",
        ts=T0 + timedelta(minutes=n),
        account=account,
        ip="198.51.100.7",
        decision="challenge",
        score=0.8,
        signals=(signal,),
        rules=(),
        policy="default@1",
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An empty decision store of each kind."""
    if request.param == "sqlite":
        opened: Any = SqliteStore(tmp_path / "store.sqlite")
    else:
        dsn, schema = request.getfixturevalue("postgres_store_target")
        opened = PostgresStore(dsn, schema=schema)
    with opened:
        yield opened


@pytest.fixture
def postgres(postgres_store_target: tuple[str, str]) -> Iterator[PostgresStore]:
    dsn, schema = postgres_store_target
    with PostgresStore(dsn, schema=schema) as opened:
        yield opened


def test_a_ring_round_trips_whole(store: Any) -> None:
    snapshot = ring("ring-1", ("alice", "bob", "carol"))

    assert store.write_rings([snapshot]) == 1

    assert store.ring("ring-1") == snapshot
    assert store.rings() == [snapshot]
    assert store.ring("ring-unknown") is None


def test_the_latest_snapshot_wins_and_an_older_one_is_ignored(store: Any) -> None:
    store.write_rings([ring("ring-1", ("alice", "bob"), updated_minute=10)])

    written = store.write_rings([ring("ring-1", ("mallory",), updated_minute=5)])

    assert written == 0
    kept = store.ring("ring-1")
    assert kept is not None and kept.members == ("alice", "bob")
    assert store.rings(account="mallory") == []


def test_a_newer_snapshot_replaces_the_members(store: Any) -> None:
    store.write_rings([ring("ring-1", ("alice", "bob"), updated_minute=10)])

    written = store.write_rings([ring("ring-1", ("bob", "carol"), updated_minute=20)])

    assert written == 1
    assert store.rings(account="alice") == []
    assert [r.ring_id for r in store.rings(account="carol")] == ["ring-1"]
    kept = store.ring("ring-1")
    assert kept is not None and kept.members == ("bob", "carol")


def test_rings_filter_and_order_like_each_other(store: Any) -> None:
    store.write_rings(
        [
            ring("ring-b", ("a1", "a2"), risk=0.9),
            ring("ring-a", ("a1", "a2"), risk=0.9),
            ring("ring-c", ("a1", "a2", "a3"), risk=0.9),
            ring("ring-low", ("a4", "a5"), risk=0.2),
            ring("ring-leiden", ("a1", "a6"), risk=0.5, method="leiden"),
        ]
    )

    ids = [r.ring_id for r in store.rings()]
    assert ids == ["ring-c", "ring-a", "ring-b", "ring-leiden", "ring-low"]
    assert [r.ring_id for r in store.rings(min_risk=0.6)] == [
        "ring-c",
        "ring-a",
        "ring-b",
    ]
    assert [r.ring_id for r in store.rings(method="leiden")] == ["ring-leiden"]
    assert [r.ring_id for r in store.rings(account="a6")] == ["ring-leiden"]
    assert [r.ring_id for r in store.rings(account="a1", limit=2)] == [
        "ring-c",
        "ring-a",
    ]


def test_hostile_member_ids_are_kept_and_found(postgres: PostgresStore) -> None:
    member = "nul\x00here <script>"
    snapshot = ring("ring-\x00", ("alice", member))

    postgres.write_rings([snapshot])

    assert postgres.ring("ring-\x00") == snapshot
    assert postgres.rings(account=member) == [snapshot]


def test_a_damaged_ring_is_a_storage_error_naming_it(
    postgres: PostgresStore, postgres_store_target: tuple[str, str]
) -> None:
    dsn, schema = postgres_store_target
    postgres.write_rings([ring("ring-1", ("alice",))])
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("UPDATE {}.rings SET body = '{{\"ring_id\": 1}}'").format(
                sql.Identifier(schema)
            )
        )

    with pytest.raises(StorageError, match=r"ring-1.*damaged"):
        postgres.ring("ring-1")


def test_a_store_at_the_baseline_gains_the_ring_tables_and_keeps_its_rows(
    postgres_store_target: tuple[str, str],
) -> None:
    dsn, schema = postgres_store_target

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(dsn)

    migrate.upgrade_decision_store(connect, schema, revision="0001")
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL(
                "INSERT INTO {}.verdicts VALUES ('v1', 'e1', 'login', now(), 'a', "
                "NULL, 'allow', 0.0, '', 'p@1', '{{}}')"
            ).format(sql.Identifier(schema))
        )

    with PostgresStore(dsn, schema=schema) as store:
        assert store.counts()["verdicts"] == 1
        assert store.write_rings([ring("ring-1", ("alice",))]) == 1

    assert migrate.decision_store_revision(connect, schema) == (
        migrate.DECISION_SCHEMA_HEAD
    )


def test_cases_group_a_rings_alerts_from_a_postgres_store(
    postgres: PostgresStore, tmp_path: Path
) -> None:
    postgres.write_verdicts([alert(1, "m1"), alert(2, "m2"), alert(3, "loner")])
    postgres.write_rings([ring("ring-1", ("m1", "m2"))])

    with SqliteReviewStore(tmp_path / "review.sqlite") as review:
        build_cases(postgres, review, clock=lambda: T0 + timedelta(days=1))
        by_subject = {(c.subject_type, c.subject): c for c in review.cases()}
        ring_case = by_subject[("ring", "ring-1")]
        evidence = case_evidence(ring_case, postgres)
        loner = case_evidence(by_subject[("account", "loner")], postgres)

    assert set(by_subject) == {("ring", "ring-1"), ("account", "loner")}
    assert ring_case.verdict_ids == ("v001", "v002")
    assert [r["ring_id"] for r in evidence.rings] == ["ring-1"]
    assert evidence.rings[0]["members"] == ["m1", "m2"]
    assert loner.rings == ()


def test_the_api_reader_lists_a_postgres_stores_rings(
    postgres: PostgresStore,
) -> None:
    snapshot = ring("ring-1", ("alice", "bob"), risk=0.7)
    postgres.write_rings([snapshot])
    reader = DecisionReader(postgres)

    assert reader.rings(min_risk=0.5, account="bob", limit=10) == [snapshot]
    assert reader.rings(min_risk=0.8, account=None, limit=10) == []
    assert reader.ring("ring-1") == snapshot
