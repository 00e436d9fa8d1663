"""Store events in Parquet and read Parquet rows back, one record batch at a time.

Every event type shares one Arrow schema: the ``type`` column, then the union
of all event fields (a field that an event type lacks is null in its rows).
The schema is derived from the event classes, so it is the same for every
file, whatever types a file holds: ``ts`` is ``timestamp[us, UTC]``, tuples
are ``list<string>``, integers ``int64``. pyarrow is imported on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi

from trustwatch.errors import ConfigError
from trustwatch.events._files import UnreadableError
from trustwatch.events.model import EVENT_TYPES, EventBase, type_name

__all__ = ["arrow_schema", "iter_parquet_rows", "write_events_parquet"]

logger = logging.getLogger(__name__)

_BATCH_ROWS = 65_536


def _arrow_type(info: mi.Type) -> Any:
    """Map a msgspec field type to the Arrow type of its column."""
    import pyarrow as pa

    if isinstance(info, mi.UnionType):
        inner = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(inner) == 1:
            return _arrow_type(inner[0])
    elif isinstance(info, mi.StrType):
        return pa.string()
    elif isinstance(info, mi.BoolType):
        return pa.bool_()
    elif isinstance(info, mi.IntType):
        return pa.int64()
    elif isinstance(info, mi.FloatType):
        return pa.float64()
    elif isinstance(info, mi.DateTimeType):
        return pa.timestamp("us", tz="UTC")
    elif isinstance(info, mi.LiteralType) and all(
        isinstance(v, str) for v in info.values
    ):
        return pa.string()
    elif isinstance(info, mi.VarTupleType | mi.ListType):
        return pa.list_(_arrow_type(info.item_type))
    raise TypeError(f"no Arrow column type for event field type {info!r}")


@lru_cache(maxsize=1)
def arrow_schema() -> Any:
    """Return the ``pyarrow.Schema`` shared by all event Parquet files."""
    import pyarrow as pa

    columns: dict[str, Any] = {"type": pa.string()}
    for cls in EVENT_TYPES.values():
        for info in mi.type_info(cls).fields:  # type: ignore[attr-defined]
            arrow = _arrow_type(info.type)
            known = columns.setdefault(info.name, arrow)
            if known != arrow:
                raise TypeError(f"field {info.name!r} has two column types")
    return pa.schema(list(columns.items()))


def _row(event: EventBase) -> dict[str, Any]:
    row = msgspec.structs.asdict(event)
    row["type"] = type_name(event)
    return row


def write_events_parquet(events: Iterable[EventBase], path: str | Path) -> int:
    """Write events to one Parquet file with the shared schema.

    Returns
    -------
    int
        How many events were written.

    Raises
    ------
    ConfigError
        When the file cannot be created.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema()
    written = 0
    try:
        with pq.ParquetWriter(str(path), schema) as writer:
            batch: list[dict[str, Any]] = []
            for event in events:
                batch.append(_row(event))
                if len(batch) == _BATCH_ROWS:
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    written, batch = written + len(batch), []
            if batch or not written:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                written += len(batch)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc}; hint: check that its folder exists"
        ) from exc
    logger.info("wrote %d events to %s", written, path)
    return written


def iter_parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row number, row)`` from a Parquet file, nulls left out of rows.

    Raises
    ------
    UnreadableError
        When the file is not Parquet or breaks off; ``location`` says where.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rowno = 0
    try:
        with pq.ParquetFile(path) as reader:
            for batch in reader.iter_batches(batch_size=8192):
                for row in batch.to_pylist():
                    rowno += 1
                    yield rowno, {k: v for k, v in row.items() if v is not None}
    except (OSError, pa.ArrowException) as exc:
        location = f"row {rowno + 1}" if rowno else "file"
        raise UnreadableError(location, f"cannot read Parquet {path}: {exc}") from exc
