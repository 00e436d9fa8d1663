"""Store events in Parquet and read Parquet rows back, one record batch at a time.

Every event type shares one Arrow schema: the ``type`` column, then the union
of all event fields (a field that an event type lacks is null in its rows).
The schema is derived from the event classes, so it is the same for every
file, whatever types a file holds: ``ts`` is ``timestamp[us, UTC]``, tuples
are ``list<string>``, integers ``int64``. pyarrow is imported on first use.

Files from other writers are read too, as long as they have the ``type``,
``event_id`` and ``ts`` columns: other columns are ignored, and nanosecond
timestamps are floored to microseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi

from trustwatch.errors import ConfigError, InvalidEventError
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


def iter_parquet_rows(
    path: Path, max_bytes: int | None = None
) -> Iterator[tuple[int, dict[str, Any], InvalidEventError | None]]:
    """Yield ``(row number, row, problem)`` from a Parquet file.

    Only the columns of :func:`arrow_schema` are read (an event has no other
    field), and nulls are left out of rows. Nanosecond timestamps, as Spark
    and pandas write them, are floored to the microsecond. A value Python
    cannot hold (a year past 9999, text that is not UTF-8) does not stop the
    file: its row comes with a ``problem`` (reason ``"timestamp"`` for the
    ``ts`` column, else ``"schema"``) and a placeholder in place of the value.

    A row whose text (its strings and lists of strings together) is over
    ``max_bytes`` comes with a ``"too_large"`` problem, as a JSON line over
    the limit does; its values are never turned into Python objects, and the
    row holds only its ``type`` and ``event_id``, cut to 200 characters.

    Raises
    ------
    UnreadableError
        When the file is not Parquet, breaks off (``location`` says where),
        or lacks a column every event needs (reason ``"unsupported_format"``).
    """
    import pyarrow.parquet as pq

    rowno = 0
    try:
        with pq.ParquetFile(path) as reader:
            columns = _event_columns(path, reader.schema_arrow.names)
            for batch in reader.iter_batches(batch_size=8192, columns=columns):
                for row, problem in _rows(batch, max_bytes):
                    rowno += 1
                    yield rowno, row, problem
    except UnreadableError:
        raise
    except Exception as exc:
        # pyarrow reports damaged files with OSError, ArrowException and, for
        # some footers, plain ValueError or UnicodeDecodeError.
        location = f"row {rowno + 1}" if rowno else "file"
        raise UnreadableError(
            location, f"cannot read Parquet {path}: {type(exc).__name__}: {exc}"
        ) from exc


def _event_columns(path: Path, names: list[str]) -> list[str]:
    """Pick the event columns of a file; refuse it if one every event needs lacks."""
    missing = [name for name in _REQUIRED_COLUMNS if name not in names]
    if missing:
        raise UnreadableError(
            "file",
            f"Parquet {path} has no column {', '.join(map(repr, missing))}, so it "
            "holds no events; hint: write event files with the schema of "
            "trustwatch.events.arrow_schema()",
            reason="unsupported_format",
            raw=", ".join(names).encode("utf-8", "backslashreplace"),
        )
    known = set(arrow_schema().names)
    return [name for name in names if name in known]


def _rows(
    batch: Any, max_bytes: int | None = None
) -> Iterator[tuple[dict[str, Any], InvalidEventError | None]]:
    """Turn a record batch into rows, one column at a time; rows over
    ``max_bytes`` of text come as a stub with a ``"too_large"`` problem."""
    sizes = _text_bytes(batch) if max_bytes is not None else None
    if sizes is None or not (sizes > max_bytes).any():
        yield from _converted(batch)
        return
    import pyarrow as pa

    over = sizes > max_bytes
    fitting = _converted(batch.filter(pa.array(~over)))
    for index, too_large in enumerate(over.tolist()):
        if not too_large:
            yield next(fitting)
            continue
        yield (
            _stub(batch, index),
            InvalidEventError(
                "too_large",
                f"row holds {int(sizes[index]):,} bytes of text, over the limit of "
                f"{max_bytes:,} bytes",
            ),
        )


def _text_bytes(batch: Any) -> Any:
    """Return each row's bytes of text (strings and binary, in lists, maps and
    structs, dictionary-encoded or not), as a NumPy array, without turning
    any value into a Python object."""
    import numpy as np

    total = np.zeros(batch.num_rows, dtype=np.int64)
    for column in batch.columns:
        total += _value_bytes(column)
    return total


def _value_bytes(array: Any) -> Any:
    """Bytes of text in each value of an Arrow array (0 for numbers)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    rows = len(array)
    if pa.types.is_dictionary(kind):
        return _value_bytes(array.cast(kind.value_type))
    if (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
    ):
        lengths = pc.binary_length(array).fill_null(0)
        return lengths.to_numpy(zero_copy_only=False).astype(np.int64)
    if pa.types.is_map(kind):
        offsets = array.offsets.to_numpy(zero_copy_only=False)
        start, size = int(offsets[0]), int(offsets[-1] - offsets[0])
        inner = _value_bytes(array.keys.slice(start, size))
        inner += _value_bytes(array.items.slice(start, size))
        owners = np.repeat(np.arange(rows), np.diff(offsets))
        return np.bincount(owners, weights=inner, minlength=rows).astype(np.int64)
    if (
        pa.types.is_list(kind)
        or pa.types.is_large_list(kind)
        or pa.types.is_fixed_size_list(kind)
    ):
        inner = _value_bytes(pc.list_flatten(array))
        owners = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
        return np.bincount(owners, weights=inner, minlength=rows).astype(np.int64)
    if pa.types.is_struct(kind):
        total = np.zeros(rows, dtype=np.int64)
        for index in range(kind.num_fields):
            total += _value_bytes(array.field(index))
        return total
    if pa.types.is_primitive(kind) or pa.types.is_null(kind):
        return np.zeros(rows, dtype=np.int64)
    # another layout (views, unions...): measured by its string form
    return _value_bytes(array.cast(pa.large_string()))


def _stub(batch: Any, index: int) -> dict[str, Any]:
    """The ``type`` and ``event_id`` of one row, each cut to 200 characters."""
    stub: dict[str, Any] = {}
    for name in ("type", "event_id"):
        if name in batch.schema.names:
            value = batch.column(name)[index]
            if value.is_valid and isinstance(value.as_py(), str):
                stub[name] = value.as_py()[:200]
    return stub


def _converted(
    batch: Any,
) -> Iterator[tuple[dict[str, Any], InvalidEventError | None]]:
    """Turn every row of a record batch into a row dict, one column at a time."""
    names = batch.schema.names
    troubles: dict[int, list[tuple[str, str]]] = {}
    columns = [
        _values(name, column, troubles)
        for name, column in zip(names, _microseconds(batch).columns, strict=True)
    ]
    for index, values in enumerate(zip(*columns, strict=True)):
        row = {k: v for k, v in zip(names, values, strict=True) if v is not None}
        bad = troubles.get(index)
        yield row, None if bad is None else _problem(bad)


def _microseconds(batch: Any) -> Any:
    """Floor nanosecond timestamp columns to microseconds, which Python holds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for index, field in enumerate(batch.schema):
        kind = field.type
        if pa.types.is_timestamp(kind) and kind.unit == "ns":
            micros = pa.timestamp("us", tz=kind.tz)
            try:
                floored = pc.floor_temporal(batch.column(index), unit="microsecond")
                column = floored.cast(micros)
            except (pa.ArrowException, ValueError):
                continue  # left for _values to report row by row
            batch = batch.set_column(index, field.with_type(micros), column)
    return batch


def _values(
    name: str, column: Any, troubles: dict[int, list[tuple[str, str]]]
) -> list[Any]:
    """Convert a column to Python values; note the rows whose value cannot be."""
    try:
        values: list[Any] = column.to_pylist()
        return values
    except Exception:  # pyarrow raises ValueError, OverflowError, Unicode errors...
        logger.debug("column %s needs converting value by value", name)
    values = []
    for index in range(len(column)):
        try:
            values.append(column[index].as_py())
        except Exception as exc:
            troubles.setdefault(index, []).append((name, type(exc).__name__))
            values.append(f"<{column.type} value Python cannot hold>")
    return values


def _problem(columns: list[tuple[str, str]]) -> InvalidEventError:
    reason = "timestamp" if any(name == "ts" for name, _ in columns) else "schema"
    shown = ", ".join(f"{name!r} ({error})" for name, error in columns)
    return InvalidEventError(
        reason,
        f"column {shown} holds a value Python cannot represent (a date out of "
        "range, text that is not UTF-8...); hint: fix the file's producer",
    )


_REQUIRED_COLUMNS = ("type", "event_id", "ts")
