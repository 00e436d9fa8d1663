"""Logs as JSON lines: one object per record, failures with their traceback."""

from __future__ import annotations

import json
import logging

from trustwatch.cli.logs import JsonFormatter


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
