"""`trustwatch stream` from the command line: settings, metrics, errors."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from stream_rig import EVENTS, FAST_GROUP, StreamRig, write_events

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(rig: StreamRig, **more: str) -> Path:
    lines = [
        f'bootstrap-servers = "{rig.servers}"',
        f'topic = ["{EVENTS}"]',
        'group = "tw-cli"',
        'worker-id = "cli-1"',
        f'state-store = "{rig.tmp / "state.sqlite"}"',
        "no-geo = true",
        "exit-when-idle = 3.0",
        *(f"{k} = {v}" for k, v in more.items()),
        "[kafka]",
        *(f'"{k}" = "{v}"' for k, v in FAST_GROUP.items()),
    ]
    path = rig.tmp / "stream.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_a_config_file_runs_the_worker_and_metrics_are_served(
    stream_rig: StreamRig,
) -> None:
    events = write_events(stream_rig.tmp / "events.jsonl", accounts=400, seed=31)
    status = main(
        [
            "publish",
            str(stream_rig.tmp / "events.jsonl"),
            "--topic",
            EVENTS,
            "--bootstrap-servers",
            stream_rig.servers,
        ]
    )
    assert status == 0
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTWATCH_")}
    env["TRUSTWATCH_METRICS_ADDRESS"] = f"127.0.0.1:{port}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trustwatch",
            "--log-format",
            "json",
            "-v",
            "stream",
            "--config",
            str(_config(stream_rig)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    scraped = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and worker.poll() is None:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/metrics", timeout=5
            ) as r:
                scraped = r.read().decode()
        except OSError:
            time.sleep(0.2)
            continue
        if _metric(scraped, f'trustwatch_events_in_total{{topic="{EVENTS}"}}') > 0:
            break
        time.sleep(0.2)
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err.decode()
    assert _metric(scraped, f'trustwatch_events_in_total{{topic="{EVENTS}"}}') > 0
    assert "trustwatch_assigned_partitions" in scraped
    assert re.search(rf"events\s+│\s+{events:,}\s", out.decode())
    first_log = err.decode().splitlines()[0]
    assert first_log.startswith('{"ts":') and '"logger":' in first_log


def test_a_single_topic_may_be_written_without_a_list(
    stream_rig: StreamRig, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(stream_rig)
    text = config.read_text().replace(f'topic = ["{EVENTS}"]', 'topic = "nowhere"')
    config.write_text(text)
    status = main(["stream", "--config", str(config)])
    assert status == ExitCode.BAD_CONFIG
    assert "'nowhere' does not exist" in capsys.readouterr().err


def test_a_missing_topic_is_a_configuration_error(
    stream_rig: StreamRig, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(stream_rig)
    status = main(["stream", "--config", str(config), "--topic", "nowhere"])
    assert status == ExitCode.BAD_CONFIG
    assert "'nowhere' does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ('colour = "blue"\n', [], "has no option for"),
        ('kafka-config = ["sasl.password=SECRET"]\n', [], "in the [kafka] table"),
        ("", ["--bootstrap-servers", "kafka-1:99999"], "no port from 1 to 65535"),
        ('[kafka]\n"enable.auto.commit" = "true"\n', [], "set by the worker"),
        ("", ["--kafka-config", "sasl.passwordSECRET"], "is not KEY=VALUE"),
        ("", ["--kafka-config", "sasl.password:SECRET"], "is not KEY=VALUE"),
        (
            "",
            ["--kafka-config", "session.timeout.ms=SECRET"],
            "refused its setting 'session.timeout.ms'",
        ),
        ("", ["--kafka-config", "foo.bar=SECRET"], "has no setting 'foo.bar'"),
        (
            "",
            ["--kafka-config", "security.protocol=SECRET"],
            "refused its setting 'security.protocol'",
        ),
        ("", ["--metrics-address", "localhost"], "is not HOST:PORT"),
        (
            "",
            ["--metrics-address", "127.0.0.1:\u0663\u0663\u0663\u0663"],
            "is not HOST:PORT",
        ),
        ("", ["--metrics-address", "http://127.0.0.1:9464"], "is not HOST:PORT"),
        ("", ["--metrics-address", " 127.0.0.1:9464"], "is not HOST:PORT"),
        ("", ["--metrics-address", "::1"], "is not HOST:PORT"),
        (
            "",
            ["--metrics-address", "2001:db8::1:9464"],
            "(an IPv6 address in brackets)",
        ),
        ("enforce = false\nreset-state = true\n", [], "'reset-state', which changes"),
        (
            "",
            ["--bootstrap-servers", "kafka-1:\u0669\u0660\u0669\u0662"],
            "not HOST:PORT",
        ),
        ("enforce = true\n", [], "changes what is acted on"),
        ("reset-state = true\n", [], "changes what is acted on"),
        ("", ["--format", "parquet"], "does not apply to a stream"),
        ("full-collection-interval = -5\n", [], "not in the range x>=0"),
    ],
)
def test_bad_settings_are_refused_before_connecting(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    args: list[str],
    message: str,
) -> None:
    config = tmp_path / "stream.toml"
    config.write_text(text)
    status = main(
        [
            "stream",
            "--config",
            str(config),
            "--topic",
            EVENTS,
            "--bootstrap-servers",
            "127.0.0.1:9",  # nothing listens: the error must come first
            "--no-geo",
            "--state-store",
            str(tmp_path / "state.sqlite"),
            *args,
        ]
    )
    assert status in {ExitCode.BAD_INPUT, ExitCode.BAD_CONFIG}
    err = capsys.readouterr().err
    assert message in err
    assert "SECRET" not in err  # a mistyped setting may hold a credential


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("[::1]:9464", ("::1", 9464)),
        ("metrics-1.internal:9464", ("metrics-1.internal", 9464)),
    ],
)
def test_metrics_addresses_of_every_form_are_read(
    text: str, address: tuple[str, int]
) -> None:
    from trustwatch.cli.stream import _address

    assert _address(text) == address
