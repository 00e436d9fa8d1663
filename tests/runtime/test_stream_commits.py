"""Overlapped commits: the next batch is decided while the last one commits.

Against a real Kafka-protocol broker on loopback, a worker must produce
exactly the expected decisions whether it overlaps its commits or not, and
when a commit fails while the next batch is being decided, both batches
must be read again from the checkpoints: nothing lost, nothing twice. The
failure inside a rebalance callback is checked without a broker.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from stream_rig import EVENTS, StreamRig, build_pipeline, write_events

from trustwatch.cli.main import main
from trustwatch.runtime.stream import BATCH_HEADER, ID_HEADER, StreamWorker
from trustwatch.runtime.stream import worker as worker_module
from trustwatch.runtime.stream.outputs import OutputBatch
from trustwatch.runtime.stream.worker import _CommitInFlight, _PartitionTask
from trustwatch.storage.sqlite import SqliteStore
from trustwatch.testing.kafka import expected_decisions, read_topic


def _publish(rig: StreamRig, path: Path) -> None:
    status = main(
        ["publish", str(path), "--topic", EVENTS, "--bootstrap-servers", rig.servers]
    )
    assert status == 0


def _assert_exactly_expected(
    rig: StreamRig, aborted: frozenset[bytes] = frozenset()
) -> None:
    """Every expected decision once, in the topics and in the store.

    The test broker (tansu) does not hide an aborted transaction's records
    from ``read_committed`` readers, so records of the ``aborted`` batches
    (``trustwatch-batch`` header) must only be copies of expected ones.
    """
    expected = expected_decisions(read_topic(rig.servers, EVENTS), build_pipeline)
    assert expected.verdict_ids, "the stream should raise verdicts"
    for topic, ids in (
        ("trustwatch.verdicts", expected.verdict_ids),
        ("trustwatch.actions", expected.action_ids),
    ):
        records = read_topic(rig.servers, topic)
        found = Counter(
            r.headers[ID_HEADER].decode()
            for r in records
            if r.headers[BATCH_HEADER] not in aborted
        )
        assert set(found) == ids, f"{topic}: missing or extra records"
        assert max(found.values(), default=1) == 1, f"{topic}: repeats"
        seen_aborted = {
            r.headers[ID_HEADER].decode()
            for r in records
            if r.headers[BATCH_HEADER] in aborted
        }
        assert seen_aborted <= ids
    with SqliteStore(rig.tmp / "decisions.sqlite", readonly=True) as store:
        assert {v.verdict_id for v in store.iter_verdicts()} == expected.verdict_ids


def _worker(rig: StreamRig, state: SqliteStore, **changes: object) -> StreamWorker:
    return StreamWorker(
        rig.settings(batch_size=100, **changes),
        build_pipeline,
        state,
        decisions=SqliteStore(rig.tmp / "decisions.sqlite"),
    )


def _watch_decisions(
    monkeypatch: pytest.MonkeyPatch, flag: threading.Event
) -> list[bool]:
    """Record, for each message decided, whether ``flag`` was set then."""
    seen: list[bool] = []
    decide = StreamWorker._decide

    def watched_decide(self: StreamWorker, *args: Any) -> None:
        seen.append(flag.is_set())
        decide(self, *args)

    monkeypatch.setattr(StreamWorker, "_decide", watched_decide)
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("overlap", [True, False], ids=["overlapped", "serial"])
def test_batches_are_decided_while_the_last_one_commits_and_nothing_repeats(
    stream_rig: StreamRig, monkeypatch: pytest.MonkeyPatch, overlap: bool
) -> None:
    write_events(stream_rig.tmp / "events.jsonl", accounts=300, seed=5)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    committing = threading.Event()
    finish = worker_module._finish_transaction

    def slow_commit(*args: Any) -> tuple[float, float]:
        committing.set()
        try:
            time.sleep(0.05)  # a slow broker: room for the loop to go on
            return finish(*args)
        finally:
            committing.clear()

    monkeypatch.setattr(worker_module, "_finish_transaction", slow_commit)
    decided_while_committing = _watch_decisions(monkeypatch, committing)
    with SqliteStore(stream_rig.tmp / "state.sqlite") as state:
        worker = _worker(stream_rig, state, overlap_commits=overlap)
        worker.run(idle_timeout=2.0)

    assert worker.summary.batches > 5
    assert any(decided_while_committing) is overlap
    _assert_exactly_expected(stream_rig)


@pytest.mark.slow
def test_a_commit_that_fails_while_the_next_batch_is_decided_repeats_nothing(
    stream_rig: StreamRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from confluent_kafka import KafkaError, KafkaException

    write_events(stream_rig.tmp / "events.jsonl", accounts=300, seed=6)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    finish = worker_module._finish_transaction
    calls: list[int] = []
    failing = threading.Event()

    def failing_third_commit(
        producer: Any, positions: Any, metadata: Any, patience: Any
    ) -> Any:
        calls.append(1)
        if len(calls) != 3:
            return finish(producer, positions, metadata, patience)
        producer.send_offsets_to_transaction(positions, metadata, 30)
        failing.set()
        time.sleep(0.1)  # the next batch is decided meanwhile
        failing.clear()
        raise KafkaException(
            KafkaError(KafkaError._TIMED_OUT, "injected", txn_requires_abort=True)
        )

    monkeypatch.setattr(worker_module, "_finish_transaction", failing_third_commit)
    decided_while_failing = _watch_decisions(monkeypatch, failing)
    with SqliteStore(stream_rig.tmp / "state.sqlite") as state:
        worker = _worker(stream_rig, state)
        worker.run(idle_timeout=2.0)

    assert worker.summary.aborted == 1
    assert len(calls) > 3  # it went on after the failure
    assert any(decided_while_failing)  # a batch was decided, then thrown away
    third = f"w1/{worker._session}/3".encode()
    _assert_exactly_expected(stream_rig, aborted=frozenset({third}))


class _AbortingProducer:
    """Stands in for the producer when a commit fails in a callback."""

    def __init__(self) -> None:
        self.aborted = 0

    def abort_transaction(self, timeout: float) -> None:
        self.aborted += 1


def test_a_commit_failing_during_a_revocation_saves_no_state_ahead_of_it(
    tmp_path: Path,
) -> None:
    from confluent_kafka import KafkaError, KafkaException, TopicPartition

    from trustwatch.runtime.stream import StreamSettings

    settings = StreamSettings(bootstrap_servers="127.0.0.1:9092", topics=(EVENTS,))
    with SqliteStore(tmp_path / "state.sqlite") as state:
        worker = StreamWorker(settings, build_pipeline, state)
        producer = _AbortingProducer()
        worker._producer = producer  # type: ignore[assignment]
        # partition 0 has decided messages up to offset 40 in a batch whose
        # transaction then fails
        task = _PartitionTask(0, build_pipeline(), {EVENTS: 40}, {}, dirty=True)
        worker._tasks[0] = task
        failed: Future[tuple[float, float]] = Future()
        failed.set_exception(
            KafkaException(
                KafkaError(KafkaError._TIMED_OUT, "injected", txn_requires_abort=True)
            )
        )
        worker._pending = _CommitInFlight(failed, OutputBatch(), Counter(), 0, [], 0.0)

        worker._on_revoke(None, [TopicPartition(EVENTS, 0)])  # type: ignore[arg-type]

        assert producer.aborted == 1
        assert worker.summary.aborted == 1
        assert state.load_checkpoint(settings.group, 0) is None  # nothing saved
        assert worker._tasks == {} and worker._parked == {}  # nothing kept
        assert worker._reopen  # the loop reopens what it still owns


def _assert_no_state_ahead(rig: StreamRig, state: SqliteStore) -> None:
    committed = rig.committed()
    for partition, done in committed.items():
        saved = state.load_checkpoint("tw-test", partition)
        if saved is not None:
            assert saved.offsets.get(EVENTS, 0) <= done, f"partition {partition}"


@pytest.mark.slow
def test_a_second_interrupt_while_waiting_for_a_commit_saves_nothing_ahead(
    stream_rig: StreamRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while a batch is decided, and again while the worker waits for
    the commit in flight: no state past the commit is saved, and the
    clients close only once the commit has ended."""
    write_events(stream_rig.tmp / "events.jsonl", accounts=300, seed=5)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    finish = worker_module._finish_transaction
    calls: list[int] = []
    committing = threading.Event()
    events: list[str] = []

    def slow_third_commit(*args: Any) -> tuple[float, float]:
        calls.append(1)
        if len(calls) != 3:
            return finish(*args)
        committing.set()
        try:
            time.sleep(1.0)
            return finish(*args)
        finally:
            committing.clear()
            events.append("commit ended")

    monkeypatch.setattr(worker_module, "_finish_transaction", slow_third_commit)
    decide = StreamWorker._decide

    def interrupted_decide(self: StreamWorker, *args: Any) -> None:
        if committing.is_set():
            raise KeyboardInterrupt  # the first Ctrl-C, in the next batch
        decide(self, *args)

    monkeypatch.setattr(StreamWorker, "_decide", interrupted_decide)
    abandon = StreamWorker._abandon_commit
    waits: list[int] = []

    def second_interrupt(self: StreamWorker) -> None:
        waits.append(1)
        if len(waits) == 1:
            raise KeyboardInterrupt  # the second Ctrl-C, during the wait
        abandon(self)

    monkeypatch.setattr(StreamWorker, "_abandon_commit", second_interrupt)
    close = StreamWorker._close

    def watched_close(self: StreamWorker) -> None:
        events.append("close")
        close(self)

    monkeypatch.setattr(StreamWorker, "_close", watched_close)
    with SqliteStore(stream_rig.tmp / "state.sqlite") as state:
        worker = _worker(stream_rig, state, checkpoint_interval=600.0)
        with pytest.raises(KeyboardInterrupt):
            worker.run(idle_timeout=5.0)
        _assert_no_state_ahead(stream_rig, state)
    assert events == ["commit ended", "close"]


@pytest.mark.slow
def test_a_serial_commit_cut_short_by_an_interrupt_does_not_hang_the_worker(
    stream_rig: StreamRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_events(stream_rig.tmp / "events.jsonl", accounts=300, seed=5)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    finish = worker_module._finish_transaction
    calls: list[int] = []

    def interrupted_third_commit(*args: Any) -> tuple[float, float]:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C inside the client's commit
        return finish(*args)

    monkeypatch.setattr(worker_module, "_finish_transaction", interrupted_third_commit)
    outcome: list[BaseException] = []

    def run() -> None:
        with SqliteStore(stream_rig.tmp / "state.sqlite") as state:
            worker = _worker(stream_rig, state, overlap_commits=False)
            try:
                worker.run(idle_timeout=2.0)
            except BaseException as exc:
                outcome.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(60)
    assert not runner.is_alive(), "the worker hung on the commit cut short"
    assert len(outcome) == 1 and isinstance(outcome[0], KeyboardInterrupt)
    with SqliteStore(stream_rig.tmp / "state.sqlite", readonly=True) as state:
        _assert_no_state_ahead(stream_rig, state)
