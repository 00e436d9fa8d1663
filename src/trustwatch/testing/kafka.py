"""Kafka helpers for tests and benchmarks: topics, reading back, expectations.

:func:`expected_decisions` answers the question every exactly-once test asks:
which verdicts and actions *should* a stream of partitions produce? It runs
one fresh pipeline per partition over that partition's events in offset
order, which is what a group of stream workers does whatever crashes and
rebalances happen on the way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from trustwatch.errors import ConfigError
from trustwatch.events.decode import EventDecoder
from trustwatch.events.model import EventBase
from trustwatch.events.repeats import RepeatFilter

__all__ = [
    "ExpectedDecisions",
    "TopicRecord",
    "create_topics",
    "expected_decisions",
    "read_topic",
]

_TIMEOUT = 30.0


class DecidingPipeline(Protocol):
    """What :func:`expected_decisions` needs of a pipeline."""

    failures: list[Any]

    def process_one(self, event: EventBase, t: float | None = None) -> Any:
        """Return the decision on ``event``, or ``None``."""


@dataclass(frozen=True, slots=True)
class TopicRecord:
    """One record read back from a topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    timestamp_ms: int


@dataclass(slots=True)
class ExpectedDecisions:
    """What a stream should decide: verdict and action ids, and dead letters."""

    verdict_ids: set[str] = field(default_factory=set)
    action_ids: set[str] = field(default_factory=set)
    dead_letters: int = 0
    events: int = 0
    repeats: int = 0


def create_topics(servers: str, topics: Iterable[str], partitions: int) -> None:
    """Create ``topics`` with ``partitions`` partitions each; wait until done."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    admin = AdminClient({"bootstrap.servers": servers})
    futures = admin.create_topics(
        [NewTopic(topic, partitions, 1) for topic in topics],
        operation_timeout=_TIMEOUT,
    )
    for topic, future in futures.items():
        try:
            future.result(_TIMEOUT)
        except Exception as exc:
            raise ConfigError(f"cannot create topic {topic!r}: {exc}") from exc


def read_topic(
    servers: str,
    topic: str,
    *,
    committed_only: bool = True,
    quiet: float = 2.0,
    deadline: float = 60.0,
    first_within: float = 10.0,
) -> list[TopicRecord]:
    """Read every record of ``topic`` from the start, without a group.

    Reads until no record has come for ``quiet`` seconds (so that a late
    duplicate would still show) or ``deadline`` seconds have passed. Before
    the first record the wait is ``first_within`` seconds (at least
    ``quiet``): on a busy machine the first fetch may take longer than the
    gap between two later ones, and an empty answer would read as an empty
    topic.
    ``committed_only`` reads with ``isolation.level=read_committed``: records
    of aborted or open transactions are not returned.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": f"trustwatch-reader-{time.monotonic_ns()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed"
            if committed_only
            else "read_uncommitted",
        }
    )
    records: list[TopicRecord] = []
    try:
        meta = consumer.list_topics(topic, timeout=_TIMEOUT).topics[topic]
        consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions]
        )
        end = time.monotonic() + deadline
        last = time.monotonic()
        wait = max(quiet, first_within)
        while time.monotonic() < end and time.monotonic() - last < wait:
            for message in consumer.consume(1000, 0.2):
                if message.error() is not None:
                    continue
                last = time.monotonic()
                wait = quiet
                records.append(
                    TopicRecord(
                        partition=message.partition() or 0,
                        offset=message.offset() or 0,
                        key=message.key(),
                        value=message.value() or b"",
                        headers=_headers(message.headers()),
                        timestamp_ms=message.timestamp()[1],
                    )
                )
    finally:
        consumer.close()
    return records


def expected_decisions(
    records: Iterable[TopicRecord],
    build_pipeline: Callable[[], DecidingPipeline],
    decoder: EventDecoder | None = None,
) -> ExpectedDecisions:
    """Decide each partition's records in offset order with a fresh pipeline.

    Records that do not decode count as dead letters; a record whose bytes
    came lately in its partition (a :class:`RepeatFilter` of each
    partition's own) is a repeat and is not decided again.
    """
    decoder = decoder or EventDecoder()
    by_partition: dict[int, list[TopicRecord]] = {}
    for record in records:
        by_partition.setdefault(record.partition, []).append(record)
    expected = ExpectedDecisions()
    for _, listed in sorted(by_partition.items()):
        pipeline = build_pipeline()
        recent = RepeatFilter()
        for record in sorted(listed, key=lambda r: r.offset):
            try:
                event = decoder.decode(record.value)
            except Exception:  # any undecodable record is a dead letter
                expected.dead_letters += 1
                continue
            expected.events += 1
            if recent.is_repeat(record.value):
                expected.repeats += 1
                continue
            decision = pipeline.process_one(event, event.ts.timestamp())
            expected.dead_letters += len(pipeline.failures)
            pipeline.failures.clear()
            if decision is not None:
                expected.verdict_ids.add(decision.verdict.verdict_id)
                expected.action_ids.update(a.action_id for a in decision.actions)
    return expected


def _headers(found: object) -> dict[str, bytes]:
    """Return a message's headers as text names and byte values."""
    if not isinstance(found, list):
        return {}
    return {
        str(name): value if isinstance(value, bytes) else str(value or "").encode()
        for name, value in found
    }
