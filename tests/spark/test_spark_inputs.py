"""The Spark ring job's input files: checked on the driver, read each as it is."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trustwatch.events import read_events
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.model import Login
from trustwatch.events.parquet import write_events_parquet
from trustwatch.graph import RingTracker
from trustwatch.spark import BatchRingConfig, find_rings_batch, scan_parquet_inputs

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _login(account: str, minute: float, ip: str, device: str) -> Login:
    return Login(
        event_id=f"e-{account}-{minute}",
        ts=START + timedelta(minutes=minute),
        account=account,
        ip=ip,
        device_id=device,
        user_agent="Mozilla/5.0 test",
        success=True,
    )


def _table(events: list[Login]) -> Any:
    from trustwatch.events.parquet import arrow_schema

    rows = []
    for event in events:
        row = {name: getattr(event, name, None) for name in arrow_schema().names}
        row["type"] = "login"
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=arrow_schema())


def _with_column(table: Any, name: str, column: Any) -> Any:
    return table.set_column(table.schema.get_field_index(name), name, column)


def _lake(folder: Path) -> None:
    """A file of full events, and beside it files each off in one way."""
    # a pair linked only with the user agent's evidence (see pair_threshold)
    write_events_parquet(
        [
            _login("acct-a", 0, "203.0.113.7", "dev-ab"),
            _login("acct-b", 5, "203.0.113.7", "dev-ab"),
        ],
        folder / "b-full.parquet",
    )
    # sorts first: no user_agent, and a column that is no event field
    lean = _table([_login("acct-c", 0, "198.51.100.9", "dev-c")])
    lean = lean.drop_columns(["user_agent"]).append_column(
        "extra", pa.array(["x"], pa.string())
    )
    pq.write_table(lean, folder / "a-lean.parquet")
    # ts as nanoseconds in another zone: the same instants
    other = _table([_login("acct-d", 1, "192.0.2.5", "dev-d")])
    berlin = pa.timestamp("ns", tz="Europe/Berlin")
    pq.write_table(
        _with_column(other, "ts", other.column("ts").cast(berlin)),
        folder / "c-nanos.parquet",
    )
    # ts as text and as epoch seconds, read as `run` reads them
    text = _table([_login("acct-e", 2, "192.0.2.6", "dev-e")])
    text = _with_column(text, "ts", pa.array([START.isoformat()]))
    pq.write_table(text, folder / "d-text.parquet")
    epoch = _table([_login("acct-f", 3, "192.0.2.7", "dev-f")])
    pq.write_table(
        _with_column(epoch, "ts", pa.array([int(START.timestamp())], pa.int64())),
        folder / "e-epoch.parquet",
    )
    # account as a number: a schema dead letter in `run`, an invalid row here
    number = _table([_login("acct-g", 4, "192.0.2.8", "dev-g")])
    pq.write_table(
        _with_column(number, "account", pa.array([7], pa.int64())),
        folder / "f-number.parquet",
    )
    # ts without a zone: refused unless a source zone is given
    naive = _table([_login("acct-h", 0, "203.0.113.7", "dev-h")])
    pq.write_table(
        _with_column(naive, "ts", naive.column("ts").cast(pa.timestamp("us"))),
        folder / "g-naive.parquet",
    )
    # ts as INT96, as Spark writes it by default: UTC instants
    int96 = _table([_login("acct-k", 5, "192.0.2.9", "dev-k")])
    pq.write_table(
        int96, folder / "g-int96.parquet", use_deprecated_int96_timestamps=True
    )
    # broken off, empty, and events in another format
    whole = (folder / "b-full.parquet").read_bytes()
    (folder / "h-cut.parquet").write_bytes(whole[: len(whole) // 2])
    (folder / "i-empty.parquet").write_bytes(b"")
    (folder / "j-lines.jsonl").write_text(
        '{"type":"logout","event_id":"l1","ts":"2026-03-02T09:00:00Z",'
        '"account":"acct-i"}\n'
    )


def _reasons(skipped: Any) -> dict[str, str]:
    return {Path(item.path).name: item.reason for item in skipped}


def test_scan_checks_each_file_on_the_driver(tmp_path: Path) -> None:
    _lake(tmp_path)
    found = scan_parquet_inputs([tmp_path])
    assert _reasons(found.skipped) == {
        "g-naive.parquet": "timestamp",
        "h-cut.parquet": "unreadable",
        "i-empty.parquet": "unreadable",
        "j-lines.jsonl": "not_parquet",
    }
    naive = next(s for s in found.skipped if s.reason == "timestamp")
    assert "no time zone" in naive.detail and "source_tz" in naive.detail
    assert sorted(Path(f).name for f in found.files) == [
        "a-lean.parquet",
        "b-full.parquet",
        "c-nanos.parquet",
        "d-text.parquet",
        "e-epoch.parquet",
        "f-number.parquet",
        "g-int96.parquet",
    ]
    # each file is read with its own columns: the lean one has no user_agent
    lean = next(g for g in found.groups if "a-lean" in g.files[0])
    assert "user_agent" not in dict(lean.columns)
    assert "extra" not in dict(lean.columns)
    with_zone = scan_parquet_inputs([tmp_path], source_tz="Europe/Berlin")
    assert "g-naive.parquet" not in _reasons(with_zone.skipped)


def test_scan_refuses_a_column_it_cannot_read(tmp_path: Path) -> None:
    table = _table([_login("acct-a", 0, "203.0.113.7", "dev-a")])
    nested = pa.array([{"a": 1}], pa.struct([("a", pa.int64())]))
    pq.write_table(_with_column(table, "ip", nested), tmp_path / "struct.parquet")
    pq.write_table(table.drop_columns(["event_id"]), tmp_path / "no-id.parquet")
    found = scan_parquet_inputs([tmp_path])
    assert found.files == ()
    assert _reasons(found.skipped) == {
        "struct.parquet": "unsupported_format",
        "no-id.parquet": "unsupported_format",
    }


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local Spark session; skips without pyspark or Java."""
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed (pip install 'trustwatch[spark]')")
    from trustwatch.spark import local_spark_session

    try:
        session = local_spark_session(cores=2)
    except Exception as exc:  # pyspark raises its own errors when Java is absent
        pytest.skip(f"cannot start local Spark (needs Java 17): {exc}")
    session.sparkContext.setLogLevel("OFF")
    yield session
    session.stop()


@pytest.mark.slow
def test_spark_job_reads_what_run_reads_and_reports_the_rest(
    spark: Any, tmp_path: Path
) -> None:
    _lake(tmp_path)
    # 4.41 with the user agent's evidence, 3.43 without it
    tracker = RingTracker(pair_threshold=4.0)
    dead = 0
    for item in read_events([tmp_path]):
        if isinstance(item, DeadLetter):
            dead += 1
        else:
            tracker.add_event(item)
    embedded = {frozenset(ring.members) for ring in tracker.rings()}
    assert embedded == {frozenset({"acct-a", "acct-b"})}

    config = BatchRingConfig.from_tracker(tracker, components="driver")
    found = find_rings_batch(spark, [tmp_path], config)
    assert set(found.clusters) == embedded
    assert found.files == 7
    assert _reasons(found.skipped_files) == {
        "g-naive.parquet": "timestamp",
        "h-cut.parquet": "unreadable",
        "i-empty.parquet": "unreadable",
        "j-lines.jsonl": "not_parquet",
    }
    assert found.invalid_rows == 1  # the numeric account
    # the lean, nanosecond, text, epoch and INT96 files' accounts, and the pair
    assert found.accounts == 7

    # with a zone for the naive file, its account joins the pair's address
    zoned = find_rings_batch(spark, [tmp_path], config, source_tz="UTC")
    assert "g-naive.parquet" not in _reasons(zoned.skipped_files)
    assert zoned.accounts == 8
