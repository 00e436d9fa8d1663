"""The stream worker: one member of a consumer group running the pipeline.

How it keeps its promises:

* **One pipeline per partition.** Events are keyed by account, so an
  account's events share a partition number in every (co-partitioned) input
  topic, and each partition number gets a pipeline of its own. Its detector
  state can then move to another worker with the partition.
* **Micro-batches in transactions.** A batch is what the consumer holds
  when the loop is ready for it (up to ``batch_size`` messages, after
  ``batch_wait`` seconds from its first one), so batches are small while the
  worker keeps up and grow with a backlog. It runs through the pipelines;
  its verdicts, actions and dead letters are produced, and its input
  offsets committed, in one Kafka transaction. A
  consumer reading the output topics with ``isolation.level=read_committed``
  sees each batch's records once or not at all. The transaction's broker
  round trips (the offsets sent to it, the commit) run on a thread while the
  loop reads and decides the next batch; that batch's records wait until
  the commit has ended, so at most one transaction is open. If the commit
  fails, both batches are read again from the checkpoints.
* **No endless waits.** Every call that waits on the broker is bounded and
  made in short steps. A broker that does not answer for the transaction
  timeout stops the worker with a :class:`StreamError`; a stop request
  (SIGTERM) ends such a wait within a few seconds, the batch uncommitted.
* **Checkpoints behind the commits.** Every ``checkpoint_interval`` seconds,
  on revocation and on shutdown, each partition's pipeline state is saved
  with the offsets it has read, in one write to the checkpoint store, after
  the transaction that committed those offsets (a save waits for the commit
  in flight). A saved state therefore never runs ahead of the committed
  offsets. The periodic saves serialise every
  partition's state in one forked child
  (:mod:`~trustwatch.runtime.stream.snapshots`), and the loop writes them
  one a tick, so it stalls only for the fork and each store write; saves on
  revocation and shutdown run inline, after any save still in flight. A
  worker that opens a partition loads its checkpoint and re-reads the
  messages between the checkpoint's offsets and the committed ones *only to
  rebuild state*: their outputs were committed before, so none is produced
  twice. Without a checkpoint the partition is rebuilt from the start of
  the topic.
* **Deterministic ids, idempotent stores.** Verdict, action and dead-letter
  ids derive from the events, and the decision store ignores ids it holds;
  it is written before the transaction commits, so a crash between the two
  only repeats writes the store ignores.
* **Back-pressure.** The worker consumes one batch and processes it while
  at most the batch before it commits; the client's prefetch queue and the
  producer's queue are bounded, and a full producer queue makes the worker
  wait, not buffer.
"""

from __future__ import annotations

import logging
import pickle
import queue
import secrets
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import zstandard

from trustwatch.errors import ConfigError, InvalidEventError, TrustwatchError
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.decode import EventDecoder
from trustwatch.events.repeats import RepeatFilter
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.runtime.stream.clienttext import ClientText
from trustwatch.runtime.stream.collector import GC_THRESHOLDS, StateCollector
from trustwatch.runtime.stream.metrics import StreamMetrics
from trustwatch.runtime.stream.outputs import (
    BATCH_HEADER,
    ID_HEADER,
    MessageOrigin,
    OutputBatch,
)
from trustwatch.runtime.stream.settings import StreamSettings
from trustwatch.runtime.stream.snapshots import (
    ForkedSnapshot,
    SnapshotFailed,
    can_fork,
    rest,
)
from trustwatch.runtime.warmup import warm_up

if TYPE_CHECKING:
    from confluent_kafka import (
        Consumer,
        KafkaError,
        KafkaException,
        Message,
        Producer,
        TopicPartition,
    )

    from trustwatch.graph.rings import RingSnapshot
    from trustwatch.storage.checkpoints import DecisionStore

__all__ = [
    "GC_THRESHOLDS",
    "STREAM_TIME_EVERY",
    "StreamError",
    "StreamWorker",
    "WorkerSummary",
    "decode_state",
    "encode_state",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
#: A stream worker's pipelines time their detectors on one event in this many
#: (``Pipeline(time_every=...)``), for the per-detector time metric.
STREAM_TIME_EVERY = 16
_JOIN_GRACE = 60.0  # seconds a worker may wait for its first partitions
_IDLE_POLL = 0.1  # seconds the loop waits for a first message before its chores
_LAG_EVERY = 5.0  # seconds between consumer-lag readings
_CLIENT_TIMEOUT = 30.0  # seconds for a broker round trip the worker waits on
#: The longest one Kafka call blocks: between calls the worker looks at stop
#: requests, and the main thread runs signal handlers.
_BROKER_STEP = 1.0
#: Seconds a wait on the broker may go on after the worker is asked to stop:
#: a commit the broker answers ends; one it does not is given up.
_STOP_GRACE = 5.0
#: Seconds the loop waits past a commit's own limit for the commit thread,
#: whose client call may overrun its timeout, before giving the commit up.
_OVERRUN = 2.0
_IDLE_CHECK_TIMEOUT = 10.0  # seconds the broker has to answer before an idle stop
_SNAPSHOT_TIMEOUT = 120.0  # seconds a save in flight may take before it is dropped
#: Background saves that fail in a row (the out-of-memory killer, fork
#: refused) before the worker saves inline for the rest of its run.
_BACKGROUND_FAILURES = 3


class StreamError(TrustwatchError):
    """The worker cannot go on: the broker refused it or stopped answering,
    or another worker with the same id fenced it."""


class _BrokerWait:
    """How long one wait on the broker may last.

    Up to ``limit`` seconds from its start. Once the worker is asked to
    stop, at most :data:`_STOP_GRACE` seconds more (from the request, or
    from the start of a wait begun after it), so that a broker that does
    not answer never holds up a stop request.
    """

    __slots__ = (
        "began",
        "limit",
        "limit_is",
        "servers",
        "starting",
        "stop_requested",
        "text",
    )

    def __init__(
        self,
        limit: float,
        servers: str,
        stop_requested: Callable[[], float | None],
        *,
        limit_is: str = "the transaction timeout, transaction.timeout.ms",
        starting: bool = False,
        text: Callable[[str], str] = str,
    ) -> None:
        self.began = time.monotonic()
        self.limit = limit
        #: what sets ``limit``, in words
        self.limit_is = limit_is
        self.servers = servers
        #: the worker is starting: nothing has been read yet
        self.starting = starting
        self.stop_requested = stop_requested
        #: hides the values of Kafka settings in the client's text
        self.text = text

    def _stop_by(self) -> float | None:
        asked = self.stop_requested()
        return None if asked is None else max(asked, self.began) + _STOP_GRACE

    def left(self) -> float:
        """Seconds left (zero or less once the wait is over)."""
        until = self.began + self.limit
        stop_by = self._stop_by()
        if stop_by is not None:
            until = min(until, stop_by)
        return until - time.monotonic()

    def expired(self, what: str) -> StreamError:
        """The error of a wait that ended with no answer while ``what``."""
        stop_by = self._stop_by()
        if self.starting:
            lost = "nothing has been read yet"
        else:
            lost = (
                "what was read since the last commit is not committed, and is "
                "read again when a worker of the group starts"
            )
        if stop_by is not None and stop_by < self.began + self.limit:
            return StreamError(
                f"asked to stop while {what}, and the broker at {self.servers} "
                f"did not answer within {_STOP_GRACE:.0f} s: {lost}"
            )
        if self.starting:
            hint = (
                "hint: is the broker reachable, and does it allow transactions? "
                "Start the worker again once it answers"
            )
        else:
            hint = "hint: start the worker again once the broker is back"
        return StreamError(
            f"the broker at {self.servers} did not answer for {self.limit:.0f} s "
            f"while {what}: {lost}; {hint} (the limit is {self.limit_is})"
        )


#: Zstandard's frame magic number: states saved before it was used are zlib.
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: Level 1 compresses a partition's state (about 9 MB of MessagePack) in
#: about a quarter of zlib level 1's time, and smaller
#: (benchmarks/bench_state_save.py).
_ZSTD_LEVEL = 1
#: A state is a mapping, so its JSON (written by earlier versions) opens with
#: a brace, and its MessagePack with a map's first byte, never this.
_JSON_OPENING = b"{"
#: The first bytes a MessagePack map can open with (fixmap, map 16, map 32):
#: a later format must open with another, so that this version names it.
_MSGPACK_MAPS = frozenset(bytes([first]) for first in (*range(0x80, 0x90), 0xDE, 0xDF))


def encode_state(state: Any) -> bytes:
    """Return a pipeline state as Zstandard-compressed MessagePack.

    MessagePack encodes a partition's state in about half the time JSON
    takes, and is a quarter smaller before compression; it keeps the same
    values (a state holds strings, numbers, lists and string-keyed maps).
    """
    raw = msgspec.msgpack.encode(state)
    return zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(raw)


def decode_state(blob: bytes) -> Any:
    """Return the pipeline state :func:`encode_state` wrote.

    States saved by earlier versions, as JSON compressed with Zstandard or
    zlib, are read too.

    Raises
    ------
    ConfigError
        When the blob is damaged.
    """
    try:
        if blob[:4] == _ZSTD_MAGIC:
            raw = zstandard.ZstdDecompressor().decompress(blob)
        else:
            raw = zlib.decompress(blob)
        if raw[:64].lstrip()[:1] == _JSON_OPENING:
            return msgspec.json.decode(raw)
        if raw[:1] not in _MSGPACK_MAPS:
            raise ConfigError(
                "the saved partition state is in a format this version does not "
                "know (written by a newer trustwatch, or damaged); hint: run the "
                "version that wrote it, or drop the saved states with "
                "--reset-state"
            )
        return msgspec.msgpack.decode(raw)
    except (zstandard.ZstdError, zlib.error, msgspec.DecodeError) as exc:
        raise ConfigError(f"the saved partition state is damaged ({exc})") from exc
    except MemoryError:
        # the frame header gives the size to allocate: a damaged one can ask
        # for more than the machine has
        declared = zstandard.frame_content_size(blob)
        raise ConfigError(
            f"the saved partition state declares {declared:,} bytes, more than "
            "fit in memory; hint: it is damaged, or the worker needs more "
            "memory (`--reset-state` drops saved states)"
        ) from None


@dataclass(slots=True)
class WorkerSummary:
    """What one worker did in one run."""

    events: int = 0
    replayed: int = 0
    verdicts: int = 0
    actions: int = 0
    dead_letters: int = 0
    repeats: int = 0
    batches: int = 0
    aborted: int = 0
    checkpoints: int = 0
    rebalances: int = 0
    seconds: float = 0.0
    decisions: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class _PartitionTask:
    """One partition's pipeline, and how far it has read in each topic."""

    partition: int
    pipeline: Pipeline
    #: topic -> next offset to read; a topic absent here starts at its beginning
    offsets: dict[str, int]
    #: topic -> offsets below this are re-read to rebuild state, not decided
    replay_until: dict[str, int]
    dirty: bool = False
    #: the messages let through lately: a re-sent one is not decided again
    recent: RepeatFilter = field(default_factory=RepeatFilter)
    #: when the state was last saved (monotonic seconds), or opened
    saved: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class _SaveInFlight:
    """Partition states serialised in one forked child, then written."""

    snapshot: ForkedSnapshot
    #: each partition saved, with the offsets it had read at the fork: they
    #: go with that state
    tasks: list[tuple[_PartitionTask, dict[str, int]]]
    #: once the child has finished: what is left to write, one a tick
    unwritten: (
        list[tuple[_PartitionTask, dict[str, int], bytes, list[RingSnapshot]]] | None
    ) = None

    def holds(self, partitions: set[int]) -> bool:
        """Whether any of ``partitions`` is among the states saved."""
        return any(task.partition in partitions for task, _ in self.tasks)


@dataclass(slots=True)
class _CommitInFlight:
    """A batch whose transaction commits while the loop decides the next one."""

    #: the wall-clock and monotonic times the commit ended
    future: Future[tuple[float, float]]
    out: OutputBatch
    consumed: Counter[str]
    replayed: int
    #: the batch's messages' timestamps (seconds), for the latency metric
    stamps: list[float]
    #: when the batch began (monotonic)
    started: float
    #: how long its commit may wait on the broker
    patience: _BrokerWait | None = None


class _OffsetCommitFailed(Exception):
    """The consumer could not commit the offsets of a batch that produced
    nothing (there is no transaction to abort)."""


class _Committer:
    """Runs commits one at a time on a daemon thread.

    A daemon, unlike an executor's thread: the Kafka client can wait past
    its timeout for a group coordinator that is down (its
    ``send_offsets_to_transaction``), and a commit the worker has given up
    must not keep the process from exiting.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(
            target=self._work, name="trustwatch-commit", daemon=True
        )
        #: a job is running (one the worker may have given up)
        self.busy = False
        self._thread.start()

    def submit(self, call: Callable[[], _T]) -> Future[_T]:
        """Run ``call`` after those submitted before; return its future."""
        future: Future[_T] = Future()
        self._jobs.put((call, future))
        return future

    def shutdown(self, timeout: float) -> None:
        """Let the thread end after its jobs, waiting at most ``timeout`` s."""
        self._jobs.put(None)
        self._thread.join(timeout)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            call, future = job
            if not future.set_running_or_notify_cancel():
                continue
            self.busy = True
            try:
                result = call()
            except BaseException as exc:  # the waiting thread raises it
                future.set_exception(exc)
            else:
                future.set_result(result)
            finally:
                self.busy = False


class StreamWorker:
    """Consume event topics as one member of a group; decide; produce.

    Parameters
    ----------
    settings
        Topics, group, batching and Kafka settings.
    build_pipeline
        Returns a new pipeline with fresh detector state; called once for
        each partition the worker opens.
    checkpoints
        Where each partition's state is saved with its offsets (a store every
        worker of the group can reach: one SQLite file for workers on one
        host, PostgreSQL across hosts).
    decisions
        Optionally, a store that also receives verdicts, actions and dead
        letters (for the review side).
    decoder
        Turns message values into events; the default reads canonical JSON.
    metrics
        Prometheus metrics to update; a fresh set when ``None``.
    reset_state
        Drop the group's saved partition states before starting: partitions
        start from the committed offsets with fresh detector state.
    """

    def __init__(
        self,
        settings: StreamSettings,
        build_pipeline: Callable[[], Pipeline],
        checkpoints: DecisionStore,
        *,
        decisions: DecisionStore | None = None,
        decoder: EventDecoder | None = None,
        metrics: StreamMetrics | None = None,
        reset_state: bool = False,
    ) -> None:
        self.settings = settings
        self.build_pipeline = build_pipeline
        self.checkpoints = checkpoints
        self.decisions = decisions
        self.decoder = decoder or EventDecoder()
        self.metrics = metrics or StreamMetrics()
        self.reset_state = reset_state
        self.summary = WorkerSummary()
        #: hides the values of the Kafka settings in what the client says
        self._text = ClientText(settings.kafka_config)
        #: a partition has been assigned to this worker since it started
        self._ever_assigned = False
        self._tasks: dict[int, _PartitionTask] = {}
        #: seconds spent in assignment callbacks (restoring partitions'
        #: state) since the consume loop last looked: not idleness
        self._assigning = 0.0
        # revoked tasks kept in memory: reused when the partition comes back
        # and nobody has committed anything on it since
        self._parked: dict[int, _PartitionTask] = {}
        self._stopping = False
        #: when a stop was first asked for (monotonic seconds)
        self._stop_requested: float | None = None
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._fatal: list[str] = []
        self._last_checkpoint = time.monotonic()
        self._last_lag = 0.0
        self._session = secrets.token_hex(4)
        self._in_flight: _SaveInFlight | None = None
        #: counts rebalance callbacks: a batch spanning one is cut at it
        self._generation = 0
        self._background = settings.background_checkpoints and can_fork()
        self._background_failures = 0
        #: the batch whose transaction is committing, if any
        self._pending: _CommitInFlight | None = None
        #: runs the transactions' commits (one at a time)
        self._committer: _Committer | None = None
        #: transactions begun this session (names each batch's records)
        self._transactions = 0
        #: a commit failed inside a rebalance callback: every partition is
        #: reopened at its checkpoint once the consumer call returns
        self._reopen = False
        #: the run failed: what is uncommitted is given up, not flushed
        self._abandoned = False

    # -- control -------------------------------------------------------------

    def stop(self) -> None:
        """Ask the worker to finish its batch, commit, checkpoint and leave.

        Safe to call from a signal handler or another thread. A wait on a
        broker that does not answer ends within a few seconds: the batch is
        then left uncommitted, and :meth:`run` raises :class:`StreamError`.
        """
        if self._stop_requested is None:
            self._stop_requested = time.monotonic()
        self._stopping = True

    @property
    def partitions(self) -> list[int]:
        """The partition numbers this worker owns now."""
        return sorted(self._tasks)

    def run(
        self,
        *,
        idle_timeout: float | None = None,
        on_batch: Callable[[WorkerSummary], None] | None = None,
    ) -> WorkerSummary:
        """Consume until :meth:`stop` (or a signal calling it); return counts.

        Parameters
        ----------
        idle_timeout
            Also stop once no message has come for this many seconds (for
            backfills and tests).
        on_batch
            Called after each committed batch with the running summary.

        Raises
        ------
        ConfigError
            When a topic is missing, the input topics are not co-partitioned,
            or a checkpoint cannot be restored.
        StreamError
            When the broker fences or refuses the worker for good, or does
            not answer for the transaction timeout; when a stop request cut
            short a wait for a broker that did not answer; or when the
            worker stops for ``idle_timeout`` without ever having been
            assigned a partition (it has read nothing).
        """
        started = time.perf_counter()
        with StateCollector(self.settings.full_collection_interval) as collector:
            self._committer = _Committer()
            try:
                return self._run(started, idle_timeout, on_batch, collector)
            finally:
                # idle unless a commit was given up: then not waited for
                self._committer.shutdown(_BROKER_STEP)
                self._committer = None

    def _run(
        self,
        started: float,
        idle_timeout: float | None,
        on_batch: Callable[[WorkerSummary], None] | None,
        collector: StateCollector,
    ) -> WorkerSummary:
        consumer, _ = self._connect()
        self._check_topics(consumer)
        # lazy loads would otherwise delay the first partitions' decisions
        warm_up(self.build_pipeline)
        collector.settle()
        if self.reset_state:
            dropped = self.checkpoints.delete_checkpoints(self.settings.group)
            log.warning(
                "reset state: %d saved partition states of group %s dropped",
                dropped,
                self.settings.group,
            )
        consumer.subscribe(
            list(self.settings.topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        last_message = time.monotonic()
        join_by = last_message + _JOIN_GRACE
        waiting_said = False
        try:
            while not self._stopping:
                aborted = self.summary.aborted
                messages = self._next_batch(consumer)
                if self._fatal:
                    raise self._client_stopped()
                if self._reopen:
                    # a commit failed during a rebalance: what was read since
                    # the checkpoints is read again
                    self._reopen = False
                    self._rewind()
                    messages = []
                now = time.monotonic()
                if messages or (not self._tasks and now < join_by):
                    # joining the group is not idleness
                    last_message = now
                else:
                    # nor is restoring the state of partitions just assigned
                    last_message += self._assigning
                self._assigning = 0.0
                if not self._ever_assigned and now >= join_by and not waiting_said:
                    # a worker whose partitions moved to another is not stuck
                    waiting_said = True
                    log.warning(
                        "no partition assigned %.0f s after starting: the group "
                        "may have more workers than partitions, or the broker "
                        "cannot balance it",
                        _JOIN_GRACE,
                    )
                if messages:
                    self._process_batch(messages)
                    if on_batch is not None:
                        on_batch(self.summary)
                    # after the commit: the pause delays no decision of this
                    # batch; a full collection waits while a save child
                    # shares the state's pages
                    collector.after_batch(full_allowed=self._in_flight is None)
                elif self._pending is not None:
                    # nothing came: take the last commit's result now
                    self._settle_commit()
                    if on_batch is not None:
                        on_batch(self.summary)
                elif (
                    idle_timeout is not None
                    and time.monotonic() - last_message >= idle_timeout
                ):
                    self._check_broker(consumer)  # silence is not a dead broker
                    if not self._ever_assigned:
                        # it read nothing: a backfill must not pass for done
                        raise self._never_assigned(time.perf_counter() - started)
                    log.info("no message for %.1f s: stopping", idle_timeout)
                    break
                elif self._in_flight is None and collector.full_due():
                    collector.collect_all()
                self._tick()
                if self.summary.aborted != aborted:
                    # what was read since the checkpoints comes again: not idle
                    last_message = time.monotonic()
            self._settle_commit()
            self._checkpoint_all(force=True)
            self._report_detector_time(self._tasks.values())
        except BaseException:
            # a batch may have failed half-way: the pipelines' state can be
            # ahead of the committed offsets, so nothing may be checkpointed
            # (dropped before the wait below, which a second signal may cut)
            self._abandoned = True
            self._drop_in_flight()
            self._tasks.clear()
            self._parked.clear()
            self.stop()  # a commit still waiting on a silent broker gives up
            self._abandon_commit()
            raise
        finally:
            self._drop_in_flight()  # only left when no partition is owned
            self._abandon_commit()  # the producer closes idle
            self._close()
            self.summary.seconds = time.perf_counter() - started
        return self.summary

    def _client_stopped(self) -> StreamError:
        """The error of a Kafka client that reported a fatal error."""
        return StreamError(
            f"the Kafka client stopped: {self._fatal[0]}; hint: another worker "
            "may run with the same --worker-id (it fences this one's "
            "transactions), or the client's settings are wrong"
        )

    def _never_assigned(self, seconds: float) -> StreamError:
        """The error of a worker that stops for idleness having been
        assigned no partition: it has read nothing."""
        s = self.settings
        return StreamError(
            f"no partition of {', '.join(s.topics)} was ever assigned to worker "
            f"{s.worker_id} of group {s.group} in {seconds:.0f} s, so it read "
            "nothing: the group may have more workers than partitions, or its "
            "coordinator does not answer; hint: run fewer workers than the "
            "topics have partitions, or check the broker's group coordinator"
        )

    def _next_batch(self, consumer: Consumer) -> list[Message]:
        """Wait for a message, then take what else comes within the batch wait.

        The wait starts at the first message. With no batch wait, a batch is
        what has arrived by then, so batches stay small while the worker
        keeps up and grow with a backlog, and an idle loop blocks instead
        of spinning.
        """
        first = consumer.poll(_IDLE_POLL)
        if first is None:
            return []
        more = self.settings.batch_size - 1
        if not more:
            return [first]
        generation = self._generation
        rest = consumer.consume(more, self.settings.batch_wait)
        if self._generation != generation:
            # a rebalance ran inside consume(): the client dropped what it had
            # fetched before it, but ``first`` was already out; where the
            # partition is still (or again) ours it is fetched again
            return rest
        return [first, *rest]

    # -- Kafka clients -------------------------------------------------------

    def _connect(self) -> tuple[Consumer, Producer]:
        try:
            from confluent_kafka import Consumer, Producer
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise ConfigError(
                "confluent-kafka is not installed; hint: python3 -m pip install "
                "confluent-kafka"
            ) from exc
        s = self.settings
        common: dict[str, Any] = {
            "bootstrap.servers": s.bootstrap_servers,
            "client.id": f"trustwatch-{s.worker_id}",
            "error_cb": self._on_error,
            # the client's log lines may repeat a setting's value
            "logger": self._text.logger(),
        }
        consumer_config = {
            **common,
            "group.id": s.group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "partition.assignment.strategy": "range",
            "queued.max.messages.kbytes": 16384,
            # a batch waits at most this long for more data (default 500 ms)
            "fetch.wait.max.ms": 100,
            **{k: v for k, v in s.kafka_config.items() if k not in _PRODUCER_ONLY},
        }
        if s.static_membership:
            consumer_config["group.instance.id"] = s.worker_id
        producer_config = {
            **common,
            "transactional.id": s.transactional_id,
            "linger.ms": 5,
            "queue.buffering.max.messages": 100_000,
            **{k: v for k, v in s.kafka_config.items() if k not in _CONSUMER_ONLY},
        }
        try:
            consumer = Consumer(consumer_config)
            producer = Producer(producer_config)
        except Exception as exc:
            # librdkafka's message may repeat a value, and values may be secret
            raise self._text.refused(exc) from None
        try:
            _call_broker(
                producer.init_transactions,
                self._broker_wait(_CLIENT_TIMEOUT, starting=True),
                "starting transactions",
            )
        except StreamError:
            raise
        except Exception as exc:
            raise StreamError(
                f"cannot start a transaction on Kafka at {s.bootstrap_servers}: "
                f"{_kafka_reason(exc, self._text)}; hint: is the broker "
                "reachable, are the security settings right, and does it allow "
                "transactions?"
            ) from None
        self._consumer, self._producer = consumer, producer
        return consumer, producer

    def _broker_wait(
        self, limit: float | None = None, *, starting: bool = False
    ) -> _BrokerWait:
        """A wait on the broker of ``limit`` seconds (the transaction timeout
        when ``None``), cut short by a stop request. ``starting``: the worker
        has read nothing yet."""
        if limit is None:
            return _BrokerWait(
                self.settings.broker_timeout,
                self.settings.bootstrap_servers,
                lambda: self._stop_requested,
                starting=starting,
                text=self._text,
            )
        return _BrokerWait(
            limit,
            self.settings.bootstrap_servers,
            lambda: self._stop_requested,
            limit_is=f"fixed at {limit:.0f} s for this call",
            starting=starting,
            text=self._text,
        )

    def _on_error(self, error: KafkaError) -> None:
        said = self._text(error.str())
        if error.fatal():
            self._fatal.append(said)
        elif error.code() in _client_logged_codes():
            # the client's own log line (trustwatch.kafka) said it already
            log.debug("Kafka client: %s", said)
        else:
            log.warning("Kafka client: %s", said)

    def _check_broker(self, consumer: Consumer) -> None:
        """Raise unless the broker answers: a run that stops because nothing
        came must not pass for one that read everything."""
        try:
            consumer.list_topics(timeout=_IDLE_CHECK_TIMEOUT)
        except Exception as exc:
            raise StreamError(
                f"no message came, and the broker at "
                f"{self.settings.bootstrap_servers} does not answer "
                f"({_kafka_reason(exc, self._text)}): the topics may not have "
                "been read through; hint: start the worker again once the broker "
                "is back"
            ) from None

    def _check_topics(self, consumer: Consumer) -> None:
        """Refuse missing topics, and input topics that are not co-partitioned."""
        s = self.settings
        try:
            found = consumer.list_topics(timeout=_CLIENT_TIMEOUT).topics
        except Exception as exc:
            raise ConfigError(
                f"cannot list the topics of {s.bootstrap_servers}: "
                f"{_kafka_reason(exc, self._text)}"
            ) from None
        counts: dict[str, int] = {}
        for topic in (*s.topics, s.verdict_topic, s.action_topic, s.dead_letter_topic):
            meta = found.get(topic)
            if meta is None or meta.error is not None or not meta.partitions:
                raise ConfigError(
                    f"topic {topic!r} does not exist on {s.bootstrap_servers}; hint: "
                    "create the event, verdict, action and dead-letter topics first"
                )
            counts[topic] = len(meta.partitions)
        sizes = {counts[t] for t in s.topics}
        if len(sizes) > 1:
            listed = ", ".join(f"{t} has {counts[t]}" for t in s.topics)
            raise ConfigError(
                f"the event topics are not co-partitioned ({listed} partitions); "
                "hint: give every event topic the same number of partitions, "
                "keyed by account"
            )

    def _close(self) -> None:
        consumer, producer = self._consumer, self._producer
        self._consumer = self._producer = None
        if self._committer is not None and self._committer.busy:
            # a commit given up still runs in the client: closing under it
            # is not safe, and the broker does not answer anyway
            log.warning("the Kafka clients are left open: a commit still waits")
        elif consumer is not None:
            try:
                consumer.close()  # leaves the group; revocation checkpoints
            except Exception as exc:  # closing must not hide the real error
                log.warning("closing the consumer failed: %s", self._text(str(exc)))
        if producer is not None and not self._abandoned:
            # after a failed run, records left in the queue belong to a
            # transaction that is not committed: nothing to wait for
            try:
                _flush(producer, self._broker_wait(_CLIENT_TIMEOUT))
            except Exception as exc:  # a fenced producer: the real error is raised
                log.warning("closing the producer failed: %s", self._text(str(exc)))
        self.metrics.assigned.set(0)
        self.metrics.consumer_lag.clear()  # no partition is owned any more

    # -- assignment ----------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        began = time.monotonic()
        self._settle_commit(in_callback=True)
        self._generation += 1
        self.summary.rebalances += 1
        self.metrics.rebalances.labels("assign").inc()
        if partitions:
            self._ever_assigned = True
        committed = _committed(consumer, partitions, self._broker_wait(_CLIENT_TIMEOUT))
        by_number: dict[int, dict[str, int | None]] = {}
        for tp in partitions:
            by_number.setdefault(tp.partition, {})[tp.topic] = committed.get(
                (tp.topic, tp.partition)
            )
        for number, offsets in sorted(by_number.items()):
            if number not in self._tasks:
                self._tasks[number] = self._open(number, offsets)
        for tp in partitions:
            task = self._tasks[tp.partition]
            tp.offset = _start(task.offsets.get(tp.topic))
        consumer.assign(partitions)
        self._parked.clear()
        self.metrics.assigned.set(len(self._tasks))
        self._assigning += time.monotonic() - began
        log.info("partitions assigned: %s", sorted(by_number))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # the revoked partitions' states are saved behind their commit
        self._settle_commit(in_callback=True)
        self._generation += 1
        self.summary.rebalances += 1
        self.metrics.rebalances.labels("revoke").inc()
        revoked = sorted({tp.partition for tp in partitions})
        for number in revoked:
            task = self._tasks.pop(number, None)
            if task is not None:
                self._checkpoint(task)
                self._report_detector_time([task])
                self._parked[number] = task
        self.metrics.assigned.set(len(self._tasks))
        self.metrics.forget_partitions(self.settings.topics, revoked)
        log.info("partitions revoked: %s", sorted({tp.partition for tp in partitions}))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # another worker may own them now: its checkpoints must not be overwritten
        self._settle_commit(in_callback=True)
        self._generation += 1
        self.metrics.rebalances.labels("lost").inc()
        lost = {tp.partition for tp in partitions}
        if self._in_flight is not None and self._in_flight.holds(lost):
            self._drop_in_flight()
        for number in lost:
            self._tasks.pop(number, None)
            self._parked.pop(number, None)
        self.metrics.assigned.set(len(self._tasks))
        self.metrics.forget_partitions(self.settings.topics, lost)
        log.warning("partitions lost: %s", sorted({tp.partition for tp in partitions}))

    def _open(self, number: int, committed: Mapping[str, int | None]) -> _PartitionTask:
        """Return the task for a partition this worker now owns.

        ``committed`` holds the group's committed offset for each topic, or
        ``None`` where the group has committed none.
        """
        parked = self._parked.pop(number, None)
        if parked is not None and all(
            committed.get(topic) == parked.offsets.get(topic) for topic in committed
        ):
            return parked  # nobody has moved this partition since it left
        saved = self.checkpoints.load_checkpoint(self.settings.group, number)
        pipeline = self.build_pipeline()
        recent = RepeatFilter()
        start: dict[str, int] = {}
        if saved is not None:
            try:
                restored = decode_state(saved.state)
                if not isinstance(restored, dict) or "pipeline" not in restored:
                    raise ConfigError("the saved partition state has no pipeline")
                pipeline.set_state(restored["pipeline"])
                recent.set_state(msgspec.convert(restored.get("recent", b""), bytes))
            except (ConfigError, ValueError, msgspec.ValidationError) as exc:
                raise ConfigError(
                    f"cannot restore partition {number} of group "
                    f"{self.settings.group}: {exc}; hint: stop every worker of "
                    "the group and start one with --reset-state"
                ) from exc
            start = dict(saved.offsets)
        replay_until: dict[str, int] = {}
        for topic, done in committed.items():
            if done is None:
                continue
            begin = start.get(topic)
            if saved is None and self.reset_state:
                start[topic] = done  # fresh state from the committed offset
            elif begin is None or begin < done:
                replay_until[topic] = done  # rebuild state up to the commit
            elif begin > done:
                log.warning(
                    "partition %d of %s: the saved state is ahead of the "
                    "committed offset (%d > %d); continuing from the state",
                    number,
                    topic,
                    begin,
                    done,
                )
        task = _PartitionTask(number, pipeline, start, replay_until, recent=recent)
        if saved is None and self.reset_state:
            self._checkpoint(task, force=True)
        if replay_until:
            log.info(
                "partition %d: rebuilding state from %s up to the committed %s",
                number,
                start or "the beginning",
                replay_until,
            )
        return task

    # -- batches -------------------------------------------------------------

    def _process_batch(self, messages: list[Message]) -> None:
        started = time.perf_counter()
        out = OutputBatch()
        consumed: Counter[str] = Counter()
        replayed = 0
        stamps: list[float] = []
        commit: dict[tuple[str, int], int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if not _is_partition_eof(error):
                    log.warning("consume error: %s", self._text(error.str()))
                continue
            topic, number, offset = (
                message.topic(),
                message.partition(),
                message.offset(),
            )
            if topic is None or number is None or offset is None:
                continue
            task = self._tasks.get(number)
            if task is None:
                continue  # a message of a partition this worker gave up
            silent = offset < task.replay_until.get(topic, 0)
            consumed[topic] += 1
            if silent:
                replayed += 1
            else:
                kind, stamp = message.timestamp()
                if kind != 0:  # 0: the message carries no timestamp
                    stamps.append(stamp / 1000.0)
            self._decide(task, message, topic, offset, silent, out)
            task.offsets[topic] = offset + 1
            task.dirty = True
            if not silent:
                # re-read messages are committed already: committing them
                # again would move the group's offset back
                commit[(topic, number)] = offset + 1
            elif offset + 1 >= task.replay_until.get(topic, 0):
                task.replay_until.pop(topic, None)
        batch = _CommitInFlight(Future(), out, consumed, replayed, stamps, started)
        if not commit:  # only messages re-read to rebuild state
            batch.future.set_result((time.time(), time.perf_counter()))
            self._batch_committed(batch)
            return
        # the batch before commits no later than here: one transaction at a time
        if not self._settle_commit():
            return  # aborted: this batch is read again from the checkpoints
        if self._commit(batch, commit) and not self.settings.overlap_commits:
            self._settle_commit()

    def _batch_committed(self, batch: _CommitInFlight) -> None:
        """Count a batch whose commit has ended, and observe its latency."""
        finished, ended = batch.future.result()
        for sent in batch.stamps:
            self.metrics.decision_latency.observe(max(0.0, finished - sent))
        self._count(batch.out, batch.consumed, batch.replayed)
        self.metrics.batch_seconds.observe(ended - batch.started)

    def _decide(
        self,
        task: _PartitionTask,
        message: Message,
        topic: str,
        offset: int,
        silent: bool,
        out: OutputBatch,
    ) -> None:
        """Run one message through its partition's pipeline."""
        raw = message.value() or b""
        if not raw:
            if not silent:
                origin = MessageOrigin(topic, task.partition, offset)
                letter = _letter(
                    origin, "empty_message", "the message has no value", raw
                )
                out.add_letter(letter, origin)
            return
        try:
            event = self.decoder.decode(raw)
        except InvalidEventError as exc:
            if not silent:
                origin = MessageOrigin(topic, task.partition, offset)
                out.add_letter(_letter(origin, exc.reason, str(exc), raw), origin)
            return
        except Exception as exc:  # a decoder fault is one message's problem
            if not silent:
                origin = MessageOrigin(topic, task.partition, offset)
                out.add_letter(
                    _letter(origin, "undecodable", f"{type(exc).__name__}: {exc}", raw),
                    origin,
                )
            return
        if task.recent.is_repeat(raw):
            if not silent:
                out.repeats += 1
            return
        pipeline = task.pipeline
        decision = pipeline.process_one(event, event.ts.timestamp())
        if pipeline.failures:
            if not silent:
                origin = MessageOrigin(topic, task.partition, offset)
                for letter in pipeline.failures:
                    out.add_letter(letter, origin)
            pipeline.failures.clear()
        if decision is not None and not silent:
            out.add(decision)

    def _commit(
        self, batch: _CommitInFlight, offsets: Mapping[tuple[str, int], int]
    ) -> bool:
        """Produce a batch's records and start committing them with its offsets.

        The records are produced in a new transaction, on this thread; the
        round trips that send the offsets to the transaction and commit it
        run on the commit thread (with serial commits too, the loop then
        waiting for them at once), and :meth:`_settle_commit` takes their
        result. A batch that produces nothing commits its offsets without a
        transaction, with the consumer, on the loop's thread (the consumer's
        commit takes no timeout: a broker gone in that moment holds it). The
        decision store is written first: a crash before the commit makes
        the batch run again, and the store ignores what it already holds.
        Returns whether the batch is committed or committing; when it is
        not, every partition has been reopened at its checkpoint.
        """
        from confluent_kafka import KafkaException, TopicPartition

        consumer, producer = self._consumer, self._producer
        assert consumer is not None and producer is not None
        out = batch.out
        if self.decisions is not None and len(out):
            self.decisions.write_verdicts(out.verdicts)
            self.decisions.write_actions(out.actions)
            self.decisions.write_dead_letters(out.letters)
        s = self.settings
        positions = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        records = out.records(s.verdict_topic, s.action_topic, s.dead_letter_topic)
        # the records, the offsets and the commit: within the transaction timeout
        patience = self._broker_wait()
        assert self._committer is not None
        if not records:
            # nothing to produce: the offsets alone need no transaction. The
            # consumer commits them on this thread: from the commit thread,
            # its commit waits on the consumer this thread polls, and a
            # rebalance callback waiting for it never ends
            try:
                ended = _commit_offsets(consumer, positions)
            except _OffsetCommitFailed as exc:
                log.warning("offset commit failed: %s", self._text(str(exc)))
                self.summary.aborted += 1
                self.metrics.aborted.inc()
                self._rewind()
                return False
            batch.future.set_result(ended)
            self._pending = batch
            return True
        try:
            producer.begin_transaction()
            self._transactions += 1
            name = f"{s.worker_id}/{self._session}/{self._transactions}"
            for topic, key, value, record_id in records:
                _produce(producer, topic, key, value, record_id, name, patience)
            metadata = consumer.consumer_group_metadata()
        except KafkaException as exc:
            self._abort(exc)
            self._rewind()
            return False
        self._pending = batch
        batch.patience = patience
        # on the commit thread even when the loop waits for it at once (serial
        # commits): the loop's wait is bounded where the client's may not be
        batch.future = self._committer.submit(
            lambda: _finish_transaction(producer, positions, metadata, patience)
        )
        return True

    def _settle_commit(self, *, in_callback: bool = False) -> bool:
        """Wait for the commit in flight, if any, and count its batch.

        Returns ``False`` when the commit failed: the transaction is
        aborted, and every partition is reopened at its checkpoint, since
        the pipelines have seen the failed batch (and any decided since).
        Inside a rebalance callback the partitions are dropped instead and
        reopened when the consumer call returns.
        """
        from confluent_kafka import KafkaException

        batch = self._pending
        if batch is None:
            return True
        try:
            _outcome(batch.future, batch.patience)
        except StreamError:
            self._pending = None  # the commit has ended: given up
            raise
        except _OffsetCommitFailed as exc:
            self._pending = None
            log.warning("offset commit failed: %s", self._text(str(exc)))
            self.summary.aborted += 1
            self.metrics.aborted.inc()
            self._reopen_all(in_callback=in_callback)
            return False
        except KafkaException as exc:
            self._pending = None
            self._abort(exc)
            self._reopen_all(in_callback=in_callback)
            return False
        # only now: a wait cut short (a signal) leaves the commit to be
        # waited for again before the producer closes
        self._pending = None
        self.summary.batches += 1
        self._batch_committed(batch)
        return True

    def _reopen_all(self, *, in_callback: bool) -> None:
        """After a failed commit: reopen every partition at its checkpoint,
        at once or, inside a rebalance callback, once the consumer call
        returns."""
        if in_callback:
            self._drop_in_flight()
            self._tasks.clear()
            self._parked.clear()
            self._reopen = True
        else:
            self._rewind()

    def _abandon_commit(self) -> None:
        """Wait for the commit in flight, if any, without using its result.

        The producer must be idle before it closes; a failure here is left
        to the next worker with this id, which aborts the transaction. The
        commit's own wait on the broker bounds this one.
        """
        batch = self._pending
        if batch is not None:
            try:
                _outcome(batch.future, batch.patience)
            except Exception as exc:
                log.warning(
                    "the last transaction did not commit: %s", self._text(str(exc))
                )
            except BaseException:
                if not batch.future.done():
                    raise  # a second interrupt cut the wait short
                # else the commit itself was interrupted: it has ended
            self._pending = None

    def _abort(self, exc: KafkaException) -> None:
        """Abort the open transaction after ``exc``; raise if that cannot be."""
        from confluent_kafka import KafkaException

        error = exc.args[0]
        if error.fatal() or error.code() in _fenced_codes():
            raise StreamError(
                f"the transaction failed for good: {self._text(error.str())}; hint: "
                "another worker may run with the same --worker-id"
            ) from exc
        log.warning("transaction aborted: %s", self._text(error.str()))
        self.summary.aborted += 1
        self.metrics.aborted.inc()
        producer = self._producer
        assert producer is not None
        try:
            _call_broker(
                producer.abort_transaction,
                self._broker_wait(),
                "aborting a batch's transaction",
            )
        except KafkaException as failed:
            raise StreamError(
                f"cannot abort the transaction: {self._text(failed.args[0].str())}; "
                "hint: another worker may run with the same --worker-id, "
                "or the broker stopped answering"
            ) from failed

    def _rewind(self) -> None:
        """After an aborted batch: reopen every partition at its checkpoint.

        The pipelines have seen the aborted batch, so their state is ahead of
        the committed offsets; each is rebuilt from its checkpoint instead.
        """
        from confluent_kafka import TopicPartition

        consumer = self._consumer
        assert consumer is not None
        assigned = consumer.assignment()
        committed = _committed(consumer, assigned, self._broker_wait(_CLIENT_TIMEOUT))
        self._drop_in_flight()
        self._tasks.clear()
        self._parked.clear()
        for tp in assigned:
            offsets = {
                t.topic: committed.get((t.topic, t.partition))
                for t in assigned
                if t.partition == tp.partition
            }
            if tp.partition not in self._tasks:
                self._tasks[tp.partition] = self._open(tp.partition, offsets)
            task = self._tasks[tp.partition]
            consumer.seek(
                TopicPartition(
                    tp.topic, tp.partition, _start(task.offsets.get(tp.topic))
                )
            )
        log.warning("batch aborted: %d partitions reopened", len(self._tasks))

    def _count(self, out: OutputBatch, consumed: Counter[str], replayed: int) -> None:
        summary, metrics = self.summary, self.metrics
        for topic, n in consumed.items():
            metrics.events_in.labels(topic).inc(n)
        summary.events += sum(consumed.values()) - replayed
        summary.replayed += replayed
        if replayed:
            metrics.replayed.inc(replayed)
        summary.verdicts += len(out.verdicts)
        summary.actions += len(out.actions)
        summary.dead_letters += len(out.letters)
        summary.repeats += out.repeats
        if out.repeats:
            metrics.repeats.inc(out.repeats)
        summary.decisions.update(v.decision for v in out.verdicts)
        metrics.outputs.labels("verdict").inc(len(out.verdicts))
        metrics.outputs.labels("action").inc(len(out.actions))
        metrics.outputs.labels("dead_letter").inc(len(out.letters))
        for letter in out.letters:
            metrics.dead_letters.labels(letter.reason).inc()

    # -- checkpoints and upkeep ---------------------------------------------

    def _tick(self) -> None:
        now = time.monotonic()
        if self._in_flight is not None:
            self._settle(wait=False)
        if self._tasks and self._in_flight is None and self._background:
            # one child for every partition: each fork stalls the loop, and
            # its pages are copied again as the loop writes to them
            if now - self._last_checkpoint >= self.settings.checkpoint_interval:
                self._last_checkpoint = now
                self._settle_commit()  # a save never runs ahead of the commits
                self._checkpoint_in_child(list(self._tasks.values()))
                for task in self._tasks.values():
                    task.saved = now
        elif self._tasks and self._in_flight is None:
            # one partition at a time, the stalest first, so that saving
            # state stalls the loop for one partition's state, not all
            spacing = self.settings.checkpoint_interval / len(self._tasks)
            if now - self._last_checkpoint >= spacing:
                self._last_checkpoint = now
                stalest = min(self._tasks.values(), key=lambda t: t.saved)
                if (
                    now - stalest.saved >= self.settings.checkpoint_interval
                    # a save never runs ahead of the commits
                    and self._settle_commit()
                ):
                    self._checkpoint(stalest)
                    stalest.saved = now
        if now - self._last_lag >= _LAG_EVERY:
            self._last_lag = now
            self._read_lag()
            self._report_detector_time(self._tasks.values())

    def _report_detector_time(self, tasks: Iterable[_PartitionTask]) -> None:
        for task in tasks:
            spent = task.pipeline.detector_seconds
            if spent:
                self.metrics.add_detector_seconds(spent)
                for name in spent:
                    spent[name] = 0.0

    def _checkpoint_all(self, *, force: bool = False) -> None:
        for task in list(self._tasks.values()):
            self._checkpoint(task, force=force)

    def _checkpoint(self, task: _PartitionTask, *, force: bool = False) -> None:
        """Save a partition's state with the offsets it has read (committed).

        A save still in flight is written first, so that an older state
        never lands after this newer one.
        """
        assert self._pending is None, "a state saved ahead of its commit"
        if self._in_flight is not None:
            self._settle(wait=True)
        if not (task.dirty or force) or task.replay_until:
            return  # unchanged, or still rebuilding: the saved one stands
        started = time.perf_counter()
        state = encode_state(_partition_state(task))
        rings = self._ring_snapshots(task) if self.decisions is not None else []
        self._store_checkpoint(task.partition, dict(task.offsets), state, rings)
        task.dirty = False
        self.metrics.checkpoint_seconds.observe(time.perf_counter() - started)

    def _checkpoint_in_child(self, tasks: list[_PartitionTask]) -> None:
        """Start saving partitions' states from one forked child (no stall).

        The child rests after each partition as long as it worked on it,
        until the loop waits for it. The states come back together; the
        loop writes them one a tick.
        """
        assert self._pending is None, "a state saved ahead of its commit"
        due = [task for task in tasks if task.dirty and not task.replay_until]
        if not due:
            return
        with_rings = self.decisions is not None

        def serialise() -> bytes:  # runs in the child
            saved = []
            stop_resting = time.perf_counter() + _SNAPSHOT_TIMEOUT / 4
            for number, task in enumerate(due, 1):
                began = time.perf_counter()
                rings = self._ring_snapshots(task) if with_rings else []
                saved.append((encode_state(_partition_state(task)), rings))
                now = time.perf_counter()
                rest(_pause(now - began, now, stop_resting, last=number == len(due)))
            return pickle.dumps(saved)

        try:
            snapshot = ForkedSnapshot(serialise, timeout=_SNAPSHOT_TIMEOUT)
        except OSError as exc:
            self._background_failed(f"cannot fork ({exc})")
            for task in due:
                self._checkpoint(task)
            return
        self._in_flight = _SaveInFlight(
            snapshot, [(task, dict(task.offsets)) for task in due]
        )
        for task in due:
            task.dirty = False

    def _background_failed(self, why: str) -> None:
        """Count a failed background save; give them up after a few in a row."""
        self._background_failures += 1
        if self._background_failures >= _BACKGROUND_FAILURES:
            self._background = False
            log.warning(
                "saving partition state in the background failed %d times in a "
                "row (%s): saving inline from now on",
                self._background_failures,
                why,
            )
        else:
            log.warning("saving partition state in the background failed (%s)", why)

    def _settle(self, *, wait: bool) -> None:
        """Write the states of the save in flight once its child has finished.

        Without ``wait``, write one partition's state a call, so that the
        loop stalls for one write at a time; with it, block until the child
        has finished and write them all. A failed child's partitions are
        marked unsaved and saved inline at once, where they are still owned.
        """
        flight = self._in_flight
        if flight is None:
            return
        if flight.unwritten is None:
            try:
                found = (
                    flight.snapshot.wait(_SNAPSHOT_TIMEOUT)
                    if wait
                    else flight.snapshot.poll()
                )
            except SnapshotFailed as exc:
                self._in_flight = None
                named = ", ".join(str(task.partition) for task, _ in flight.tasks)
                self._background_failed(f"partitions {named}: {exc}")
                for task, _ in flight.tasks:
                    task.dirty = True
                if not self._settle_commit():
                    return  # reopened at the checkpoints: nothing newer to save
                for task, _ in flight.tasks:
                    if self._tasks.get(task.partition) is task:
                        self._checkpoint(task)  # inline, now
                return
            if found is None:
                return
            self._background_failures = 0
            # our own child's bytes, over a private pipe
            saved = pickle.loads(found)
            flight.unwritten = [
                (task, offsets, state, rings)
                for (task, offsets), (state, rings) in zip(
                    flight.tasks, saved, strict=True
                )
            ]
        while flight.unwritten:
            task, offsets, state, rings = flight.unwritten.pop(0)
            self._store_checkpoint(task.partition, offsets, state, rings)
            if not wait:
                break
        if not flight.unwritten:
            self._in_flight = None
            # from the fork to the last write: the save's whole time, not the stall
            self.metrics.checkpoint_seconds.observe(
                time.monotonic() - flight.snapshot.started
            )

    def _drop_in_flight(self) -> None:
        """Forget a save in flight whose state may no longer be written."""
        flight, self._in_flight = self._in_flight, None
        if flight is not None:
            flight.snapshot.cancel()
            for task, _ in flight.tasks:
                task.dirty = True

    def _store_checkpoint(
        self,
        partition: int,
        offsets: dict[str, int],
        state: bytes,
        rings: list[RingSnapshot],
    ) -> None:
        self.checkpoints.save_checkpoint(self.settings.group, partition, offsets, state)
        self.summary.checkpoints += 1
        if self.decisions is not None:
            # the review side groups alerts by ring: keep the stored rings as
            # current as the checkpoint
            self.decisions.write_rings(rings)

    @staticmethod
    def _ring_snapshots(task: _PartitionTask) -> list[RingSnapshot]:
        return [
            snapshot
            for detector in task.pipeline.detectors
            for snapshot in detector.ring_snapshots()
        ]

    def _read_lag(self) -> None:
        from confluent_kafka import TopicPartition

        consumer = self._consumer
        if consumer is None:
            return
        for task in self._tasks.values():
            for topic in self.settings.topics:
                try:
                    _, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, task.partition), cached=True
                    )
                except Exception:  # no fetch yet: no reading
                    continue
                position = task.offsets.get(topic, 0)
                if high >= 0:
                    self.metrics.consumer_lag.labels(topic, str(task.partition)).set(
                        max(0, high - position)
                    )


def _pause(worked: float, now: float, stop_resting: float, *, last: bool) -> float:
    """Seconds a save child rests after a partition that took ``worked``.

    As long as it worked, so that it takes at most half a core from the
    loop where cores are few; nothing after the last partition, and nothing
    that would end past ``stop_resting`` (a quarter of the child's deadline
    in), so that resting never makes a save miss its deadline.
    """
    if last or now + worked > stop_resting:
        return 0.0
    return worked


def _partition_state(task: _PartitionTask) -> dict[str, Any]:
    return {"pipeline": task.pipeline.get_state(), "recent": task.recent.get_state()}


def _client_logged_codes() -> frozenset[int]:
    """Errors the Kafka client also logs itself, once per failed connection."""
    from confluent_kafka import KafkaError

    return frozenset({KafkaError._TRANSPORT, KafkaError._RESOLVE})


def _fenced_codes() -> frozenset[int]:
    from confluent_kafka import KafkaError

    return frozenset(
        {
            KafkaError._FENCED,
            KafkaError.PRODUCER_FENCED,
            KafkaError.INVALID_PRODUCER_EPOCH,
        }
    )


def _kafka_reason(exc: Exception, text: Callable[[str], str]) -> str:
    """The reason a Kafka call failed, in words, without the settings' values
    (``text`` hides them)."""
    from confluent_kafka import KafkaError

    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        return f"{error.name()}: {text(error.str())}"
    return type(exc).__name__


_PRODUCER_ONLY = frozenset(
    {"linger.ms", "acks", "compression.type", "batch.size", "transaction.timeout.ms"}
)
_CONSUMER_ONLY = frozenset(
    {
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
        "auto.offset.reset",
        "fetch.min.bytes",
        "fetch.wait.max.ms",
    }
)


def _committed(
    consumer: Consumer, partitions: Iterable[TopicPartition], patience: _BrokerWait
) -> dict[tuple[str, int], int | None]:
    """Return the group's committed offset per topic partition, or ``None``."""
    from confluent_kafka import KafkaException

    listed = list(partitions)
    if not listed:
        return {}
    try:
        found = _call_broker(
            lambda timeout: consumer.committed(listed, timeout=timeout),
            patience,
            "reading the committed offsets",
            reads=True,
        )
    except KafkaException as exc:
        raise StreamError(
            f"cannot read the committed offsets: {_kafka_reason(exc, patience.text)}"
        ) from exc
    return {
        (tp.topic, tp.partition): tp.offset if tp.offset >= 0 else None for tp in found
    }


def _start(offset: int | None) -> int:
    """The offset to start reading at: the beginning when none is known."""
    if offset is None:
        from confluent_kafka import OFFSET_BEGINNING

        return int(OFFSET_BEGINNING)
    return offset


def _finish_transaction(
    producer: Producer,
    positions: list[TopicPartition],
    metadata: object,
    patience: _BrokerWait,
) -> tuple[float, float]:
    """Send the input offsets to the open transaction and commit it.

    Returns the wall-clock and monotonic times the commit ended. Runs on the
    commit thread: the client waits on the broker without holding the GIL.

    Raises
    ------
    KafkaException
        When the transaction failed (it must be aborted).
    StreamError
        When the broker did not answer within ``patience``.
    """
    _call_broker(
        lambda timeout: producer.send_offsets_to_transaction(
            positions, metadata, timeout
        ),
        patience,
        "sending a batch's offsets to its transaction",
    )
    _call_broker(
        producer.commit_transaction, patience, "committing a batch's transaction"
    )
    return time.time(), time.perf_counter()


def _commit_offsets(
    consumer: Consumer, positions: list[TopicPartition]
) -> tuple[float, float]:
    """Commit a batch's input offsets with the consumer, outside a transaction.

    Returns the wall-clock and monotonic times the commit ended. Runs on the
    thread that polls the consumer; the call takes no timeout.

    Raises
    ------
    _OffsetCommitFailed
        When the commit failed.
    """
    from confluent_kafka import KafkaException

    try:
        consumer.commit(offsets=positions, asynchronous=False)
    except KafkaException as exc:
        raise _OffsetCommitFailed(exc.args[0].str()) from exc
    return time.time(), time.perf_counter()


def _call_broker(
    call: Callable[[float], _T],
    patience: _BrokerWait,
    what: str,
    *,
    reads: bool = False,
) -> _T:
    """Make a Kafka call that waits on the broker, in steps, until it answers.

    ``call`` takes a timeout in seconds, at most :data:`_BROKER_STEP`, and
    is made again while ``patience`` lasts: the client's transaction calls
    resume where one that timed out stopped, and a call that ``reads`` is
    safe to repeat. Another retriable error is retried after a pause.

    Raises
    ------
    KafkaException
        When the call fails for good.
    StreamError
        When ``patience`` runs out (or a stop request ends it) first.
    """
    from confluent_kafka import KafkaError, KafkaException

    failures = 0
    while True:
        left = patience.left()
        if left <= 0:
            raise patience.expired(what)
        try:
            return call(min(_BROKER_STEP, left))
        except KafkaException as exc:
            error = exc.args[0]
            timed_out = error.code() == KafkaError._TIMED_OUT
            if not (error.retriable() or (reads and timed_out)):
                raise
            if not timed_out:
                failures += 1
                log.warning(
                    "%s failed (attempt %d): %s",
                    what,
                    failures,
                    patience.text(error.str()),
                )
                time.sleep(max(0.0, min(2.0, 0.1 * 2**failures, patience.left())))


def _outcome(future: Future[_T], patience: _BrokerWait | None) -> _T:
    """Return the result of a commit's ``future``, waiting for it in steps.

    A wait with no timeout could keep the main thread from running signal
    handlers until the future is done. The commit gives up by itself when
    ``patience`` runs out; a client call that overruns its timeout is given
    up here, a little later.

    Raises
    ------
    StreamError
        When the commit has not ended a few seconds after ``patience`` ran
        out.
    """
    while True:
        try:
            future.exception(timeout=_BROKER_STEP)
        except TimeoutError:
            if patience is not None and patience.left() < -_OVERRUN:
                raise patience.expired("committing a batch") from None
            continue
        return future.result()


def _flush(producer: Producer, patience: _BrokerWait) -> None:
    """Wait, in steps, until the producer has delivered what it holds."""
    while producer.flush(min(_BROKER_STEP, max(0.0, patience.left()))):
        if patience.left() <= 0:
            log.warning("%d records were not delivered before closing", len(producer))
            return


def _is_partition_eof(error: KafkaError) -> bool:
    from confluent_kafka import KafkaError

    return bool(error.code() == KafkaError._PARTITION_EOF)


def _letter(origin: MessageOrigin, reason: str, message: str, raw: bytes) -> DeadLetter:
    return DeadLetter.build(
        f"kafka:{origin.topic}",
        f"partition {origin.partition} offset {origin.offset}",
        reason,
        message,
        raw,
    )


def _produce(
    producer: Producer,
    topic: str,
    key: bytes,
    value: bytes,
    record_id: str,
    batch: str,
    patience: _BrokerWait,
) -> None:
    """Produce one record, waiting for room while the local queue is full.

    Raises
    ------
    StreamError
        When the queue stays full past ``patience``: the broker takes
        nothing.
    """
    headers: list[tuple[str, str | bytes | None]] = [
        (ID_HEADER, record_id.encode()),
        (BATCH_HEADER, batch.encode()),
    ]
    while True:
        try:
            producer.produce(topic, value=value, key=key, headers=headers)
            return
        except BufferError:
            if patience.left() <= 0:
                raise patience.expired("producing a batch's records") from None
            producer.poll(0.05)  # back-pressure: wait for deliveries
