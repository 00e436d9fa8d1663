"""Tests for trustwatch.events.readers."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


@pytest.mark.parametrize("column", ["user_agent", "account", "recipients"])
def test_parquet_rows_over_the_record_limit_are_dead_letters_like_long_lines(
    tmp_path: Path, column: str
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    huge = "X" * 3_000
    value: Any = [huge[:1_500], huge[:1_500]] if column == "recipients" else huge
    rows = [
        {"type": "logout", "event_id": "ok-1", "ts": 1595441285858},
        {"type": "logout", "event_id": "big", "ts": 1595441285858, column: value},
        {"type": "logout", "event_id": "ok-2", "ts": 1595441285858},
    ]
    kinds = {"user_agent": pa.string(), "account": pa.string()}
    kinds["recipients"] = pa.list_(pa.string())
    schema = pa.schema(
        [("type", pa.string()), ("event_id", pa.string()), ("ts", pa.int64()),
         (column, kinds[column])]
    )  # fmt: skip
    path = tmp_path / "big.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    items = list(read_events(path, decoder=EventDecoder(max_bytes=2_048)))
    assert [getattr(i, "event_id", None) for i in items[::2]] == ["ok-1", "ok-2"]
    letter = items[1]
    assert isinstance(letter, DeadLetter)
    assert (letter.location, letter.reason) == ("row 2", "too_large")
    assert "over the limit of 2,048 bytes" in letter.message
    assert len(letter.raw) < 200 and '"big"' in letter.raw
    # under the limit, the same rows are events
    assert all(
        not isinstance(i, DeadLetter)
        for i in read_events(path, decoder=EventDecoder(max_bytes=1 << 20))
    )


def test_parquet_text_over_the_limit_is_found_in_any_layout(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    huge = "X" * 3_000
    table = pa.table(
        {
            "type": ["logout", "logout", "logout"],
            "event_id": ["dict", "nested", "ok"],
            "ts": [1595441285858] * 3,
            # dictionary-encoded, and a list of lists: both count their text
            "user_agent": pa.array([huge, None, "ua"]).dictionary_encode(),
            "scopes": pa.array([None, [[huge]], None], pa.list_(pa.list_(pa.string()))),
        }
    )
    path = tmp_path / "layouts.parquet"
    pq.write_table(table, path)
    items = list(read_events(path, decoder=EventDecoder(max_bytes=2_048)))
    assert [getattr(i, "reason", None) for i in items[:2]] == ["too_large"] * 2
    assert all(len(i.raw) < 200 for i in items[:2])  # type: ignore[union-attr]


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


def test_syslog_times_without_a_zone_are_utc_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "auth.log").write_text(
        "Dec 10 07:13:43 LabSZ sshd[2]: Failed password for root from "
        "198.51.100.7 port 42393 ssh2\n"
    )
    with caplog.at_level("WARNING", logger="trustwatch.events.readers"):
        (utc,) = read_events([tmp_path / "auth.log"], sshlog_year=2015)
    assert utc.ts.isoformat() == "2015-12-10T07:13:43+00:00"  # type: ignore[union-attr]
    assert "auth.log: syslog times carry no zone" in caplog.text
    assert "--source-tz" in caplog.text

    caplog.clear()
    with caplog.at_level("WARNING", logger="trustwatch.events.readers"):
        (berlin,) = read_events(
            [tmp_path / "auth.log"], sshlog_year=2015, sshlog_tz="Europe/Berlin"
        )
    assert berlin.ts.isoformat() == "2015-12-10T06:13:43+00:00"  # type: ignore[union-attr]
    assert "carry no zone" not in caplog.text


def test_an_unreadable_file_is_a_dead_letter_not_a_crash(tmp_path: Path) -> None:
    paths = [tmp_path / "gone.jsonl", tmp_path / "gone.parquet"]
    write_events_jsonl(_events(), paths[0])
    write_events_parquet(_events(), paths[1])
    iterator = read_events(paths)
    for path in paths:
        path.unlink()
    items = list(iterator)
    assert [(i.reason, i.location) for i in items] == [  # type: ignore[union-attr]
        ("unreadable", "file"),
        ("unreadable", "file"),
    ]


def _logout_table(ts: Any, ids: list[str] | None = None) -> Any:
    import pyarrow as pa

    count = len(ts)
    return pa.table(
        {
            "type": ["logout"] * count,
            "event_id": ids or [f"e{i}" for i in range(count)],
            "ts": ts,
        }
    )


def test_nanosecond_parquet_timestamps_are_floored_to_microseconds(
    tmp_path: Path,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    nanos = [1595441285858123456, 1595441285858123999]
    pq.write_table(
        _logout_table(pa.array(nanos, pa.timestamp("ns", tz="UTC"))),
        tmp_path / "spark.parquet",
    )
    pq.write_table(
        _logout_table(pa.array(nanos, pa.timestamp("ns"))), tmp_path / "naive.parquet"
    )
    want = datetime(2020, 7, 22, 18, 8, 5, 858123, tzinfo=UTC)
    items = list(read_events(tmp_path / "spark.parquet"))
    assert [i.ts for i in items] == [want, want]  # type: ignore[union-attr]
    decoder = EventDecoder(source_tz="UTC")
    items = list(read_events(tmp_path / "naive.parquet", decoder=decoder))
    assert [i.ts for i in items] == [want, want]  # type: ignore[union-attr]


def test_parquet_values_python_cannot_hold_are_dead_letters_per_row(
    tmp_path: Path,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    micros = pa.array([1595441285858123, 2**62, 1595441285858124], pa.timestamp("us"))
    pq.write_table(_logout_table(micros), tmp_path / "a.parquet")
    not_utf8 = pa.array([b"a", b"\xff\xfe", b"c"], pa.binary()).view(pa.string())
    ts = pa.array([1595441285858123] * 3, pa.timestamp("us", tz="UTC"))
    pq.write_table(_logout_table(ts, ids=not_utf8), tmp_path / "b.parquet")
    decoder = EventDecoder(source_tz="UTC")
    items = list(read_events(sorted(tmp_path.iterdir()), decoder=decoder))
    assert [type(i) for i in items] == [Logout, DeadLetter, Logout] * 2
    letters = [i for i in items if isinstance(i, DeadLetter)]
    assert [(d.location, d.reason) for d in letters] == [
        ("row 2", "timestamp"),
        ("row 2", "schema"),
    ]
    assert "'event_id' (UnicodeDecodeError)" in letters[1].message


def test_files_that_are_not_event_parquet_are_one_dead_letter_each(
    tmp_path: Path,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "a-text.parquet").write_text("hello, not parquet")
    (tmp_path / "b-empty.parquet").write_bytes(b"")
    pq.write_table(pa.table({"a": list(range(1000))}), tmp_path / "c-other.parquet")
    write_events_jsonl(_events(1), tmp_path / "d-good.jsonl")
    items = list(read_events([tmp_path]))
    assert [(i.reason, i.location) for i in items[:3]] == [  # type: ignore[union-attr]
        ("unreadable", "file"),
        ("unreadable", "file"),
        ("unsupported_format", "file"),
    ]
    assert "no column 'type', 'event_id', 'ts'" in items[2].message  # type: ignore[union-attr]
    assert items[3:] == _events(1)


def test_damaged_parquet_files_never_raise(tmp_path: Path) -> None:
    import random

    good = tmp_path / "good.parquet"
    write_events_parquet(_events(300), good)
    data = good.read_bytes()
    rng = random.Random(0)
    for n in range(60):
        damaged = bytearray(data)
        if n % 3 == 0:
            damaged = damaged[: rng.randrange(len(damaged))]
        else:
            start = len(damaged) - 400 if n % 3 == 1 else 0
            for _ in range(4):
                damaged[rng.randrange(start, len(damaged))] = rng.randrange(256)
        path = tmp_path / f"damaged-{n}.parquet"
        path.write_bytes(bytes(damaged))
        items = list(read_events(path))
        assert all(isinstance(i, Login | DeadLetter) for i in items)


def test_an_unexpected_failure_ends_only_its_own_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import trustwatch.events.readers as readers

    write_events_parquet(_events(2), tmp_path / "a.parquet")
    write_events_jsonl(_events(2), tmp_path / "b.jsonl")

    def broken(path: Path, decoder: EventDecoder) -> Iterator[Event | DeadLetter]:
        yield _events(1)[0]
        raise RuntimeError("a bug")

    monkeypatch.setattr(readers, "_read_parquet", broken)
    items = list(read_events([tmp_path]))
    assert items[0] == _events(1)[0]
    assert isinstance(items[1], DeadLetter)
    assert (items[1].reason, items[1].location) == ("undecodable", "file")
    assert items[2:] == _events(2)
    assert "failed unexpectedly (RuntimeError)" in caplog.text


def test_dead_letter_ids_do_not_depend_on_how_the_path_is_spelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.jsonl").write_bytes(b"{oops\n")
    monkeypatch.chdir(folder)
    letters = [
        next(read_events([spelling]))
        for spelling in ("bad.jsonl", folder / "bad.jsonl", "../in/bad.jsonl", ".")
    ]
    assert {letter.source for letter in letters} == {  # type: ignore[union-attr]
        str((folder / "bad.jsonl").resolve())
    }
    assert len({letter.dead_letter_id for letter in letters}) == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        '[{"type": "logout", "event_id": "e", "ts": "2024-05-01T12:00:00Z"}]',
        '\n  [\n  {\n    "type": "logout"\n  },\n  {\n    "type": "logout"\n  }\n]\n',
    ],
)
def test_a_json_array_file_is_one_dead_letter(tmp_path: Path, text: str) -> None:
    path = tmp_path / "export.json"
    path.write_text(text * 50)
    with gzip.open(tmp_path / "export2.json.gz", "wt") as out:
        out.write(text)
    for source in (path, tmp_path / "export2.json.gz"):
        (letter,) = read_events(source)
        assert isinstance(letter, DeadLetter)
        assert (letter.reason, letter.location) == ("unsupported_format", "file")
        assert "JSON array" in letter.message and "jq -c '.[]'" in letter.message


def test_a_pretty_printed_json_object_is_one_dead_letter(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    record = {"type": "logout", "event_id": "e", "ts": "2024-05-01T12:00:00Z"}
    path.write_text((json.dumps(record, indent=2) + "\n") * 20)
    (letter,) = read_events(path)
    assert isinstance(letter, DeadLetter)
    assert (letter.reason, letter.location) == ("unsupported_format", "file")
    assert "jq -c ." in letter.message


def test_a_first_line_that_merely_starts_with_a_brace_is_read(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"{oops\n" + b"".join(_line(e) for e in _events(2)))
    items = list(read_events(path))
    assert [type(i) for i in items] == [DeadLetter, Login, Login]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_are_one_encoding_dead_letter(
    tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(_line(e) for e in _events(200)).decode().encode(encoding))
    log = tmp_path / "auth.log"
    log.write_bytes(
        "Dec 10 07:13:43 h sshd[2]: Failed password for root from 198.51.100.7 "
        "port 42393 ssh2\n".encode(encoding)
    )
    for source in (path, log):
        (letter,) = read_events(source, sshlog_year=2015)
        assert isinstance(letter, DeadLetter)
        assert (letter.reason, letter.location) == ("encoding", "file")
        assert "UTF-8" in letter.message and "iconv" in letter.message


def test_binary_data_under_a_text_name_is_one_dead_letter(tmp_path: Path) -> None:
    write_events_parquet(_events(), tmp_path / "events.parquet")
    (tmp_path / "events.parquet").rename(tmp_path / "events.jsonl")
    (letter,) = read_events(tmp_path / "events.jsonl")
    assert isinstance(letter, DeadLetter)
    assert letter.reason == "unsupported_format"
    assert "--format parquet" in letter.message


def test_gzip_is_recognised_by_its_content_not_its_name(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(gzip.compress(b"".join(_line(e) for e in _events())))
    assert list(read_events(path)) == _events()


def test_rotated_auth_logs_in_a_folder_are_read(tmp_path: Path) -> None:
    line = (
        "Dec 10 07:13:43 h sshd[2]: Failed password for root from 198.51.100.7 "
        "port 42393 ssh2\n"
    )
    (tmp_path / "auth.log.1").write_text(line)
    with gzip.open(tmp_path / "auth.log.2.gz", "wt") as out:
        out.write(line)
    (tmp_path / "secure-20240101").write_text(line)
    items = list(read_events([tmp_path], sshlog_year=2015))
    assert [type(i) for i in items] == [Login, Login, Login]


def test_bad_sshlog_settings_fail_before_reading(tmp_path: Path) -> None:
    write_events_jsonl(_events(), tmp_path / "e.jsonl")
    with pytest.raises(ConfigError, match="year 1 "):
        read_events([tmp_path], sshlog_year=1)
    with pytest.raises(ConfigError, match="Mars/Base"):
        read_events([tmp_path], sshlog_tz="Mars/Base")
