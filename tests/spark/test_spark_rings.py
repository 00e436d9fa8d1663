"""The Spark batch ring job against the embedded RingTracker on the same events."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase, Login
from trustwatch.events.parquet import arrow_schema, write_events_parquet
from trustwatch.graph import RingTracker
from trustwatch.graph.inject import InjectedRing, RingSpec, inject_rings
from trustwatch.simulation import SimulationConfig, simulate
from trustwatch.spark import BatchRingConfig, attribute_uses, find_rings_batch

# No late joiners: the batch job does not attach accounts through a ring's
# evidence outside the lockstep window (see find_rings_batch).
SPECS = (
    RingSpec(members=30),
    RingSpec(members=12, proxies=2, files=2, urls=1),
    RingSpec(members=20, proxies=3),
    RingSpec(members=8, proxies=1, files=1, urls=1, camouflage=6),
)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local Spark session; skips without pyspark or Java.

    Fails instead when ``TRUSTWATCH_REQUIRE_SPARK=1``.
    """

    def unavailable(reason: str) -> None:
        if os.environ.get("TRUSTWATCH_REQUIRE_SPARK") == "1":
            pytest.fail(f"{reason}, and TRUSTWATCH_REQUIRE_SPARK=1 requires it")
        pytest.skip(reason)

    if importlib.util.find_spec("pyspark") is None:
        unavailable("pyspark is not installed (pip install 'trustwatch[spark]')")
    from trustwatch.spark import local_spark_session

    try:
        session = local_spark_session(cores=2)
    except Exception as exc:  # pyspark raises its own errors when Java is absent
        unavailable(f"cannot start local Spark (needs Java 17): {exc}")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def lake(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, list[InjectedRing], RingTracker]:
    """Telemetry with injected rings, as one Parquet file per day, and the tracker."""
    benign = list(simulate(SimulationConfig(accounts=600, days=2, attacks=())).events)
    events, key = inject_rings(benign, SPECS)
    tracker = RingTracker()
    for event in events:
        tracker.add_event(event)
    folder = tmp_path_factory.mktemp("lake")
    by_day: dict[str, list[EventBase]] = {}
    for event in events:
        by_day.setdefault(event.ts.date().isoformat(), []).append(event)
    for day, day_events in by_day.items():
        write_events_parquet(day_events, folder / f"events-{day}.parquet")
    return folder, key, tracker


def _embedded_clusters(tracker: RingTracker) -> set[frozenset[str]]:
    return {frozenset(ring.members) for ring in tracker.rings()}


@pytest.mark.slow
@pytest.mark.parametrize("components", ["driver", "iterative"])
def test_spark_rings_match_the_embedded_clusters(
    spark: Any, lake: tuple[Path, list[InjectedRing], RingTracker], components: str
) -> None:
    folder, key, tracker = lake
    config = BatchRingConfig.from_tracker(tracker, components=components)
    found = find_rings_batch(spark, [folder], config)
    assert found.method == components
    assert found.invalid_rows == 0
    assert set(found.clusters) == _embedded_clusters(tracker)
    # and each injected ring is exactly one cluster
    for ring in key:
        assert frozenset(ring.members) in found.clusters, ring.name
    assert len(found.clusters) == len(key)
    if components == "iterative":
        assert found.iterations >= 2


def _login(account: str, minute: float, ip: str, device: str) -> Login:
    start = datetime(2026, 3, 2, 9, 40, tzinfo=UTC)  # 20 min before a bucket edge
    return Login(
        event_id=f"e-{account}-{minute}",
        ts=start + timedelta(minutes=minute),
        account=account,
        ip=ip,
        device_id=device,
        user_agent="Mozilla/5.0 test",
        success=True,
    )


@pytest.mark.slow
def test_spark_window_hubs_and_invalid_rows(spark: Any, tmp_path: Path) -> None:
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    events = [
        # 50 minutes apart across an hour bucket edge: lockstep
        _login("acct-a", 0, "203.0.113.7", "dev-ab"),
        _login("acct-b", 50, "203.0.113.7", "dev-ab"),
        # the same address and device two hours apart: not lockstep
        _login("acct-c", 0, "198.51.100.9", "dev-cd"),
        _login("acct-d", 120, "198.51.100.9", "dev-cd"),
        # a device and address shared by four accounts, over hub_size=3
        *(_login(f"acct-h{i}", i, "192.0.2.44", "dev-hub") for i in range(4)),
    ]
    write_events_parquet(events, tmp_path / "good.parquet")
    bogus = pyarrow.Table.from_pylist(
        [
            {
                "type": "no-such-event",
                "event_id": "x",
                "ts": events[0].ts,
                "account": "z",
            }
        ],
        schema=arrow_schema(),
    )
    pq.write_table(bogus, tmp_path / "bad.parquet")

    config = BatchRingConfig(hub_size=3, components="driver")
    found = find_rings_batch(spark, [tmp_path], config)
    assert found.clusters == [frozenset({"acct-a", "acct-b"})]
    assert found.invalid_rows == 1
    # the hub's address, /24, user agent with address, and device
    assert found.hubs == 4
    assert found.accounts == 8

    tracker = RingTracker(pair_threshold=config.pair_threshold)
    tracker.graph.hub_size = 3
    for event in events:
        tracker.add_event(event)
    # The documented difference: the stream linked the first two hub users
    # before the device grew into a hub, and keeps that link; the batch job
    # knows the device is a hub and links nobody through it.
    early = frozenset({"acct-h0", "acct-h1"})
    assert _embedded_clusters(tracker) == {*found.clusters, early}


def test_spark_config_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="components"):
        BatchRingConfig(components="graphframes")
    with pytest.raises(ConfigError, match="hub_size"):
        BatchRingConfig(hub_size=1)
    with pytest.raises(ConfigError, match="min_groups"):
        BatchRingConfig(min_groups=9)
    with pytest.raises(ConfigError, match="no Parquet paths"):
        attribute_uses(None, [])


def test_spark_config_follows_the_tracker() -> None:
    tracker = RingTracker(pair_threshold=3.0, min_groups=3)
    config = BatchRingConfig.from_tracker(tracker, max_iterations=7)
    assert (config.pair_threshold, config.min_groups) == (3.0, 3)
    assert config.hub_size == tracker.graph.hub_size
    assert config.lockstep_window == tracker.graph.lockstep_window
    assert config.max_iterations == 7
