"""``sync_feeds`` and the wire: encodings, deadlines, answers, targets."""

from __future__ import annotations

import gzip
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

# the stub TAXII server lives with the TAXII polling tests (a sibling module)
import test_taxii_polling as polling
import zstandard

from trustwatch.errors import IntelSourceError
from trustwatch.intel.feedlist import parse_feed_list, redact_url
from trustwatch.intel.sync import (
    FeedFetcher,
    IntelDatabase,
    SyncReport,
    sync_feeds,
)
from trustwatch.intel.taxii import TaxiiSource, poll_collection

stub_server = polling.stub_server

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BODY = b"".join(f"host{i}.example\n".encode() for i in range(200))

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


def _fetcher(handler: Handler, clock: Callable[[], float] | None = None) -> FeedFetcher:
    return FeedFetcher(
        sleep=lambda _: None,
        random=lambda: 0.5,
        transport=httpx.MockTransport(handler),
        environ={},
        clock=clock or Clock(),
    )


def _feed(name: str, url: str, extra: str = "") -> str:
    return f'[[feeds]]\nname = "{name}"\nurl = "{url}"\nretries = 0\n{extra}'


def _sync(
    text: str,
    db: IntelDatabase,
    fetcher: FeedFetcher,
    at: datetime = T0,
    **kwargs: Any,
) -> SyncReport:
    return sync_feeds(parse_feed_list(text), db, now=at, fetcher=fetcher, **kwargs)


def _streamed(body: bytes, headers: dict[str, str]) -> httpx.Response:
    """A response whose body is read as it streams, as from a real server."""
    headers = {**headers, "Content-Length": str(len(body))}
    return httpx.Response(200, stream=httpx.ByteStream(body), headers=headers)


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data)


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


# --- a compressed body cut short ------------------------------------------------------


@pytest.mark.parametrize(
    ("coding", "compress"),
    [("gzip", gzip.compress), ("deflate", _deflate), ("zstd", _zstd)],
)
def test_a_compressed_body_cut_short_fails_and_keeps_the_records(
    db: IntelDatabase, coding: str, compress: Callable[[bytes], bytes]
) -> None:
    whole = compress(BODY)
    served = {"body": whole}

    def handler(request: httpx.Request) -> httpx.Response:
        return _streamed(served["body"], {"Content-Encoding": coding})

    text = _feed("z", "https://f.example/list.txt")
    first = _sync(text, db, _fetcher(handler)).get("z")
    assert (first.status, first.added) == ("updated", 200)

    served["body"] = whole[: len(whole) // 2]
    report = _sync(text, db, _fetcher(handler), force=True).get("z")

    assert report.status == "failed"
    assert "cut short or damaged" in (report.reason or "")
    assert (report.removed, report.rejected, report.total) == (0, 0, 200)
    assert len(db.records(feed="z")) == 200


def test_gzip_members_one_after_another_are_all_read(db: IntelDatabase) -> None:
    half = len(BODY) // 2
    body = gzip.compress(BODY[:half]) + gzip.compress(BODY[half:])

    def handler(request: httpx.Request) -> httpx.Response:
        return _streamed(body, {"Content-Encoding": "gzip"})

    report = _sync(_feed("g", "https://f.example/g"), db, _fetcher(handler)).get("g")
    assert (report.status, report.added) == ("updated", 200)


def test_a_content_encoding_the_sync_cannot_decode_fails_the_feed(
    db: IntelDatabase,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _streamed(b"\x1b\x00\x00garbage", {"Content-Encoding": "br"})

    report = _sync(_feed("b", "https://f.example/b"), db, _fetcher(handler)).get("b")
    assert report.status == "failed"
    assert "Content-Encoding 'br'" in (report.reason or "")
    assert report.rejected == 0


# --- the deadline bounds the whole fetch ----------------------------------------------


def test_no_request_waits_longer_than_the_deadline_leaves(db: IntelDatabase) -> None:
    timeouts: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return httpx.Response(200, content=BODY)

    text = _feed("t", "https://f.example/t", "timeout = 30\ndeadline = 3\n")
    report = _sync(text, db, _fetcher(handler)).get("t")
    assert report.status == "updated"
    (timeout,) = timeouts
    assert 0 < timeout["connect"] <= 3
    assert 0 < timeout["read"] <= 3


def test_a_chain_of_redirects_stops_at_the_deadline(db: IntelDatabase) -> None:
    hops: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hops.append(request.url.path)
        return httpx.Response(302, headers={"Location": f"/hop{len(hops)}"})

    text = _feed("r", "https://f.example/start", "timeout = 3\ndeadline = 7\n")
    report = _sync(text, db, _fetcher(handler)).get("r")
    assert report.status == "failed"
    assert "deadline of 7 s" in (report.reason or "")
    assert len(hops) < 5


def test_a_retry_that_would_start_after_the_deadline_is_not_made(
    db: IntelDatabase,
) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503)

    text = (
        '[[feeds]]\nname = "d"\nurl = "https://f.example/d"\nretries = 5\n'
        "timeout = 1\ndeadline = 4\n"
    )
    report = _sync(text, db, _fetcher(handler)).get("d")
    assert report.status == "failed"
    reason = report.reason or ""
    assert "HTTP 503" in reason and "no time is left" in reason
    assert "deadline of 4 s" in reason
    assert len(calls) < 6


def test_a_server_silent_before_its_headers_is_cut_off_at_the_deadline(
    db: IntelDatabase,
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/list.txt"
        text = _feed("s", url, "timeout = 30\ndeadline = 0.5\n")
        started = time.monotonic()
        report = sync_feeds(parse_feed_list(text), db, now=T0).get("s")
        took = time.monotonic() - started
    assert report.status == "failed"
    assert "deadline of 0.5 s" in (report.reason or "")
    assert took < 10


def test_a_taxii_poll_is_cut_off_at_its_deadline() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/"
        started = time.monotonic()
        with pytest.raises(IntelSourceError, match=r"deadline of 0\.5 s; hint"):
            poll_collection(TaxiiSource(url, "c"), None, timeout=30, deadline=0.5)
        assert time.monotonic() - started < 10


# --- a 304 that answers no question ---------------------------------------------------


def test_a_304_to_an_unconditional_request_fails_the_feed(db: IntelDatabase) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(304)

    text = _feed("n", "https://f.example/n")
    report = _sync(text, db, _fetcher(handler)).get("n")
    assert report.status == "failed"
    assert "304 Not Modified to a request that named no version" in (
        report.reason or ""
    )


def test_a_304_to_a_forced_sync_fails_and_a_conditional_one_is_accepted(
    db: IntelDatabase,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"v1"' or len(seen) > 1:
            seen.append(request)
            return httpx.Response(304)
        seen.append(request)
        return httpx.Response(200, content=BODY, headers={"ETag": '"v1"'})

    seen: list[httpx.Request] = []
    text = _feed("n", "https://f.example/n", 'every = "1h"\n')
    assert _sync(text, db, _fetcher(handler)).get("n").status == "updated"
    later = T0 + timedelta(hours=2)
    assert _sync(text, db, _fetcher(handler), later).get("n").status == "not_modified"
    forced = _sync(text, db, _fetcher(handler), later, force=True).get("n")
    assert forced.status == "failed"
    assert "if-none-match" not in seen[-1].headers
    assert forced.total == 200


# --- a failed feed stays visible until it recovers ------------------------------------


def test_a_failed_feed_says_when_it_is_retried_and_stays_failing_until_then(
    db: IntelDatabase,
) -> None:
    state = {"up": False}

    def handler(request: httpx.Request) -> httpx.Response:
        if state["up"]:
            return httpx.Response(200, content=BODY)
        return httpx.Response(500)

    text = _feed("f", "https://f.example/f")
    failed = _sync(text, db, _fetcher(handler)).get("f")
    assert failed.status == "failed" and failed.failing
    assert "tried again by a sync from 2026-03-01 12:05:00 UTC" in (failed.reason or "")
    assert "--force" in (failed.reason or "")

    skipped = _sync(text, db, _fetcher(handler), T0 + timedelta(minutes=1))
    report = skipped.get("f")
    assert (report.status, report.failing) == ("skipped_not_due", True)
    assert [r.feed for r in skipped.failed] == ["f"]
    assert "still failing" in (report.reason or "")
    assert "HTTP 500" in (report.reason or "")
    assert "12:05:00 UTC" in (report.reason or "")

    state["up"] = True
    recovered = _sync(text, db, _fetcher(handler), T0 + timedelta(minutes=6))
    assert recovered.get("f").status == "updated"
    assert not recovered.failed
    later = _sync(text, db, _fetcher(handler), T0 + timedelta(minutes=7))
    assert (later.get("f").status, later.get("f").failing) == (
        "skipped_not_due",
        False,
    )
    assert later.get("f").reason is None


# --- where a refused target pointed ---------------------------------------------------


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("http://localhost:18083", "http://localhost:18083; hint"),
        ("http://me:pw@localhost:18083/x?key=S3cret", "http://localhost:18083/x; hint"),
    ],
)
def test_a_redirect_off_the_host_names_where_it_pointed(
    db: IntelDatabase, location: str, shown: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": location})

    report = _sync(_feed("o", "https://f.example/o"), db, _fetcher(handler)).get("o")
    reason = report.reason or ""
    assert report.status == "failed"
    assert shown in reason
    assert "<invalid URL>" not in reason
    assert "S3cret" not in reason and "pw" not in reason


def test_a_url_with_an_unreadable_port_is_shown_by_its_host() -> None:
    assert redact_url("http://me:pw@localhost:99999999/p?k=1") == "http://localhost"
    assert redact_url("http://[::1]:8080/p") == "http://[::1]:8080/p"


def _stix_indicator(number: int) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{number:012d}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "pattern": f"[domain-name:value = 'taxii{number}.example']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    }


def _taxii_feed(server: ThreadingHTTPServer) -> str:
    url = f"http://127.0.0.1:{server.server_address[1]}{polling.STUB_ROOT}"
    return (
        f'[[feeds]]\nname = "tx"\nmode = "incremental"\n'
        f'taxii = {{ url = "{url}", collection = "{polling.STUB_COLLECTION}" }}\n'
    )


def test_a_taxii_next_link_off_the_host_names_where_it_pointed(
    stub_server: tuple[polling.Stub, ThreadingHTTPServer], db: IntelDatabase
) -> None:
    stub, server = stub_server
    stub.pages = [
        polling._page(
            [_stix_indicator(1)],
            "2026-01-01T00:00:01Z",
            "http://me:pw@localhost:18083/next?token=S3cret",
        )
    ]
    report = sync_feeds(parse_feed_list(_taxii_feed(server)), db, now=T0).get("tx")
    reason = report.reason or ""
    assert report.status == "failed"
    assert "sent a 'next' link to http://localhost:18083; only" in reason
    assert "<invalid URL>" not in reason
    assert "S3cret" not in reason and "pw@" not in reason


# --- a TAXII date-added time in the future --------------------------------------------


def test_a_future_taxii_date_added_is_not_kept_as_the_checkpoint(
    stub_server: tuple[polling.Stub, ThreadingHTTPServer], db: IntelDatabase
) -> None:
    stub, server = stub_server
    stub.pages = [polling._page([_stix_indicator(1)], "2099-01-01T00:00:00Z", None)]
    text = _taxii_feed(server)
    report = sync_feeds(parse_feed_list(text), db, now=T0).get("tx")
    assert (report.status, report.added) == ("updated", 1)
    assert any("in the future (2099-01-01" in w for w in report.warnings)
    point = db.checkpoint("tx")
    assert point is not None
    assert point.added_after == "2026-03-01T12:00:00.000000Z"

    stub.pages = [polling._page([_stix_indicator(2)], "2026-03-01T13:00:00Z", None)]
    later = T0 + timedelta(days=2)
    again = sync_feeds(parse_feed_list(text), db, now=later).get("tx")
    assert (again.status, again.added) == ("updated", 1)
    asked = stub.requests[-1][1]
    assert asked["added_after"] == ["2026-03-01T12:00:00.000000Z"]
    assert not again.warnings


def test_a_future_checkpoint_already_stored_polls_from_the_last_success(
    stub_server: tuple[polling.Stub, ThreadingHTTPServer], db: IntelDatabase
) -> None:
    stub, server = stub_server
    stub.pages = [polling._page([_stix_indicator(1)], "2026-03-01T11:00:00Z", None)]
    text = _taxii_feed(server)
    sync_feeds(parse_feed_list(text), db, now=T0)
    point = db.checkpoint("tx")
    assert point is not None
    point.added_after = "2099-01-01T00:00:00Z"
    with db._transaction():
        db._save_checkpoint(point)

    stub.pages = [polling._page([_stix_indicator(2)], "2026-03-02T11:00:00Z", None)]
    report = sync_feeds(parse_feed_list(text), db, now=T0 + timedelta(days=2))
    tx = report.get("tx")
    assert (tx.status, tx.added) == ("updated", 1)
    assert stub.requests[-1][1]["added_after"] == ["2026-03-01T12:00:00.000000Z"]
    assert any("checkpoint holds" in w for w in tx.warnings)
