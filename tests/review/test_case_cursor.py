"""Case building reads on from its cursor, and the queue filters by signal kind."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from test_case_building import verdict

from trustwatch.errors import StorageError
from trustwatch.review import migrate
from trustwatch.review.cases import (
    CURSOR_KEY,
    BuildCursor,
    build_cases,
    case_id_for,
)
from trustwatch.review.model import CaseQuery
from trustwatch.review.store import (
    PostgresReviewStore,
    SqliteReviewStore,
    SqlReviewStore,
)
from trustwatch.review.tables import case_kinds as case_kinds_table
from trustwatch.review.tables import cases as cases_table
from trustwatch.storage.sqlite import SqliteStore

NOW = datetime(2026, 5, 2, tzinfo=UTC)


@pytest.fixture
def decisions(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "decisions.sqlite") as store:
        yield store


def build(decisions: Any, review: SqlReviewStore, **options: Any) -> Any:
    return build_cases(decisions, review, clock=lambda: NOW, **options)


def cased_ids(review: SqlReviewStore) -> list[str]:
    return sorted(v for c in review.cases(CaseQuery(limit=1000)) for v in c.verdict_ids)


def saved_cursor(review: SqlReviewStore) -> BuildCursor:
    return msgspec.json.decode(review.state(CURSOR_KEY) or "", type=BuildCursor)


class CountingSource:
    """A decision store that records the marks it was asked to read after."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.path = getattr(store, "path", None)
        self.target = getattr(store, "target", None)
        self.schema = getattr(store, "schema", None)
        self.alert_mark_overlap = store.alert_mark_overlap
        self.reads: list[int | None] = []

    def alerts_since(self, mark: int | None, **options: Any) -> Any:
        self.reads.append(mark)
        return self.store.alerts_since(mark, **options)

    def iter_verdicts(self) -> Any:
        raise AssertionError("an incremental build scanned the whole store")

    def rings(self, **options: Any) -> Any:
        return self.store.rings(**options)


def test_a_rebuild_with_nothing_new_reads_nothing(decisions, review_store):
    decisions.write_verdicts([verdict(n, f"acct{n % 3}") for n in range(1, 10)])
    first = build(decisions, review_store)

    again = build(decisions, review_store)

    assert (first.verdicts, first.alerts, first.cases_opened) == (9, 9, 3)
    assert (again.verdicts, again.alerts, again.cases_changed) == (0, 0, 0)
    assert again.mark == first.mark == saved_cursor(review_store).mark
    assert saved_cursor(review_store).verdict_id == "v009"


def test_a_build_reads_on_from_the_cursor_and_catches_late_alerts(
    decisions, review_store
):
    decisions.write_verdicts([verdict(5, "alice"), verdict(6, "bob")])
    build(decisions, review_store)
    old_mark = saved_cursor(review_store).mark
    source = CountingSource(decisions)

    decisions.write_verdicts([verdict(1, "alice"), verdict(7, "bob", "allow")])
    summary = build(source, review_store)

    mark = saved_cursor(review_store).mark
    assert (summary.verdicts, summary.alerts, summary.cases_changed) == (1, 1, 1)
    assert review_store.case(case_id_for("account", "alice", 0)).verdict_ids == (
        "v005",
        "v001",
    )
    assert source.reads == [old_mark - 1, old_mark], "a check, then one page"
    assert saved_cursor(review_store).verdict_id == "v001" and mark == summary.mark


def test_a_build_that_fails_half_way_resumes_without_losing_alerts(
    decisions, review_store, monkeypatch
):
    decisions.write_verdicts([verdict(n, f"acct{n}") for n in range(1, 8)])
    real_upsert = review_store.upsert_cases
    calls = 0

    def fail_on_the_third_page(cases: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise StorageError("the review store went away")
        return real_upsert(cases)

    monkeypatch.setattr(review_store, "upsert_cases", fail_on_the_third_page)
    with pytest.raises(StorageError):
        build(decisions, review_store, page_size=2)
    assert saved_cursor(review_store).verdict_id == "v004"
    assert cased_ids(review_store) == ["v001", "v002", "v003", "v004"]

    monkeypatch.setattr(review_store, "upsert_cases", real_upsert)
    resumed = build(decisions, review_store, page_size=2)

    assert (resumed.verdicts, resumed.alerts) == (3, 3)
    assert cased_ids(review_store) == [f"v{n:03d}" for n in range(1, 8)]
    assert saved_cursor(review_store).verdict_id == "v007"


def test_full_reads_every_alert_again_and_adds_nothing_twice(decisions, review_store):
    decisions.write_verdicts([verdict(n, "alice") for n in range(1, 5)])
    build(decisions, review_store)

    summary = build(decisions, review_store, full=True)

    assert (summary.verdicts, summary.alerts, summary.cases_changed) == (4, 0, 0)
    assert cased_ids(review_store) == ["v001", "v002", "v003", "v004"]


def test_a_replaced_decision_store_is_read_from_the_start(
    tmp_path, review_store, caplog
):
    path = tmp_path / "decisions.sqlite"
    with SqliteStore(path) as first:
        first.write_verdicts([verdict(n, "alice") for n in range(1, 4)])
        build(first, review_store)
    path.unlink()
    Path(f"{path}-wal").unlink(missing_ok=True)
    Path(f"{path}-shm").unlink(missing_ok=True)

    with SqliteStore(path) as second, caplog.at_level(logging.WARNING):
        second.write_verdicts([verdict(n, "bob") for n in range(10, 14)])
        summary = build(second, review_store)

    assert (summary.verdicts, summary.alerts) == (4, 4)
    assert "no longer holds alert v003" in caplog.text
    assert "v013" in cased_ids(review_store)


def test_another_store_or_threshold_does_not_reuse_the_cursor(
    tmp_path, decisions, review_store
):
    decisions.write_verdicts([verdict(1, "alice"), verdict(2, "carol", "allow", 0.8)])
    build(decisions, review_store)

    with_threshold = build(decisions, review_store, review_threshold=0.75)
    with SqliteStore(tmp_path / "other.sqlite") as other:
        other.write_verdicts([verdict(3, "dave"), verdict(4, "erin")])
        from_other = build(other, review_store)

    assert (with_threshold.verdicts, with_threshold.alerts) == (2, 1)
    assert (from_other.verdicts, from_other.alerts) == (2, 2)
    assert saved_cursor(review_store).source.endswith("other.sqlite")


def test_a_damaged_cursor_means_a_full_read(decisions, review_store, caplog):
    decisions.write_verdicts([verdict(1, "alice")])
    review_store.set_state(CURSOR_KEY, "{not json")

    with caplog.at_level(logging.WARNING):
        summary = build(decisions, review_store)

    assert summary.alerts == 1
    assert "cursor is damaged" in caplog.text
    assert saved_cursor(review_store).verdict_id == "v001"


def test_alerts_of_a_case_resolved_during_the_build_go_to_a_new_case(
    decisions, review_store, monkeypatch
):
    decisions.write_verdicts([verdict(1, "alice")])
    build(decisions, review_store)
    first = case_id_for("account", "alice", 0)
    decisions.write_verdicts([verdict(2, "alice")])
    real_upsert = review_store.upsert_cases

    def resolve_first_then_upsert(cases: Any) -> int:
        if review_store.case(first).status != "resolved":
            review_store.resolve(first, label="benign", analyst="ana")
        return real_upsert(cases)

    monkeypatch.setattr(review_store, "upsert_cases", resolve_first_then_upsert)
    summary = build(decisions, review_store)

    second = review_store.case(case_id_for("account", "alice", 1))
    assert second is not None and second.verdict_ids == ("v002",)
    assert review_store.case(first).verdict_ids == ("v001",)
    assert summary.alerts == 1
    assert saved_cursor(review_store).verdict_id == "v002"


def test_postgres_builds_catch_a_row_committed_after_a_later_one(
    postgres_store_target, review_store
):
    import psycopg
    from psycopg import sql

    from trustwatch.storage.postgres import PostgresStore

    dsn, schema = postgres_store_target
    late = verdict(1, "alice")
    insert = sql.SQL(
        "INSERT INTO {}.verdicts (verdict_id, event_id, event_type, ts, account, "
        "ip, decision, score, kinds, policy, body) "
        "VALUES (%s, %s, 'login', %s, %s, NULL, %s, %s, '', %s, %s)"
    ).format(sql.Identifier(schema))
    row = (
        late.verdict_id,
        late.event_id,
        late.ts,
        late.account,
        late.decision,
        late.score,
        late.policy,
        msgspec.json.encode(late).decode(),
    )
    with PostgresStore(dsn, schema=schema) as store:
        with psycopg.connect(dsn) as slow_writer:
            slow_writer.execute(insert, row)  # numbered now, committed last
            store.write_verdicts([verdict(2, "bob")])
            before = build(store, review_store)
            slow_writer.commit()
        after = build(store, review_store)
        settled = build(store, review_store)

    assert (before.alerts, after.alerts, settled.alerts) == (1, 1, 0)
    assert cased_ids(review_store) == ["v001", "v002"]
    assert saved_cursor(review_store).verdict_id == "v002"


# -- the kind filter ----------------------------------------------------------


def test_cases_filter_by_signal_kind_as_kinds_are_added(
    decisions, review_store, make_case
):
    decisions.write_verdicts(
        [verdict(1, "alice", kind="intel_url"), verdict(2, "bob", kind="brute_force")]
    )
    build(decisions, review_store)

    def with_kind(kind: str) -> list[str]:
        return [c.subject for c in review_store.cases(CaseQuery(kind=kind))]

    assert with_kind("intel_url") == ["alice"]
    assert with_kind("brute_force") == ["bob"]
    assert with_kind("malware_file") == []

    decisions.write_verdicts([verdict(3, "bob", kind="intel_url")])
    build(decisions, review_store)

    assert sorted(with_kind("intel_url")) == ["alice", "bob"]
    assert with_kind("brute_force") == ["bob"]
    assert review_store.cases(CaseQuery(kind="intel_url", status="resolved")) == []


def _review_at_first_revision(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> SqlReviewStore:
    """A review store migrated to revision 0001 only."""
    store: SqlReviewStore
    if backend == "sqlite":
        store = SqliteReviewStore(tmp_path / "review.db", migrate=False)
    else:
        dsn, schema = request.getfixturevalue("postgres_store_target")
        store = PostgresReviewStore(dsn, schema=schema, check=False)
    migrate.upgrade(store._engine, store.schema, "0001")
    return store


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_migration_indexes_the_kinds_of_stored_cases(
    backend, request, tmp_path, make_case
):
    """Cases stored before the kind index are found by kind after the upgrade."""
    stored = [
        msgspec.structs.replace(make_case(f"case-{n}", subject=f"s{n}"), kinds=kinds)
        for n, kinds in enumerate(
            [("intel_url",), ("brute_force", "intel_url"), (), ("brute_force",)]
        )
    ]
    damaged = make_case("case-bad", subject="bad")
    with _review_at_first_revision(backend, request, tmp_path) as old:
        with old._engine.begin() as db:
            db.execute(
                cases_table.insert(),
                [{**old._case_columns(case), "version": 1} for case in stored]
                + [{**old._case_columns(damaged), "version": 1, "body": "{damaged"}],
            )

        assert old.upgrade() == migrate.head_revision() == "0002"
        found = {c.case_id for c in old.cases(CaseQuery(kind="intel_url"))}
        brute = {c.case_id for c in old.cases(CaseQuery(kind="brute_force"))}
        with old._engine.connect() as db:
            rows = db.execute(
                sa.select(sa.func.count()).select_from(case_kinds_table)
            ).scalar()

    assert found == {"case-0", "case-1"}
    assert brute == {"case-1", "case-3"}
    assert rows == 4


def test_cases_build_full_reads_every_alert_again(tmp_path, capsys):
    from trustwatch.cli.exitcodes import ExitCode
    from trustwatch.cli.main import main

    db = tmp_path / "decisions.sqlite"
    with SqliteStore(db) as store:
        store.write_verdicts([verdict(n, "alice") for n in range(1, 4)])
    command = ["cases", "build", "--db", str(db), "--review-db"]
    command.append(str(tmp_path / "review.sqlite"))

    assert main(command) == ExitCode.OK
    assert main(command) == ExitCode.OK
    assert main([*command, "--full"]) == ExitCode.OK

    first, again, full = capsys.readouterr().out.strip().splitlines()
    assert first.startswith("3 alerts read; 3 new alerts into 1 cases (1 new)")
    assert again.startswith("0 alerts read; 0 new alerts")
    assert full.startswith("3 alerts read; 0 new alerts")
