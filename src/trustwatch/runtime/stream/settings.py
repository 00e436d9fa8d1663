"""What a stream worker is told: topics, group, sinks, batching, checkpoints."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from trustwatch.errors import ConfigError

__all__ = [
    "PUBLISH_KAFKA_SETTINGS",
    "RESERVED_KAFKA_SETTINGS",
    "StreamSettings",
    "check_owned_settings",
    "checked_servers",
    "checked_topic",
    "default_worker_id",
    "parse_kafka_pairs",
]

_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
#: ``HOST:PORT``, the host a name, an IPv4 address or a bracketed IPv6 one
_SERVER = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[^\s,:\[\]]+):([0-9]{1,5})")
_WORKER_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
_SETTING_NAME = re.compile(r"[a-z0-9._]{1,80}")
#: librdkafka's default ``transaction.timeout.ms``.
_TRANSACTION_TIMEOUT_MS = 60_000.0

#: librdkafka settings the worker owns: they carry its delivery guarantees.
RESERVED_KAFKA_SETTINGS = frozenset(
    {
        "group.id",
        "group.instance.id",
        "enable.auto.commit",
        "enable.auto.offset.store",
        "isolation.level",
        "transactional.id",
        "enable.idempotence",
        "partition.assignment.strategy",
        "bootstrap.servers",
    }
)
#: librdkafka settings ``trustwatch publish`` owns: they carry its idempotent
#: producer, or have an option of their own (``--delivery-timeout``).
PUBLISH_KAFKA_SETTINGS = frozenset(
    {
        "bootstrap.servers",
        "enable.idempotence",
        "transactional.id",
        "message.timeout.ms",
        "delivery.timeout.ms",
    }
)


def check_owned_settings(
    config: Mapping[str, str], owned: frozenset[str], owner: str
) -> None:
    """Refuse librdkafka settings in ``config`` that ``owner`` sets itself.

    Raises
    ------
    ConfigError
        Naming the first such setting (never its value: it may be secret).
    """
    given = sorted(owned & set(config))
    if given:
        raise ConfigError(
            f"the Kafka setting {given[0]!r} is set by {owner} itself; "
            "hint: use the matching trustwatch option instead"
        )


def checked_topic(topic: str) -> str:
    """Return ``topic`` when it is a Kafka topic name, else raise ConfigError."""
    if not _TOPIC.fullmatch(topic) or topic in {".", ".."}:
        raise ConfigError(
            f"topic {topic!r} is not a Kafka topic name; hint: use 1 to 249 "
            "letters, digits, '.', '_' or '-'"
        )
    return topic


def checked_servers(servers: str) -> str:
    """Return bootstrap servers as ``HOST:PORT[,HOST:PORT...]`` or raise."""
    parts = [part.strip() for part in servers.split(",")]
    for part in parts:
        found = _SERVER.fullmatch(part)
        if found is None:
            raise ConfigError(
                f"bootstrap servers {servers!r} are not HOST:PORT[,HOST:PORT...]; "
                "hint: e.g. kafka-1:9092,kafka-2:9092 ([::1]:9092 for IPv6)"
            )
        if not 1 <= int(found.group(1)) <= 65535:
            raise ConfigError(f"bootstrap server {part!r} has no port from 1 to 65535")
    return ",".join(parts)


def default_worker_id() -> str:
    """This host's name: workers on different hosts get different ids."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:60] or "worker"
    return name


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """Settings of one stream worker.

    Parameters
    ----------
    bootstrap_servers
        Kafka brokers to start from, ``HOST:PORT[,HOST:PORT...]``.
    topics
        Event topics to consume. Several topics must be co-partitioned (the
        same number of partitions, keyed by account), so that one account's
        events of every kind meet one pipeline.
    group
        The consumer group: workers in one group split the partitions.
    worker_id
        Stable name of this worker within the group. It names the worker's
        transactional producer, so a restarted worker with the same id fences
        its crashed predecessor and aborts whatever it left half-written. Two
        live workers must never share an id.
    verdict_topic, action_topic, dead_letter_topic
        Where verdicts, actions and dead letters are produced.
    batch_size
        The most messages one micro-batch (one transaction) takes.
    batch_wait
        Seconds a batch waits, from its first message, for more to come. At
        0, a batch is what has arrived by then: batches stay small while the
        worker keeps up (low latency) and grow with a backlog.
    checkpoint_interval
        Seconds between saves of each partition's detector state.
    background_checkpoints
        Serialise the periodic saves in a forked child, so that the loop
        stalls only for the fork (where the platform can fork).
    static_membership
        Join the group as a static member named by ``worker_id``: a worker
        restarted within the session timeout gets its partitions back
        without a rebalance, and a stopped one does not leave the group (its
        partitions wait for the session timeout before they move on).
    overlap_commits
        Commit each batch's transaction on a thread while the loop reads and
        decides the next batch, whose records wait for that commit (one
        transaction is open at a time). Off, the loop waits for each commit.
    full_collection_interval
        Seconds between garbage collections over the whole detector state
        (0: never); between them the state is frozen out of the collector's
        passes (:class:`~trustwatch.runtime.stream.collector.StateCollector`).
    kafka_config
        More librdkafka settings for the consumer and the producer (security,
        timeouts). Settings that carry the delivery guarantees are refused.
    """

    bootstrap_servers: str
    topics: tuple[str, ...]
    group: str = "trustwatch"
    worker_id: str = field(default_factory=default_worker_id)
    verdict_topic: str = "trustwatch.verdicts"
    action_topic: str = "trustwatch.actions"
    dead_letter_topic: str = "trustwatch.dead-letters"
    batch_size: int = 2000
    batch_wait: float = 0.0
    checkpoint_interval: float = 10.0
    background_checkpoints: bool = True
    overlap_commits: bool = True
    static_membership: bool = False
    full_collection_interval: float = 3600.0
    kafka_config: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "bootstrap_servers", checked_servers(self.bootstrap_servers)
        )
        if not self.topics:
            raise ConfigError("no event topic to consume; hint: name one or more")
        for topic in (
            *self.topics,
            self.verdict_topic,
            self.action_topic,
            self.dead_letter_topic,
        ):
            checked_topic(topic)
        outputs = {self.verdict_topic, self.action_topic, self.dead_letter_topic}
        looped = outputs & set(self.topics)
        if looped:
            raise ConfigError(
                f"topic {sorted(looped)[0]!r} is both consumed and written; "
                "hint: choose other output topics"
            )
        if not self.group.strip():
            raise ConfigError("the consumer group is empty; hint: name one")
        if not _WORKER_ID.fullmatch(self.worker_id):
            raise ConfigError(
                f"worker id {self.worker_id!r} is not 1 to 100 letters, digits, "
                "'.', '_' or '-'"
            )
        if self.batch_size < 1:
            raise ConfigError("the batch size must be at least 1")
        if self.batch_wait < 0 or self.checkpoint_interval <= 0:
            raise ConfigError("batch wait and checkpoint interval must be positive")
        if self.full_collection_interval < 0:
            raise ConfigError(
                "the full collection interval is negative; hint: use 0 for never"
            )
        check_owned_settings(self.kafka_config, RESERVED_KAFKA_SETTINGS, "the worker")

    @property
    def transactional_id(self) -> str:
        """The id of this worker's transactional producer."""
        return f"trustwatch.{self.group}.{self.worker_id}"

    @property
    def broker_timeout(self) -> float:
        """Seconds the worker waits for a broker that does not answer.

        The transaction timeout (``transaction.timeout.ms``, 60 s unless
        set): past it the broker aborts the open transaction anyway, so a
        worker still waiting to commit it gives up and stops with an error.
        """
        given = self.kafka_config.get("transaction.timeout.ms")
        try:
            millis = float(given) if given is not None else _TRANSACTION_TIMEOUT_MS
        except ValueError:
            millis = _TRANSACTION_TIMEOUT_MS  # the Kafka client refuses it
        return max(millis, 1000.0) / 1000.0


def parse_kafka_pairs(
    pairs: Iterable[str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return librdkafka settings from ``KEY=VALUE`` texts, over ``base``.

    Raises
    ------
    ConfigError
        When a text is not ``KEY=VALUE``. The value is never repeated: it may
        be a credential.
    """
    merged = dict(base or {})
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not _SETTING_NAME.fullmatch(key.strip()):
            # the text is not repeated: a mistyped pair may hold a secret
            raise ConfigError(
                "a Kafka setting is not KEY=VALUE with a librdkafka property "
                "name as KEY; hint: e.g. --kafka-config security.protocol=SASL_SSL"
            )
        merged[key.strip()] = value
    return merged
