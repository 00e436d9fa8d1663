"""Tests for trustwatch.events.parquet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.model import EVENT_TYPES, ApiTokenCreated, FileUploaded, Login
from trustwatch.events.parquet import (
    _text_bytes,
    arrow_schema,
    iter_parquet_rows,
    write_events_parquet,
)
from trustwatch.events.readers import read_events

TS = datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_schema_holds_the_union_of_all_event_fields() -> None:
    schema = arrow_schema()
    names = set(schema.names)
    for cls in EVENT_TYPES.values():
        assert set(cls.__struct_fields__) <= names
    assert schema.names[0] == "type"
    assert schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert schema.field("scopes").type == pa.list_(pa.string())
    assert schema.field("size").type == pa.int64()
    assert schema.field("success").type == pa.bool_()
    assert schema.field("method").type == pa.string()


def test_written_files_carry_the_type_column_and_nulls(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    events = [
        FileUploaded(event_id="a", ts=TS, file_id="f", size=2**62, sha256="ab" * 32),
        ApiTokenCreated(event_id="b", ts=TS, scopes=("read",)),
    ]
    write_events_parquet(events, path)
    table = pq.read_table(path)
    assert table.schema.equals(arrow_schema())
    assert table.column("type").to_pylist() == ["file_uploaded", "api_token_created"]
    assert table.column("size").to_pylist() == [2**62, None]
    assert table.column("scopes").to_pylist() == [None, ["read"]]


def test_rows_leave_nulls_out(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    write_events_parquet([ApiTokenCreated(event_id="b", ts=TS)], path)
    ((rowno, row, problem),) = list(iter_parquet_rows(path))
    assert rowno == 1
    assert problem is None
    assert None not in row.values()
    assert row["type"] == "api_token_created"
    assert row["ts"] == TS


def _logins(count: int, **columns: Any) -> Any:
    return pa.table(
        {
            "type": ["login"] * count,
            "event_id": [f"e{i}" for i in range(count)],
            "ts": pa.array([TS] * count, pa.timestamp("us", tz="UTC")),
            "account": [f"a{i}" for i in range(count)],
            "success": [True] * count,
            **columns,
        }
    )


def test_a_damaged_row_group_costs_only_its_own_rows(tmp_path: Path) -> None:
    path = tmp_path / "groups.parquet"
    pq.write_table(_logins(30), path, row_group_size=10, use_dictionary=False)
    chunk = pq.ParquetFile(path).metadata.row_group(1).column(3)
    assert chunk.path_in_schema == "account"
    data = bytearray(path.read_bytes())
    for index in range(chunk.data_page_offset, chunk.data_page_offset + 8):
        data[index] ^= 0x5A  # break the page header of group 1's account page
    path.write_bytes(bytes(data))

    items = list(read_events(path))
    events = [i for i in items if isinstance(i, Login)]
    assert [e.event_id for e in events] == [
        f"e{i}" for i in (*range(10), *range(20, 30))
    ]
    (letter,) = [i for i in items if isinstance(i, DeadLetter)]
    assert (letter.location, letter.reason) == ("rows 11-20", "unreadable")
    assert "(row group 1)" in letter.message and "hint:" in letter.message
    numbers = [n for n, _, _ in iter_parquet_rows(path)]
    assert numbers == [*range(1, 11), 20, *range(21, 31)]


def test_list_entries_count_toward_the_record_limit(tmp_path: Path) -> None:
    path = tmp_path / "lists.parquet"
    recipients = pa.array([["x@a.example"], [""] * 400, None], pa.list_(pa.string()))
    table = _logins(3, recipients=recipients).set_column(
        0, "type", pa.array(["file_shared"] * 3)
    )
    pq.write_table(table, path)
    rows = list(iter_parquet_rows(path, max_bytes=1_024))
    assert [p is None for _, _, p in rows] == [True, False, True]
    problem = rows[1][2]
    assert problem is not None and problem.reason == "too_large"
    assert "1,215 bytes of text and list entries" in str(problem)
    assert rows[1][1] == {"type": "file_shared", "event_id": "e1"}
    # sizes of a sliced column come from its own rows' offsets
    assert _text_bytes(table.select(["recipients"]).slice(1)).tolist() == [1_200, 0]
    assert _text_bytes(table.select(["recipients"]).slice(0, 1)).tolist() == [14]


def test_int96_timestamps_are_read_as_utc(tmp_path: Path) -> None:
    naive = pa.array([TS.replace(tzinfo=None)] * 2, pa.timestamp("us"))
    table = _logins(2).set_column(2, "ts", naive)
    pq.write_table(
        table, tmp_path / "spark.parquet", use_deprecated_int96_timestamps=True
    )
    pq.write_table(table, tmp_path / "naive.parquet")
    assert [
        getattr(i, "ts", None) for i in read_events(tmp_path / "spark.parquet")
    ] == [
        TS,
        TS,
    ]
    # a naive timestamp stored otherwise has no zone to go by
    items = list(read_events(tmp_path / "naive.parquet"))
    assert [getattr(i, "reason", None) for i in items] == ["timestamp"] * 2


def test_an_event_column_twice_refuses_the_file(tmp_path: Path) -> None:
    table = _logins(1)
    table = table.append_column("account", pa.array(["other"]))
    path = tmp_path / "twice.parquet"
    pq.write_table(table, path)
    (letter,) = read_events(path)
    assert isinstance(letter, DeadLetter)
    assert (letter.location, letter.reason) == ("file", "unsupported_format")
    assert "columns ['account'] appear more than once" in letter.message
