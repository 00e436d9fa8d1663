"""Tests for trustwatch.events._inputs."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trustwatch.errors import ConfigError
from trustwatch.events._inputs import format_of_name, resolve_inputs
from trustwatch.events.model import Logout
from trustwatch.events.readers import read_events, write_events_jsonl

EVENT = Logout(event_id="e1", ts=datetime(2024, 5, 1, tzinfo=UTC))


def _write(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_events_jsonl([EVENT], path)
    return path


def _files(paths: list[str | Path]) -> list[Path]:
    return [path for path, _ in resolve_inputs(paths)]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("auth.log", "sshlog"),
        ("auth.log.1", "sshlog"),
        ("auth.log.2.gz", "sshlog"),
        ("auth.log-20240101", "sshlog"),
        ("auth.log-2024010112.gz", "sshlog"),
        ("secure", "sshlog"),
        ("secure-20240101", "sshlog"),
        ("messages", "sshlog"),
        ("messages.3", "sshlog"),
        ("syslog.1.gz", "sshlog"),
        ("events.jsonl.1", "jsonl"),
        ("events.ndjson-20240101.gz", "jsonl"),
        ("EVENTS.JSON", "jsonl"),
        ("part-0001.parquet", "parquet"),
    ],
)
def test_rotated_and_conventional_names_have_a_format(name: str, kind: str) -> None:
    assert format_of_name(name) == kind


@pytest.mark.parametrize(
    "name",
    ["notes.txt", "events.parquet.gz", "data.1", "v1.2", "secure.txt", "README"],
)
def test_other_names_have_no_format(name: str) -> None:
    assert format_of_name(name) is None


def test_a_file_named_in_many_spellings_is_read_once_by_its_real_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = _write(tmp_path / "data" / "a.jsonl")
    (tmp_path / "link.jsonl").symlink_to(real)
    monkeypatch.chdir(tmp_path / "data")
    spellings: list[str | Path] = [
        "a.jsonl",
        real,
        "../data/a.jsonl",
        "./a.jsonl",
        tmp_path / "link.jsonl",
    ]
    with caplog.at_level(logging.WARNING):
        assert resolve_inputs(spellings) == [(real.resolve(), "jsonl")]
    assert "4 inputs repeat a file already listed" in caplog.text  # said, not only
    assert list(read_events(spellings)) == [EVENT]


def test_a_glob_matching_folders_and_their_files_reads_each_file_once(
    tmp_path: Path,
) -> None:
    first = _write(tmp_path / "d" / "a.jsonl")
    second = _write(tmp_path / "d" / "sub" / "b.jsonl")
    pattern = str(tmp_path / "d" / "**" / "*")
    assert _files([pattern]) == [first, second]
    assert list(read_events([pattern, tmp_path / "d"])) == [EVENT, EVENT]


def test_a_glob_through_symlink_loops_reads_each_file_once(tmp_path: Path) -> None:
    first = _write(tmp_path / "d" / "a.jsonl")
    second = _write(tmp_path / "d" / "sub" / "b.jsonl")
    (tmp_path / "d" / "sub" / "up").symlink_to("..")
    assert _files([str(tmp_path / "d" / "**" / "*.jsonl")]) == [first, second]
    # A second loop: without a guard the walk would branch at every level.
    (tmp_path / "d" / "sub" / "again").symlink_to("..")
    for pattern in ("**/*.jsonl", "**/*", "**"):
        assert _files([str(tmp_path / "d" / pattern)]) == [first, second], pattern


def test_a_glob_still_follows_links_to_other_folders(tmp_path: Path) -> None:
    outside = _write(tmp_path / "elsewhere" / "x.jsonl")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "linked").symlink_to(tmp_path / "elsewhere")
    assert _files([str(tmp_path / "d" / "**" / "*.jsonl")]) == [outside]


def test_folders_do_not_enter_linked_folders_but_read_linked_files_once(
    tmp_path: Path,
) -> None:
    real = _write(tmp_path / "d" / "a.jsonl")
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    (tmp_path / "d" / "alias.jsonl").symlink_to(real)
    assert _files([tmp_path / "d"]) == [real]


def test_an_empty_path_is_refused_not_read_as_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "a.jsonl")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"empty.*unset shell variable"):
        read_events([""])
    with pytest.raises(ConfigError, match="empty"):
        resolve_inputs([tmp_path / "a.jsonl", ""])


def test_a_device_is_refused_saying_what_it_is() -> None:
    with pytest.raises(ConfigError, match="character device, not a regular file"):
        read_events(["/dev/null"])


def test_a_named_pipe_is_refused_saying_what_it_is(tmp_path: Path) -> None:
    pipe = tmp_path / "events.jsonl"
    os.mkfifo(pipe)
    with pytest.raises(ConfigError, match="named pipe, not a regular file"):
        read_events([pipe])


def test_broken_links_and_link_loops_are_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "broken.jsonl").symlink_to(tmp_path / "gone.jsonl")
    (tmp_path / "loop.jsonl").symlink_to(tmp_path / "loop.jsonl")
    with pytest.raises(ConfigError, match=r"link to .*gone\.jsonl"):
        read_events([tmp_path / "broken.jsonl"])
    with pytest.raises(ConfigError, match="symbolic links"):
        read_events([tmp_path / "loop.jsonl"])


def test_entries_of_a_folder_that_are_not_files_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = _write(tmp_path / "d" / "a.jsonl")
    (tmp_path / "d" / "broken.jsonl").symlink_to(tmp_path / "gone.jsonl")
    os.mkfifo(tmp_path / "d" / "pipe.jsonl")
    with caplog.at_level(logging.WARNING):
        assert _files([tmp_path / "d"]) == [good]
    (warning,) = [
        r.getMessage() for r in caplog.records if "skipped 2" in r.getMessage()
    ]
    assert "broken.jsonl" in warning and "pipe.jsonl" in warning
    # a name cannot forge a log line or send a terminal escape
    (tmp_path / "d" / "x\nERROR forged \x1b[31m").symlink_to(tmp_path / "gone")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        _files([tmp_path / "d"])
    (warning,) = [
        r.getMessage() for r in caplog.records if "skipped 3" in r.getMessage()
    ]
    assert "\n" not in warning and "\x1b" not in warning


def test_a_nul_byte_in_a_path_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a valid path"):
        read_events(["events\x00.jsonl"])


def test_a_folder_logs_how_many_files_it_skipped_without_naming_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path / "a.jsonl")
    (tmp_path / "alice-private.txt").write_text("x")
    (tmp_path / "notes.csv").write_text("x")
    (tmp_path / "_SUCCESS").write_text("")
    with caplog.at_level(logging.INFO, logger="trustwatch.events._inputs"):
        assert len(resolve_inputs([tmp_path])) == 1
    (record,) = [r for r in caplog.records if "skipped" in r.msg]
    message = record.getMessage()
    assert "skipped 2 files with no supported name and 1 entries" in message
    assert "alice" not in message and "notes" not in message
    assert record.levelno == logging.WARNING  # files that may hold events
    assert "supported names end in .jsonl" in message


def test_a_folder_with_only_hidden_entries_skipped_logs_at_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path / "a.jsonl")
    (tmp_path / "_SUCCESS").write_text("")
    with caplog.at_level(logging.INFO, logger="trustwatch.events._inputs"):
        assert len(resolve_inputs([tmp_path])) == 1
    (record,) = [r for r in caplog.records if "skipped" in r.msg]
    assert record.levelno == logging.INFO


def test_a_folder_with_nothing_skipped_logs_no_skip_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path / "a.jsonl")
    with caplog.at_level(logging.INFO, logger="trustwatch.events._inputs"):
        resolve_inputs([tmp_path])
    assert not [r for r in caplog.records if "skipped" in r.msg]


def test_a_folder_without_an_event_file_is_a_warning_with_the_names_hint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden.jsonl").write_text("")
    with caplog.at_level(logging.WARNING, logger="trustwatch.events._inputs"):
        assert resolve_inputs([tmp_path]) == []
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "holds no event file (1 files with other names, 1 entries" in (
        record.getMessage()
    )
    assert "supported names end in .jsonl" in record.getMessage()


def test_an_unsupported_name_hints_at_the_cli_option(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("a,b\n")
    with pytest.raises(ConfigError, match=r"--format jsonl.*format='jsonl'"):
        read_events([path])
    with pytest.raises(ConfigError, match=r"--format in the CLI"):
        read_events([tmp_path], format="xml")


def test_a_glob_matching_only_unsupported_files_is_a_config_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ConfigError, match="matches no readable event file"):
        read_events([str(tmp_path / "*")])
