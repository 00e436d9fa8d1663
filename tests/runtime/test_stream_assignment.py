"""What a worker says and does when the group gives it no partition."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from stream_rig import build_pipeline

from trustwatch.runtime.stream import StreamSettings
from trustwatch.runtime.stream import worker as worker_module
from trustwatch.runtime.stream.worker import StreamError, StreamWorker
from trustwatch.storage.sqlite import SqliteStore

WAITING = "no partition assigned"


class _FakeConsumer:
    """A consumer of one topic whose group plays out ``script``.

    ``script`` maps a poll's number to what the group does then:
    ``"assign"`` or ``"revoke"`` partition 0. No message ever comes.
    """

    def __init__(self, script: dict[int, str]) -> None:
        self.script = script
        self.polls = 0
        self.callbacks: dict[str, Callable[..., None]] = {}

    def subscribe(self, topics: list[str], **callbacks: Callable[..., None]) -> None:
        self.callbacks = callbacks

    def poll(self, timeout: float) -> None:
        from confluent_kafka import TopicPartition

        self.polls += 1
        step = self.script.get(self.polls)
        if step is not None:
            self.callbacks[f"on_{step}"](self, [TopicPartition("events", 0)])
        time.sleep(min(timeout, 0.02))

    def committed(self, partitions: list[Any], timeout: float) -> list[Any]:
        return partitions  # the offsets stay unset: nothing committed

    def assign(self, partitions: list[Any]) -> None:
        pass

    def list_topics(self, timeout: float) -> object:
        return object()

    def get_watermark_offsets(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("no fetch yet")

    def close(self) -> None:
        pass


class _FakeProducer:
    def flush(self, timeout: float) -> int:
        return 0


def _worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: dict[int, str]
) -> StreamWorker:
    monkeypatch.setattr(worker_module, "_JOIN_GRACE", 0.3)
    settings = StreamSettings(
        bootstrap_servers="127.0.0.1:9",
        topics=("events",),
        group="g",
        worker_id="w1",
        background_checkpoints=False,
    )
    store = SqliteStore(tmp_path / "s.sqlite")
    worker = StreamWorker(settings, build_pipeline, store)
    consumer = _FakeConsumer(script)

    def connect() -> tuple[Any, Any]:
        worker._consumer, worker._producer = consumer, _FakeProducer()  # type: ignore[assignment]
        return consumer, worker._producer

    monkeypatch.setattr(worker, "_connect", connect)
    monkeypatch.setattr(worker, "_check_topics", lambda consumer: None)
    return worker


def test_a_worker_never_assigned_a_partition_does_not_pass_an_idle_stop(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = _worker(tmp_path, monkeypatch, {})
    with (
        caplog.at_level(logging.WARNING, logger="trustwatch"),
        pytest.raises(StreamError, match="no partition of events was ever assigned"),
    ):
        worker.run(idle_timeout=0.3)
    assert WAITING in caplog.text  # it said so while it waited, too
    worker.checkpoints.close()


def test_a_worker_whose_partitions_were_revoked_is_not_said_to_wait_for_them(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # assigned at once, then revoked by a rebalance before the grace ends
    worker = _worker(tmp_path, monkeypatch, {1: "assign", 3: "revoke"})
    with caplog.at_level(logging.INFO, logger="trustwatch"):
        summary = worker.run(idle_timeout=0.6)
    assert "partitions revoked: [0]" in caplog.text
    assert worker.partitions == []
    assert WAITING not in caplog.text
    assert summary.events == 0
    worker.checkpoints.close()
