"""How a stream worker forms its micro-batches from what the consumer holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from stream_rig import build_pipeline

from trustwatch.runtime.stream import StreamWorker
from trustwatch.runtime.stream.settings import StreamSettings
from trustwatch.storage.sqlite import SqliteStore


class QueuedConsumer:
    """A consumer whose fetched messages are already queued; records calls."""

    def __init__(self, queued: int) -> None:
        self.queued = [f"m{i}" for i in range(queued)]
        self.calls: list[tuple[Any, ...]] = []

    def poll(self, timeout: float) -> str | None:
        self.calls.append(("poll", timeout))
        return self.queued.pop(0) if self.queued else None

    def consume(self, num_messages: int, timeout: float) -> list[str]:
        self.calls.append(("consume", num_messages, timeout))
        taken = self.queued[:num_messages]
        del self.queued[:num_messages]
        return taken


@pytest.fixture
def worker_for(tmp_path: Path) -> Any:
    stores: list[SqliteStore] = []

    def make(batch_size: int, batch_wait: float) -> StreamWorker:
        settings = StreamSettings(
            bootstrap_servers="127.0.0.1:9092",
            topics=("events",),
            group="g",
            worker_id="w1",
            batch_size=batch_size,
            batch_wait=batch_wait,
        )
        store = SqliteStore(tmp_path / f"state-{len(stores)}.sqlite")
        stores.append(store)
        return StreamWorker(settings, build_pipeline, store)

    yield make
    for store in stores:
        store.close()


def test_an_idle_topic_blocks_on_a_bounded_poll_instead_of_spinning(
    worker_for: Any,
) -> None:
    consumer = QueuedConsumer(0)
    assert worker_for(500, 0.0)._next_batch(consumer) == []
    [(call, timeout)] = consumer.calls
    assert call == "poll"
    assert 0 < timeout <= 1.0  # the loop still saves state and stops on time


def test_a_batch_takes_what_is_queued_up_to_the_batch_size(worker_for: Any) -> None:
    consumer = QueuedConsumer(10)
    worker = worker_for(4, 0.0)
    assert worker._next_batch(consumer) == ["m0", "m1", "m2", "m3"]
    assert consumer.calls[1] == ("consume", 3, 0.0)  # no wait for more
    assert worker._next_batch(consumer) == ["m4", "m5", "m6", "m7"]
    assert worker._next_batch(consumer) == ["m8", "m9"]
    assert worker._next_batch(consumer) == []


def test_the_batch_wait_starts_at_the_first_message(worker_for: Any) -> None:
    consumer = QueuedConsumer(3)
    assert worker_for(500, 0.02)._next_batch(consumer) == ["m0", "m1", "m2"]
    assert consumer.calls[0][0] == "poll"
    assert consumer.calls[1] == ("consume", 499, 0.02)


def test_a_batch_of_one_never_waits_for_more(worker_for: Any) -> None:
    consumer = QueuedConsumer(2)
    assert worker_for(1, 0.5)._next_batch(consumer) == ["m0"]
    assert [c[0] for c in consumer.calls] == ["poll"]


class RebalancingConsumer(QueuedConsumer):
    """Revokes the worker's partitions while a batch is being filled."""

    def __init__(self, queued: int, worker: StreamWorker) -> None:
        super().__init__(queued)
        self.worker = worker

    def consume(self, num_messages: int, timeout: float) -> list[str]:
        self.worker._on_revoke(self, [])  # type: ignore[arg-type]
        return super().consume(num_messages, timeout)


def test_a_message_polled_before_a_rebalance_is_left_to_be_fetched_again(
    worker_for: Any,
) -> None:
    worker = worker_for(500, 0.0)
    consumer = RebalancingConsumer(3, worker)
    # the client drops what it fetched before a rebalance; the polled message
    # was already out, so the batch leaves it too
    assert worker._next_batch(consumer) == ["m1", "m2"]
