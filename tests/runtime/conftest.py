"""Fixtures for the stream worker's tests: topics on a fresh broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from stream_rig import EVENTS, OUTPUTS, PARTITIONS, StreamRig

from trustwatch.testing.broker import LocalBroker
from trustwatch.testing.kafka import create_topics


@pytest.fixture
def stream_rig(kafka_broker: LocalBroker, tmp_path: Path) -> StreamRig:
    """A fresh broker with ``events`` and the three output topics."""
    create_topics(kafka_broker.bootstrap_servers, (EVENTS, *OUTPUTS), PARTITIONS)
    return StreamRig(kafka_broker, tmp_path)
