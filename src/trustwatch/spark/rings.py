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
from trustwatch.events.decode import EventDecoder
from trustwatch.events.parquet import arrow_schema
from trustwatch.graph.entity_graph import ATTRIBUTE_KINDS, event_attributes
from trustwatch.graph.rings import RingTracker

__all__ = [
    "BatchRingConfig",
    "BatchRings",
    "attribute_uses",
    "find_rings_batch",
    "linked_pairs",
    "local_spark_session",
]

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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
        Parquet rows that are not valid events (skipped).
    method
        How the components were found: ``"driver"`` or ``"iterative"``.
    iterations
        Label propagation rounds (0 on the driver).
    seconds
        Wall time of the job.
    """

    clusters: list[frozenset[str]]
    accounts: int
    hubs: int
    linked_pairs: int
    invalid_rows: int
    method: str
    iterations: int
    seconds: float


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


_decoder: EventDecoder | None = None


def _row_attributes(row: Any, signup_bucket: float) -> list[str] | None:
    """Decode one Parquet row into an event and return its attributes.

    Returns ``None`` for a row that is not a valid event.
    """
    global _decoder
    if _decoder is None:
        _decoder = EventDecoder()
    values = {k: v for k, v in row.asDict().items() if v is not None}
    micros = values.pop("_ts_us", None)
    if micros is None:
        return None
    values["ts"] = _EPOCH + timedelta(microseconds=int(micros))
    try:
        event = _decoder.decode_dict(values)
    except InvalidEventError:
        return None
    return event_attributes(event, signup_bucket)


def attribute_uses(
    spark: Any, paths: Sequence[str | Path], signup_bucket: float = 600.0
) -> tuple[Any, Any]:
    """Read Parquet event files and return each event's account attributes.

    Parameters
    ----------
    spark
        A ``SparkSession``.
    paths
        Parquet files or folders of them, written with
        :func:`trustwatch.events.write_events_parquet`'s schema.
    signup_bucket
        Width in seconds of the sign-up time buckets.

    Returns
    -------
    tuple
        A DataFrame of ``(account, attribute, t)`` (``t`` in epoch seconds),
        one row per attribute of each event, and an accumulator that counts
        the rows that are not valid events once the DataFrame is computed.

    Raises
    ------
    ConfigError
        When no path is given or the files lack the event columns.
    """
    if not paths:
        raise ConfigError("no Parquet paths; hint: pass event files or folders")
    sql = _spark_sql()
    functions = sql.functions
    types = importlib.import_module("pyspark.sql.types")
    frame = spark.read.parquet(*[str(p) for p in paths])
    missing = [
        c for c in ("type", "event_id", "ts", "account") if c not in frame.columns
    ]
    if missing:
        raise ConfigError(
            f"Parquet files lack columns {missing}; hint: write them with "
            "trustwatch.events.write_events_parquet"
        )
    known = set(arrow_schema().names)
    columns = [c for c in frame.columns if c in known and c != "ts"]
    invalid = spark.sparkContext.accumulator(0)
    bucket = float(signup_bucket)

    def attributes_of(row: Any) -> list[str]:
        found = _row_attributes(row, bucket)
        if found is None:
            invalid.add(1)
            return []
        return found

    udf = functions.udf(
        attributes_of, types.ArrayType(types.StringType()), useArrow=False
    )
    record = functions.struct(
        *[functions.col(c) for c in columns],
        functions.unix_micros(functions.col("ts")).alias("_ts_us"),
    )
    uses = (
        frame.where(
            functions.col("account").isNotNull() & (functions.col("account") != "")
        )
        .select(
            functions.col("account"),
            (functions.unix_micros(functions.col("ts")) / 1e6).alias("t"),
            functions.explode(udf(record)).alias("attribute"),
        )
        .select("account", "attribute", "t")
    )
    return uses, invalid


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
    spark: Any, paths: Sequence[str | Path], config: BatchRingConfig | None = None
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

    Parameters
    ----------
    spark
        A ``SparkSession`` (see :func:`local_spark_session`).
    paths
        Parquet event files or folders.
    config
        Job parameters; the embedded defaults when omitted.

    Returns
    -------
    BatchRings
        The clusters and the job's counts.
    """
    config = config or BatchRingConfig()
    started = time.perf_counter()
    f = _spark_sql().functions
    uses, invalid = attribute_uses(spark, paths, config.signup_bucket)
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
