from datetime import UTC, datetime

import msgspec
import pytest

from trustwatch.events.model import Login, UrlPosted
from trustwatch.runtime.embedded import load_intel, run_embedded
from trustwatch.storage.sqlite import SqliteStore
from trustwatch.testing import synthetic_events


@pytest.fixture
def event_file(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [msgspec.json.encode(e) for e in synthetic_events(900)]
    lines.insert(100, b'{"type":"login","event_id":"cut-short"')
    lines.insert(200, b'{"type":"logout","event_id":"a","event_id":"b","ts":1}')
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def intel_file(tmp_path):
    path = tmp_path / "intel.txt"
    path.write_text("# test feed\nhttp://198.51.100.7:8080/bin.sh\n198.51.100.66\n")
    return path


def test_run_stores_verdicts_actions_and_dead_letters(tmp_path, event_file, intel_file):
    with SqliteStore(tmp_path / "db.sqlite") as store:
        summary = run_embedded([event_file], store, intel=load_intel([intel_file]))
        counts = store.counts()
        letters = {d.reason for d in store.dead_letters()}
    assert summary.events == 900
    assert summary.dead_letters == 2
    assert letters == {"malformed_json", "duplicate_key"}
    assert summary.signal_kinds["intel_url"] > 0
    assert summary.signal_kinds["intel_ip"] > 0
    assert counts["verdicts"] == summary.verdicts > 0
    assert counts["actions"] == summary.new_actions > 0


def test_replaying_the_same_input_adds_nothing(tmp_path, event_file, intel_file):
    with SqliteStore(tmp_path / "db.sqlite") as store:
        first = run_embedded([event_file], store, intel=load_intel([intel_file]))
        before = store.counts()
        again = run_embedded([event_file], store, intel=load_intel([intel_file]))
        after = store.counts()
    assert first.new_verdicts > 0
    assert (again.new_verdicts, again.new_actions) == (0, 0)
    assert again.verdicts == first.verdicts
    assert before == after


def test_a_bad_line_does_not_stop_the_run(tmp_path):
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    good = Login(event_id="ok", ts=t0, success=True)
    url = UrlPosted(event_id="u", ts=t0, url="http://203.0.113.9/a.exe")
    path = tmp_path / "e.jsonl"
    path.write_bytes(
        b"not json\n"
        + msgspec.json.encode(good)
        + b"\n"
        + msgspec.json.encode(url)
        + b"\n"
    )
    with SqliteStore(tmp_path / "db.sqlite") as store:
        summary = run_embedded([path], store)
    assert (summary.events, summary.dead_letters) == (2, 1)
    assert summary.signal_kinds["risky_url"] == 1


def _failed_logins(n: int) -> list[bytes]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        msgspec.json.encode(
            Login(
                event_id=f"fail-{i}",
                ts=t0.replace(second=i),
                account="victim",
                ip="203.0.113.9",
                success=False,
            )
        )
        for i in range(n)
    ]


def test_a_repeated_line_is_skipped_not_counted_again(tmp_path):
    lines = _failed_logins(6)
    once, thrice = tmp_path / "once.jsonl", tmp_path / "thrice.jsonl"
    once.write_bytes(b"\n".join(lines) + b"\n")
    thrice.write_bytes(b"\n".join(line for line in lines for _ in range(3)) + b"\n")
    with SqliteStore(tmp_path / "a.sqlite") as store:
        single = run_embedded([once], store)
    with SqliteStore(tmp_path / "b.sqlite") as store:
        repeated = run_embedded([thrice], store)
    assert (repeated.events, repeated.repeats) == (6, 12)
    assert repeated.signal_kinds == single.signal_kinds
    assert repeated.decisions == single.decisions


def test_a_file_given_twice_is_decided_once(tmp_path, event_file):
    copy = tmp_path / "sub" / "copy.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(event_file.read_bytes())
    with SqliteStore(tmp_path / "a.sqlite") as store:
        single = run_embedded([event_file], store)
        counts = store.counts()
    with SqliteStore(tmp_path / "b.sqlite") as store:
        twice = run_embedded([event_file, copy.parent], store)
        assert store.counts()["verdicts"] == counts["verdicts"]
    assert (twice.events, twice.repeats) == (900, 900)
    assert twice.verdicts == single.verdicts
    # the unreadable lines are dead letters each time they are read
    assert twice.dead_letters == 2 * single.dead_letters


def test_a_resumed_run_skips_the_events_the_last_one_read(tmp_path):
    lines = _failed_logins(8)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"\n".join(lines[:5]) + b"\n")
    second.write_bytes(b"\n".join(lines) + b"\n")  # overlaps the first
    with SqliteStore(tmp_path / "db.sqlite") as store:
        run_embedded([first], store, resume=True)
        resumed = run_embedded([second], store, resume=True)
    assert (resumed.events, resumed.repeats) == (3, 5)
