"""``trustwatch publish`` refuses settings it owns, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from trustwatch.cli import publish as publish_module
from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.testing import synthetic_events
from trustwatch.testing.broker import LocalBroker
from trustwatch.testing.kafka import create_topics, read_topic


def _events_file(path: Path, n: int) -> Path:
    path.write_bytes(
        b"".join(msgspec.json.encode(e) + b"\n" for e in synthetic_events(n))
    )
    return path


@pytest.mark.parametrize(
    "setting",
    [
        "enable.idempotence=false",
        "transactional.id=mine",
        "message.timeout.ms=5",
        "delivery.timeout.ms=5",
        "bootstrap.servers=elsewhere:9092",
    ],
)
def test_publish_refuses_the_settings_it_owns(
    tmp_path: Path, setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _events_file(tmp_path / "events.jsonl", 5)
    args = ["publish", str(path), "--topic", "t", "--bootstrap-servers", "127.0.0.1:9"]

    status = main([*args, "--kafka-config", setting])

    name, _, value = setting.partition("=")
    err = capsys.readouterr().err
    assert status == ExitCode.BAD_CONFIG
    assert f"'{name}' is set by trustwatch publish itself" in err
    assert value not in err  # a value may be a secret


def test_an_interrupt_outside_a_command_s_own_handling_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(publish_module, "check_owned_settings", interrupted)
    path = _events_file(tmp_path / "events.jsonl", 5)
    args = ["publish", str(path), "--topic", "t", "--bootstrap-servers", "127.0.0.1:9"]

    status = main(args)

    assert status == ExitCode.INTERRUPTED
    assert int(ExitCode.INTERRUPTED) == 130  # 128 + SIGINT, as shells report it
    assert "interrupted" in capsys.readouterr().err


def _high_watermark(servers: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    probe = Consumer({"bootstrap.servers": servers, "group.id": "probe"})
    try:
        _, high = probe.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        probe.close()
    return int(high)


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_during_a_paced_publish_reports_what_was_delivered(
    tmp_path: Path, kafka_broker: LocalBroker
) -> None:
    servers = kafka_broker.bootstrap_servers
    create_topics(servers, ["paced"], 1)
    total = 2000  # ten seconds at the rate: still running when interrupted
    path = _events_file(tmp_path / "events.jsonl", total)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTWATCH_")}
    publisher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trustwatch",
            "publish",
            str(path),
            "--topic",
            "paced",
            "--bootstrap-servers",
            servers,
            "--rate",
            "200",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # a suite started in the background inherits SIGINT ignored, and so
        # would the publisher: give it Ctrl-C back, as a terminal would
        preexec_fn=_sigint_default,
    )
    deadline = time.monotonic() + 30
    while _high_watermark(servers, "paced") <= 0:
        assert publisher.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)

    publisher.send_signal(signal.SIGINT)
    out, err = publisher.communicate(timeout=20)

    text = err.decode()
    assert publisher.returncode == ExitCode.INTERRUPTED, text
    found = re.search(r"([\d,]+) events delivered, 0 failed, 0 sent but not", text)
    assert found is not None, text
    delivered = int(found.group(1).replace(",", ""))
    assert 0 < delivered < total
    assert f"published {delivered:,} of {delivered:,} events" in out.decode()
    # every event reported delivered is in the topic, and no other
    assert len(read_topic(servers, "paced", committed_only=False)) == delivered
