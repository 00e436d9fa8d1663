"""Paging through alerts that share a time, and the ``kind`` filter, on the
SQLite and the PostgreSQL decision store and through ``/api/v1/alerts``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from trustwatch.api.decisions import DecisionReader, VerdictFilter
from trustwatch.decisions.model import Verdict
from trustwatch.detectors.base import Signal
from trustwatch.errors import ConfigError
from trustwatch.storage.sqlite import SqliteStore, VerdictQuery

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
#: Events per whole second: SSH logs carry no fraction of a second.
PER_SECOND = 4
#: More than every stored verdict: a pager that repeats stops here.
MAX_LISTED = 200


def verdict(
    n: int, *, policy: str = "default@1", kinds: tuple[str, ...] = ("brute_force",)
) -> Verdict:
    """A verdict on event ``e{n}``, ``PER_SECOND`` events to a whole second."""
    signals = tuple(
        Signal(
            detector="d",
            detector_version="1",
            kind=kind,
            score=0.9,
            entity_type="account",
            entity=f"acct-{n}",
            event_id=f"e{n}",
        )
        for kind in kinds
    )
    return Verdict(
        verdict_id=f"v{n:03d}-{policy}",
        event_id=f"e{n}",
        event_type="login",
        ts=T0 + timedelta(seconds=n // PER_SECOND),
        account=f"acct-{n}",
        ip="198.51.100.7",
        decision="challenge",
        score=0.9,
        signals=signals,
        rules=(),
        policy=policy,
    )


def sharing_times() -> list[Verdict]:
    """Alerts in runs that share a second, each event decided under two
    policies; one ``allow`` verdict among them."""
    found = [verdict(n, policy=p) for n in range(19) for p in ("p1", "p2")]
    allowed = msgspec.structs.replace(verdict(3), verdict_id="v-allow")
    return [*found, msgspec.structs.replace(allowed, decision="allow")]


@pytest.fixture(params=["sqlite", "postgres"])
def reader(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DecisionReader]:
    """A reader over each decision store, holding :func:`sharing_times`."""
    store: Any
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "decisions.sqlite")
    else:
        from trustwatch.storage.postgres import PostgresStore

        dsn, schema = request.getfixturevalue("postgres_store_target")
        store = PostgresStore(dsn, schema=schema)
    try:
        store.write_verdicts(sharing_times())
        yield DecisionReader(store)
    finally:
        store.close()


def _page_through(reader: DecisionReader, wanted: VerdictFilter) -> list[str]:
    """The verdict ids of every page, each page read on from the last one."""
    listed: list[str] = []
    while (page := reader.verdicts(wanted)) and len(listed) < MAX_LISTED:
        listed += [v.verdict_id for v in page]
        wanted = dataclasses.replace(wanted, after=page[-1].verdict_id)
    return listed


@pytest.mark.parametrize("limit", [1, 3, 4, 5])
def test_paging_lists_every_alert_once_in_both_stores(reader, limit) -> None:
    alerts = [v for v in sharing_times() if v.decision != "allow"]

    listed = _page_through(reader, VerdictFilter(kind="brute_force", limit=limit))

    assert len(listed) == len(set(listed)) == len(alerts)
    # newest first, then by verdict id, highest first: one order in both stores
    expected = sorted(alerts, key=lambda v: (v.ts, v.verdict_id), reverse=True)
    assert listed == [v.verdict_id for v in expected]


def test_until_still_filters_by_time_only(reader) -> None:
    cut = T0 + timedelta(seconds=2)

    found = reader.verdicts(VerdictFilter(until=cut, limit=500))

    assert found and all(v.ts < cut for v in found)
    assert len(found) == 2 * 2 * PER_SECOND  # two seconds, two policies


def test_paging_keeps_the_other_filters(reader) -> None:
    first = reader.verdicts(VerdictFilter(limit=3, alerts_only=False))
    rest = reader.verdicts(
        VerdictFilter(alerts_only=False, after=first[-1].verdict_id, limit=500)
    )
    since = T0 + timedelta(seconds=3)
    window = _page_through(reader, VerdictFilter(since=since, limit=2))

    assert len(first) + len(rest) == len(sharing_times())
    assert "v-allow" in {v.verdict_id for v in [*first, *rest]}
    assert len(window) == 2 * (19 - 3 * PER_SECOND)
    assert len(set(window)) == len(window)


def test_an_unknown_verdict_to_page_from_is_refused(reader) -> None:
    with pytest.raises(ConfigError, match="no verdict 'nope' to list on from"):
        reader.verdicts(VerdictFilter(after="nope"))


def test_a_kind_with_a_space_matches_no_two_kinds(reader) -> None:
    both = verdict(100, kinds=("login_after_failures", "risky_login"))
    reader.store.write_verdicts([both])

    assert reader.verdicts(VerdictFilter(kind="login_after_failures risky_login")) == []
    assert reader.verdicts(VerdictFilter(kind="risky_login")) == [both]
    assert reader.verdicts(VerdictFilter(kind="login_after")) == []


def test_the_sqlite_store_pages_by_its_own_query(tmp_path) -> None:
    with SqliteStore(tmp_path / "decisions.sqlite") as store:
        store.write_verdicts(sharing_times())
        listed: list[str] = []
        query = VerdictQuery(min_decision=True, limit=3)
        while (page := store.verdicts(query)) and len(listed) < MAX_LISTED:
            listed += [v.verdict_id for v in page]
            query = dataclasses.replace(query, after=page[-1].verdict_id)

        assert len(listed) == len(set(listed))
        assert sorted(listed) == sorted(
            v.verdict_id for v in sharing_times() if v.decision != "allow"
        )


def test_the_api_pages_with_after_and_refuses_two_kinds(world) -> None:
    with SqliteStore(world.settings.db) as store:
        store.write_verdicts(sharing_times())
        every = store.verdicts(VerdictQuery(min_decision=True, limit=10_000))
        expected = {v.verdict_id for v in every}
    viewer = world.auth("viewer")

    listed: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while len(listed) < MAX_LISTED and (
        page := world.client.get("/api/v1/alerts", params=params, headers=viewer).json()
    ):
        listed += [alert["verdict_id"] for alert in page]
        params["after"] = page[-1]["verdict_id"]
    assert len(listed) == len(set(listed)) == len(expected)
    assert set(listed) == expected

    unknown = world.client.get(
        "/api/v1/alerts", params={"after": "no-such-verdict"}, headers=viewer
    )
    assert unknown.status_code == 422
    assert "no-such-verdict" not in unknown.text
    for path in ("/api/v1/alerts", "/api/v1/cases"):
        for kind in ("login_after_failures risky_login", "brute_force\u00a0x"):
            refused = world.client.get(path, params={"kind": kind}, headers=viewer)
            assert refused.status_code == 422, (path, kind)
            assert "a signal kind holds no spaces" in refused.text
