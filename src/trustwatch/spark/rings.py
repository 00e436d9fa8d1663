"""Lockstep rings as a Spark batch job over the Parquet event lake.

The same graph build and clustering as :class:`~trustwatch.graph.RingTracker`,
for when the graph outgrows one machine:

1. each event's account attributes, with the one definition of them,
   :func:`~trustwatch.graph.event_attributes`, run in a Python UDF;
2. the attributes shared by more than ``hub_size`` accounts are hubs and
   dropped; the others weigh their kind's weight times
   ``hub_size / (hub_size + n)`` for ``n`` accounts sharing them;
3. two accounts share an attribute in lockstep when they used it at most
   ``lockstep_window`` seconds apart (a range join on time buckets one window
   wide: uses in the same or adjacent buckets only);
4. a pair is linked when its shared attributes weigh at least
   ``pair_threshold`` and fall in at least ``min_groups`` evidence groups;
5. clusters are the connected components of the linked pairs: on the driver
   with scipy when the linked pairs are few (they are the thin end of the
   job: millions of events give thousands of links), else by iterative
   minimum-label propagation with DataFrames (one join per hop of the
   largest cluster's diameter).

The batch job sees the whole history at once, where the stream sees it in
order; see :func:`find_rings_batch` for what that changes.

The input files are listed and their footers checked on the driver with
pyarrow before Spark reads them (:func:`scan_parquet_inputs`), as
``trustwatch run`` does file by file: a file that is not Parquet, cannot be
read, lacks an event column or holds a column of a type the job cannot read
is skipped and reported, and the others are read each with its own columns,
so a column one file lacks reads as null in that file only.

pyspark is imported on first use, so this module imports without it.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trustwatch.errors import ConfigError, InvalidEventError, TrustwatchError
from trustwatch.events import resolve_inputs
from trustwatch.events.decode import EventDecoder
from trustwatch.events.parquet import arrow_schema
from trustwatch.events.timestamps import get_zone
from trustwatch.graph.entity_graph import ATTRIBUTE_KINDS, event_attributes
from trustwatch.graph.rings import RingTracker

__all__ = [
    "BatchRingConfig",
    "BatchRings",
    "ParquetInputs",
    "SkippedFile",
    "attribute_uses",
    "find_rings_batch",
    "linked_pairs",
    "local_spark_session",
    "scan_parquet_inputs",
]

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_REQUIRED_COLUMNS = ("type", "event_id", "ts")
_COMPONENT_METHODS = ("auto", "driver", "iterative")


def _spark_sql() -> Any:
    """Import ``pyspark.sql``, or explain how to install it."""
    try:
        return importlib.import_module("pyspark.sql")
    except ImportError as exc:
        raise ConfigError(
            "pyspark is not installed; hint: pip install 'trustwatch[spark]'"
        ) from exc


@dataclass(frozen=True, slots=True)
class BatchRingConfig:
    """Parameters of the batch ring job, the embedded path's by default.

    Parameters
    ----------
    hub_size, lockstep_window, signup_bucket
        As in :class:`~trustwatch.graph.EntityGraph`.
    pair_threshold, min_groups
        As in :class:`~trustwatch.graph.RingTracker`.
    components
        ``"driver"`` (collect the linked pairs, scipy's connected
        components), ``"iterative"`` (label propagation with DataFrames) or
        ``"auto"``: the driver when there are at most ``max_driver_pairs``
        linked pairs.
    max_driver_pairs
        Most linked pairs collected to the driver under ``"auto"``.
    max_iterations
        Most label propagation rounds before giving up.
    """

    hub_size: int = 100
    lockstep_window: float = 3600.0
    signup_bucket: float = 600.0
    pair_threshold: float = 2.5
    min_groups: int = 2
    components: str = "auto"
    max_driver_pairs: int = 5_000_000
    max_iterations: int = 100

    def __post_init__(self) -> None:
        """Reject parameters the job cannot run with."""
        if self.hub_size < 2:
            raise ConfigError(f"hub_size={self.hub_size}; hint: use at least 2")
        if not (self.lockstep_window > 0 and self.signup_bucket > 0):
            raise ConfigError("lockstep_window and signup_bucket must be positive")
        if self.pair_threshold <= 0:
            raise ConfigError(f"pair_threshold={self.pair_threshold}; hint: use > 0")
        groups = {group for _, group in ATTRIBUTE_KINDS.values()}
        if not 1 <= self.min_groups <= len(groups):
            raise ConfigError(
                f"min_groups={self.min_groups}; hint: use 1 to {len(groups)}"
            )
        if self.components not in _COMPONENT_METHODS:
            raise ConfigError(
                f"components={self.components!r}; hint: one of {_COMPONENT_METHODS}"
            )
        if self.max_driver_pairs < 0 or self.max_iterations < 1:
            raise ConfigError("max_driver_pairs >= 0 and max_iterations >= 1")

    @classmethod
    def from_tracker(cls, tracker: RingTracker, **overrides: Any) -> BatchRingConfig:
        """Return the configuration matching an embedded ``RingTracker``."""
        graph = tracker.graph
        values: dict[str, Any] = {
            "hub_size": graph.hub_size,
            "lockstep_window": graph.lockstep_window,
            "signup_bucket": graph.signup_bucket,
            "pair_threshold": tracker.pair_threshold,
            "min_groups": tracker.min_groups,
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class BatchRings:
    """What the batch job found.

    Attributes
    ----------
    clusters
        Member sets of the clusters (two accounts at least), largest first.
    accounts
        Accounts with at least one attribute.
    hubs
        Attributes dropped as hubs.
    linked_pairs
        Account pairs that passed the link rule.
    invalid_rows
        Parquet rows that are not valid events (skipped), as ``trustwatch
        run`` makes dead letters of them.
    method
        How the components were found: ``"driver"`` or ``"iterative"``.
    iterations
        Label propagation rounds (0 on the driver).
    seconds
        Wall time of the job.
    files
        Parquet files read.
    skipped_files
        Input files not read, or read only up to damage past their footer,
        each with the reason (see :class:`SkippedFile`).
    """

    clusters: list[frozenset[str]]
    accounts: int
    hubs: int
    linked_pairs: int
    invalid_rows: int
    method: str
    iterations: int
    seconds: float
    files: int
    skipped_files: tuple[SkippedFile, ...]


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """An input file the batch job did not read, and why.

    Attributes
    ----------
    path
        The file, by its real path.
    reason
        ``"not_parquet"`` (another event format; the job reads Parquet only),
        ``"unreadable"`` (empty, not Parquet, or its footer is damaged),
        ``"unsupported_format"`` (it lacks a column every event needs, or a
        column has a type the job cannot read) or ``"timestamp"`` (``ts``
        has no time zone and no ``source_tz`` says which it is in), the
        reasons ``trustwatch run`` gives such files' dead letters.
    detail
        What is wrong, with a hint.
    """

    path: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class ParquetInputs:
    """The files :func:`scan_parquet_inputs` found readable and those it skipped.

    Attributes
    ----------
    files
        Parquet files to read.
    skipped
        Files not read, each with the reason.
    """

    files: tuple[str, ...]
    skipped: tuple[SkippedFile, ...]
    groups: tuple[_FileGroup, ...] = ()


@dataclass(frozen=True, slots=True)
class _FileGroup:
    """Files with the same readable columns, read by Spark in one go.

    ``columns`` pairs each event column (``ts`` aside) with its Spark type
    name; ``ts_type`` is the Spark type ``ts`` is read as, and ``ts_mode``
    how the UDF turns the value into the event's time: ``"utc"`` (micros
    since the epoch of an instant), ``"nanos"`` (nanoseconds of an instant),
    ``"naive_nanos"`` (nanoseconds of a wall-clock time) or ``"value"`` (the
    value as it is, for the event decoder to read as ``run`` does).
    ``rows`` are the files' row counts, from their footers.
    """

    columns: tuple[tuple[str, str], ...]
    ts_type: str
    ts_mode: str
    files: tuple[str, ...]
    rows: tuple[int, ...]


def local_spark_session(app_name: str = "trustwatch-rings", cores: int = 2) -> Any:
    """Start (or reuse) a local-mode Spark session bound to the loopback address.

    Parameters
    ----------
    app_name
        Name of the Spark application.
    cores
        Local worker threads; also the number of shuffle partitions.

    Returns
    -------
    pyspark.sql.SparkSession
        With the UTC session time zone, as event times are UTC.
    """
    sql = _spark_sql()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return (
        sql.SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.default.parallelism", str(cores))
        .getOrCreate()
    )


_decoders: dict[str | None, EventDecoder] = {}


def _event_time(value: Any, mode: str) -> Any:
    """Turn the ``ts`` value Spark read into what the event decoder reads."""
    if mode == "utc":
        return _EPOCH + timedelta(microseconds=int(value))
    if mode == "nanos":
        return _EPOCH + timedelta(microseconds=int(value) // 1000)
    if mode == "naive_nanos":
        return _NAIVE_EPOCH + timedelta(microseconds=int(value) // 1000)
    return value


def _row_event(row: Any, ts_mode: str, source_tz: str | None) -> Any:
    """Decode one Parquet row into an event, as ``trustwatch run`` does.

    Nulls are left out, as :func:`~trustwatch.events.parquet.iter_parquet_rows`
    leaves them out. Returns ``None`` for a row that is not a valid event.
    """
    decoder = _decoders.get(source_tz)
    if decoder is None:
        decoder = _decoders[source_tz] = EventDecoder(source_tz=source_tz)
    values = {k: v for k, v in row.asDict().items() if v is not None}
    ts = values.pop("_ts", None)
    try:
        if ts is not None:
            values["ts"] = _event_time(ts, ts_mode)
        return decoder.decode_dict(values)
    except (InvalidEventError, OverflowError, ValueError):
        return None


def _spark_type(kind: Any) -> str | None:
    """Name the Spark type to read an Arrow column type as; ``None`` if none fits.

    Only types whose values reach Python as pyarrow gives them to ``run``.
    """
    import pyarrow as pa

    types = pa.types
    if types.is_dictionary(kind):
        kind = kind.value_type
    if types.is_string(kind) or types.is_large_string(kind):
        return "string"
    if types.is_boolean(kind):
        return "boolean"
    for test, name in (
        (types.is_int8, "tinyint"),
        (types.is_int16, "smallint"),
        (types.is_int32, "int"),
        (types.is_int64, "bigint"),
        (types.is_float32, "float"),
        (types.is_float64, "double"),
        (types.is_date32, "date"),
    ):
        if test(kind):
            return name
    if types.is_timestamp(kind) and kind.unit != "ns":
        return "timestamp" if kind.tz is not None else "timestamp_ntz"
    if types.is_list(kind) or types.is_large_list(kind):
        item = _spark_type(kind.value_type)
        return None if item is None else f"array<{item}>"
    return None


def _ts_reading(
    kind: Any, int96: bool, zone_given: bool
) -> tuple[str, str] | tuple[None, str]:
    """Return how to read ``ts`` (Spark type, UDF mode), or ``(None, reason)``."""
    import pyarrow as pa

    if pa.types.is_timestamp(kind):
        if int96:  # Spark's and Impala's default: UTC instants by convention
            return "timestamp", "utc"
        if kind.tz is None and not zone_given:
            return None, "timestamp"
        if kind.unit == "ns":
            return "bigint", "nanos" if kind.tz is not None else "naive_nanos"
        if kind.tz is not None:
            return "timestamp", "utc"
        return "timestamp_ntz", "value"
    spark_type = _spark_type(kind)
    if spark_type is None or spark_type.startswith("array"):
        return None, "unsupported_format"
    return spark_type, "value"


def _file_plan(path: Path, zone_given: bool) -> _FileGroup | SkippedFile:
    """Check one Parquet file's footer and say how Spark is to read it."""
    import pyarrow.parquet as pq

    where = str(path)
    try:
        with pq.ParquetFile(path) as reader:
            schema = reader.schema_arrow
            leaves = reader.schema
            rows = reader.metadata.num_rows
            int96 = any(
                leaves.column(i).path == "ts"
                and leaves.column(i).physical_type == "INT96"
                for i in range(len(leaves))
            )
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ValueError...
        return SkippedFile(
            where,
            "unreadable",
            f"cannot read Parquet: {type(exc).__name__}: {exc}; hint: rewrite "
            "the file, or move it out of the job's folders",
        )
    names = schema.names
    missing = [name for name in _REQUIRED_COLUMNS if name not in names]
    if missing:
        return SkippedFile(
            where,
            "unsupported_format",
            f"no column {', '.join(map(repr, missing))}, so it holds no events; "
            "hint: write event files with the schema of "
            "trustwatch.events.arrow_schema()",
        )
    known = arrow_schema()
    doubled = sorted({n for n in names if n in known.names and names.count(n) > 1})
    if doubled:
        return SkippedFile(
            where,
            "unsupported_format",
            f"columns {doubled} appear more than once; hint: fix the file's producer",
        )
    columns: list[tuple[str, str]] = []
    for name in names:
        if name == "ts" or name not in known.names:
            continue  # other columns are no event field, and are not read
        kind = schema.field(name).type
        spark_type = _spark_type(kind)
        if spark_type is None:
            return SkippedFile(
                where,
                "unsupported_format",
                f"column {name!r} is {kind}, which the batch job cannot read; "
                f"hint: write it as {known.field(name).type}",
            )
        columns.append((name, spark_type))
    kind = schema.field("ts").type
    ts_type, ts_mode = _ts_reading(kind, int96, zone_given)
    if ts_type is None:
        if ts_mode == "timestamp":
            detail = (
                f"column 'ts' is {kind}: it has no time zone; hint: write it "
                "with one (timestamp[us, UTC]), or pass source_tz=ZONE to say "
                "which zone it is in (--source-tz in `trustwatch run`)"
            )
        else:
            stored = "INT96" if int96 else str(kind)
            detail = (
                f"column 'ts' is {stored}, which the batch job cannot read as a "
                "time; hint: write it as timestamp[us, UTC]"
            )
        return SkippedFile(where, ts_mode, detail)
    return _FileGroup(tuple(columns), ts_type, ts_mode, (where,), (rows,))


def scan_parquet_inputs(
    paths: Sequence[str | Path], *, source_tz: str | None = None
) -> ParquetInputs:
    """List the input files and check each one's footer, on the driver.

    Folders and globs expand as for ``trustwatch run``
    (:func:`~trustwatch.events.resolve_inputs`). Only Parquet files are read;
    each one's schema is checked with pyarrow, so that no file stops the
    Spark job: a column of a type the job cannot read, a damaged footer, or
    ``ts`` without a time zone (unless ``source_tz`` is given) skips the file
    and reports it. ``ts`` may be a timestamp with a zone in any unit (read
    as the instant, nanoseconds floored to microseconds), or text, a number
    or a date, which the event decoder reads row by row as ``run`` does.

    Parameters
    ----------
    paths
        Parquet files, folders or globs.
    source_tz
        IANA zone of timestamps without one; without it such files are
        skipped with reason ``"timestamp"``.

    Returns
    -------
    ParquetInputs
        The files to read and the files skipped.

    Raises
    ------
    ConfigError
        When no path is given, a path does not exist, or ``source_tz`` is not
        a known zone.
    """
    if not paths:
        raise ConfigError("no Parquet paths; hint: pass event files or folders")
    if source_tz is not None:
        get_zone(source_tz)  # fail now on a bad zone
    skipped: list[SkippedFile] = []
    groups: dict[tuple[Any, ...], _FileGroup] = {}
    for path, kind in resolve_inputs(list(paths)):
        if kind != "parquet":
            skipped.append(
                SkippedFile(
                    str(path),
                    "not_parquet",
                    f"a {kind} file; hint: the batch job reads Parquet only: "
                    "write its events with trustwatch.events.write_events_parquet",
                )
            )
            continue
        plan = _file_plan(path, source_tz is not None)
        if isinstance(plan, SkippedFile):
            skipped.append(plan)
            continue
        key = (plan.columns, plan.ts_type, plan.ts_mode)
        known = groups.get(key)
        if known is not None:
            plan = _FileGroup(
                plan.columns,
                plan.ts_type,
                plan.ts_mode,
                known.files + plan.files,
                known.rows + plan.rows,
            )
        groups[key] = plan
    if skipped:
        reasons: dict[str, int] = {}
        for item in skipped:
            reasons[item.reason] = reasons.get(item.reason, 0) + 1
        logger.warning(
            "batch job skips %d input files (%s), first %s: %s",
            len(skipped),
            ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items())),
            skipped[0].path,
            skipped[0].detail,
        )
    return ParquetInputs(
        files=tuple(f for group in groups.values() for f in group.files),
        skipped=tuple(skipped),
        groups=tuple(groups.values()),
    )


class _CountsParam:
    """Accumulate counts by key (an ``AccumulatorParam`` without importing it)."""

    def zero(self, value: dict[str, int]) -> dict[str, int]:
        """Start from no counts."""
        return {}

    def addInPlace(  # Spark's name
        self, one: dict[str, int], other: dict[str, int]
    ) -> dict[str, int]:
        """Add the counts of ``other`` to ``one``."""
        for key, count in other.items():
            one[key] = one.get(key, 0) + count
        return one


def _broken_off(inputs: ParquetInputs, read: dict[str, int]) -> tuple[SkippedFile, ...]:
    """Report the files Spark read fewer rows of than their footers hold."""
    from urllib.parse import unquote, urlparse

    seen: dict[str, int] = {}
    for uri, count in read.items():
        path = unquote(urlparse(uri).path) if uri.startswith("file:") else uri
        seen[path] = seen.get(path, 0) + count
    broken = []
    for group in inputs.groups:
        for path, rows in zip(group.files, group.rows, strict=True):
            got = seen.get(path, 0)
            if got < rows:
                broken.append(
                    SkippedFile(
                        path,
                        "unreadable",
                        f"read {got} of its {rows} rows: the rest is damaged; "
                        "hint: rewrite the file",
                    )
                )
    if broken:
        logger.warning(
            "batch job read %d files only in part, first %s: %s",
            len(broken),
            broken[0].path,
            broken[0].detail,
        )
    return tuple(broken)


def attribute_uses(
    spark: Any,
    paths: Sequence[str | Path] | ParquetInputs,
    signup_bucket: float = 600.0,
    *,
    source_tz: str | None = None,
) -> tuple[Any, Any, Any, ParquetInputs]:
    """Read Parquet event files and return each event's account attributes.

    Parameters
    ----------
    spark
        A ``SparkSession``.
    paths
        Parquet files or folders of them, written with
        :func:`trustwatch.events.write_events_parquet`'s schema, or what
        :func:`scan_parquet_inputs` found in them.
    signup_bucket
        Width in seconds of the sign-up time buckets.
    source_tz
        IANA zone of timestamps without one (see :func:`scan_parquet_inputs`).

    Returns
    -------
    tuple
        A DataFrame of ``(account, attribute, t)`` (``t`` in epoch seconds),
        one row per attribute of each event; an accumulator that counts the
        rows that are not valid events once the DataFrame is computed, and
        one of the rows read from each file (by ``file:`` URI; a file whose
        data is damaged past its footer is read up to the damage, not to the
        end); and the files read and skipped.

    Raises
    ------
    ConfigError
        When no path is given or a path does not exist.
    """
    inputs = (
        paths
        if isinstance(paths, ParquetInputs)
        else scan_parquet_inputs(paths, source_tz=source_tz)
    )
    sql = _spark_sql()
    f = sql.functions
    types = importlib.import_module("pyspark.sql.types")
    invalid = spark.sparkContext.accumulator(0)
    rows_read = spark.sparkContext.accumulator({}, _CountsParam())
    bucket = float(signup_bucket)
    use_type = types.StructType(
        [
            types.StructField("t_us", types.LongType()),
            types.StructField("account", types.StringType()),
            types.StructField("attributes", types.ArrayType(types.StringType())),
        ]
    )
    frames = []
    for group in inputs.groups:
        schema = ", ".join(
            f"`{name}` {kind}" for name, kind in (*group.columns, ("ts", group.ts_type))
        )
        # a file damaged past its footer ends the read of that file, and
        # find_rings_batch reports it from the rows read
        frame = (
            spark.read.schema(schema)
            .option("ignoreCorruptFiles", "true")
            # INT96 times as written (proleptic Gregorian), as `run` reads them
            .option("int96RebaseMode", "CORRECTED")
            .parquet(*group.files)
        )
        # an instant as micros since the epoch: Spark hands Python timestamps
        # in the worker's local zone
        ts = f.unix_micros(f.col("ts")) if group.ts_mode == "utc" else f.col("ts")
        mode = group.ts_mode

        def use_of(
            row: Any, source: str, mode: str = mode
        ) -> tuple[int, str, list[str]] | None:
            rows_read.add({source: 1})
            event = _row_event(row, mode, source_tz)
            if event is None:
                invalid.add(1)
                return None
            micros = (event.ts - _EPOCH) // timedelta(microseconds=1)
            return micros, event.account, event_attributes(event, bucket)

        udf = f.udf(use_of, use_type, useArrow=False)
        record = f.struct(*[f.col(name) for name, _ in group.columns], ts.alias("_ts"))
        frames.append(
            frame.select(udf(record, f.input_file_name()).alias("use"))
            .select(
                f.col("use.account").alias("account"),
                f.explode(f.col("use.attributes")).alias("attribute"),
                (f.col("use.t_us") / 1e6).alias("t"),
            )
            .where(f.col("account").isNotNull() & (f.col("account") != ""))
            .select("account", "attribute", "t")
        )
    if not frames:
        empty = spark.createDataFrame([], "account string, attribute string, t double")
        return empty, invalid, rows_read, inputs
    uses = frames[0]
    for other in frames[1:]:
        uses = uses.unionByName(other)
    return uses, invalid, rows_read, inputs


def linked_pairs(uses: Any, config: BatchRingConfig) -> tuple[Any, Any]:
    """Score the account pairs sharing attributes in lockstep and link them.

    Parameters
    ----------
    uses
        ``(account, attribute, t)`` rows, as from :func:`attribute_uses`.
    config
        The hub bound, window, weights threshold and group rule.

    Returns
    -------
    tuple
        A DataFrame of the pairs ``(a, b, score, groups, attributes)`` with
        ``a < b``, one row per pair sharing a live attribute in lockstep,
        and a boolean column ``linked``; and a DataFrame of the hub
        attributes ``(attribute, n)``.
    """
    sql = _spark_sql()
    f = sql.functions
    window = float(config.lockstep_window)
    sizes = uses.groupBy("attribute").agg(f.countDistinct("account").alias("n"))
    hubs = sizes.where(f.col("n") > config.hub_size)
    base = f.create_map(
        *[
            x
            for kind, (w, _) in ATTRIBUTE_KINDS.items()
            for x in (f.lit(kind), f.lit(w))
        ]
    )
    group = f.create_map(
        *[
            x
            for kind, (_, g) in ATTRIBUTE_KINDS.items()
            for x in (f.lit(kind), f.lit(g))
        ]
    )
    kind = f.substring_index(f.col("attribute"), ":", 1)
    live = (
        sizes.where((f.col("n") >= 2) & (f.col("n") <= config.hub_size))
        .withColumn(
            "weight",
            f.coalesce(base[kind], f.lit(0.0))
            * f.lit(float(config.hub_size))
            / (f.lit(float(config.hub_size)) + f.col("n")),
        )
        .withColumn("group", group[kind])
        .where(f.col("weight") > 0)
        .select("attribute", "weight", "group")
    )
    # Each account's uses of an attribute, per time bucket one window wide:
    # two uses at most a window apart lie in the same or adjacent buckets.
    spans = (
        uses.join(live.select("attribute"), "attribute")
        .withColumn("bucket", f.floor(f.col("t") / f.lit(window)))
        .groupBy("attribute", "account", "bucket")
        .agg(f.min("t").alias("first"), f.max("t").alias("last"))
    )
    one, two = spans.alias("one"), spans.alias("two")
    b1, b2 = f.col("one.bucket"), f.col("two.bucket")
    lockstep = (
        (b1 == b2)
        | ((b2 == b1 + 1) & (f.col("two.first") - f.col("one.last") <= window))
        | ((b1 == b2 + 1) & (f.col("one.first") - f.col("two.last") <= window))
    )
    shared = (
        one.join(
            two,
            (f.col("one.attribute") == f.col("two.attribute"))
            & (f.col("one.account") < f.col("two.account"))
            & (f.abs(b1 - b2) <= 1),
        )
        .where(lockstep)
        .select(
            f.col("one.account").alias("a"),
            f.col("two.account").alias("b"),
            f.col("one.attribute").alias("attribute"),
        )
        .distinct()
        .join(live, "attribute")
    )
    pairs = (
        shared.groupBy("a", "b")
        .agg(
            f.sum("weight").alias("score"),
            f.countDistinct("group").alias("groups"),
            f.sort_array(f.collect_list("attribute")).alias("attributes"),
        )
        .withColumn(
            "linked",
            (f.col("score") >= f.lit(config.pair_threshold))
            & (f.col("groups") >= f.lit(config.min_groups)),
        )
    )
    return pairs, hubs


def _components_on_driver(edges: list[tuple[str, str]]) -> list[frozenset[str]]:
    """Connected components of a small edge list, with scipy."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not edges:
        return []
    names, index = np.unique(np.array(edges, dtype=object).ravel(), return_inverse=True)
    index = index.reshape(-1, 2)
    size = len(names)
    matrix = coo_matrix(
        (np.ones(len(edges), dtype=np.int8), (index[:, 0], index[:, 1])),
        shape=(size, size),
    )
    _, labels = connected_components(matrix, directed=False)
    clusters: dict[int, set[str]] = {}
    for name, label in zip(names.tolist(), labels.tolist(), strict=True):
        clusters.setdefault(int(label), set()).add(str(name))
    return [frozenset(c) for c in clusters.values()]


def _components_iterative(
    linked: Any, max_iterations: int
) -> tuple[list[frozenset[str]], int]:
    """Connected components by minimum-label propagation with DataFrames.

    Each round every account takes the least label among its own and its
    neighbours'; the labels settle after as many rounds as the widest
    cluster's diameter, and each round's lineage is cut with a local
    checkpoint so the plan does not grow.
    """
    f = _spark_sql().functions
    forward = linked.select(f.col("a").alias("src"), f.col("b").alias("dst"))
    edges = forward.union(forward.select(f.col("dst"), f.col("src"))).localCheckpoint()
    labels = (
        edges.select(f.col("src").alias("node"), f.col("src").alias("label"))
        .distinct()
        .localCheckpoint()
    )
    for rounds in range(1, max_iterations + 1):
        offered = edges.join(labels, edges.src == labels.node).select(
            f.col("dst").alias("node"), f.col("label")
        )
        updated = (
            offered.union(labels)
            .groupBy("node")
            .agg(f.min("label").alias("label"))
            .localCheckpoint()
        )
        changed = (
            updated.alias("new")
            .join(labels.alias("old"), "node")
            .where(f.col("new.label") != f.col("old.label"))
            .count()
        )
        labels = updated
        if changed == 0:
            rows = (
                labels.groupBy("label").agg(f.collect_list("node").alias("m")).collect()
            )
            return [frozenset(r["m"]) for r in rows], rounds
    raise TrustwatchError(
        f"connected components did not settle in {max_iterations} rounds; "
        "hint: raise max_iterations or use components='driver'"
    )


def find_rings_batch(
    spark: Any,
    paths: Sequence[str | Path],
    config: BatchRingConfig | None = None,
    *,
    source_tz: str | None = None,
) -> BatchRings:
    """Find lockstep rings in Parquet event files with Spark.

    The batch job sees all events at once, so three things differ from the
    embedded :class:`~trustwatch.graph.RingTracker`, which sees them in
    order: an attribute's weight uses how many accounts share it in the
    whole batch (the stream uses the count so far, so early links weigh
    more); an attribute that ends up a hub links nobody (the stream keeps
    links made before it grew into one); and an account tied to a ring only
    through its evidence outside the lockstep window (a late joiner) is not
    attached (the stream attaches it). Retention and the LRU memory bounds of
    the stream do not apply. On data where these do not bite, both find the
    same member sets.

    Input files are checked on the driver first (:func:`scan_parquet_inputs`):
    a file the job cannot read is skipped and listed in the result's
    ``skipped_files``, and the job goes on with the others, as ``trustwatch
    run`` makes dead letters of such files and goes on.

    Parameters
    ----------
    spark
        A ``SparkSession`` (see :func:`local_spark_session`).
    paths
        Parquet event files or folders.
    config
        Job parameters; the embedded defaults when omitted.
    source_tz
        IANA zone of timestamps without one (``--source-tz`` of ``trustwatch
        run``); without it files whose ``ts`` has no zone are skipped.

    Returns
    -------
    BatchRings
        The clusters and the job's counts.
    """
    config = config or BatchRingConfig()
    started = time.perf_counter()
    f = _spark_sql().functions
    inputs = scan_parquet_inputs(paths, source_tz=source_tz)
    uses, invalid, rows_read, _ = attribute_uses(
        spark, inputs, config.signup_bucket, source_tz=source_tz
    )
    uses = uses.localCheckpoint()  # runs the UDF once, counts the invalid rows
    accounts = uses.select("account").distinct().count()
    pairs, hubs = linked_pairs(uses, config)
    linked = pairs.where(f.col("linked")).select("a", "b").localCheckpoint()
    linked_count = linked.count()
    method = config.components
    if method == "auto":
        method = "driver" if linked_count <= config.max_driver_pairs else "iterative"
    if method == "driver":
        edges = [(str(r["a"]), str(r["b"])) for r in linked.collect()]
        clusters, iterations = _components_on_driver(edges), 0
    else:
        clusters, iterations = _components_iterative(linked, config.max_iterations)
    clusters.sort(key=lambda c: (-len(c), min(c)))
    result = BatchRings(
        clusters=clusters,
        accounts=accounts,
        hubs=hubs.count(),
        linked_pairs=linked_count,
        invalid_rows=int(invalid.value),
        method=method,
        iterations=iterations,
        seconds=time.perf_counter() - started,
        files=len(inputs.files),
        skipped_files=inputs.skipped + _broken_off(inputs, rows_read.value),
    )
    logger.info(
        "batch rings: %d clusters from %d linked pairs of %d accounts in %.1f s (%s)",
        len(clusters),
        linked_count,
        accounts,
        result.seconds,
        method,
    )
    return result
