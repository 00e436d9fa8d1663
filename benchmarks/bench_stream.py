"""Throughput and latency of one stream worker against a broker on loopback.

Starts a memory-only Kafka-protocol broker (:class:`LocalBroker`, tansu) on
127.0.0.1, publishes simulated events keyed by account, and measures:

1. **Throughput per worker, end to end.** One :class:`StreamWorker`, in this
   process, with the default detectors and no geolocation, from its first
   message to its last commit over a pre-published topic (events in a topic
   to verdicts and actions committed, with the input offsets, in Kafka
   transactions). Baselines of the same run, over the same events: (a) the
   same pipeline in a plain loop without Kafka (decode and decide, one core),
   and (b) a bare consume-then-commit loop over the topic with confluent-kafka
   (no decoding, no pipeline). ``--geo`` adds the bundled geolocation runs.
2. **Latency at a fixed rate.** A producer process publishes at ``--rate``
   events a second (token bucket) for ``--seconds`` while one worker runs;
   each event's latency is the time from its Kafka timestamp (producer create
   time, so the producer's 5 ms linger counts) to the commit of the batch that
   decided it, taken per message in a subclass of the worker. When the worker
   does not keep up (the median latency of the events sent in the second half
   of the window is more than 1.5 times the first half's plus 0.25 s: latency
   that does not stay level), the next rate of ``--fallback-rates`` is tried.
3. **Two workers against one.** ``trustwatch stream --exit-when-idle``
   processes (one, then two in one group) over the same pre-published topic;
   wall time from their launch until the group has committed every offset.

Each measurement gets a fresh broker. Every figure is printed with the cores
used meanwhile by the benchmark (with its child processes), the broker and
other processes; the worker lines also give the time its partition-state
saves blocked the consume loop and the time in full garbage collections.

``--gc-threshold`` (the baseline's collector thresholds; Python's default is
700,10,10) and ``--kafka-config`` (e.g. ``fetch.wait.max.ms=50``) show how
much full garbage collections and the consumer's fetch wait cost.

The machine these figures come from has 2 cores, shared by the broker, the
worker(s) and (in 2.) the producer: a second worker competes with the broker
for CPU.

    python benchmarks/bench_stream.py
    python benchmarks/bench_stream.py --events 20000 --seconds 5   # smoke run
    python benchmarks/bench_stream.py --skip-two --gc-threshold 700,10,10
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import multiprocessing
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from trustwatch.cli.publish import TokenBucket
from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors import default_detectors
from trustwatch.enrichment.geo import BundledGeo, GeoResolver
from trustwatch.events.decode import EventDecoder
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.runtime.stream import StreamSettings, StreamWorker
from trustwatch.runtime.stream.collector import GC_THRESHOLDS
from trustwatch.runtime.stream.worker import STREAM_TIME_EVERY
from trustwatch.simulation import SimulationConfig, iter_events
from trustwatch.storage.sqlite import SqliteStore
from trustwatch.testing.broker import LocalBroker
from trustwatch.testing.kafka import create_topics

if TYPE_CHECKING:
    from confluent_kafka import Message, TopicPartition

TOPIC = "bench.events"
OUTPUTS = ("trustwatch.verdicts", "trustwatch.actions", "trustwatch.dead-letters")
#: Consumer settings of every worker and the bare consumer: the group timings a
#: memory-only test broker needs for quick joins, and any ``--kafka-config``.
KAFKA_CONFIG = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}
#: A fixed-rate run kept up when the median latency of the events sent in the
#: second half of the window is at most 1.5 times the first half's plus this
#: (seconds); it fell behind when the last quarter's exceeds twice the first
#: quarter's plus ``BEHIND_SLACK``; in between it is at the edge.
LEVEL_SLACK = 0.25
BEHIND_SLACK = 1.0

Record = tuple[bytes, bytes]  # (key, value)
#: --batch-wait, for every worker (default: the worker's own)
BATCH_WAIT = [
    next(
        f.default for f in dataclasses.fields(StreamSettings) if f.name == "batch_wait"
    )
]
#: --checkpoint-interval and --inline-checkpoints, for the in-process workers
WORKER_CHECKPOINTS: dict[str, Any] = {}


# -- events and topics ---------------------------------------------------------


def simulated_records(events: int, seed: int) -> list[Record]:
    """Return about ``events`` simulated events as (account key, JSON) pairs."""
    encode = msgspec.json.Encoder().encode
    # the simulator makes about 8 events per account per day
    config = SimulationConfig(seed=seed, accounts=max(2000, events // 14), days=2.0)
    records: list[Record] = []
    for event in iter_events(config):
        key = event.account or event.event_id
        records.append((key.encode(), encode(event)))
        if len(records) >= events:
            break
    return records


def publish(servers: str, topic: str, records: Sequence[Record]) -> float:
    """Produce ``records`` to ``topic`` as fast as it takes them; return seconds."""
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": servers, "enable.idempotence": True, "linger.ms": 5}
    )
    started = time.perf_counter()
    for key, value in records:
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(60)
    if left:
        raise RuntimeError(f"{left} records were not delivered to {topic}")
    return time.perf_counter() - started


def committed_total(probe: Any, topic: str, partitions: int) -> int:
    """Return the sum of the probe's group's committed offsets on ``topic``."""
    from confluent_kafka import TopicPartition

    found = probe.committed(
        [TopicPartition(topic, p) for p in range(partitions)], timeout=30
    )
    return sum(max(tp.offset, 0) for tp in found)


# -- pipelines -----------------------------------------------------------------


def pipeline_factory(geo: GeoResolver | None) -> Callable[[], Pipeline]:
    """Return a builder of pipelines with the default detectors and policy."""

    def build() -> Pipeline:
        return Pipeline(
            default_detectors(None, None),
            DecisionEngine(default_policy(), "dry_run"),
            geo,
            timed=True,
            time_every=STREAM_TIME_EVERY,  # as `trustwatch stream` does
        )

    return build


def pipeline_only(records: Sequence[Record], build: Callable[[], Pipeline]) -> float:
    """Decode and decide every record in a plain loop; return events/s."""
    decode = EventDecoder().decode
    pipeline = build()
    started = time.perf_counter()
    for _, value in records:
        event = decode(value)
        pipeline.process_one(event, event.ts.timestamp())
        pipeline.failures.clear()
    return len(records) / (time.perf_counter() - started)


# -- bare consume and commit ---------------------------------------------------


def bare_consume(servers: str, topic: str, total: int, batch_size: int) -> float:
    """Consume ``total`` messages and commit each batch synchronously; events/s.

    The consumer is set up like the worker's (read committed, range
    assignment, the same prefetch bound); the clock runs from the first
    message to the last commit.
    """
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": "bench-bare",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "partition.assignment.strategy": "range",
            "queued.max.messages.kbytes": 16384,
            **KAFKA_CONFIG,
        }
    )
    consumer.subscribe([topic])
    seen = 0
    first: float | None = None
    deadline = time.monotonic() + 300
    try:
        while seen < total and time.monotonic() < deadline:
            messages = consumer.consume(batch_size, 0.05)
            if not messages:
                continue
            if first is None:
                first = time.perf_counter()
            offsets: dict[tuple[str, int], int] = {}
            for message in messages:
                if message.error() is not None:
                    continue
                offsets[(topic, message.partition() or 0)] = (message.offset() or 0) + 1
                seen += 1
            consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=False,
            )
        finished = time.perf_counter()
    finally:
        consumer.close()
    if seen < total or first is None:
        raise RuntimeError(f"bare consumer read {seen} of {total} messages")
    return total / (finished - first)


# -- the worker in this process ------------------------------------------------


class TimedWorker(StreamWorker):
    """A stream worker that records per-message latency and batch times.

    When a batch's commit ends, every message of it that carries a timestamp
    gets ``commit end - timestamp`` as its latency (with overlapped commits
    that is while the loop decides the next batch). The worker stops on its
    own once ``stop_after`` messages are done, when that is set.
    """

    def __init__(self, *args: Any, stop_after: int | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.stop_after = stop_after
        self.first_message: float | None = None  # time.time()
        self.last_commit: float | None = None  # time.time()
        self.latencies: list[float] = []
        self.sent: list[float] = []  # each latency's message timestamp
        self.assigned: MpEvent | None = None
        self.checkpoint_saves: list[tuple[float, float]] = []  # (start, seconds)
        self.checkpoint_forks: list[tuple[float, float]] = []  # (start, seconds)
        # seconds the loop spent in each batch producing its records and
        # waiting on commits (waits between batches are not counted)
        self.commits: list[float] = []
        self.batch_sizes: list[int] = []
        # per batch the loop ran: (messages, seconds in all, seconds it waited
        # on commits, seconds outside batches since the previous one, how
        # long the newest message had waited when the batch began, how long
        # the oldest had)
        self.cycles: list[tuple[int, float, float, float, float, float]] = []
        self._batch_ended: float | None = None
        self._waited = 0.0  # producing and commit waits of the current batch
        # per committed batch: the latency of its oldest message
        self.oldest: list[float] = []

    def _checkpoint(self, task: Any, *, force: bool = False) -> None:
        started = time.time()
        before = self.summary.checkpoints
        super()._checkpoint(task, force=force)
        if self.summary.checkpoints > before:
            self.checkpoint_saves.append((started, time.time() - started))

    def _commit(self, batch: Any, offsets: Any) -> bool:
        started = time.perf_counter()
        try:
            return super()._commit(batch, offsets)
        finally:
            self._waited += time.perf_counter() - started

    def _settle_commit(self, *, in_callback: bool = False) -> bool:
        started = time.perf_counter()
        try:
            return super()._settle_commit(in_callback=in_callback)
        finally:
            self._waited += time.perf_counter() - started

    def _batch_committed(self, batch: Any) -> None:
        super()._batch_committed(batch)
        finished, _ = batch.future.result()
        self.last_commit = finished
        if batch.stamps:
            self.sent.extend(batch.stamps)
            self.latencies.extend(finished - sent for sent in batch.stamps)
            self.oldest.append(finished - min(batch.stamps))
        if self.stop_after is not None and self.summary.events >= self.stop_after:
            self.stop()

    def _process_batch(self, messages: list[Message]) -> None:
        self.batch_sizes.append(len(messages))
        self._timed_batch(messages)

    def batches(self) -> str:
        """Batch sizes and the time the loop waited on commits."""
        if not self.commits:
            return "no batch committed"
        sizes = sorted(self.batch_sizes)
        waits = sorted(self.commits)
        return (
            f"{len(sizes)} batches of {sizes[len(sizes) // 2]} messages (median); "
            "producing and commit waits a batch ms "
            f"p50 {waits[len(waits) // 2] * 1e3:.1f}, "
            f"p99 {quantile(waits, 0.99) * 1e3:.1f}, "
            f"{sum(waits):.2f} s in all"
        )

    def slowest_batches(self, count: int = 5) -> list[str]:
        """The batches whose oldest message waited longest when they began, and
        where the loop's time went in them."""
        rows = []
        by_wait = sorted(self.cycles, key=lambda c: c[5])[-count:][::-1]
        for size, spent, commit, outside, _, waiting in by_wait:
            rows.append(
                f"oldest message had waited {waiting * 1e3:.0f} ms when its batch "
                f"of {size} began (the loop was outside batches for "
                f"{outside * 1e3:.0f} ms before it); deciding "
                f"{(spent - commit) * 1e3:.0f} ms, producing and commit waits "
                f"{commit * 1e3:.0f} ms"
            )
        if self.oldest:
            rows.append(
                f"oldest message of a committed batch: p50 "
                f"{quantile(self.oldest, 0.5) * 1e3:.0f} ms, p99 "
                f"{quantile(self.oldest, 0.99) * 1e3:.0f} ms, max "
                f"{max(self.oldest) * 1e3:.0f} ms"
            )
        return rows

    def cycle_quarters(self) -> list[str]:
        """Per quarter of the batches: where a batch's time went."""
        rows = []
        parts = 4
        n = len(self.cycles)
        for q in range(parts):
            part = self.cycles[q * n // parts : (q + 1) * n // parts]
            if not part:
                continue
            events = sum(c[0] for c in part)
            deciding = sum(c[1] - c[2] for c in part)
            rows.append(
                f"{len(part)} batches, {events / len(part):.0f} messages each; "
                f"per batch ms: deciding {deciding / len(part) * 1e3:.1f} "
                f"({deciding / events * 1e6:.0f} µs a message), producing and commit "
                f"waits "
                f"{sum(c[2] for c in part) / len(part) * 1e3:.1f}, between batches "
                f"{sum(c[3] for c in part) / len(part) * 1e3:.1f}; newest message "
                f"{statistics.median(c[4] for c in part) * 1e3:.1f} old at the start"
            )
        return rows

    def _checkpoint_in_child(self, tasks: Any) -> None:
        started = time.time()
        before = self._in_flight
        super()._checkpoint_in_child(tasks)
        if self._in_flight is not None and self._in_flight is not before:
            self.checkpoint_forks.append((started, time.time() - started))

    def _settle(self, *, wait: bool) -> None:
        started = time.time()
        before = self.summary.checkpoints
        super()._settle(wait=wait)
        if self.summary.checkpoints > before:
            self.checkpoint_saves.append((started, time.time() - started))

    def stalls(self) -> str:
        """Partition-state saves between the first message and the last commit."""
        first, last = self.first_message or 0.0, self.last_commit or 0.0
        inside = [s for t, s in self.checkpoint_saves if first <= t <= last]
        forks = [s for t, s in self.checkpoint_forks if first <= t <= last]
        if not inside and not forks:
            return "no partition state saved while running"
        found = (
            f"{len(inside)} partition-state writes blocked the loop for "
            f"{sum(inside):.2f} s (longest {max(inside, default=0):.2f} s)"
        )
        if forks:
            found += (
                f", {len(forks)} forks to serialise state for "
                f"{sum(forks):.2f} s (longest {max(forks):.3f} s)"
            )
        return found

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        super()._on_assign(consumer, partitions)
        if self.assigned is not None:
            self.assigned.set()

    def _timed_batch(self, messages: list[Message]) -> None:
        if self.first_message is None:
            self.first_message = time.time()
        aborted = self.summary.aborted
        began = time.perf_counter()
        stamps = [m.timestamp() for m in messages if m.error() is None]
        newest = max((t for k, t in stamps if k != 0), default=None)
        oldest = min((t for k, t in stamps if k != 0), default=None)
        # how long the batch's newest and oldest messages had waited when the
        # batch began
        arrived = time.time() - newest / 1000.0 if newest is not None else 0.0
        waiting = time.time() - oldest / 1000.0 if oldest is not None else 0.0
        self._waited = 0.0
        super()._process_batch(messages)
        ended = time.perf_counter()
        if self.summary.aborted != aborted:
            return  # the batch will come again
        last = self._batch_ended
        outside = ended - began if last is None else began - last
        self._batch_ended = ended
        self.commits.append(self._waited)
        self.cycles.append(
            (len(messages), ended - began, self._waited, outside, arrived, waiting)
        )


def worker_settings(
    servers: str, topic: str, group: str, batch_size: int
) -> StreamSettings:
    return StreamSettings(
        batch_wait=BATCH_WAIT[0],
        bootstrap_servers=servers,
        topics=(topic,),
        group=group,
        worker_id=f"{group}-w1",
        batch_size=batch_size,
        kafka_config=dict(KAFKA_CONFIG),
        **WORKER_CHECKPOINTS,
    )


def worker_throughput(
    servers: str,
    topic: str,
    group: str,
    total: int,
    build: Callable[[], Pipeline],
    state: Path,
    batch_size: int,
    profile: bool,
) -> tuple[float, TimedWorker]:
    """Run one worker over ``total`` pre-published events; return events/s."""
    with SqliteStore(state) as checkpoints:
        worker = TimedWorker(
            worker_settings(servers, topic, group, batch_size),
            build,
            checkpoints,
            stop_after=total,
        )
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        summary = worker.run(idle_timeout=30)
        if profiler is not None:
            profiler.disable()
            print(f"\n  profile of the worker ({group}), by own time:")
            stats = pstats.Stats(profiler, stream=sys.stdout)
            stats.sort_stats("tottime").print_stats(18)
    if summary.events < total or worker.first_message is None:
        raise RuntimeError(f"the worker decided {summary.events} of {total} events")
    assert worker.last_commit is not None
    return total / (worker.last_commit - worker.first_message), worker


# -- latency at a fixed rate ---------------------------------------------------


@dataclass
class RateRun:
    """What one fixed-rate run measured."""

    rate: float
    produced: int
    produce_seconds: float
    latencies: list[float]
    sent: list[float]
    drain: float  # seconds from the producer's last record to the last commit
    worker_events: int
    stalls: str
    batches: str
    collections: str
    cycles: list[str]
    slowest: list[str]

    @property
    def achieved(self) -> float:
        return self.produced / self.produce_seconds if self.produce_seconds else 0.0

    def medians(self, parts: int) -> list[float]:
        """Median latency of the events sent in each of ``parts`` equal parts of
        the send window."""
        if not self.sent:
            return [0.0] * parts
        began = min(self.sent)
        span = max(self.sent) - began or 1.0
        split: list[list[float]] = [[] for _ in range(parts)]
        for sent, value in zip(self.sent, self.latencies, strict=True):
            split[min(parts - 1, int(parts * (sent - began) / span))].append(value)
        return [statistics.median(q) if q else 0.0 for q in split]

    @property
    def verdict(self) -> str:
        """``kept up``, ``at the edge`` or ``fell behind``, from the latency trend."""
        if self.worker_events < self.produced or not self.latencies:
            return "fell behind"
        first, second = self.medians(2)
        quarters = self.medians(4)
        if second <= 1.5 * first + LEVEL_SLACK:
            return "kept up"
        if quarters[3] > 2 * quarters[0] + BEHIND_SLACK:
            return "fell behind"
        return "at the edge"

    @property
    def kept_up(self) -> bool:
        return self.verdict == "kept up"


def paced_producer(
    servers: str,
    topic: str,
    records: Sequence[Record],
    rate: float,
    seconds: float,
    start: MpEvent,
    produced: Synchronized[int],
    window: Any,
) -> None:
    """Publish ``records`` (cycling) at ``rate`` a second for ``seconds``."""
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": servers, "enable.idempotence": True, "linger.ms": 5}
    )
    start.wait(120)
    bucket = TokenBucket(rate)
    n = 0
    began = time.time()
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        key, value = records[n % len(records)]
        bucket.take()
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
        n += 1
    ended = time.time()
    producer.flush(60)
    window[0], window[1] = began, ended
    produced.value = n


def fixed_rate(
    servers: str,
    topic: str,
    group: str,
    records: Sequence[Record],
    rate: float,
    seconds: float,
    build: Callable[[], Pipeline],
    state: Path,
    batch_size: int,
) -> RateRun:
    """Run one worker while a producer process publishes at ``rate``."""
    fork = multiprocessing.get_context("fork")
    start = fork.Event()
    produced = fork.Value("q", -1)
    window = fork.Array("d", 2)
    producer = fork.Process(
        target=paced_producer,
        args=(servers, topic, records, rate, seconds, start, produced, window),
        daemon=True,
    )
    producer.start()  # before this process holds Kafka clients of its own
    with SqliteStore(state) as checkpoints:
        worker = TimedWorker(
            worker_settings(servers, topic, group, batch_size), build, checkpoints
        )
        worker.assigned = start

        def stop_when_through(summary: Any) -> None:
            done = produced.value
            if done >= 0 and summary.events >= done:
                worker.stop()

        with GcClock() as collections:
            worker.run(idle_timeout=max(10.0, seconds), on_batch=stop_when_through)
    producer.join(60)
    if produced.value < 0:
        raise RuntimeError("the paced producer did not finish")
    began, ended = window[0], window[1]
    last = worker.last_commit or ended
    return RateRun(
        rate=rate,
        produced=produced.value,
        produce_seconds=ended - began,
        latencies=worker.latencies,
        sent=worker.sent,
        drain=max(0.0, last - ended),
        worker_events=worker.summary.events,
        stalls=worker.stalls(),
        batches=worker.batches(),
        collections=str(collections),
        cycles=worker.cycle_quarters(),
        slowest=worker.slowest_batches(),
    )


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def print_rate_run(run: RateRun, cpu: str) -> None:
    lat = run.latencies
    print(
        f"  target {run.rate:,.0f}/s: produced {run.produced:,} in "
        f"{run.produce_seconds:.1f} s ({run.achieved:,.0f}/s), worker decided "
        f"{run.worker_events:,}; last commit {run.drain:.2f} s after the last send"
    )
    print(f"    [{cpu}]")
    if not lat:
        print("    no latency recorded")
        return
    print(
        f"    latency ms: p50 {quantile(lat, 0.5) * 1e3:8.1f}  "
        f"p90 {quantile(lat, 0.9) * 1e3:8.1f}  p99 {quantile(lat, 0.99) * 1e3:8.1f}  "
        f"max {max(lat) * 1e3:8.1f}  (mean {statistics.fmean(lat) * 1e3:.1f})"
    )
    # latency by when the event was sent: a growing series means a growing backlog
    medians = "  ".join(f"{m * 1e3:.0f}" for m in run.medians(4))
    print(f"    p50 ms by quarter of the send window: {medians}")
    print(f"    worker: {run.stalls}; {run.collections}")
    print(f"    {run.batches}")
    for i, row in enumerate(run.cycles, 1):
        print(f"    quarter {i}: {row}")
    print("    slowest batches:")
    for row in run.slowest:
        print(f"      {row}")
    verdict = run.verdict
    if verdict == "kept up":
        print(f"    one worker kept up with {run.achieved:,.0f} events/s")
    elif verdict == "at the edge":
        print(
            f"    one worker is at the edge at {run.achieved:,.0f} events/s: "
            "latency rose during the run (state saves, full GCs) and did "
            "not settle back; not counted as sustained"
        )
    else:
        print(
            f"    one worker did NOT keep up with {run.achieved:,.0f} events/s: "
            "the backlog (and latency) grows for as long as the rate holds"
        )


# -- worker processes ----------------------------------------------------------


def stream_command(
    servers: str, topic: str, group: str, worker_id: str, state: Path, geo: bool
) -> list[str]:
    args = [
        sys.executable,
        "-m",
        "trustwatch",
        "-v",
        "stream",
        "--topic",
        topic,
        "--bootstrap-servers",
        servers,
        "--group",
        group,
        "--worker-id",
        worker_id,
        "--state-store",
        str(state),
        "--exit-when-idle",
        "3",
        "--batch-wait",
        str(BATCH_WAIT[0]),
    ]
    if not geo:
        args.append("--no-geo")
    if WORKER_CHECKPOINTS.get("overlap_commits") is False:
        args.append("--serial-commits")
    for key, value in KAFKA_CONFIG.items():
        args += ["--kafka-config", f"{key}={value}"]
    return args


def worker_processes(
    servers: str,
    topic: str,
    partitions: int,
    total: int,
    group: str,
    workers: int,
    tmp: Path,
    geo: bool,
) -> tuple[float, float]:
    """Run ``workers`` worker processes until the group committed ``total``.

    Returns the seconds from their launch to the last commit, and from the
    group's first commit to its last.
    """
    from confluent_kafka import Consumer

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTWATCH_")}
    state = tmp / f"{group}.sqlite"
    probe = Consumer({"bootstrap.servers": servers, "group.id": group})
    procs: list[subprocess.Popen[bytes]] = []
    launched = time.perf_counter()
    first: float | None = None
    try:
        for i in range(workers):
            worker_id = f"{group}-w{i + 1}"
            with (tmp / f"{worker_id}.log").open("ab") as log:
                procs.append(
                    subprocess.Popen(
                        stream_command(servers, topic, group, worker_id, state, geo),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
        deadline = time.monotonic() + 600
        while True:
            done = committed_total(probe, topic, partitions)
            now = time.perf_counter()
            if done and first is None:
                first = now
            if done >= total:
                break
            failed = [p for p in procs if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                logs = tmp / f"{group}-w1.log"
                raise RuntimeError(
                    f"group {group} committed {done} of {total}; see {logs}:\n"
                    + logs.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.05)
        finished = now
        for proc in procs:
            proc.wait(timeout=120)
    finally:
        probe.close()
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
    assert first is not None
    return finished - launched, finished - first


# -- garbage collections --------------------------------------------------------


class GcClock:
    """Time this process spends in garbage collections of generations 1 and 2.

    Young (generation 0) collections are short and counted only; the older
    generations' pauses are what a latency percentile feels, so their count,
    total and longest pause are kept apart.
    """

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info.get("generation", 0)
        took = time.perf_counter() - self._started
        self.count[generation] += 1
        self.seconds[generation] += took
        self.longest[generation] = max(self.longest[generation], took)

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def __str__(self) -> str:
        return ", ".join(
            f"{self.count[g]} gen-{g} GCs {self.seconds[g]:.2f} s "
            f"(longest {self.longest[g] * 1e3:.0f} ms)"
            for g in (2, 1)
        )


# -- CPU accounting -------------------------------------------------------------


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent busy since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """CPU seconds process ``pid`` has used (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


class CpuWatch:
    """Cores used, from its creation to :meth:`report`, by this benchmark
    (with its finished child processes), by the broker, and by the whole
    machine; the rest of the machine's figure is load that is not ours."""

    def __init__(self) -> None:
        self.broker_pid = _BROKER_PIDS[-1] if _BROKER_PIDS else None
        self.wall = time.perf_counter()
        self.ours = self._ours()
        self.broker = _process_cpu(self.broker_pid) if self.broker_pid else 0.0
        self.machine = _machine_busy()

    @staticmethod
    def _ours() -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def report(self) -> str:
        wall = time.perf_counter() - self.wall or 1e-9
        ours = (self._ours() - self.ours) / wall
        broker = (
            (_process_cpu(self.broker_pid) - self.broker) / wall
            if self.broker_pid
            else 0.0
        )
        machine = (_machine_busy() - self.machine) / wall
        other = max(0.0, machine - ours - broker)
        return (
            f"cores: benchmark {ours:.2f}, broker {broker:.2f}, "
            f"other processes {other:.2f}"
        )


_BROKER_PIDS: list[int] = []


@contextmanager
def loaded_broker(
    records: Sequence[Record], partitions: int, *, publish_events: bool = False
) -> Iterator[str]:
    """Start a fresh broker with the event and output topics; yield its address.

    A fresh broker per measurement: the memory-only broker's own cost grows
    with what it holds, which would otherwise tax each run for the ones
    before it.
    """
    with LocalBroker() as broker:
        servers = broker.bootstrap_servers
        if broker.pid is not None:
            _BROKER_PIDS.append(broker.pid)
        create_topics(servers, [TOPIC], partitions)
        create_topics(servers, OUTPUTS, partitions)
        if publish_events:
            took = publish(servers, TOPIC, records)
            print(
                f"  (fresh broker: {len(records):,} events published to {TOPIC}, "
                f"{partitions} partitions, at {len(records) / took:,.0f} events/s)"
            )
        try:
            yield servers
        finally:
            if broker.pid is not None:
                _BROKER_PIDS.remove(broker.pid)


# -- main ----------------------------------------------------------------------


def throughput_phase(
    args: argparse.Namespace, records: Sequence[Record], tmp: Path
) -> None:
    """Print phase 1: one worker over a pre-published topic, and its baselines."""
    n = len(records)
    print("1. throughput of one worker, end to end")
    with loaded_broker(records, args.partitions, publish_events=True) as servers:
        print(f"  batch size {args.batch_size}")
        watch = CpuWatch()
        bare = bare_consume(servers, TOPIC, n, args.batch_size)
        print(
            f"  bare consume + commit (no pipeline) : {bare:10,.0f} events/s  "
            f"[{watch.report()}]"
        )
        runs: list[tuple[str, GeoResolver | None]] = [("no geo", None)]
        if args.geo:
            runs.append(("bundled geo", BundledGeo()))
        for label, geo in runs:
            build = pipeline_factory(geo)
            watch = CpuWatch()
            with GcClock() as collections:
                alone = pipeline_only(records, build)
            print(
                f"  pipeline only, {label:<12} (no Kafka): {alone:10,.0f} "
                f"events/s  [{watch.report()}]"
            )
            print(f"    {collections}")
            group = f"bench-one-{label.replace(' ', '-')}"
            watch = CpuWatch()
            with GcClock() as collections:
                rate, worker = worker_throughput(
                    servers,
                    TOPIC,
                    group,
                    n,
                    build,
                    tmp / f"{group}.sqlite",
                    args.batch_size,
                    args.profile,
                )
            s = worker.summary
            print(
                f"  stream worker, {label:<12}        : {rate:10,.0f} events/s  "
                f"[{watch.report()}]"
            )
            print(
                f"    {s.batches:,} transactions, {s.verdicts:,} verdicts, "
                f"{s.actions:,} actions; {worker.stalls()}; {collections}"
            )
            print(
                f"    worker / pipeline only: {rate / alone:.2f}   "
                f"worker / bare consume: {rate / bare:.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--batch-wait",
        type=float,
        default=BATCH_WAIT[0],
        help="Seconds a worker waits to fill a batch (latency against throughput).",
    )
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument(
        "--fallback-rates",
        default="5000,2500",
        help="Rates to try, in order, while one worker cannot keep up.",
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--geo", action="store_true", help="Also run with geo.")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-two", action="store_true")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the in-process worker (its figures then run slower).",
    )
    parser.add_argument(
        "--gc-threshold",
        metavar="G0,G1,G2",
        help="gc.set_threshold for the pipeline-only baseline (default: the "
        "thresholds a stream worker sets while it runs), e.g. 700,10,10.",
    )
    parser.add_argument(
        "--checkpoint-interval",
        type=float,
        help="Seconds between saves of each partition's state in the "
        "in-process workers (default: the worker's own).",
    )
    parser.add_argument(
        "--inline-checkpoints",
        action="store_true",
        help="The in-process workers save partition state in their own loop "
        "instead of a forked child.",
    )
    parser.add_argument(
        "--serial-commits",
        action="store_true",
        help="The in-process workers wait for each batch's commit before "
        "reading on, instead of committing while the next batch is decided.",
    )
    parser.add_argument(
        "--kafka-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="A librdkafka consumer setting for the workers and the bare "
        "consumer (e.g. fetch.wait.max.ms=50); repeat for more.",
    )
    args = parser.parse_args()
    BATCH_WAIT[0] = args.batch_wait
    if args.checkpoint_interval is not None:
        WORKER_CHECKPOINTS["checkpoint_interval"] = args.checkpoint_interval
    if args.inline_checkpoints:
        WORKER_CHECKPOINTS["background_checkpoints"] = False
    if args.serial_commits:
        WORKER_CHECKPOINTS["overlap_commits"] = False
    for pair in args.kafka_config:
        key, _, value = pair.partition("=")
        KAFKA_CONFIG[key.strip()] = value
    # the pipeline-only baseline runs with the thresholds the worker sets
    gc.set_threshold(*GC_THRESHOLDS)
    if args.gc_threshold:
        gc.set_threshold(*(int(x) for x in args.gc_threshold.split(",")))
    rates = [args.rate] + [float(r) for r in args.fallback_rates.split(",") if r]

    print(
        f"machine: {os.cpu_count()} cores, shared by the broker (tansu, memory "
        "storage), the worker(s) and the benchmark's own clients; load average "
        f"at the start: {load_average()} (other processes' load skews every figure)"
    )
    print(
        f"garbage collector thresholds in this process: {gc.get_threshold()}; "
        f"consumer settings: {KAFKA_CONFIG}"
    )
    records = simulated_records(args.events, args.seed)
    n = len(records)
    size = sum(len(v) for _, v in records)
    print(f"events: {n:,} simulated, {size / 1e6:.1f} MB of JSON, keyed by account\n")

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if not args.skip_throughput:
            throughput_phase(args, records, tmp)

        if not args.skip_latency:
            print(
                f"\n2. latency at a fixed rate (one worker, {args.seconds:.0f} s of "
                "sending, a fresh broker each; Kafka create time to the batch's "
                "commit)"
            )
            build = pipeline_factory(None)
            for i, target in enumerate(rates):
                with loaded_broker(records, args.partitions) as servers:
                    watch = CpuWatch()
                    run = fixed_rate(
                        servers,
                        TOPIC,
                        f"bench-live-{i}",
                        records,
                        target,
                        args.seconds,
                        build,
                        tmp / f"live-{i}.sqlite",
                        args.batch_size,
                    )
                    print_rate_run(run, watch.report())
                if run.kept_up:
                    break

        if not args.skip_two:
            print(
                f"\n3. worker processes over {TOPIC} ({args.partitions} partitions, "
                "`trustwatch stream --exit-when-idle 3`, "
                f"{'bundled geo' if args.geo else 'no geo'}, a fresh broker each)"
            )
            print(
                f"  note: {os.cpu_count()} cores for the broker and the workers; "
                "two workers compete with the broker (and each other) for CPU"
            )
            results: dict[int, tuple[float, float]] = {}
            for count in (1, 2):
                with loaded_broker(
                    records, args.partitions, publish_events=True
                ) as servers:
                    watch = CpuWatch()
                    wall, busy = worker_processes(
                        servers,
                        TOPIC,
                        args.partitions,
                        n,
                        f"bench-procs-{count}",
                        count,
                        tmp,
                        args.geo,
                    )
                    used = watch.report()
                results[count] = (wall, busy)
                print(
                    f"  {count} worker{'s' if count > 1 else ' '}: {wall:5.1f} s from "
                    f"launch to all committed ({n / wall:7,.0f} events/s); "
                    f"{busy:5.1f} s from the first commit ({n / busy:7,.0f} events/s)"
                )
                print(f"    [{used}]")
            (one_wall, one_busy), (two_wall, two_busy) = results[1], results[2]
            print(
                f"  two / one: {one_wall / two_wall:.2f}x from launch, "
                f"{one_busy / two_busy:.2f}x from the first commit"
            )
        print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    main()
