"""The stream worker against a real Kafka-protocol broker on loopback.

Each test compares what the worker produced with
:func:`~trustwatch.testing.kafka.expected_decisions`: a fresh pipeline per
partition over that partition's events in offset order.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest
from prometheus_client import generate_latest
from stream_rig import EVENTS, StreamRig, build_pipeline, write_events

from trustwatch.cli.main import main
from trustwatch.detectors.base import Detector, Signal
from trustwatch.errors import ConfigError, StorageError
from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext
from trustwatch.graph.rings import RingSnapshot
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.runtime.stream import (
    ID_HEADER,
    StreamError,
    StreamMetrics,
    StreamWorker,
)
from trustwatch.runtime.stream.settings import StreamSettings
from trustwatch.storage.sqlite import SqliteStore
from trustwatch.testing.kafka import create_topics, expected_decisions, read_topic

BAD_MESSAGES = [
    (b"acct-bad-1", b'{"type": "login", "event_id": '),  # cut short
    (b"acct-bad-2", b'{"type": "teleport", "event_id": "x1", "ts": "2026-01-01"}'),
    (b"acct-bad-3", b""),
]


def _publish(rig: StreamRig, path: Path) -> None:
    status = main(
        ["publish", str(path), "--topic", EVENTS, "--bootstrap-servers", rig.servers]
    )
    assert status == 0


def _produce_raw(rig: StreamRig, messages: list[tuple[bytes, bytes]]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": rig.servers})
    for key, value in messages:
        producer.produce(EVENTS, key=key, value=value)
    assert producer.flush(30) == 0


def _run(
    rig: StreamRig, *, reset: bool = False, **changes: object
) -> tuple[StreamWorker, StreamMetrics]:
    metrics = StreamMetrics()
    with SqliteStore(rig.tmp / "state.sqlite") as state:
        worker = StreamWorker(
            rig.settings(**changes),
            build_pipeline,
            state,
            decisions=SqliteStore(rig.tmp / "decisions.sqlite"),
            metrics=metrics,
            reset_state=reset,
        )
        worker.run(idle_timeout=2.0)
    return worker, metrics


def _ids(rig: StreamRig, topic: str) -> Counter[str]:
    return Counter(
        r.headers[ID_HEADER].decode() for r in read_topic(rig.servers, topic)
    )


def _assert_exactly_expected(rig: StreamRig) -> None:
    expected = expected_decisions(read_topic(rig.servers, EVENTS), build_pipeline)
    verdicts = _ids(rig, "trustwatch.verdicts")
    actions = _ids(rig, "trustwatch.actions")
    assert expected.verdict_ids, "the stream should raise verdicts"
    assert set(verdicts) == expected.verdict_ids
    assert set(actions) == expected.action_ids
    assert max(verdicts.values()) == 1
    assert max(actions.values(), default=1) == 1
    with SqliteStore(rig.tmp / "decisions.sqlite", readonly=True) as store:
        assert {v.verdict_id for v in store.iter_verdicts()} == expected.verdict_ids


def test_each_event_is_decided_once_and_bad_messages_become_dead_letters(
    stream_rig: StreamRig,
) -> None:
    events = write_events(stream_rig.tmp / "events.jsonl", accounts=300)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    _produce_raw(stream_rig, BAD_MESSAGES)

    worker, metrics = _run(stream_rig)

    _assert_exactly_expected(stream_rig)
    assert worker.summary.events == events + len(BAD_MESSAGES)
    letters = [
        msgspec.json.decode(r.value)
        for r in read_topic(stream_rig.servers, "trustwatch.dead-letters")
    ]
    assert sorted(letter["reason"] for letter in letters) == [
        "empty_message",
        "malformed_json",
        "unknown_type",
    ]
    inputs = {
        (r.partition, r.offset): r.value for r in read_topic(stream_rig.servers, EVENTS)
    }
    for letter in letters:
        assert letter["topic"] == EVENTS
        assert inputs[(letter["partition"], letter["offset"])] in {
            value for _, value in BAD_MESSAGES
        }
        assert letter["message"]
    text = generate_latest(metrics.registry).decode()
    assert f'trustwatch_events_in_total{{topic="{EVENTS}"}} {float(events + 3)}' in text
    assert "trustwatch_decision_latency_seconds_count" in text
    assert 'trustwatch_detector_seconds_total{detector="login_risk"}' in text


def test_a_restarted_worker_carries_on_with_the_saved_state(
    stream_rig: StreamRig,
) -> None:
    first, second = stream_rig.tmp / "a.jsonl", stream_rig.tmp / "b.jsonl"
    write_events(first, accounts=200, seed=5)
    write_events(second, accounts=200, seed=6)
    _publish(stream_rig, first)
    _run(stream_rig)
    _publish(stream_rig, second)

    worker, _ = _run(stream_rig)

    assert worker.summary.replayed == 0  # the last owner checkpointed as it left
    _assert_exactly_expected(stream_rig)


def test_state_behind_the_committed_offsets_is_rebuilt_without_new_outputs(
    stream_rig: StreamRig,
) -> None:
    parts = [stream_rig.tmp / f"{n}.jsonl" for n in "abc"]
    sizes = [write_events(p, accounts=150, seed=n) for n, p in enumerate(parts)]
    state_path = stream_rig.tmp / "state.sqlite"
    _publish(stream_rig, parts[0])
    _run(stream_rig)
    with SqliteStore(state_path) as state:
        older = {n: state.load_checkpoint("tw-test", n) for n in range(4)}
    _publish(stream_rig, parts[1])
    _run(stream_rig)
    with SqliteStore(state_path) as state:  # as if no checkpoint after part a
        for number, saved in older.items():
            assert saved is not None
            state.save_checkpoint("tw-test", number, saved.offsets, saved.state)
    _publish(stream_rig, parts[2])

    worker, _ = _run(stream_rig)

    assert worker.summary.replayed == sizes[1]
    assert worker.summary.events == sizes[2]
    _assert_exactly_expected(stream_rig)


def test_without_a_checkpoint_state_is_rebuilt_from_the_beginning(
    stream_rig: StreamRig,
) -> None:
    first, second = stream_rig.tmp / "a.jsonl", stream_rig.tmp / "b.jsonl"
    size = write_events(first, accounts=150, seed=8)
    write_events(second, accounts=150, seed=9)
    _publish(stream_rig, first)
    _run(stream_rig)
    with SqliteStore(stream_rig.tmp / "state.sqlite") as state:
        assert state.delete_checkpoints("tw-test") == 4
    _publish(stream_rig, second)

    worker, _ = _run(stream_rig)

    assert worker.summary.replayed == size
    _assert_exactly_expected(stream_rig)


def test_reset_state_starts_from_the_committed_offsets(stream_rig: StreamRig) -> None:
    first, second = stream_rig.tmp / "a.jsonl", stream_rig.tmp / "b.jsonl"
    write_events(first, accounts=150, seed=10)
    size = write_events(second, accounts=150, seed=11)
    _publish(stream_rig, first)
    _run(stream_rig)
    _publish(stream_rig, second)
    worker, _ = _run(stream_rig, reset=True)
    assert worker.summary.replayed == 0
    assert worker.summary.events == size


def test_missing_and_unmatched_topics_are_refused(stream_rig: StreamRig) -> None:
    state = SqliteStore(stream_rig.tmp / "state.sqlite")
    missing = StreamWorker(
        stream_rig.settings(topics=("nowhere",)), build_pipeline, state
    )
    with pytest.raises(ConfigError, match="'nowhere' does not exist"):
        missing.run(idle_timeout=1.0)
    create_topics(stream_rig.servers, ["uploads"], 2)
    unmatched = StreamWorker(
        stream_rig.settings(topics=(EVENTS, "uploads")), build_pipeline, state
    )
    with pytest.raises(ConfigError, match="not co-partitioned"):
        unmatched.run(idle_timeout=1.0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"topics": ()}, "no event topic"),
        ({"verdict_topic": EVENTS}, "both consumed and written"),
        ({"kafka_config": {"enable.auto.commit": "true"}}, "set by the worker"),
        # a static member's name is its worker id, which names its producer
        ({"kafka_config": {"group.instance.id": "x"}}, "set by the worker"),
        ({"worker_id": "a b"}, "worker id"),
        ({"bootstrap_servers": "nohost"}, "HOST:PORT"),
        ({"batch_size": 0}, "batch size"),
    ],
)
def test_settings_that_break_the_guarantees_are_refused(
    changes: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {
        "bootstrap_servers": "127.0.0.1:9092",
        "topics": (EVENTS,),
    }
    values.update(changes)
    with pytest.raises(ConfigError, match=message):
        StreamSettings(**values)  # type: ignore[arg-type]


def test_postgres_holds_checkpoints_and_decisions(
    stream_rig: StreamRig, postgres_store_target: tuple[str, str]
) -> None:
    from trustwatch.storage.postgres import PostgresStore

    dsn, schema = postgres_store_target
    first, second = stream_rig.tmp / "a.jsonl", stream_rig.tmp / "b.jsonl"
    write_events(first, accounts=150, seed=12)
    write_events(second, accounts=150, seed=13)
    for path in (first, second):
        _publish(stream_rig, path)
        with PostgresStore(dsn, schema=schema) as store:
            worker = StreamWorker(
                stream_rig.settings(), build_pipeline, store, decisions=store
            )
            worker.run(idle_timeout=2.0)
        assert worker.summary.replayed == 0

    expected = expected_decisions(
        read_topic(stream_rig.servers, EVENTS), build_pipeline
    )
    with PostgresStore(dsn, schema=schema) as store:
        assert {v.verdict_id for v in store.iter_verdicts()} == expected.verdict_ids
        assert {a.action_id for a in store.iter_actions()} == expected.action_ids
        saved = [store.load_checkpoint("tw-test", n) for n in range(4)]
    assert all(s is not None and s.offsets[EVENTS] > 0 for s in saved)


class _FailingStore:
    """A decision store that refuses its third batch of verdicts."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.calls = 0

    def write_verdicts(self, verdicts: object) -> int:
        self.calls += 1
        if self.calls == 3:
            raise StorageError("the review database went away")
        return self.store.write_verdicts(verdicts)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def test_a_failing_decision_store_stops_the_worker_and_loses_nothing(
    stream_rig: StreamRig,
) -> None:
    write_events(stream_rig.tmp / "events.jsonl", accounts=300, seed=14)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    state = SqliteStore(stream_rig.tmp / "state.sqlite")
    failing = _FailingStore(SqliteStore(stream_rig.tmp / "decisions.sqlite"))
    worker = StreamWorker(
        stream_rig.settings(batch_size=200),
        build_pipeline,
        state,
        decisions=failing,  # type: ignore[arg-type]
    )
    with pytest.raises(StorageError, match="went away"):
        worker.run(idle_timeout=2.0)
    assert worker.summary.batches >= 2  # it failed mid-stream, not at the start

    _run(stream_rig)  # the same group again, with a store that works

    _assert_exactly_expected(stream_rig)


def test_a_file_published_twice_is_decided_once_even_across_a_restart(
    stream_rig: StreamRig,
) -> None:
    path = stream_rig.tmp / "events.jsonl"
    events = write_events(path, accounts=200, seed=15)
    _publish(stream_rig, path)
    _publish(stream_rig, path)  # an upstream retry re-sends everything
    first, _ = _run(stream_rig)
    _publish(stream_rig, path)  # and again, after the worker has saved state

    second, metrics = _run(stream_rig)

    assert first.summary.repeats == events
    assert second.summary.repeats == events
    assert second.summary.verdicts == 0
    _assert_exactly_expected(stream_rig)
    text = generate_latest(metrics.registry).decode()
    assert f"trustwatch_events_repeated_total {float(events)}" in text


class _SeenAccounts(Detector):
    """Holds one "ring" per pipeline: every account it has seen."""

    name = "seen_accounts"
    version = "1"
    signal_kinds = ()

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def process_one(self, event: EventBase, ctx: EventContext) -> list[Signal]:
        if event.account:
            self.seen.add(event.account)
        return []

    def get_state(self) -> dict[str, Any]:
        return {"seen": sorted(self.seen)}

    def set_state(self, state: dict[str, Any]) -> None:
        self.seen = set(state["seen"])

    def ring_snapshots(self) -> list[RingSnapshot]:
        if not self.seen:
            return []
        members = tuple(sorted(self.seen))
        return [
            RingSnapshot(
                ring_id=f"ring-seen-{members[0]}",
                method="seen_accounts",
                size=len(members),
                risk=0.9,
                reasons=("seen in one partition",),
                founded=0.0,
                updated=float(len(members)),
                members=members,
                evidence=(),
                holdings={},
            )
        ]


def test_the_rings_a_partition_holds_are_stored_at_each_checkpoint(
    stream_rig: StreamRig,
) -> None:
    write_events(stream_rig.tmp / "events.jsonl", accounts=60)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")

    def with_rings() -> Pipeline:
        usual = build_pipeline()
        return Pipeline([*usual.detectors, _SeenAccounts()], usual.engine)

    with SqliteStore(stream_rig.tmp / "state.sqlite") as state:
        StreamWorker(
            stream_rig.settings(),
            with_rings,
            state,
            decisions=SqliteStore(stream_rig.tmp / "decisions.sqlite"),
        ).run(idle_timeout=2.0)

    accounts = {
        msgspec.json.decode(r.value).get("account")
        for r in read_topic(stream_rig.servers, EVENTS)
    } - {None, ""}
    with SqliteStore(stream_rig.tmp / "decisions.sqlite", readonly=True) as store:
        rings = store.rings(min_risk=0.0, limit=100)
    assert len(rings) > 1  # one per partition that held events
    members = [m for ring in rings for m in ring.members]
    assert len(members) == len(set(members))  # an account lives in one partition
    assert set(members) == accounts


def test_restoring_state_on_assignment_is_not_idle_time(
    stream_rig: StreamRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partition whose state takes longer to restore than the idle
    timeout is still read: the idle time counts from the assignment."""
    import time

    write_events(stream_rig.tmp / "events.jsonl", accounts=60)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    opened = StreamWorker._open

    def slow_open(self: StreamWorker, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.8)  # four partitions: 3.2 s, past the 2 s idle timeout
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(StreamWorker, "_open", slow_open)
    with SqliteStore(stream_rig.tmp / "state.sqlite") as state:
        worker = StreamWorker(stream_rig.settings(), build_pipeline, state)
        summary = worker.run(idle_timeout=2.0)
    published = read_topic(stream_rig.servers, EVENTS)
    assert summary.events == len(published) > 0


def test_state_is_frozen_out_of_the_collector_between_batches(
    stream_rig: StreamRig,
) -> None:
    import gc

    write_events(stream_rig.tmp / "events.jsonl", accounts=200)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    frozen: list[bool] = []
    gc.unfreeze()
    with SqliteStore(stream_rig.tmp / "state.sqlite") as state:
        worker = StreamWorker(stream_rig.settings(batch_size=50), build_pipeline, state)

        made_in_batch: list[list[int]] = []

        def state_frozen(_: object) -> None:
            # the partitions' pipelines and detectors, made when the
            # partitions were assigned during the first batch, and an object
            # made during the batch before (as state a detector keeps): frozen
            # from the second batch on. Checked one by one, not by the freeze
            # count, which other threads lower when they free frozen objects.
            held: list[object] = [
                part
                for task in worker._tasks.values()
                for part in (task.pipeline, *task.pipeline.detectors)
            ]
            held.extend(made_in_batch)
            collected = {id(seen) for seen in gc.get_objects()}
            frozen.append(bool(held) and all(id(one) not in collected for one in held))
            made_in_batch[:] = [[len(frozen)]]  # kept until the next batch

        worker.run(idle_timeout=2.0, on_batch=state_frozen)
    assert len(frozen) > 2
    assert frozen[0] is False  # assigned during the first batch, not yet frozen
    assert all(frozen[1:])
    assert gc.get_freeze_count() == 0  # thawed when the worker is done


def test_connection_failures_are_logged_once_not_twice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from confluent_kafka import KafkaError

    settings = StreamSettings(bootstrap_servers="127.0.0.1:9092", topics=(EVENTS,))
    with SqliteStore(tmp_path / "state.sqlite") as state:
        worker = StreamWorker(settings, build_pipeline, state)
        with caplog.at_level("DEBUG", logger="trustwatch.runtime.stream.worker"):
            # the client logs a failed connection itself (trustwatch.kafka)
            worker._on_error(KafkaError(KafkaError._TRANSPORT, "Disconnected"))
            worker._on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "all down"))
    levels = {r.getMessage(): r.levelname for r in caplog.records}
    assert levels == {
        "Kafka client: Disconnected": "DEBUG",
        "Kafka client: all down": "WARNING",
    }
    assert worker._fatal == []


@pytest.mark.slow
def test_a_broker_that_stops_answering_is_not_taken_for_an_idle_topic(
    stream_rig: StreamRig,
) -> None:
    total = write_events(stream_rig.tmp / "events.jsonl", accounts=100)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    with SqliteStore(stream_rig.tmp / "state.sqlite") as state:
        # the group outlives the idle timeout: the worker sees silence first
        slow_group = {"session.timeout.ms": "10000", "heartbeat.interval.ms": "500"}
        worker = StreamWorker(
            stream_rig.settings(batch_size=100, kafka_config=slow_group),
            build_pipeline,
            state,
        )

        def stop_the_broker(summary: Any) -> None:
            if summary.events >= total:  # all read and committed: then silence
                stream_rig.broker.stop()

        with pytest.raises(StreamError, match="does not answer"):
            worker.run(idle_timeout=2.0, on_batch=stop_the_broker)


@pytest.mark.parametrize("static", [True, False])
def test_a_static_member_is_named_by_its_worker_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, static: bool
) -> None:
    import confluent_kafka

    configs: dict[str, dict[str, Any]] = {}

    class Client:
        def __init__(self, config: dict[str, Any]) -> None:
            configs["producer" if "transactional.id" in config else "consumer"] = config

        def init_transactions(self, timeout: float) -> None:
            pass

    monkeypatch.setattr(confluent_kafka, "Consumer", Client)
    monkeypatch.setattr(confluent_kafka, "Producer", Client)
    settings = StreamSettings(
        bootstrap_servers="127.0.0.1:9092",
        topics=(EVENTS,),
        worker_id="w7",
        static_membership=static,
    )
    with SqliteStore(tmp_path / "state.sqlite") as state:
        StreamWorker(settings, build_pipeline, state)._connect()
    assert configs["consumer"].get("group.instance.id") == ("w7" if static else None)
    assert "group.instance.id" not in configs["producer"]
