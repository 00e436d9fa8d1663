"""``sync_feeds`` against feeds served over loopback HTTP and from local files."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import msgspec
import pytest

from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import ConfigError, StorageError
from trustwatch.intel.feedlist import FeedList, FeedSpec, parse_feed_list
from trustwatch.intel.sync import (
    Checkpoint,
    FeedFetcher,
    Fetched,
    IntelDatabase,
    SyncReport,
    sync_feeds,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HASH_A = "44d88612fea8a8f36de82e1278abb02f"
HASH_B = "3395856ce81f2b7382dee72602f798b642f14140"
HASH_C = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"

PLAIN = (
    "# team list\nhttp://bad.example/login\nevil.example\n198.51.100.7\nnot a url!!\n"
)
URLHAUS = (
    "# abuse.ch URLhaus style\n"
    "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
    '"1","2026-02-28 10:00:00","http://203.0.113.9/bin.sh","online",'
    '"2026-02-28 10:00:00","malware_download","elf,mirai",'
    '"https://urlhaus.example/url/1/","tester"\n'
    '"2","2026-02-28 11:00:00","http://dl.bad.example/x.exe","online",'
    '"2026-02-28 11:00:00","malware_download","exe",'
    '"https://urlhaus.example/url/2/","tester"\n'
)
PHISHTANK = (
    "phish_id,url,phish_detail_url,submission_time,verified,verification_time,"
    "online,target\n"
    "101,https://login.paypa1.example/,https://phishtank.example/101,"
    "2026-02-27T09:00:00+00:00,yes,2026-02-27T09:05:00+00:00,yes,PayPal\n"
)
HASHLIST = f"{HASH_A};EICAR test\n{HASH_B};90;Family-X dropper\nzz;broken\n"


@dataclass
class Route:
    """What the test server answers for one path."""

    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    fail_first: int = 0
    delay: float = 0.0
    redirect: str | None = None
    send_length: bool = True
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FeedServer:
    """A loopback HTTP server whose answers the test sets per path."""

    server: ThreadingHTTPServer
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def base(self) -> str:
        """Return the server's base URL."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def hits(self, path: str) -> list[dict[str, str]]:
        """Return the headers of every request for ``path``."""
        return [headers for seen, headers in self.requests if seen == path]


def _handler(state: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            headers = {key.lower(): value for key, value in self.headers.items()}
            path = self.path.partition("?")[0]
            state.requests.append((path, headers))
            route = state.routes.get(path)
            if route is None:
                self.send_error(404)
                return
            if route.redirect is not None:
                self.send_response(302)
                self.send_header("Location", route.redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if route.fail_first > 0:
                route.fail_first -= 1
                self.send_error(500)
                return
            if route.delay:
                time.sleep(route.delay)
            if (route.etag and headers.get("if-none-match") == route.etag) or (
                route.last_modified
                and headers.get("if-modified-since") == route.last_modified
            ):
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.last_modified:
                self.send_header("Last-Modified", route.last_modified)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.send_length:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(route.body)

    return Handler


def _start() -> FeedServer:
    state = FeedServer(server=None)  # type: ignore[arg-type]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.server = server
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return state


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    state = _start()
    yield state
    state.server.shutdown()
    state.server.server_close()


@pytest.fixture
def other_server() -> Iterator[FeedServer]:
    state = _start()
    yield state
    state.server.shutdown()
    state.server.server_close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[IntelDatabase]:
    with IntelDatabase(tmp_path / "intel.sqlite") as database:
        yield database


class Sleeps:
    """Records the back-off delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _fetcher(sleeps: Sleeps | None = None) -> FeedFetcher:
    return FeedFetcher(sleep=sleeps or Sleeps(), random=lambda: 0.5, environ={})


def _rewrite(path: Path, text: str | bytes) -> None:
    """Replace a file's content and move its modification time on by a second."""
    before = path.stat().st_mtime_ns
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def _feeds(text: str, base: Path | None = None) -> FeedList:
    return parse_feed_list(text, base=base)


def _sync(
    feeds: FeedList, db: IntelDatabase, at: datetime = T0, **kwargs: object
) -> SyncReport:
    kwargs.setdefault("fetcher", _fetcher())
    return sync_feeds(feeds, db, now=at, **kwargs)  # type: ignore[arg-type]


def _serve_all(server: FeedServer) -> FeedList:
    server.routes["/plain.txt"] = Route(body=PLAIN.encode(), etag='"p1"')
    server.routes["/urlhaus.csv"] = Route(
        body=URLHAUS.encode(), last_modified="Sat, 28 Feb 2026 11:00:00 GMT"
    )
    server.routes["/phishtank.csv"] = Route(body=PHISHTANK.encode())
    server.routes["/hashes.txt"] = Route(body=HASHLIST.encode(), etag='"h1"')
    return _feeds(
        f"""
        [[feeds]]
        name = "team"
        url = "{server.base}/plain.txt"
        format = "plain"
        threat = "phishing"
        tags = ["team"]

        [[feeds]]
        name = "urlhaus"
        url = "{server.base}/urlhaus.csv"
        format = "urlhaus_csv"
        every = "15m"

        [[feeds]]
        name = "phishtank"
        url = "{server.base}/phishtank.csv"
        format = "auto"

        [[feeds]]
        name = "hashes"
        url = "{server.base}/hashes.txt"
        format = "hashlist"
        confidence = 75
        """
    )


# --- formats over HTTP ----------------------------------------------------------------


def test_http_feeds_of_each_format_are_stored_and_match(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    report = _sync(_serve_all(feed_server), db)
    assert [(r.feed, r.status) for r in report.feeds] == [
        ("team", "updated"),
        ("urlhaus", "updated"),
        ("phishtank", "updated"),
        ("hashes", "updated"),
    ]
    team = report.get("team")
    assert (team.added, team.rejected, team.total) == (3, 1, 3)
    assert team.rejected_by_reason == {"invalid_value": 1}
    assert team.reject_examples[0].location.endswith(":5")
    assert report.get("urlhaus").added == 2
    assert report.get("phishtank").added == 1
    assert report.get("hashes").rejected_by_reason == {"invalid_hash": 1}

    store = db.store(at=T0)
    assert len(store) == 8
    (match,) = store.match_url(parse_url("http://bad.example/login"))
    assert match.indicator.feed == "team"
    assert match.indicator.threat == "phishing"  # the feed's meaning
    assert match.indicator.tags == ("team",)
    assert match.indicator.reference == "line 2"
    urlhaus = store.match_url(parse_url("http://203.0.113.9/bin.sh"))[0].indicator
    assert (urlhaus.feed, urlhaus.reference, urlhaus.threat) == (
        "urlhaus",
        "1",
        "malware_download",
    )
    (eicar,) = store.match_hash(HASH_A.upper())
    assert (eicar.indicator.feed, eicar.indicator.confidence) == ("hashes", 75)
    assert store.match_host("evil.example")[0].indicator.feed == "team"
    assert store.match_ip("198.51.100.7")


def test_report_is_json_with_every_count(feed_server: FeedServer, db: IntelDatabase):
    report = _sync(_serve_all(feed_server), db)
    data = json.loads(report.to_json())
    team = data["feeds"][0]
    assert team["feed"] == "team"
    assert team["status"] == "updated"
    assert team["source"] == f"{feed_server.base}/plain.txt"
    for key in ("added", "updated", "removed", "expired", "revoked", "rejected"):
        assert key in team
    assert team["reject_examples"][0]["reason"] == "invalid_value"
    assert "raw" not in team["reject_examples"][0]
    assert team["next_due"].startswith("2026-03-01T13:00:00")


# --- schedule and conditional requests ----------------------------------------------


def test_feeds_not_due_are_skipped_and_conditional_requests_get_304(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    feeds = _serve_all(feed_server)
    _sync(feeds, db)
    soon = _sync(feeds, db, T0 + timedelta(minutes=10))
    assert {r.status for r in soon.feeds} == {"skipped_not_due"}
    assert soon.get("team").total == 3
    assert len(feed_server.hits("/plain.txt")) == 1

    later = _sync(feeds, db, T0 + timedelta(hours=2))
    assert later.get("team").status == "not_modified"
    assert feed_server.hits("/plain.txt")[-1]["if-none-match"] == '"p1"'
    assert later.get("urlhaus").status == "not_modified"
    assert (
        feed_server.hits("/urlhaus.csv")[-1]["if-modified-since"]
        == "Sat, 28 Feb 2026 11:00:00 GMT"
    )
    assert later.get("phishtank").status == "updated"  # no validators: refetched
    assert later.get("phishtank").unchanged == 1
    assert later.get("phishtank").added == 0
    assert len(db.store(at=T0)) == 8

    feed_server.routes["/plain.txt"] = Route(
        body=(PLAIN + "http://new.example/x\n").encode(), etag='"p2"'
    )
    changed = _sync(feeds, db, T0 + timedelta(hours=4))
    team = changed.get("team")
    assert (team.status, team.added, team.unchanged) == ("updated", 1, 3)
    assert db.checkpoint("team") is not None
    assert db.checkpoint("team").etag == '"p2"'  # type: ignore[union-attr]


def test_force_refetches_without_validators_and_only_limits_the_feeds(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    feeds = _serve_all(feed_server)
    _sync(feeds, db)
    report = _sync(feeds, db, T0 + timedelta(minutes=1), force=True, only=["team"])
    assert [r.feed for r in report.feeds] == ["team"]
    assert report.get("team").status == "updated"
    assert "if-none-match" not in feed_server.hits("/plain.txt")[-1]
    with pytest.raises(ConfigError, match="no feed named 'nope'"):
        _sync(feeds, db, only=["nope"])


def test_a_changed_feed_definition_makes_the_feed_due(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    feed_server.routes["/hashes.txt"] = Route(body=HASHLIST.encode(), etag='"h1"')
    text = f'[[feeds]]\nname = "h"\nurl = "{feed_server.base}/hashes.txt"\n'
    _sync(_feeds(text + "confidence = 60\n"), db)
    report = _sync(_feeds(text + "confidence = 95\n"), db, T0 + timedelta(minutes=1))
    hashes = report.get("h")
    assert (hashes.status, hashes.updated) == ("updated", 2)
    assert "if-none-match" not in feed_server.hits("/hashes.txt")[-1]
    assert {i.confidence for i in db.store(at=T0)} == {95}


# --- failures -------------------------------------------------------------------------


def test_server_errors_are_retried_with_growing_back_off(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    feed_server.routes["/flaky.txt"] = Route(body=b"flaky.example\n", fail_first=2)
    sleeps = Sleeps()
    feeds = _feeds(f'[[feeds]]\nname = "f"\nurl = "{feed_server.base}/flaky.txt"\n')
    report = _sync(feeds, db, fetcher=_fetcher(sleeps))
    assert report.get("f").status == "updated"
    assert len(feed_server.hits("/flaky.txt")) == 3
    assert sleeps.delays == [0.75, 1.5]  # 1 s then 2 s steps, jitter 0.5


def test_a_feed_failing_after_its_retries_is_reported_and_retried_sooner(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    feed_server.routes["/down.txt"] = Route(body=b"x.example\n", fail_first=100)
    feed_server.routes["/up.txt"] = Route(body=b"up.example\n")
    feeds = _feeds(
        f'[[feeds]]\nname = "down"\nurl = "{feed_server.base}/down.txt?key=k3y"\n'
        "retries = 2\n"
        f'[[feeds]]\nname = "up"\nurl = "{feed_server.base}/up.txt"\n'
    )
    report = _sync(feeds, db)
    down = report.get("down")
    assert down.status == "failed"
    assert down.reason is not None
    assert "HTTP 500" in down.reason and "3 attempts" in down.reason
    assert "k3y" not in down.reason
    assert report.get("up").status == "updated"
    assert [r.feed for r in report.failed] == ["down"]
    point = db.checkpoint("down")
    assert point is not None
    assert (point.failures, point.next_due) == (1, T0 + timedelta(minutes=5))
    again = _sync(feeds, db, T0 + timedelta(minutes=6))
    assert again.get("down").status == "failed"
    assert again.get("up").status == "skipped_not_due"
    point = db.checkpoint("down")
    assert point is not None and point.failures == 2


def test_a_client_error_is_not_retried(feed_server: FeedServer, db: IntelDatabase):
    feeds = _feeds(f'[[feeds]]\nname = "g"\nurl = "{feed_server.base}/gone.txt"\n')
    report = _sync(feeds, db)
    assert report.get("g").status == "failed"
    assert "HTTP 404" in (report.get("g").reason or "")
    assert len(feed_server.hits("/gone.txt")) == 1


def test_a_slow_response_times_out(feed_server: FeedServer, db: IntelDatabase):
    feed_server.routes["/slow.txt"] = Route(body=b"slow.example\n", delay=1.0)
    feeds = _feeds(
        f'[[feeds]]\nname = "s"\nurl = "{feed_server.base}/slow.txt"\n'
        "timeout = 0.2\nretries = 0\n"
    )
    report = _sync(feeds, db)
    assert report.get("s").status == "failed"
    assert "timed out" in (report.get("s").reason or "")
    assert len(db.store(at=T0)) == 0


@pytest.mark.parametrize("send_length", [True, False])
def test_an_oversized_body_is_refused(
    feed_server: FeedServer, db: IntelDatabase, send_length: bool
) -> None:
    body = b"".join(b"host%d.example\n" % n for n in range(200))
    feed_server.routes["/big.txt"] = Route(body=body, send_length=send_length)
    feeds = _feeds(
        f'[[feeds]]\nname = "b"\nurl = "{feed_server.base}/big.txt"\nmax_bytes = 500\n'
    )
    report = _sync(feeds, db)
    assert report.get("b").status == "failed"
    assert "max_bytes (500)" in (report.get("b").reason or "")
    assert len(db.store(at=T0)) == 0


def test_gzip_bodies_are_read_and_limited_after_decompression(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    listing = b"".join(b"host%d.example\n" % n for n in range(100))
    feed_server.routes["/list.txt.gz"] = Route(body=gzip.compress(listing))
    feed_server.routes["/encoded.txt"] = Route(
        body=gzip.compress(listing), headers={"Content-Encoding": "gzip"}
    )
    feed_server.routes["/bomb.txt"] = Route(
        body=gzip.compress(b"x.example\n" * 100_000),
        headers={"Content-Encoding": "gzip"},
    )
    feeds = _feeds(
        f'[[feeds]]\nname = "file"\nurl = "{feed_server.base}/list.txt.gz"\n'
        f'[[feeds]]\nname = "encoded"\nurl = "{feed_server.base}/encoded.txt"\n'
        f'[[feeds]]\nname = "bomb"\nurl = "{feed_server.base}/bomb.txt"\n'
        "max_bytes = 100000\n"
    )
    report = _sync(feeds, db)
    assert report.get("file").added == 100
    assert report.get("encoded").added == 100
    assert report.get("bomb").status == "failed"
    assert "max_bytes" in (report.get("bomb").reason or "")
    assert len(gzip.compress(b"x.example\n" * 100_000)) < 100_000


def test_proxies_come_from_the_feed_list_never_the_environment(
    feed_server: FeedServer,
    other_server: FeedServer,
    db: IntelDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, other_server.base)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    feed_server.routes["/direct.txt"] = Route(body=b"direct.example\n")
    other_server.routes[f"{feed_server.base}/direct.txt"] = Route(body=b"p.example\n")
    url = f"{feed_server.base}/direct.txt"
    feeds = _feeds(f'[[feeds]]\nname = "d"\nurl = "{url}"\n')
    assert _sync(feeds, db).get("d").status == "updated"
    assert other_server.requests == []
    assert [i.value for i in db.store(at=T0)] == ["direct.example"]
    proxied = _feeds(
        f'[[feeds]]\nname = "d"\nurl = "{url}"\nproxy = "{other_server.base}"\n'
    )
    assert _sync(proxied, db, force=True).get("d").status == "updated"
    assert [path for path, _ in other_server.requests] == [url]
    assert [i.value for i in db.store(at=T0)] == ["p.example"]


def test_redirects_stay_on_the_same_host_and_port(
    feed_server: FeedServer, other_server: FeedServer, db: IntelDatabase
) -> None:
    other_server.routes["/list.txt"] = Route(body=b"elsewhere.example\n")
    feed_server.routes["/away.txt"] = Route(redirect=f"{other_server.base}/list.txt")
    feed_server.routes["/moved.txt"] = Route(redirect="/list.txt")
    feed_server.routes["/list.txt"] = Route(body=b"here.example\n")
    feeds = _feeds(
        f'[[feeds]]\nname = "away"\nurl = "{feed_server.base}/away.txt"\n'
        f'[[feeds]]\nname = "moved"\nurl = "{feed_server.base}/moved.txt"\n'
    )
    report = _sync(feeds, db)
    assert report.get("away").status == "failed"
    assert "redirects to another host" in (report.get("away").reason or "")
    assert other_server.requests == []
    assert report.get("moved").status == "updated"
    assert [i.value for i in db.store(at=T0)] == ["here.example"]


def test_missing_credentials_fail_the_feed_and_present_ones_are_sent(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    feed_server.routes["/keyed.txt"] = Route(body=b"keyed.example\n")
    feeds = _feeds(
        f'[[feeds]]\nname = "k"\nurl = "{feed_server.base}/keyed.txt"\n'
        'headers_env = { "Auth-Key" = "TEST_FEED_KEY" }\n'
    )
    report = _sync(feeds, db)
    assert report.get("k").status == "failed"
    assert "TEST_FEED_KEY" in (report.get("k").reason or "")
    assert feed_server.requests == []
    fetcher = FeedFetcher(sleep=Sleeps(), environ={"TEST_FEED_KEY": "abc123"})
    report = _sync(feeds, db, T0 + timedelta(hours=1), fetcher=fetcher)
    assert report.get("k").status == "updated"
    assert feed_server.hits("/keyed.txt")[0]["auth-key"] == "abc123"
    assert "abc123" not in report.to_json().decode()


# --- snapshot, incremental, expiry ----------------------------------------------------


def test_snapshot_feeds_remove_what_they_stop_listing(tmp_path: Path, db):
    listing = tmp_path / "list.txt"
    listing.write_text("a.example\nb.example\n")
    feeds = _feeds('[[feeds]]\nname = "s"\npath = "list.txt"\n', base=tmp_path)
    assert _sync(feeds, db).get("s").added == 2
    _rewrite(listing, "b.example\nc.example\n")
    report = _sync(feeds, db, T0 + timedelta(hours=2)).get("s")
    assert (report.added, report.unchanged, report.removed) == (1, 1, 1)
    assert sorted(i.value for i in db.store(at=T0)) == ["b.example", "c.example"]


def test_incremental_feeds_keep_what_they_stop_listing(tmp_path: Path, db):
    listing = tmp_path / "list.txt"
    listing.write_text("a.example\nb.example\n")
    feeds = _feeds(
        '[[feeds]]\nname = "i"\npath = "list.txt"\nmode = "incremental"\n',
        base=tmp_path,
    )
    _sync(feeds, db)
    listing.write_text("c.example\n")
    report = _sync(feeds, db, T0 + timedelta(hours=2)).get("i")
    assert (report.added, report.removed) == (1, 0)
    assert len(db.store(at=T0)) == 3


def test_changed_records_count_as_updated(tmp_path: Path, db):
    listing = tmp_path / "hashes.txt"
    listing.write_text(f"{HASH_A};Old-Name\n{HASH_B};Same\n")
    feeds = _feeds(
        '[[feeds]]\nname = "h"\npath = "hashes.txt"\nformat = "hashlist"\n',
        base=tmp_path,
    )
    _sync(feeds, db)
    _rewrite(listing, f"{HASH_A};New-Name\n{HASH_B};Same\n")
    report = _sync(feeds, db, T0 + timedelta(hours=2)).get("h")
    assert (report.updated, report.unchanged, report.added) == (1, 1, 0)
    (stored,) = db.lookup(HASH_A)
    assert stored.indicator.threat == "New-Name"
    assert stored.first_synced == T0
    assert stored.last_synced == T0 + timedelta(hours=2)


def test_local_files_are_not_reloaded_when_unchanged(tmp_path: Path, db):
    (tmp_path / "list.txt").write_text("a.example\n")
    feeds = _feeds('[[feeds]]\nname = "p"\npath = "*.txt"\n', base=tmp_path)
    _sync(feeds, db)
    assert _sync(feeds, db, T0 + timedelta(hours=2)).get("p").status == "not_modified"
    (tmp_path / "more.txt").write_text("b.example\n")
    report = _sync(feeds, db, T0 + timedelta(hours=4)).get("p")
    assert (report.status, report.added) == ("updated", 1)


def test_a_missing_local_path_fails_the_feed(tmp_path: Path, db):
    feeds = _feeds('[[feeds]]\nname = "m"\npath = "absent.txt"\n', base=tmp_path)
    report = _sync(feeds, db).get("m")
    assert report.status == "failed"
    assert "absent.txt" in (report.reason or "")


def test_default_expiry_is_renewed_while_listed_and_purged_after(tmp_path: Path, db):
    listing = tmp_path / "list.txt"
    listing.write_text("a.example\nb.example\n")
    feeds = _feeds(
        '[[feeds]]\nname = "e"\npath = "list.txt"\nexpires = "1d"\n'
        'mode = "incremental"\nevery = "12h"\n',
        base=tmp_path,
    )
    _sync(feeds, db)
    (record,) = db.lookup("a.example")
    assert record.indicator.expires_at == T0 + timedelta(days=1)
    assert len(db.store(at=T0 + timedelta(hours=25))) == 0  # expired: no match

    listing.write_text("a.example\n")  # b is no longer listed, a is renewed
    half = _sync(feeds, db, T0 + timedelta(hours=13)).get("e")
    assert (half.unchanged, half.expired) == (1, 0)
    later = _sync(feeds, db, T0 + timedelta(hours=26)).get("e")
    assert later.status == "not_modified"
    assert later.expired == 1
    assert [i.value for i in db.store(at=T0 + timedelta(hours=26))] == ["a.example"]
    assert db.lookup("b.example") == []


def test_disabled_feeds_are_not_fetched(feed_server: FeedServer, db: IntelDatabase):
    feeds = _feeds(
        f'[[feeds]]\nname = "off"\nurl = "{feed_server.base}/off.txt"\n'
        "enabled = false\n"
    )
    assert _sync(feeds, db).get("off").status == "disabled"
    assert feed_server.requests == []


# --- crash and resume -----------------------------------------------------------------


class CrashAfterFirst:
    """A fetcher that works once, then fails as a crash would."""

    def __init__(self, inner: FeedFetcher) -> None:
        self.inner = inner
        self.calls = 0

    def __call__(
        self, feed: FeedSpec, checkpoint: Checkpoint | None, workdir: Path
    ) -> Fetched:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("simulated crash")
        return self.inner(feed, checkpoint, workdir)


def test_a_restart_after_a_crash_resumes_with_the_feeds_not_done(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    feeds = _serve_all(feed_server)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _sync(feeds, db, fetcher=CrashAfterFirst(_fetcher()))
    assert db.counts() == {"team": 3}
    report = _sync(feeds, db, T0 + timedelta(minutes=1))
    assert [r.status for r in report.feeds] == [
        "skipped_not_due",
        "updated",
        "updated",
        "updated",
    ]
    assert len(feed_server.hits("/plain.txt")) == 1  # not fetched again
    assert db.counts() == {"hashes": 2, "phishtank": 1, "team": 3, "urlhaus": 2}


def test_a_crash_while_applying_a_feed_leaves_none_of_it(
    feed_server: FeedServer, db: IntelDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds = _serve_all(feed_server)

    def crash(feed: str, now: datetime, point: object = None) -> int:
        raise RuntimeError("power cut")

    monkeypatch.setattr(db, "_purge_expired", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        _sync(feeds, db)
    monkeypatch.undo()
    assert db.counts() == {}
    assert db.checkpoint("team") is None
    report = _sync(feeds, db)
    assert report.get("team").added == 3


# --- STIX revocation -----------------------------------------------------------------


def _stix_indicator(number: int, value: str, **extra: object) -> dict[str, object]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-00000000000{number}",
        "created": "2026-02-01T00:00:00.000Z",
        "modified": extra.pop("modified", "2026-02-01T00:00:00.000Z"),
        "valid_from": "2026-02-01T00:00:00Z",
        "pattern": f"[domain-name:value = '{value}']",
        "pattern_type": "stix",
        **extra,
    }


def test_revoked_stix_indicators_are_removed_and_stay_out(tmp_path: Path, db):
    stix = pytest.importorskip("trustwatch.intel.stix")
    assert hasattr(stix, "load_stix_objects")
    bundle = tmp_path / "bundle.json"
    first = [_stix_indicator(1, "one.example"), _stix_indicator(2, "two.example")]
    bundle.write_text(
        json.dumps({"type": "bundle", "id": "bundle--1", "objects": first})
    )
    feeds = _feeds(
        '[[feeds]]\nname = "stix"\npath = "bundle.json"\nformat = "stix21"\n'
        'mode = "incremental"\n',
        base=tmp_path,
    )
    assert _sync(feeds, db).get("stix").added == 2
    revoked = _stix_indicator(
        1, "one.example", revoked=True, modified="2026-02-02T00:00:00.000Z"
    )
    bundle.write_text(
        json.dumps({"type": "bundle", "id": "bundle--2", "objects": [revoked]})
    )
    report = _sync(feeds, db, T0 + timedelta(hours=2)).get("stix")
    assert report.revoked == 1
    assert [i.value for i in db.store(at=T0)] == ["two.example"]
    assert "indicator--00000000-0000-4000-8000-000000000001" in db.revocations()
    bundle.write_text(
        json.dumps({"type": "bundle", "id": "bundle--3", "objects": first})
    )
    again = _sync(feeds, db, T0 + timedelta(hours=4)).get("stix")
    assert again.rejected_by_reason.get("revoked") == 1
    assert [i.value for i in db.store(at=T0)] == ["two.example"]


# --- the database ---------------------------------------------------------------------


def test_records_lookup_and_provenance_across_feeds(tmp_path: Path, db):
    (tmp_path / "a.txt").write_text("shared.example\nonly-a.example\n")
    (tmp_path / "b.txt").write_text("hxxp://x[.]example/\nshared[.]example\n")
    feeds = _feeds(
        '[[feeds]]\nname = "a"\npath = "a.txt"\n'
        '[[feeds]]\nname = "b"\npath = "b.txt"\n',
        base=tmp_path,
    )
    _sync(feeds, db)
    assert [r.indicator.feed for r in db.lookup("shared[.]example")] == ["a", "b"]
    assert [r.indicator.value for r in db.records(feed="b", type="url")] == [
        "http://x.example/"
    ]
    assert len(db.records(limit=1)) == 1
    (match,) = db.store(at=T0).match_host("shared.example")
    assert {source.feed for source in match.indicator.provenance()} == {"a", "b"}
    assert db.drop_feed("a") == 2
    assert db.counts() == {"b": 2}


def test_a_file_that_is_not_an_intel_database_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    other.write_bytes(b"this is not sqlite at all, just text" * 10)
    with pytest.raises(StorageError, match="cannot open intel database"):
        IntelDatabase(other)


def test_naive_times_are_refused(db: IntelDatabase) -> None:
    with pytest.raises(ConfigError, match="no timezone"):
        sync_feeds([], db, now=datetime(2026, 1, 1))
    assert msgspec.json.decode(_sync(FeedList(()), db).to_json())["feeds"] == []


def test_compound_stix_patterns_are_stored_and_match_observations(tmp_path, db):
    pytest.importorskip("trustwatch.intel.stix")
    digest = "a" * 64
    compound = _stix_indicator(
        3,
        "unused.example",
        pattern=f"[file:hashes.'SHA-256' = '{digest}' AND file:name = 'a.exe']",
    )
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps([compound]))
    feeds = _feeds(
        '[[feeds]]\nname = "p"\npath = "bundle.json"\nformat = "stix21"\n'
        'expires = "1d"\n',
        base=tmp_path,
    )
    report = _sync(feeds, db).get("p")
    assert (report.added, report.total) == (1, 1)
    store = db.store(at=T0)
    hit = store.match_observation(
        {"file:hashes.'SHA-256'": digest, "file:name": "a.exe"}, at=T0
    )
    assert [m.indicator.reference for m in hit] == [compound["id"]]
    assert hit[0].indicator.feed == "p"
    miss = {"file:hashes.'SHA-256'": digest, "file:name": "b.exe"}
    assert store.match_observation(miss, at=T0) == []
    later = db.store(at=T0 + timedelta(days=2))  # the feed's default expiry
    assert (
        later.match_observation(
            {"file:hashes.'SHA-256'": digest, "file:name": "a.exe"},
            at=T0 + timedelta(days=2),
        )
        == []
    )
    bundle.write_text("[]")
    refused = _sync(feeds, db, T0 + timedelta(hours=2)).get("p")
    assert refused.status == "failed"
    assert "the snapshot is empty" in (refused.reason or "")
    assert refused.total == 1  # an empty download removes nothing
    # fetching before the feed is due accepts nothing more
    forced = _sync(feeds, db, T0 + timedelta(hours=2), force=True).get("p")
    assert (forced.status, forced.total) == ("failed", 1)
    assert "--accept-empty" in (forced.reason or "")
    accepted = _sync(
        feeds, db, T0 + timedelta(hours=2), force=True, accept_empty=True
    ).get("p")
    assert (accepted.status, accepted.removed, accepted.total) == ("updated", 1, 0)


def test_taxii_feeds_poll_from_their_checkpoint(
    db: IntelDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("trustwatch.intel.stix")
    from trustwatch.intel import taxii

    calls: list[tuple[object, str | None]] = []
    answers = [
        ([_stix_indicator(1, "t1.example")], "2026-03-01T00:00:00.000Z"),
        ([_stix_indicator(2, "t2.example")], "2026-03-01T01:00:00.000Z"),
        ([], None),
    ]

    def poll(source: object, added_after: str | None, **kwargs: object):
        calls.append((source, added_after))
        objects, last = answers[len(calls) - 1]
        return taxii.TaxiiPoll(objects=objects, added_last=last, pages=1)

    monkeypatch.setattr(taxii, "poll_collection", poll)
    feeds = _feeds(
        '[[feeds]]\nname = "tx"\ntaxii = { url = "http://127.0.0.1:9/api1/", '
        'collection = "c1", username_env = "TX_USER", password_env = "TX_PASS" }\n'
    )
    missing = _sync(feeds, db).get("tx")
    assert missing.status == "failed"
    assert "TX_USER" in (missing.reason or "")
    fetcher = FeedFetcher(environ={"TX_USER": "u", "TX_PASS": "pw-123"})
    for hours in (1, 3, 5):
        _sync(feeds, db, T0 + timedelta(hours=hours), fetcher=fetcher)
    assert [after for _, after in calls] == [
        None,
        "2026-03-01T00:00:00.000Z",
        "2026-03-01T01:00:00.000Z",
    ]
    source = calls[0][0]
    assert (source.username, source.password) == ("u", "pw-123")  # type: ignore[attr-defined]
    point = db.checkpoint("tx")
    assert point is not None
    assert (point.added_after, point.last_status) == (
        "2026-03-01T01:00:00.000Z",
        "not_modified",
    )
    assert sorted(i.value for i in db.store(at=T0)) == ["t1.example", "t2.example"]


# --- a real TAXII 2.1 server ----------------------------------------------------------

try:  # the medallion fixture lives with the TAXII polling tests
    import test_taxii_polling as polling
except ImportError:  # pragma: no cover - only when run from elsewhere
    polling = None

if polling is not None:
    medallion_server = polling.medallion_server
else:  # pragma: no cover

    @pytest.fixture
    def medallion_server() -> None:
        pytest.skip("tests/intel/test_taxii_polling.py is not importable")


@pytest.mark.datasets
def test_sync_polls_the_reference_taxii_server_incrementally(
    medallion_server, db: IntelDatabase
) -> None:
    pytest.importorskip("trustwatch.intel.stix")
    medallion_server.reset()
    feeds = _feeds(
        '[[feeds]]\nname = "medallion"\n'
        f'taxii = {{ url = "{medallion_server.root_url}", '
        f'collection = "{polling.INDICATORS}", username_env = "TX_USER", '
        'password_env = "TX_PASS" }\n'
    )
    fetcher = FeedFetcher(
        environ={"TX_USER": polling.USER, "TX_PASS": medallion_server.password}
    )
    # the server stamps objects with the real time: sync at the real time too
    start = datetime.now(UTC)
    first = _sync(feeds, db, start, fetcher=fetcher).get("medallion")
    assert (first.status, first.added) == ("updated", 2)
    point = db.checkpoint("medallion")
    assert point is not None and point.added_after is not None

    medallion_server.add_objects(polling._new_indicators())
    second = _sync(feeds, db, start + timedelta(hours=2), fetcher=fetcher)
    report = second.get("medallion")
    assert (report.status, report.added, report.unchanged) == ("updated", 2, 0)
    store = db.store(at=datetime.now(UTC))
    (match,) = store.match_host("taxii-poll-test.example")
    assert match.indicator.feed == "medallion"
    assert (
        match.indicator.reference == "indicator--0c6a4a6b-4a61-4c1e-9d0d-7e1f2a3b4c01"
    )
    third = _sync(feeds, db, start + timedelta(hours=4), fetcher=fetcher)
    assert third.get("medallion").status == "not_modified"
    assert db.counts() == {"medallion": 4}
    medallion_server.reset()


def _misp_event(uuid: str, value: str) -> bytes:
    attribute = {
        "uuid": f"{uuid[:-1]}a",
        "type": "domain",
        "category": "Network activity",
        "value": value,
        "to_ids": True,
        "timestamp": "1772280000",
    }
    event = {"uuid": uuid, "info": "test event", "Attribute": [attribute]}
    return msgspec.json.encode({"Event": event})


def test_misp_event_files_and_feed_folders_sync_from_paths(tmp_path: Path, db):
    folder = tmp_path / "misp-feed"
    folder.mkdir()
    names = [f"5f0c0e3a-0000-4000-8000-00000000000{n}" for n in (1, 2)]
    (folder / "manifest.json").write_bytes(
        msgspec.json.encode({name: {"info": "x"} for name in names})
    )
    (folder / f"{names[0]}.json").write_bytes(_misp_event(names[0], "m1.example"))
    (folder / f"{names[1]}.json").write_bytes(_misp_event(names[1], "m2.example"))
    (tmp_path / "event.json").write_bytes(_misp_event(names[0], "single.example"))
    feeds = _feeds(
        '[[feeds]]\nname = "folder"\npath = "misp-feed"\nformat = "misp_feed"\n'
        '[[feeds]]\nname = "event"\npath = "event.json"\n',
        base=tmp_path,
    )
    report = _sync(feeds, db)
    assert (report.get("folder").added, report.get("event").added) == (2, 1)
    (record,) = db.lookup("m2.example")
    assert record.indicator.reference == f"{names[1]}/{names[1][:-1]}a"
    assert _sync(feeds, db, T0 + timedelta(hours=2)).get("folder").status == (
        "not_modified"
    )
    _rewrite(folder / f"{names[1]}.json", _misp_event(names[1], "m3.example"))
    changed = _sync(feeds, db, T0 + timedelta(hours=4)).get("folder")
    assert (changed.status, changed.added, changed.removed) == ("updated", 1, 1)


def test_allow_listed_records_never_reach_the_matching_store(tmp_path: Path, db):
    from trustwatch.intel.allowlists import AllowList, WarningList

    (tmp_path / "list.txt").write_text("www.popular.example\nbad.example\n")
    feeds = _feeds('[[feeds]]\nname = "l"\npath = "list.txt"\n', base=tmp_path)
    _sync(feeds, db)
    allow = AllowList(
        [WarningList(name="top sites", type="hostname", entries=["popular.example"])]
    )
    store = db.store(at=T0, allowlist=allow)
    assert [i.value for i in store] == ["bad.example"]
    assert store.allowlisted == {"top sites": 1}
    assert store.match_host("www.popular.example") == []
    assert len(db.lookup("www.popular.example")) == 1  # kept, for analysts
