"""Events read from standard input, named ``-``."""

from __future__ import annotations

import gzip
import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from trustwatch.cli.main import cli
from trustwatch.errors import ConfigError
from trustwatch.evaluation.backtest import history_events
from trustwatch.events._files import STDIN
from trustwatch.events._inputs import resolve_inputs
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.model import Login, Logout
from trustwatch.events.readers import read_events
from trustwatch.storage.sqlite import SqliteStore

EVENTS = [
    Logout(event_id=f"e{i}", ts=datetime(2024, 5, 1, 0, i, tzinfo=UTC), account="a1")
    for i in range(3)
]
LINES = b"".join(msgspec.json.encode(e) + b"\n" for e in EVENTS) + b"{not json\n"
AUTH_LOG = (
    b"Mar  3 10:00:01 host sshd[42]: Failed password for root from 203.0.113.9 "
    b"port 50000 ssh2\n"
)


class _Stdin:
    """Stands in for ``sys.stdin``: text on top, bytes in ``buffer``."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BufferedReader(io.BytesIO(data))

    def isatty(self) -> bool:
        return False


def _feed(monkeypatch: pytest.MonkeyPatch, data: bytes) -> _Stdin:
    stdin = _Stdin(data)
    monkeypatch.setattr(sys, "stdin", stdin)
    return stdin


def test_a_dash_is_standard_input_read_as_json_lines_once() -> None:
    assert resolve_inputs(["-", "-"]) == [(STDIN, "jsonl")]
    assert resolve_inputs(["-"], format="sshlog") == [(STDIN, "sshlog")]


def test_a_file_named_dash_is_reached_through_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "-").write_bytes(LINES)
    monkeypatch.chdir(tmp_path)
    found = resolve_inputs(["./-"], format="jsonl")
    assert found == [(tmp_path / "-", "jsonl")]


def test_a_file_named_like_the_stdin_mark_is_read_as_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "<stdin>").write_bytes(LINES)
    monkeypatch.chdir(tmp_path)
    _feed(monkeypatch, b"")  # standard input holds nothing
    items = list(read_events("./<stdin>", format="jsonl"))
    assert len([i for i in items if not isinstance(i, DeadLetter)]) == 3


def test_parquet_from_standard_input_is_refused_before_reading() -> None:
    with pytest.raises(ConfigError, match="standard input"):
        resolve_inputs(["-"], format="parquet")


@pytest.mark.parametrize("compress", [False, True])
def test_events_and_dead_letters_come_from_standard_input(
    monkeypatch: pytest.MonkeyPatch, compress: bool
) -> None:
    stdin = _feed(monkeypatch, gzip.compress(LINES) if compress else LINES)
    items = list(read_events("-"))
    assert [i.event_id for i in items if not isinstance(i, DeadLetter)] == [
        "e0",
        "e1",
        "e2",
    ]
    letters = [i for i in items if isinstance(i, DeadLetter)]
    assert [(d.source, d.location) for d in letters] == [("<stdin>", "line 4")]
    assert not stdin.buffer.closed  # the process's stdin stays usable


def test_syslog_lines_come_from_standard_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _feed(monkeypatch, AUTH_LOG)
    items = list(read_events("-", format="sshlog", sshlog_year=2024))
    assert len(items) == 1 and isinstance(items[0], Login)
    assert items[0].ip == "203.0.113.9" and items[0].success is False


def test_backtest_history_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _feed(monkeypatch, LINES)
    events = [i for i in history_events(["-"]) if not isinstance(i, DeadLetter)]
    assert len(events) == 3


def test_run_reads_events_piped_in(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    result = CliRunner().invoke(cli, ["run", "-", "--db", str(db)], input=LINES)
    assert result.exit_code == 0, result.output
    with SqliteStore(db) as store:
        letters = store.dead_letters()
    assert [d.source for d in letters] == ["<stdin>"]
    assert "3" in next(line for line in result.output.splitlines() if "events " in line)


@pytest.mark.parametrize(
    "line",
    [
        AUTH_LOG,
        b"2024-03-03T10:00:01.123456+00:00 host sshd-session[42]: Accepted "
        b"publickey for bob from 203.0.113.9 port 50000 ssh2\n",
    ],
)
def test_an_ssh_log_read_as_json_says_how_to_read_it(
    monkeypatch: pytest.MonkeyPatch, line: bytes
) -> None:
    _feed(monkeypatch, line + b"{not json\n")
    letters = list(read_events("-"))
    assert [d.reason for d in letters if isinstance(d, DeadLetter)] == [
        "malformed_json",
        "malformed_json",
    ]
    assert "--format sshlog" in letters[0].message  # type: ignore[union-attr]
    assert "sshlog" not in letters[1].message  # type: ignore[union-attr]


def test_run_says_how_to_read_an_ssh_log_piped_in_as_json(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    with SqliteStore(db) as store:  # an earlier run's letter is not this run's
        store.write_dead_letters([DeadLetter.build("old", "line 1", "schema", "x", "")])
    result = CliRunner().invoke(cli, ["run", "-", "--db", str(db)], input=AUTH_LOG)
    message = str(result.exception)  # main() turns it into exit status 2
    assert message.startswith("no record could be read; hint: an SSH log line")
    assert "--format sshlog" in message
