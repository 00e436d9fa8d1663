"""Tests for trustwatch.events.parquet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trustwatch.events.model import EVENT_TYPES, ApiTokenCreated, FileUploaded
from trustwatch.events.parquet import (
    arrow_schema,
    iter_parquet_rows,
    write_events_parquet,
)

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
