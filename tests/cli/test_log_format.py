"""Logs as JSON lines: one object per record, failures with their traceback,
and the lines the commands print themselves."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.stream_args import stream_args

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.logs import JsonFormatter, configure_logging
from trustwatch.cli.main import main
from trustwatch.storage.sqlite import SqliteStore


def _record(exc_info=None, stack_info=None) -> logging.LogRecord:
    return logging.LogRecord(
        "trustwatch.api",
        logging.ERROR,
        __file__,
        1,
        "request failed: %s",
        ("x",),
        exc_info,
        sinfo=stack_info,
    )


def test_a_json_line_keeps_the_traceback_of_a_failure() -> None:
    try:
        raise RuntimeError("the store went away")
    except RuntimeError:
        import sys

        line = JsonFormatter().format(_record(sys.exc_info()))
    entry = json.loads(line)
    assert entry["message"] == "request failed: x"
    assert entry["error"] == "RuntimeError"
    assert entry["traceback"].startswith("Traceback (most recent call last)")
    assert "the store went away" in entry["traceback"]
    assert "\n" not in line


def test_a_json_line_without_a_failure_has_no_traceback() -> None:
    entry = json.loads(JsonFormatter().format(_record()))
    assert "traceback" not in entry and "error" not in entry
    stacked = json.loads(JsonFormatter().format(_record(stack_info="Stack (most…)")))
    assert stacked["stack"] == "Stack (most…)"


@pytest.fixture
def json_state() -> Iterator[None]:
    """Put the log format back after the test (main sets it for the process)."""
    yield
    configure_logging(logging.WARNING, "text")


def _json_lines(err: str) -> list[dict[str, object]]:
    lines = err.splitlines()
    assert lines, "nothing was written to standard error"
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a line on standard error is not JSON: {line!r}")
    for entry in entries:
        assert {"ts", "level", "logger", "message"} <= entry.keys()
    return entries


@pytest.mark.usefixtures("json_state")
def test_with_json_logs_the_final_error_of_a_command_is_a_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["--log-format", "json", *stream_args(tmp_path, "--format", "parquet")]
    )
    assert status == ExitCode.BAD_CONFIG
    (entry,) = _json_lines(capsys.readouterr().err)
    assert entry["level"] == "error"
    assert entry["logger"] == "trustwatch.cli"
    assert str(entry["message"]).startswith("--format parquet does not apply")


@pytest.mark.usefixtures("json_state")
def test_with_json_logs_a_refused_option_is_a_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["--log-format", "json", *stream_args(tmp_path, "--batch-wait", "x")])
    assert status == ExitCode.BAD_INPUT
    (entry,) = _json_lines(capsys.readouterr().err)
    assert entry["level"] == "error"
    assert "Invalid value for '--batch-wait'" in str(entry["message"])
    assert "stream --help`" in str(entry["message"])


@pytest.mark.usefixtures("json_state")
def test_with_json_logs_an_unknown_option_reads_as_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["--log-format", "json", *stream_args(tmp_path, "--bogus")])
    assert status == ExitCode.BAD_INPUT
    (entry,) = _json_lines(capsys.readouterr().err)
    assert "No such option '--bogus'; hint: see" in str(entry["message"])


@pytest.mark.usefixtures("json_state")
def test_with_json_logs_the_warnings_a_command_prints_are_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    db = tmp_path / "store.sqlite"
    status = main(
        ["--log-format", "json", "run", str(empty), "--no-geo", "--db", str(db)]
    )
    assert status == ExitCode.OK
    entries = _json_lines(capsys.readouterr().err)
    warnings = [e for e in entries if e["level"] == "warning"]
    assert any(str(e["message"]).startswith("no events were read") for e in warnings)


@pytest.mark.usefixtures("json_state")
def test_with_text_logs_the_final_error_stays_a_plain_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(stream_args(tmp_path, "--format", "parquet"))
    assert status == ExitCode.BAD_CONFIG
    assert capsys.readouterr().err.startswith("error: --format parquet does not apply")


@pytest.mark.usefixtures("json_state")
def test_with_json_logs_no_progress_is_drawn_on_a_terminal() -> None:
    from trustwatch.cli.render import error_console

    console = error_console()
    console._force_terminal = True  # as on a terminal
    assert console.is_terminal
    configure_logging(logging.WARNING, "json")
    assert not console.is_terminal


@pytest.mark.usefixtures("json_state")
def test_with_json_logs_the_dispatch_pass_report_is_a_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from trustwatch.response.dispatch import Dispatcher

    def one_pass(self: Dispatcher, *, on_pass: Any, **_: Any) -> None:
        on_pass(self.run_once())

    monkeypatch.setattr(Dispatcher, "run_forever", one_pass)
    config = tmp_path / "response.toml"
    config.write_text(
        f'[adapters.audit]\nkind = "log"\npath = "{tmp_path / "sent.jsonl"}"\n\n'
        '[routes]\ndefault = "audit"\n'
    )
    db = tmp_path / "store.sqlite"
    SqliteStore(db).close()
    args = ["dispatch", "--config", str(config), "--db", str(db)]

    assert main(["--log-format", "json", *args]) == ExitCode.OK

    entries = _json_lines(capsys.readouterr().err)
    assert any(str(e["message"]).startswith("dispatch pass: ") for e in entries)
