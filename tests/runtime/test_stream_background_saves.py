"""Periodic partition-state saves made in a forked child.

Each saved state must be exactly the state a fresh pipeline reaches over the
partition's events below the saved offsets: the child serialises the
parent's memory as it was at the fork, while the parent goes on deciding.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest
from stream_rig import EVENTS, StreamRig, build_pipeline, write_events

from trustwatch.cli.main import main
from trustwatch.events.decode import EventDecoder
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.runtime.stream import StreamWorker
from trustwatch.runtime.stream.settings import StreamSettings
from trustwatch.runtime.stream.snapshots import can_fork
from trustwatch.runtime.stream.worker import _PartitionTask, decode_state
from trustwatch.storage.sqlite import SqliteStore
from trustwatch.testing.kafka import TopicRecord, read_topic

pytestmark = pytest.mark.skipif(not can_fork(), reason="this platform cannot fork")


class _RecordingStore(SqliteStore):
    """A checkpoint store that keeps a copy of every save."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.saves: list[tuple[int, dict[str, int], bytes]] = []

    def save_checkpoint(
        self, group: str, partition: int, offsets: Mapping[str, int], state: bytes
    ) -> None:
        super().save_checkpoint(group, partition, offsets, state)
        self.saves.append((partition, dict(offsets), bytes(state)))


class _CountingWorker(StreamWorker):
    forks = 0

    def _checkpoint_in_child(self, tasks: Any) -> None:
        before = self._in_flight
        super()._checkpoint_in_child(tasks)
        if self._in_flight is not None and self._in_flight is not before:
            self.forks += 1


def _publish(rig: StreamRig, accounts: int, seed: int) -> None:
    path = rig.tmp / "events.jsonl"
    write_events(path, accounts=accounts, seed=seed)
    status = main(
        ["publish", str(path), "--topic", EVENTS, "--bootstrap-servers", rig.servers]
    )
    assert status == 0


def _plain(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


def _state_at(records: list[TopicRecord], partition: int, offset: int) -> Any:
    """The pipeline state after a partition's events below ``offset``."""
    decode = EventDecoder().decode
    pipeline = build_pipeline()
    for record in sorted(records, key=lambda r: r.offset):
        if record.partition != partition or record.offset >= offset:
            continue
        event = decode(record.value)
        pipeline.process_one(event, event.ts.timestamp())
        pipeline.failures.clear()
    return _plain(pipeline.get_state())


def test_states_saved_in_the_background_match_their_offsets(
    stream_rig: StreamRig,
) -> None:
    _publish(stream_rig, accounts=300, seed=8)
    store = _RecordingStore(stream_rig.tmp / "state.sqlite")
    try:
        worker = _CountingWorker(
            stream_rig.settings(batch_size=40, checkpoint_interval=0.02),
            build_pipeline,
            store,
            decisions=SqliteStore(stream_rig.tmp / "decisions.sqlite"),
        )
        worker.run(idle_timeout=2.0)
    finally:
        store.close()

    assert worker.forks >= 2, "periodic saves should have run in a child"
    assert worker.summary.checkpoints == len(store.saves)
    records = read_topic(stream_rig.servers, EVENTS)
    mid_stream = [
        (p, offsets, state)
        for p, offsets, state in store.saves
        if 0 < offsets[EVENTS] < max(r.offset + 1 for r in records if r.partition == p)
    ]
    assert mid_stream, "some saves should fall before the end of a partition"
    for partition, offsets, state in mid_stream[:6]:
        saved = decode_state(state)["pipeline"]
        assert saved == _state_at(records, partition, offsets[EVENTS])


def test_inline_saves_can_be_chosen(stream_rig: StreamRig) -> None:
    _publish(stream_rig, accounts=60, seed=9)
    with SqliteStore(stream_rig.tmp / "state.sqlite") as store:
        worker = _CountingWorker(
            stream_rig.settings(
                batch_size=40, checkpoint_interval=0.02, background_checkpoints=False
            ),
            build_pipeline,
            store,
        )
        worker.run(idle_timeout=2.0)
    assert worker.forks == 0
    assert worker.summary.checkpoints > 0


class _FailsInAChild(Pipeline):
    """A pipeline whose state cannot be read in any process but its own."""

    def __init__(self) -> None:
        usual = build_pipeline()
        super().__init__(usual.detectors, usual.engine)
        self.owner = os.getpid()

    def get_state(self) -> dict[str, Any]:
        if os.getpid() != self.owner:
            raise MemoryError("killed in the child")
        return super().get_state()


def test_failing_background_saves_fall_back_inline_then_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = StreamSettings(bootstrap_servers="127.0.0.1:9", topics=(EVENTS,))
    store = _RecordingStore(tmp_path / "state.sqlite")
    worker = StreamWorker(settings, _FailsInAChild, store)
    task = _PartitionTask(0, _FailsInAChild(), {EVENTS: 5}, {})
    worker._tasks[0] = task
    try:
        for attempt in range(3):
            task.dirty = True
            assert worker._background
            worker._checkpoint_in_child([task])
            assert worker._in_flight is not None
            worker._settle(wait=True)  # the child fails: saved inline instead
            assert worker._in_flight is None
            assert len(store.saves) == attempt + 1
    finally:
        store.close()

    assert [offsets for _, offsets, _ in store.saves] == [{EVENTS: 5}] * 3
    assert not worker._background  # given up after three in a row
    assert "saving inline from now on" in caplog.text


def _worker_with_tasks(tmp_path: Path, count: int) -> tuple[StreamWorker, Any]:
    settings = StreamSettings(bootstrap_servers="127.0.0.1:9", topics=(EVENTS,))
    store = _RecordingStore(tmp_path / "state.sqlite")
    worker = StreamWorker(settings, build_pipeline, store)
    for number in range(count):
        task = _PartitionTask(number, build_pipeline(), {EVENTS: 10 + number}, {})
        task.dirty = True
        worker._tasks[number] = task
    return worker, store


def test_one_child_saves_every_partition_and_the_loop_writes_one_a_tick(
    tmp_path: Path,
) -> None:
    worker, store = _worker_with_tasks(tmp_path, 3)
    try:
        worker._checkpoint_in_child(list(worker._tasks.values()))
        flight = worker._in_flight
        assert flight is not None
        assert [task.partition for task, _ in flight.tasks] == [0, 1, 2]
        assert not any(task.dirty for task in worker._tasks.values())
        flight.snapshot.wait(60)
        for written in (1, 2, 3):
            worker._settle(wait=False)
            assert len(store.saves) == written
        assert worker._in_flight is None
    finally:
        store.close()
    assert [(p, offsets) for p, offsets, _ in store.saves] == [
        (0, {EVENTS: 10}),
        (1, {EVENTS: 11}),
        (2, {EVENTS: 12}),
    ]
    fresh = _plain(build_pipeline().get_state())
    assert all(decode_state(state)["pipeline"] == fresh for _, _, state in store.saves)


def test_an_inline_save_first_writes_every_state_in_flight(tmp_path: Path) -> None:
    worker, store = _worker_with_tasks(tmp_path, 2)
    try:
        worker._checkpoint_in_child(list(worker._tasks.values()))
        task = worker._tasks[1]
        task.offsets[EVENTS] = 99
        task.dirty = True
        worker._checkpoint(task)  # a newer state: the older ones land first
    finally:
        store.close()
    assert [(p, offsets) for p, offsets, _ in store.saves] == [
        (0, {EVENTS: 10}),
        (1, {EVENTS: 11}),
        (1, {EVENTS: 99}),
    ]


def test_losing_one_partition_drops_the_whole_save_in_flight(tmp_path: Path) -> None:
    from confluent_kafka import TopicPartition

    worker, store = _worker_with_tasks(tmp_path, 3)
    try:
        worker._checkpoint_in_child(list(worker._tasks.values()))
        assert worker._in_flight is not None
        worker._on_lost(None, [TopicPartition(EVENTS, 1)])  # type: ignore[arg-type]
        assert worker._in_flight is None
        worker._settle(wait=True)
    finally:
        store.close()
    assert store.saves == []
    assert sorted(worker._tasks) == [0, 2]
    assert all(task.dirty for task in worker._tasks.values())  # saved next time


def test_a_save_child_rests_as_long_as_it_worked_but_not_past_its_limit() -> None:
    from trustwatch.runtime.stream.worker import _pause

    assert _pause(0.2, now=10.0, stop_resting=40.0, last=False) == 0.2
    assert _pause(0.2, now=10.0, stop_resting=40.0, last=True) == 0.0
    # a rest that would end past the limit is skipped, not cut
    assert _pause(20.0, now=25.0, stop_resting=40.0, last=False) == 0.0
    assert _pause(15.0, now=25.0, stop_resting=40.0, last=False) == 15.0
