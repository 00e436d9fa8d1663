"""Tests for trustwatch.events.readers."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from trustwatch.errors import ConfigError
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.decode import EventDecoder
from trustwatch.events.model import Event, FileShared, Login, Logout, UrlPosted
from trustwatch.events.readers import (
    read_events,
    resolve_inputs,
    write_events_jsonl,
    write_events_parquet,
)

TS = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _events(n: int = 3) -> list[Event]:
    return [
        Login(
            event_id=f"l{i}",
            ts=TS,
            account=f"a{i}",
            success=bool(i % 2),
            ip="198.51.100.7",
        )
        for i in range(n)
    ]


def _line(event: Event) -> bytes:
    return msgspec.json.encode(event) + b"\n"


def test_jsonl_round_trip(tmp_path: Path) -> None:
    events = [
        *_events(),
        FileShared(event_id="f", ts=TS, file_id="x", recipients=("a@b.example",)),
        UrlPosted(event_id="u", ts=TS, url="https://a.example/", context="preview"),
        Logout(event_id="o", ts=TS),
    ]
    path = tmp_path / "events.jsonl"
    assert write_events_jsonl(events, path) == len(events)
    assert list(read_events([path])) == events


def test_gzip_jsonl_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson.gz"
    write_events_jsonl(_events(), path)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert list(read_events(path)) == _events()


def test_bad_lines_become_dead_letters_and_reading_goes_on(tmp_path: Path) -> None:
    good = _events(2)
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        _line(good[0])
        + b"{oops\n\n   \n"
        + b'{"type":"nope","event_id":"x"}\r\n'
        + _line(good[1])
    )
    items = list(read_events([path]))
    assert [type(i) for i in items] == [Login, DeadLetter, DeadLetter, Login]
    letters = [i for i in items if isinstance(i, DeadLetter)]
    assert [(d.location, d.reason) for d in letters] == [
        ("line 2", "malformed_json"),
        ("line 5", "unknown_type"),
    ]
    assert letters[0].raw == "{oops"
    assert letters[0].source == str(path)


def test_overlong_lines_are_dead_letters_without_being_held(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"x":"' + b"a" * 5000 + b'"}\n' + _line(_events(1)[0]))
    items = list(read_events(path, decoder=EventDecoder(max_bytes=1000)))
    assert isinstance(items[0], DeadLetter) and items[0].reason == "too_large"
    assert len(items[0].raw) <= 1002
    assert items[1] == _events(1)[0]


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + _line(_events(1)[0]))
    assert list(read_events(path)) == _events(1)


def test_truncated_gzip_yields_the_good_part_and_a_dead_letter(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    write_events_jsonl(_events(2000), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    items = list(read_events(path))
    assert isinstance(items[-1], DeadLetter) and items[-1].reason == "unreadable"
    assert items[-1].location.startswith("line ")
    assert all(isinstance(i, Login) for i in items[:-1])
    assert 0 < len(items) - 1 < 2000


def test_folders_are_read_recursively_in_sorted_order(tmp_path: Path) -> None:
    events = _events(4)
    (tmp_path / "b").mkdir()
    (tmp_path / "_tmp").mkdir()
    write_events_jsonl(events[2:], tmp_path / "b" / "c.jsonl")
    write_events_jsonl(events[:2], tmp_path / "a.jsonl")
    write_events_jsonl(_events(9), tmp_path / "_tmp" / "partial.jsonl")
    write_events_jsonl(_events(9), tmp_path / ".hidden.jsonl")
    (tmp_path / "notes.txt").write_text("not events")
    assert list(read_events([tmp_path])) == events


def test_globs_expand_in_sorted_order(tmp_path: Path) -> None:
    events = _events(2)
    write_events_jsonl(events[1:], tmp_path / "day2.jsonl")
    write_events_jsonl(events[:1], tmp_path / "day1.jsonl")
    assert list(read_events([str(tmp_path / "day*.jsonl")])) == events


@pytest.mark.parametrize("name", ["missing.jsonl", "nothing-*.jsonl"])
def test_missing_inputs_raise_config_error_before_reading(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(ConfigError, match=name.split("*")[0]):
        read_events([tmp_path / name])


def test_unsupported_suffix_and_format_raise_config_error(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("a,b\n")
    with pytest.raises(ConfigError, match="format="):
        read_events([path])
    with pytest.raises(ConfigError, match="unknown format"):
        read_events([tmp_path], format="xml")


def test_format_forces_a_reader(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    write_events_jsonl(_events(), path)
    assert list(read_events([path], format="jsonl")) == _events()
    assert resolve_inputs([path], format="jsonl") == [(path, "jsonl")]


def test_parquet_round_trip_with_every_kind_of_column(tmp_path: Path) -> None:
    events = [
        *_events(),
        FileShared(
            event_id="f", ts=TS, file_id="x", recipients=("a@b.example", "c@d.example")
        ),
        FileShared(event_id="g", ts=TS, file_id="y"),
        UrlPosted(event_id="u", ts=TS, url="https://a.example/", context="preview"),
        Logout(event_id="o", ts=datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)),
    ]
    path = tmp_path / "events.parquet"
    assert write_events_parquet(events, path) == len(events)
    assert list(read_events([path])) == events


def test_parquet_rows_that_fail_validation_are_dead_letters(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "type": ["logout", "logout", "mystery"],
            "event_id": ["a", None, "c"],
            "ts": [1595441285858, 1595441285858, 1595441285858],
        }
    )
    path = tmp_path / "foreign.parquet"
    pq.write_table(table, path)
    items = list(read_events(path))
    assert isinstance(items[0], Logout)
    assert items[0].ts == datetime(2020, 7, 22, 18, 8, 5, 858000, tzinfo=UTC)
    assert [(i.location, i.reason) for i in items[1:]] == [  # type: ignore[union-attr]
        ("row 2", "schema"),
        ("row 3", "unknown_type"),
    ]
    assert '"mystery"' in items[2].raw  # type: ignore[union-attr]


def test_a_corrupt_parquet_file_is_one_dead_letter(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    (letter,) = read_events(path)
    assert isinstance(letter, DeadLetter)
    assert (letter.reason, letter.location) == ("unreadable", "file")


def test_empty_inputs_write_and_read_nothing(tmp_path: Path) -> None:
    assert write_events_parquet([], tmp_path / "e.parquet") == 0
    assert write_events_jsonl([], tmp_path / "e.jsonl") == 0
    assert list(read_events([tmp_path])) == []


def test_writing_into_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="folder"):
        write_events_jsonl(_events(), tmp_path / "nope" / "e.jsonl")
    with pytest.raises(ConfigError, match="folder"):
        write_events_parquet(_events(), tmp_path / "nope" / "e.parquet")


def test_auth_logs_are_read_by_suffix_or_forced_format(tmp_path: Path) -> None:
    line = (
        "Dec 10 07:13:43 LabSZ sshd[2]: Failed password for root from 198.51.100.7 "
        "port 42393 ssh2\nnot syslog\n"
    )
    (tmp_path / "auth.log").write_text(line)
    with gzip.open(tmp_path / "secure.gz", "wt") as out:
        out.write(line)
    first = list(read_events([tmp_path / "auth.log"], sshlog_year=2015))
    forced = list(
        read_events([tmp_path / "secure.gz"], format="sshlog", sshlog_year=2015)
    )
    for items in (first, forced):
        assert [type(i) for i in items] == [Login, DeadLetter]
        assert items[0].ts.year == 2015  # type: ignore[union-attr]
        assert items[1].location == "line 2"  # type: ignore[union-attr]


def test_an_unreadable_file_is_a_dead_letter_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "gone.jsonl"
    write_events_jsonl(_events(), path)
    iterator = read_events([path, path])
    path.unlink()
    items = list(iterator)
    assert [(i.reason, i.location) for i in items] == [  # type: ignore[union-attr]
        ("unreadable", "file"),
        ("unreadable", "file"),
    ]
