"""The Kafka adapter against the local Kafka-protocol broker."""

from __future__ import annotations

import json
import time

import pytest
from response_rig import make_action

from trustwatch.response.adapters import Delivery, KafkaAdapter
from trustwatch.testing.kafka import create_topics


@pytest.mark.slow
def test_kafka_adapter_keys_by_target_with_the_action_id_header(kafka_broker) -> None:
    from confluent_kafka import Consumer

    servers = kafka_broker.bootstrap_servers
    create_topics(servers, ["actions"], 1)
    adapter = KafkaAdapter("topic", servers, "actions", timeout=10.0)
    action = make_action(7)
    adapter.send(Delivery(action.action_id, "apply", action, action.actor, "r"))
    adapter.close()

    consumer = Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": "response-test",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe(["actions"])
        deadline = time.monotonic() + 30
        message = None
        while message is None and time.monotonic() < deadline:
            message = consumer.poll(0.2)
    finally:
        consumer.close()
    assert message is not None and message.error() is None
    assert message.key() == b"acct-7"
    assert dict(message.headers() or [])["Idempotency-Key"] == action.action_id.encode()
    assert json.loads(message.value())["action_id"] == action.action_id
