"""Helpers of the stream worker's tests: a broker with topics, events, settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import msgspec

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors import default_detectors
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.runtime.stream import StreamSettings
from trustwatch.simulation import SimulationConfig, iter_events
from trustwatch.testing.broker import LocalBroker

EVENTS = "events"
OUTPUTS = ("trustwatch.verdicts", "trustwatch.actions", "trustwatch.dead-letters")
PARTITIONS = 4
#: Group timings a memory-only test broker needs for quick joins.
FAST_GROUP = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}


def build_pipeline() -> Pipeline:
    """The default detectors and policy, without geolocation (fast to start)."""
    return Pipeline(
        default_detectors(None, None),
        DecisionEngine(default_policy(), "dry_run"),
        timed=True,
    )


def write_events(path: Path, accounts: int, seed: int = 3, days: float = 1.0) -> int:
    """Write simulated events as JSON Lines; return how many."""
    encode = msgspec.json.Encoder().encode
    n = 0
    with path.open("wb") as fh:
        for event in iter_events(
            SimulationConfig(seed=seed, accounts=accounts, days=days)
        ):
            fh.write(encode(event) + b"\n")
            n += 1
    return n


@dataclass
class StreamRig:
    """A broker with the event and output topics created."""

    broker: LocalBroker
    tmp: Path

    @property
    def servers(self) -> str:
        return self.broker.bootstrap_servers

    def committed(self, group: str = "tw-test") -> dict[int, int]:
        """The group's committed offset per partition of ``events`` (0 where none)."""
        from confluent_kafka import Consumer, TopicPartition

        probe = Consumer({"bootstrap.servers": self.servers, "group.id": group})
        try:
            found = probe.committed(
                [TopicPartition(EVENTS, p) for p in range(PARTITIONS)], timeout=30
            )
        finally:
            probe.close()
        return {tp.partition: max(tp.offset, 0) for tp in found}

    def settings(self, **changes: object) -> StreamSettings:
        values: dict[str, object] = {
            "bootstrap_servers": self.servers,
            "topics": (EVENTS,),
            "group": "tw-test",
            "worker_id": "w1",
            "batch_size": 500,
            "checkpoint_interval": 0.5,
            "kafka_config": dict(FAST_GROUP),
        }
        values.update(changes)
        return StreamSettings(**values)  # type: ignore[arg-type]

    def cli_args(self, state: Path, worker_id: str = "w1") -> list[str]:
        """Arguments of `trustwatch stream` for this rig."""
        args = [
            "stream",
            "--topic",
            EVENTS,
            "--bootstrap-servers",
            self.servers,
            "--group",
            "tw-test",
            "--worker-id",
            worker_id,
            "--no-geo",
            "--state-store",
            str(state),
            "--batch-size",
            "300",
            "--checkpoint-interval",
            "0.5",
        ]
        for key, value in FAST_GROUP.items():
            args += ["--kafka-config", f"{key}={value}"]
        return args
