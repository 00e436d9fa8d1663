"""The Kafka client's text reaches output with setting names, never values."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.runtime.stream import StreamSettings
from trustwatch.runtime.stream import worker as worker_module
from trustwatch.runtime.stream.clienttext import HIDDEN, ClientText
from trustwatch.runtime.stream.worker import StreamError, StreamWorker
from trustwatch.storage.sqlite import SqliteStore

SECRET = "KafkaSecretXYZ"
#: Nothing listens on the discard port of loopback.
NOWHERE = "127.0.0.1:9"
EVENT = (
    '{"type":"login","event_id":"a","ts":"2026-01-01T00:00:00Z","account":"x",'
    '"username":"x","ip":"192.0.2.1","success":true}\n'
)


def _refusal(config: dict[str, str]) -> Exception:
    from confluent_kafka import Producer

    try:
        Producer({**config, "bootstrap.servers": NOWHERE})
    except Exception as exc:
        return exc
    raise AssertionError(f"the Kafka client took {sorted(config)}")


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"security.protocol": SECRET}, ["security.protocol"]),
        ({"foo.bar": SECRET}, ["foo.bar"]),
        ({"session.timeout.ms": SECRET}, ["session.timeout.ms"]),
        ({"session.timeout.ms": "99999999999"}, ["session.timeout.ms"]),
        (
            {"enable.ssl.certificate.verification": SECRET},
            ["enable.ssl.certificate.verification"],
        ),
        (
            {"ssl.keystore.location": f"/nonexistent/{SECRET}"},
            ["ssl.keystore.password", "ssl.keystore.location"],
        ),
        (
            {"security.protocol": "SSL", "ssl.ca.location": f"/nonexistent/{SECRET}"},
            ["ssl.ca.location"],
        ),
        (
            {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "GSSAPI"},
            ["sasl.mechanisms"],
        ),
    ],
)
def test_a_refused_setting_is_named_and_its_value_is_not_repeated(
    config: dict[str, str], named: list[str]
) -> None:
    text = ClientText(config)
    refused = _refusal(config)
    assert text.named(str(refused)) == named
    message = str(text.refused(refused))
    for name in named:
        assert repr(name) in message
    for value in config.values():
        if len(value) >= 4:
            assert value not in message
            assert value not in text(str(refused))


def test_the_client_s_warnings_hide_a_setting_s_value() -> None:
    text = ClientText({"sasl.mechanisms": SECRET, "acks": "all"})
    line = (
        "[thrd:app]: Configuration property `sasl.mechanism` set to "
        f"`{SECRET}` but `security.protocol` is not configured for SASL"
    )
    hidden = text(line)
    assert SECRET not in hidden
    assert f"`sasl.mechanism` set to {HIDDEN}" in hidden
    # a given value is hidden wherever it stands, short ones are left alone
    assert text(f"auth failed for {SECRET}: all brokers down") == (
        f"auth failed for {HIDDEN}: all brokers down"
    )


def test_publish_names_a_refused_setting_without_its_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text(EVENT)
    status = main(
        [
            "publish",
            str(events),
            "--topic",
            "t",
            "--bootstrap-servers",
            NOWHERE,
            "--kafka-config",
            f"security.protocol={SECRET}",
        ]
    )
    err = capsys.readouterr().err
    assert status == ExitCode.BAD_CONFIG
    assert "refused its setting 'security.protocol'" in err
    assert SECRET not in err


def test_publish_forwards_the_client_s_log_without_setting_values(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text(EVENT)
    with caplog.at_level(logging.DEBUG, logger="trustwatch"):
        status = main(
            [
                "publish",
                str(events),
                "--topic",
                "t",
                "--bootstrap-servers",
                NOWHERE,
                "--delivery-timeout",
                "1",
                "--kafka-config",
                f"sasl.mechanisms={SECRET}",
            ]
        )
    assert status == ExitCode.DEPENDENCY_FAILED
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "CONFWARN" in logged  # librdkafka warned about the mechanism
    assert SECRET not in logged
    assert SECRET not in capsys.readouterr().err


def _settings(tmp_path: Path, **kafka: str) -> StreamSettings:
    return StreamSettings(
        bootstrap_servers=NOWHERE,
        topics=("events",),
        group="g",
        worker_id="w1",
        kafka_config=kafka,
    )


class _RecordingClient:
    """Stands for a Kafka client: keeps its settings, starts nothing."""

    configs: ClassVar[list[dict[str, object]]] = []

    def __init__(self, config: dict[str, object]) -> None:
        self.configs.append(config)

    def init_transactions(self, timeout: float) -> None:
        raise RuntimeError("no broker in this test")


class _FatalError:
    """Stands for a fatal KafkaError whose text repeats a value."""

    def fatal(self) -> bool:
        return True

    def code(self) -> int:
        return -1

    def str(self) -> str:
        return f"SASL authentication failed: mechanism {SECRET}"


def test_the_worker_forwards_the_client_s_text_without_setting_values(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import confluent_kafka

    monkeypatch.setattr(_RecordingClient, "configs", [])
    monkeypatch.setattr(confluent_kafka, "Consumer", _RecordingClient)
    monkeypatch.setattr(confluent_kafka, "Producer", _RecordingClient)
    settings = _settings(tmp_path, **{"sasl.mechanisms": SECRET})
    with (
        caplog.at_level(logging.DEBUG, logger="trustwatch"),
        SqliteStore(tmp_path / "s.sqlite") as store,
    ):
        worker = StreamWorker(settings, lambda: None, store)  # type: ignore[arg-type,return-value]
        with pytest.raises(StreamError):
            worker._connect()
        assert len(_RecordingClient.configs) == 2  # the consumer and the producer
        for config in _RecordingClient.configs:
            # as librdkafka's log callback calls it
            config["logger"].log(  # type: ignore[attr-defined]
                logging.WARNING,
                "%s [%s] %s",
                "CONFWARN",
                "rdkafka#producer-1",
                f"Configuration property `sasl.mechanism` set to `{SECRET}` but "
                "`security.protocol` is not configured for SASL",
            )
            config["error_cb"](_FatalError())  # type: ignore[operator]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged.count("CONFWARN") == 2
    assert SECRET not in logged
    assert worker._fatal and not any(SECRET in said for said in worker._fatal)


def test_a_broker_silent_at_start_up_is_not_blamed_on_the_transaction_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "_CLIENT_TIMEOUT", 1.0)
    settings = _settings(tmp_path, **{"transaction.timeout.ms": "5000"})
    with SqliteStore(tmp_path / "s.sqlite") as store:
        worker = StreamWorker(settings, lambda: None, store)  # type: ignore[arg-type,return-value]
        with pytest.raises(StreamError) as raised:
            worker._connect()
    message = str(raised.value)
    assert "while starting transactions" in message
    assert "nothing has been read yet" in message
    assert "transaction.timeout.ms" not in message
    assert "not committed" not in message
    assert "fixed at 1 s" in message


def test_a_fatal_client_error_names_a_second_worker_with_the_same_id(
    tmp_path: Path,
) -> None:
    with SqliteStore(tmp_path / "s.sqlite") as store:
        worker = StreamWorker(_settings(tmp_path), lambda: None, store)  # type: ignore[arg-type,return-value]
        worker._fatal.append("Producer fenced by newer instance")
        message = str(worker._client_stopped())
    assert message.startswith("the Kafka client stopped: Producer fenced")
    assert "another worker may run with the same --worker-id" in message
