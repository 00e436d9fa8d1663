"""The indicator store's file: one Parquet table, one row per indicator.

Times are stored as UTC microseconds; per-feed provenance of merged
indicators (rare) as a JSON column. The layout version sits in the schema
metadata, so a reader refuses files it does not understand. Layout 1 lacked
``valid_from``; its files are still read, with no start of validity.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from trustwatch.errors import StorageError
from trustwatch.intel._bulk import paused_gc
from trustwatch.intel.indicators import Indicator, Source

__all__ = ["read", "write"]

_VERSION_KEY: Final = b"trustwatch.intel.store"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_TIME: Final = pa.timestamp("us", tz="UTC")
_COLUMNS: Final = (
    "type",
    "value",
    "feed",
    "first_seen",
    "last_seen",
    "confidence",
    "tags",
    "threat",
    "reference",
    "expires_at",
    "sources",
    "valid_from",
)
#: Layouts read, with the columns each has (the newest is written).
_LAYOUT_COLUMNS: Final = {"1": _COLUMNS[:-1], "2": _COLUMNS}
_SCHEMA: Final = pa.schema(
    [
        ("type", pa.dictionary(pa.int8(), pa.string())),
        ("value", pa.string()),
        ("feed", pa.dictionary(pa.int32(), pa.string())),
        ("first_seen", _TIME),
        ("last_seen", _TIME),
        ("confidence", pa.uint8()),
        ("tags", pa.list_(pa.string())),
        ("threat", pa.string()),
        ("reference", pa.string()),
        ("expires_at", _TIME),
        ("sources", pa.string()),
        ("valid_from", _TIME),
    ]
)
_SOURCES: Final = msgspec.json.Decoder(tuple[Source, ...])
_ENCODER: Final = msgspec.json.Encoder()


def write(indicators: list[Indicator], path: Path, version: str) -> None:
    """Write indicators to ``path`` as one Parquet table."""
    columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
    for ind in indicators:
        columns["type"].append(ind.type)
        columns["value"].append(ind.value)
        columns["feed"].append(ind.feed)
        columns["first_seen"].append(ind.first_seen)
        columns["last_seen"].append(ind.last_seen)
        columns["confidence"].append(ind.confidence)
        columns["tags"].append(ind.tags)
        columns["threat"].append(ind.threat)
        columns["reference"].append(ind.reference)
        columns["expires_at"].append(ind.expires_at)
        columns["sources"].append(
            _ENCODER.encode(ind.sources).decode() if ind.sources else None
        )
        columns["valid_from"].append(ind.valid_from)
    schema = _SCHEMA.with_metadata({_VERSION_KEY: version.encode()})
    table = pa.table(columns, schema=schema)
    pq.write_table(table, path, compression="zstd")


def read(path: Path, version: str) -> list[Indicator]:
    """Read the indicators of a file written by :func:`write`.

    ``version`` is the layout written now; files of an earlier layout in
    :data:`_LAYOUT_COLUMNS` are read too.
    """
    table = _open(path, version)
    with paused_gc():
        return _indicators(table)


def _indicators(table: pa.Table) -> list[Indicator]:
    """Build one indicator per row of the table."""
    columns = [_column(table, name) for name in _COLUMNS[:-1]]
    if "valid_from" in table.schema.names:
        columns.append(_column(table, "valid_from"))
    else:
        columns.append([None] * table.num_rows)
    rows = zip(*columns, strict=True)
    return [
        Indicator(
            type=kind,
            value=value,
            feed=feed,
            first_seen=first_seen,
            last_seen=last_seen,
            confidence=confidence,
            tags=tuple(tags) if tags else (),
            threat=threat,
            reference=reference,
            expires_at=expires_at,
            sources=_SOURCES.decode(sources) if sources else (),
            valid_from=valid_from,
        )
        for (
            kind,
            value,
            feed,
            first_seen,
            last_seen,
            confidence,
            tags,
            threat,
            reference,
            expires_at,
            sources,
            valid_from,
        ) in rows
    ]


def _open(path: Path, version: str) -> pa.Table:
    """Read the table and check its layout version, or raise StorageError."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise StorageError(
            f"cannot read indicator store {path}: {exc}; hint: pass a file written "
            "by IndicatorStore.save()"
        ) from exc
    found = (table.schema.metadata or {}).get(_VERSION_KEY, b"").decode()
    if table.schema.names != list(_LAYOUT_COLUMNS.get(found, ())):
        raise StorageError(
            f"indicator store {path} has layout {found or 'unknown'!r}, this "
            f"version reads {version!r}; hint: rebuild it from the feeds"
        )
    return table


def _column(table: pa.Table, name: str) -> list[Any]:
    """Return a column as Python values; times as shared aware datetimes."""
    column = table.column(name)
    if column.type == _TIME:
        return list(_times(column.cast(pa.int64()).to_pylist()))
    if pa.types.is_dictionary(column.type):
        # Decoding index by index is far faster than to_pylist on the column.
        values: list[Any] = []
        for chunk in column.chunks:
            words = chunk.dictionary.to_pylist()
            values.extend([words[i] for i in chunk.indices.to_pylist()])
        return values
    return column.to_pylist()  # type: ignore[no-any-return]


def _times(micros: list[int | None]) -> Iterator[datetime | None]:
    """Convert UTC microseconds to datetimes, building each distinct one once."""
    cache: dict[int, datetime] = {}
    for value in micros:
        if value is None:
            yield None
            continue
        when = cache.get(value)
        if when is None:
            when = cache[value] = _EPOCH + timedelta(microseconds=value)
        yield when
