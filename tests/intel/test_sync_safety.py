"""``sync_feeds`` under hostile or careless conditions: nothing lost, nothing leaked."""

from __future__ import annotations

import gzip
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from trustwatch.cli.logs import configure_logging
from trustwatch.errors import StorageError
from trustwatch.intel.feedlist import FeedList, parse_feed_list
from trustwatch.intel.sync import (
    FeedFetcher,
    IntelDatabase,
    SyncReport,
    sync_feeds,
    sync_lock,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LIST = b"a.example\nb.example\n"

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[IntelDatabase]:
    with IntelDatabase(tmp_path / "intel.sqlite") as database:
        yield database


class Clock:
    """A monotonic clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def _fetcher(
    handler: Handler, environ: dict[str, str] | None = None, clock: Clock | None = None
) -> FeedFetcher:
    return FeedFetcher(
        sleep=lambda _: None,
        random=lambda: 0.5,
        transport=httpx.MockTransport(handler),
        environ=environ or {},
        clock=clock or Clock(),
    )


def _feed(name: str, url: str, extra: str = "") -> str:
    return f'[[feeds]]\nname = "{name}"\nurl = "{url}"\nretries = 0\n{extra}'


def _sync(
    text: str, db: IntelDatabase, handler: Handler, at: datetime = T0, **kwargs: object
) -> SyncReport:
    feeds: FeedList = parse_feed_list(text)
    fetcher = kwargs.pop("fetcher", None) or _fetcher(handler)
    return sync_feeds(feeds, db, now=at, fetcher=fetcher, **kwargs)  # type: ignore[arg-type]


class Server:
    """Answers with a body and an ETag, and 304 when the ETag is sent back."""

    def __init__(self, body: bytes = LIST) -> None:
        self.body = body
        self.etag = '"v1"'
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.headers.get("if-none-match") == self.etag:
            return httpx.Response(304)
        return httpx.Response(200, content=self.body, headers={"ETag": self.etag})


# --- 1. a 304 confirms the list -------------------------------------------------------


def test_not_modified_renews_the_default_expiry(db: IntelDatabase) -> None:
    server = Server()
    text = _feed("p", "https://f.example/p.txt", 'every = "1h"\nexpires = "3h"\n')
    assert _sync(text, db, server).get("p").added == 2
    later = T0 + timedelta(hours=2, minutes=30)
    report = _sync(text, db, server, later).get("p")
    assert (report.status, report.expired, report.total) == ("not_modified", 0, 2)
    # without the renewal both records would expire at T0 + 3h
    at = T0 + timedelta(hours=4)
    assert sorted(i.value for i in db.store(at=at)) == ["a.example", "b.example"]
    expiry = {r.indicator.value: r.indicator.expires_at for r in db.records()}
    assert expiry["a.example"] == later + timedelta(hours=3)


def test_records_lost_to_expiry_come_back_with_an_unconditional_fetch(
    db: IntelDatabase,
) -> None:
    server = Server()
    text = _feed("p", "https://f.example/p.txt", 'every = "1d"\nexpires = "1h"\n')
    _sync(text, db, server)
    purged = _sync(text, db, server, T0 + timedelta(hours=2)).get("p")
    assert (purged.status, purged.expired, purged.total) == ("skipped_not_due", 2, 0)
    report = _sync(text, db, server, T0 + timedelta(days=1, minutes=1)).get("p")
    assert "if-none-match" not in server.seen[-1].headers
    assert (report.status, report.added, report.total) == ("updated", 2, 2)


def test_an_unchanged_local_file_renews_its_records(
    tmp_path: Path, db: IntelDatabase
) -> None:
    (tmp_path / "l.txt").write_bytes(LIST)
    text = '[[feeds]]\nname = "l"\npath = "l.txt"\nevery = "1h"\nexpires = "3h"\n'
    feeds = parse_feed_list(text, base=tmp_path)
    sync_feeds(feeds, db, now=T0)
    report = sync_feeds(feeds, db, now=T0 + timedelta(hours=2)).get("l")
    assert report.status == "not_modified"
    assert len(db.store(at=T0 + timedelta(hours=4))) == 2


# --- 2. a snapshot that gives no valid record removes nothing -------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b"<html><body>Service unavailable</body></html>\n",
            "is an HTML page, not a list",
        ),
        (
            b"<p>Service unavailable</p>\n",
            "no valid records: 0 of 1",
        ),
        (b"", "the snapshot is empty"),
        (b"not a value\n" * 9 + b"c.example\n", "9 of 10 rows rejected"),
    ],
)
def test_a_broken_snapshot_keeps_what_the_feed_held(
    db: IntelDatabase, body: bytes, reason: str
) -> None:
    server = Server()
    text = _feed("p", "https://f.example/p.txt", 'format = "plain"\n')
    _sync(text, db, server)
    server.body, server.etag = body, '"v2"'
    report = _sync(text, db, server, T0 + timedelta(hours=2)).get("p")
    assert report.status == "failed"
    assert reason in (report.reason or "")
    assert (report.removed, report.total) == (0, 2)
    assert sorted(i.value for i in db.store(at=T0)) == ["a.example", "b.example"]


def test_a_first_fetch_of_only_rejects_fails(db: IntelDatabase) -> None:
    server = Server(b"<b>oops</b>\n<p>down</p>\n")
    report = _sync(_feed("p", "https://f.example/p.txt"), db, server).get("p")
    assert report.status == "failed"
    assert "0 of 2 rows usable; nothing was stored" in (report.reason or "")


# --- 3. decompression bombs -----------------------------------------------------------


def test_a_gzip_file_over_max_bytes_once_decompressed_fails(db: IntelDatabase) -> None:
    bomb = gzip.compress(b"x.example\n" * 200_000)
    server = Server(bomb)
    extra = 'max_bytes = 100000\n[[feeds]]\nname = "ok"\nurl = "https://f.example/ok"\n'
    report = _sync(_feed("bomb", "https://f.example/b.txt.gz", extra), db, server)
    assert len(bomb) < 100_000
    assert report.get("bomb").status == "failed"
    assert "more than 100,000 bytes once decompressed" in (
        report.get("bomb").reason or ""
    )
    assert "trustwatch-sync-" not in (report.get("bomb").reason or "")
    assert report.get("ok").status == "updated"


def test_a_local_gzip_file_obeys_max_bytes(tmp_path: Path, db: IntelDatabase) -> None:
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(b"x.example\n" * 200_000))
    text = '[[feeds]]\nname = "b"\npath = "b.txt.gz"\nmax_bytes = 100000\n'
    report = sync_feeds(parse_feed_list(text, base=tmp_path), db, now=T0).get("b")
    assert report.status == "failed"
    assert "once decompressed" in (report.reason or "")


# --- 4. the whole-download deadline ---------------------------------------------------


def test_a_slow_drip_is_cut_off_and_later_feeds_still_run(db: IntelDatabase) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/slow":
            drip = (b"a" for _ in range(10_000))
            return httpx.Response(200, content=drip)
        return httpx.Response(200, content=LIST)

    text = _feed("slow", "https://f.example/slow", "deadline = 20\n") + _feed(
        "fast", "https://f.example/fast"
    )
    report = _sync(text, db, handler)
    assert report.get("slow").status == "failed"
    assert "deadline of 20 s" in (report.get("slow").reason or "")
    assert report.get("fast").status == "updated"


# --- 5. one sync at a time ------------------------------------------------------------


def test_a_second_sync_on_one_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "intel.sqlite"
    with (
        sync_lock(path),
        pytest.raises(StorageError, match=f"another sync holds {path}; hint"),
        sync_lock(path),
    ):
        pass
    with sync_lock(path):
        pass


def test_a_locked_database_is_a_storage_error(
    db: IntelDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*args: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(db, "_apply", locked)
    with pytest.raises(StorageError, match="database is locked; hint"):
        _sync(_feed("p", "https://f.example/p.txt"), db, Server())


# --- 6. no secret in logs or reports --------------------------------------------------


def test_query_strings_never_reach_logs_or_reports(
    db: IntelDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/gone":
            return httpx.Response(503)
        return httpx.Response(200, content=b"<html>no</html>\n")

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="httpcore")
    text = _feed("a", "https://f.example/p.txt?apikey=S3cretQ") + _feed(
        "b", "https://f.example/gone?apikey=S3cretQ"
    )
    report = _sync(text, db, handler)
    assert "HTTP Request" in caplog.text
    assert "S3cretQ" not in caplog.text
    assert b"S3cretQ" not in report.to_json()
    assert "1 attempt;" in (report.get("b").reason or "")


def test_the_cli_holds_http_loggers_at_warning() -> None:
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        configure_logging(logging.DEBUG)
        assert logging.getLogger("httpx").level == logging.WARNING
        assert logging.getLogger("httpcore").level == logging.WARNING
    finally:
        root.handlers[:], root.level = before[0], before[1]
        logging.getLogger("httpx").setLevel(logging.NOTSET)
        logging.getLogger("httpcore").setLevel(logging.NOTSET)


# --- 7. skipped records are counted ---------------------------------------------------


def test_skipped_records_are_reported(db: IntelDatabase) -> None:
    event = {
        "Event": {
            "uuid": "5f0c0e3a-0000-4000-8000-000000000001",
            "info": "t",
            "Attribute": [
                {"type": "domain", "value": "kept.example", "to_ids": True},
                {"type": "domain", "value": "quiet.example", "to_ids": False},
            ],
        }
    }
    server = Server(json.dumps(event).encode())
    text = _feed("m", "https://f.example/e.json", 'format = "misp_event"\n')
    report = _sync(text, db, server)
    feed = report.get("m")
    assert (feed.added, feed.skipped) == (1, 1)
    assert sum(feed.skipped_by_reason.values()) == 1
    assert json.loads(report.to_json())["feeds"][0]["skipped"] == 1


# --- 8. feeds taken out of the list ---------------------------------------------------


def test_feeds_no_longer_listed_are_dropped_unless_kept(db: IntelDatabase) -> None:
    both = _feed("a", "https://f.example/a") + _feed("b", "https://f.example/b")
    _sync(both, db, Server())
    only_a = _feed("a", "https://f.example/a")
    kept = _sync(only_a, db, Server(), keep_unlisted=True)
    assert [f.feed for f in kept.feeds] == ["a"]
    assert db.feed_names() == ["a", "b"]
    report = _sync(only_a, db, Server())
    dropped = report.get("b")
    assert (dropped.status, dropped.removed) == ("dropped", 2)
    assert "dropped 2 records" in (dropped.reason or "")
    assert db.feed_names() == ["a"]
    assert db.checkpoint("b") is None


# --- 11. a new schedule applies at once -----------------------------------------------


def test_a_shorter_every_takes_effect_at_once(db: IntelDatabase) -> None:
    server = Server()
    _sync(_feed("p", "https://f.example/p", 'every = "1d"\n'), db, server)
    text = _feed("p", "https://f.example/p", 'every = "1h"\n')
    report = _sync(text, db, server, T0 + timedelta(hours=2)).get("p")
    assert report.status == "not_modified"
    assert report.next_due == T0 + timedelta(hours=3)


# --- 12. rough edges ------------------------------------------------------------------


def test_a_load_error_names_the_url_and_is_not_logged_as_a_warning(
    db: IntelDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    server = Server(b"{broken")
    text = _feed("s", "https://f.example/x.json?key=S3cretQ", 'format = "stix21"\n')
    reason = _sync(text, db, server).get("s").reason or ""
    assert "feed file https://f.example/x.json is not valid JSON" in reason
    assert "trustwatch-sync-" not in reason and "S3cretQ" not in reason
    assert not [r for r in caplog.records if r.name == "trustwatch.intel.sync"]


def test_a_header_value_with_a_line_break_is_refused(db: IntelDatabase) -> None:
    text = _feed("h", "https://f.example/h", 'headers_env = {X-Key = "KEY"}\n')
    fetcher = _fetcher(Server(), environ={"KEY": "abc\r\nX-Other: y"})
    report = _sync(text, db, Server(), fetcher=fetcher).get("h")
    assert report.status == "failed"
    assert "key 'headers_env.X-Key'" in (report.reason or "")
    assert "line break" in (report.reason or "")


def test_a_taxii_snapshot_of_mostly_non_objects_removes_nothing(tmp_path) -> None:
    from trustwatch.intel.feeds import Reject
    from trustwatch.intel.sync import Fetched, IntelDatabase, sync_feeds

    def indicator(i: int) -> dict:
        return {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-{i:012d}",
            "created": "2026-11-01T00:00:00Z",
            "modified": "2026-11-01T00:00:00Z",
            "pattern": f"[domain-name:value = 'bad{i}.example']",
            "pattern_type": "stix",
            "valid_from": "2026-11-01T00:00:00Z",
        }

    polls = iter(
        [
            Fetched(objects=[indicator(i) for i in range(100)]),
            # one object, and 99 envelope entries that are no STIX object
            Fetched(
                objects=[indicator(0)],
                rejects=[
                    Reject(
                        location=f"entry {i}",
                        raw="42",
                        reason="malformed_record",
                        message="not an object",
                    )
                    for i in range(99)
                ],
            ),
        ]
    )
    feeds = parse_feed_list(
        '[[feeds]]\nname = "t"\nmode = "snapshot"\n'
        'taxii = { url = "http://127.0.0.1:9/api/", collection = "c" }\n'
    )
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    with IntelDatabase(tmp_path / "intel.sqlite") as db:
        first = sync_feeds(feeds, db, now=t0, fetcher=lambda *_: next(polls))
        assert first.get("t").total == 100
        second = sync_feeds(
            feeds,
            db,
            now=t0 + timedelta(days=2),
            fetcher=lambda *_: next(polls),
            force=True,
        ).get("t")
    assert (second.status, second.total) == ("failed", 100)
    assert "99 of 100 rows rejected" in (second.reason or "")
