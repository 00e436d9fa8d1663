"""The consumer-lag metric covers only the partitions a worker owns."""

from __future__ import annotations

from pathlib import Path

import pytest
from stream_rig import EVENTS, build_pipeline

from trustwatch.runtime.stream import StreamSettings, StreamWorker
from trustwatch.runtime.stream.worker import _PartitionTask
from trustwatch.storage.sqlite import SqliteStore


class _WatermarkConsumer:
    """Stands in for the consumer: every partition ends at offset 100."""

    def get_watermark_offsets(
        self, partition: object, cached: bool = False
    ) -> tuple[int, int]:
        return 0, 100


def _lag_partitions(worker: StreamWorker) -> set[str]:
    """The partitions the lag metric has a series for."""
    return {
        sample.labels["partition"]
        for family in worker.metrics.registry.collect()
        if family.name == "trustwatch_consumer_lag"
        for sample in family.samples
    }


def _worker_reading_lag(store: SqliteStore) -> StreamWorker:
    settings = StreamSettings(bootstrap_servers="127.0.0.1:9092", topics=(EVENTS,))
    worker = StreamWorker(settings, build_pipeline, store)
    for number in (0, 1, 2):
        worker._tasks[number] = _PartitionTask(
            number, build_pipeline(), {EVENTS: 40}, {}
        )
    worker._consumer = _WatermarkConsumer()  # type: ignore[assignment]
    worker._read_lag()
    return worker


@pytest.mark.parametrize("how", ["revoked", "lost"])
def test_partitions_given_up_leave_the_lag_metric(tmp_path: Path, how: str) -> None:
    from confluent_kafka import TopicPartition

    with SqliteStore(tmp_path / "state.sqlite") as store:
        worker = _worker_reading_lag(store)
        assert _lag_partitions(worker) == {"0", "1", "2"}

        given_up = [TopicPartition(EVENTS, 1), TopicPartition(EVENTS, 2)]
        if how == "revoked":
            worker._on_revoke(None, given_up)  # type: ignore[arg-type]
        else:
            worker._on_lost(None, given_up)  # type: ignore[arg-type]

        assert _lag_partitions(worker) == {"0"}
        worker._read_lag()  # the next reading brings none of them back
        assert _lag_partitions(worker) == {"0"}


def test_a_closed_worker_reports_no_lag(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "state.sqlite") as store:
        worker = _worker_reading_lag(store)
        worker._consumer = None
        worker._close()
        assert _lag_partitions(worker) == set()
