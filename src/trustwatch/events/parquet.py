"""Store events in Parquet and read Parquet rows back, one record batch at a time.

Every event type shares one Arrow schema: the ``type`` column, then the union
of all event fields (a field that an event type lacks is null in its rows).
The schema is derived from the event classes, so it is the same for every
file, whatever types a file holds: ``ts`` is ``timestamp[us, UTC]``, tuples
are ``list<string>``, integers ``int64``. pyarrow is imported on first use.

Files from other writers are read too, as long as they have the ``type``,
``event_id`` and ``ts`` columns, each event column once: other columns are
ignored, nanosecond timestamps are floored to microseconds, and INT96
timestamps (Spark's and Impala's default) are read as the UTC instants they
are by convention. Row groups are read one at a time, so a damaged one costs
only its own rows (one dead letter naming their range), not the rest of the
file.
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

__all__ = [
    "DamagedRowsError",
    "arrow_schema",
    "iter_parquet_rows",
    "write_events_parquet",
]

logger = logging.getLogger(__name__)

_BATCH_ROWS = 65_536
_READ_ROWS = 8_192
# What a list entry adds to a row's size on top of its text: the quotes and
# comma of ``"",`` in JSON, so that a list cannot hold more entries within
# the record limit than a JSON line of that size could.
_ENTRY_BYTES = 3


class DamagedRowsError(InvalidEventError):
    """Rows of a Parquet file that cannot be read, as a damaged row group's.

    Attributes
    ----------
    first, last
        The row numbers (from 1) of the first and last row lost.
    location
        ``"rows FIRST-LAST"``, for the dead letter.
    """

    def __init__(self, first: int, last: int, message: str) -> None:
        super().__init__("unreadable", message)
        self.first = first
        self.last = last
        self.location = f"rows {first}-{last}"


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
    and pandas write them, are floored to the microsecond; INT96 timestamps
    are read as UTC. A value Python cannot hold (a year past 9999, text that
    is not UTF-8) does not stop the file: its row comes with a ``problem``
    (reason ``"timestamp"`` for the ``ts`` column, else ``"schema"``) and a
    placeholder in place of the value.

    A row whose size (the bytes of its strings, with ``3`` more for each list
    entry, as a JSON line spends on quotes and commas) is over ``max_bytes``
    comes with a ``"too_large"`` problem, as a JSON line over the limit does;
    its values are never turned into Python objects, and the row holds only
    its ``type`` and ``event_id``, cut to 200 characters.

    Row groups are read one at a time. When one cannot be read (a damaged
    page), the rows of it not yet yielded come as one item: the number of
    the last of them, an empty row and a :class:`DamagedRowsError` that names
    their range; reading goes on with the next row group.

    Raises
    ------
    UnreadableError
        When the file is not Parquet, its footer is damaged (``location`` is
        ``"file"``), or it lacks a column every event needs or holds an event
        column twice (reason ``"unsupported_format"``).
    """
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(path, coerce_int96_timestamp_unit="us")
    except Exception as exc:
        # pyarrow reports damaged files with OSError, ArrowException and, for
        # some footers, plain ValueError or UnicodeDecodeError.
        raise UnreadableError(
            "file", f"cannot read Parquet {path}: {type(exc).__name__}: {exc}"
        ) from exc
    first = done = 0
    with reader:
        columns = _event_columns(path, reader.schema_arrow.names)
        try:
            int96 = _int96_columns(reader.schema, columns)
            first = 1
            for group in range(reader.metadata.num_row_groups):
                size = reader.metadata.row_group(group).num_rows
                done = 0
                for item in _group_batches(reader, group, columns):
                    if isinstance(item, BaseException):
                        last = first + max(size, done + 1) - 1
                        damage = _damaged(path, group, first + done, last, item)
                        yield last, {}, damage
                        done = last - first + 1
                        break
                    for row, problem in _rows(_as_utc(item, int96), max_bytes):
                        yield first + done, row, problem
                        done += 1
                first += max(size, done)
        except Exception as exc:  # a layout pyarrow reads but cannot convert
            location = f"row {first + done}" if first + done > 1 else "file"
            raise UnreadableError(
                location, f"cannot read Parquet {path}: {type(exc).__name__}: {exc}"
            ) from exc


def _group_batches(reader: Any, group: int, columns: list[str]) -> Iterator[Any]:
    """Yield the record batches of one row group, then the error that ended
    it early, if one did."""
    batches = reader.iter_batches(
        batch_size=_READ_ROWS, row_groups=[group], columns=columns
    )
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as exc:  # OSError, ArrowException, ValueError...
            yield exc
            return
        yield batch


def _damaged(
    path: Path, group: int, first: int, last: int, exc: BaseException
) -> DamagedRowsError:
    logger.warning(
        "%s: row group %d is damaged; rows %d-%d lost", path, group, first, last
    )
    return DamagedRowsError(
        first,
        last,
        f"cannot read rows {first}-{last} of Parquet {path} (row group {group}): "
        f"{type(exc).__name__}: {' '.join(str(exc).split())}; the file's other "
        "row groups are read; "
        "hint: rewrite the file from its source",
    )


def _event_columns(path: Path, names: list[str]) -> list[str]:
    """Pick the event columns of a file; refuse it if one every event needs
    lacks, or if an event column appears twice (which one holds the events?)."""
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
    doubled = sorted(
        {name for name in names if name in known and names.count(name) > 1}
    )
    if doubled:
        raise UnreadableError(
            "file",
            f"Parquet {path}: columns {doubled} appear more than once; hint: fix "
            "the file's producer",
            reason="unsupported_format",
            raw=", ".join(names).encode("utf-8", "backslashreplace"),
        )
    return [name for name in names if name in known]


def _int96_columns(schema: Any, columns: list[str]) -> set[str]:
    """Name the columns stored as INT96, whose timestamps are UTC by convention."""
    return {
        schema.column(index).path
        for index in range(len(schema))
        if schema.column(index).physical_type == "INT96"
        and schema.column(index).path in columns
    }


def _as_utc(batch: Any, int96: set[str]) -> Any:
    """Mark INT96 timestamp columns as UTC, which Spark and Impala mean by them."""
    import pyarrow as pa

    for name in int96:
        index = batch.schema.get_field_index(name)
        field = batch.schema.field(index)
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            utc = pa.timestamp(field.type.unit, tz="UTC")
            column = batch.column(index).cast(utc)
            batch = batch.set_column(index, field.with_type(utc), column)
    return batch


def _rows(
    batch: Any, max_bytes: int | None = None
) -> Iterator[tuple[dict[str, Any], InvalidEventError | None]]:
    """Turn a record batch into rows, one column at a time; rows over
    ``max_bytes`` (text and list entries) come as a stub with a
    ``"too_large"`` problem."""
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
                f"row holds {int(sizes[index]):,} bytes of text and list entries "
                f"({_ENTRY_BYTES} bytes each), over the limit of {max_bytes:,} "
                "bytes",
            ),
        )


def _text_bytes(batch: Any) -> Any:
    """Return each row's size: bytes of text (strings and binary, in lists,
    maps and structs, dictionary-encoded or not) plus ``_ENTRY_BYTES`` per
    list or map entry, as a NumPy array, without turning any value into a
    Python object."""
    import numpy as np

    total = np.zeros(batch.num_rows, dtype=np.int64)
    for column in batch.columns:
        total += _value_bytes(column)
    return total


def _value_bytes(array: Any) -> Any:
    """Size of each value of an Arrow array: its bytes of text (0 for numbers)
    and ``_ENTRY_BYTES`` per list or map entry."""
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
        inner += _value_bytes(array.items.slice(start, size)) + _ENTRY_BYTES
        return _per_row(offsets, inner)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        offsets = array.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
        # a list of text is measured from offsets alone: a list of millions
        # of entries costs no array as long as the list
        text = _text_at(array.values, offsets)
        if text is None:
            start, size = int(offsets[0]), int(offsets[-1] - offsets[0])
            text = _per_row(offsets, _value_bytes(array.values.slice(start, size)))
        return text + _ENTRY_BYTES * np.diff(offsets)
    if pa.types.is_fixed_size_list(kind):
        inner = _value_bytes(pc.list_flatten(array))
        owners = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
        total = np.bincount(owners, weights=inner, minlength=rows).astype(np.int64)
        return total + _ENTRY_BYTES * kind.list_size
    if pa.types.is_struct(kind):
        total = np.zeros(rows, dtype=np.int64)
        for index in range(kind.num_fields):
            total += _value_bytes(array.field(index))
        return total
    if pa.types.is_primitive(kind) or pa.types.is_null(kind):
        return np.zeros(rows, dtype=np.int64)
    # another layout (views, unions...): measured by its string form
    return _value_bytes(array.cast(pa.large_string()))


def _per_row(offsets: Any, inner: Any) -> Any:
    """Sum per-entry sizes into per-row sizes, rows given by list offsets."""
    import numpy as np

    running = np.concatenate(([0], np.cumsum(inner, dtype=np.int64)))
    return np.diff(running[offsets - offsets[0]])


def _text_at(values: Any, offsets: Any) -> Any:
    """Bytes of text of each list, read from the offsets of a string child.

    ``offsets`` index ``values`` (the list's whole child array). Returns
    ``None`` when the child is not plain strings or binary.
    """
    import numpy as np
    import pyarrow as pa

    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        width: Any = np.int32
    elif pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        width = np.int64
    else:
        return None
    buffer = values.buffers()[1]
    if buffer is None:  # an empty child
        return np.zeros(len(offsets) - 1, dtype=np.int64)
    ends = np.frombuffer(buffer, dtype=width, count=values.offset + len(values) + 1)
    # null entries are counted by their slot, which writers leave empty
    return np.diff(ends[values.offset + offsets].astype(np.int64))


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
