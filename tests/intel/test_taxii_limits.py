"""A TAXII poll is held to the feed's ``max_bytes``, ``deadline`` and ``retries``.

A scripted TAXII 2.1 server on 127.0.0.1 answers each request for objects
as the test says: a gzip body that inflates far past the limit, a body
dripped a few bytes at a time, a ``429`` with ``Retry-After``, a ``503``,
a connection dropped part-way.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

# the stub TAXII server's names and objects live with the polling tests
import test_taxii_polling as polling

from trustwatch.errors import IntelSourceError
from trustwatch.intel.feedlist import parse_feed_list
from trustwatch.intel.sync import FeedFetcher, FeedReport, IntelDatabase, sync_feeds
from trustwatch.intel.taxii import TaxiiSource, poll_collection

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADDED_LAST = "2026-03-01T11:00:00.000Z"


@dataclass
class Script:
    """What the server answers: one action per request for objects, in order.

    An action is a dict: ``status`` (with ``headers``), ``bomb`` (decoded
    bytes of a gzip body), ``drip`` (bytes per write, seconds between),
    ``drop`` (close part-way), ``pad`` (spaces added to the page), ``deep``
    (an extra object nested that many levels);
    ``{}`` or running out of actions answers the page plainly.
    ``collections_pad`` pads the collections listing.
    """

    actions: list[dict[str, Any]] = field(default_factory=list)
    collections_pad: int = 0
    paths: list[str] = field(default_factory=list)


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _send(
            self, status: int, body: bytes, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", polling.TAXII_21_MEDIA_TYPE)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if "Content-Length" not in (headers or {}):
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:  # the client gave up reading, as it should
                self.close_connection = True

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            script.paths.append(path)
            root = polling.STUB_ROOT
            if path == f"{root}collections/":
                collection = {
                    "id": polling.STUB_COLLECTION,
                    "title": "stub",
                    "can_read": True,
                    "can_write": False,
                }
                body = json.dumps({"collections": [collection]})
                self._send(200, (body + " " * script.collections_pad).encode())
                return
            if path != f"{root}collections/{polling.STUB_COLLECTION}/objects/":
                self._send(404, b"{}")
                return
            action = script.actions.pop(0) if script.actions else {}
            page = {"more": False, "objects": [polling._stix(1), polling._stix(2)]}
            body = json.dumps(page).encode() + b" " * action.get("pad", 0)
            if "deep" in action:  # one more object, nested that many levels
                nested = b'{"a":' * action["deep"] + b"1" + b"}" * action["deep"]
                body = body.replace(b"]}", b', {"x_deep": ' + nested + b"}]}", 1)
            headers = {"X-TAXII-Date-Added-Last": ADDED_LAST}
            if "status" in action:
                self._send(action["status"], b"{}", action.get("headers"))
            elif "bomb" in action:
                padded = body + b" " * action["bomb"]
                headers["Content-Encoding"] = "gzip"
                self._send(200, gzip.compress(padded, compresslevel=9), headers)
            elif "drip" in action:
                size, pause = action["drip"]
                headers["Content-Length"] = str(len(body))
                self._send(200, b"", headers)
                try:
                    for start in range(0, len(body), size):
                        self.wfile.write(body[start : start + size])
                        self.wfile.flush()
                        time.sleep(pause)
                except OSError:
                    return
            elif action.get("drop"):
                headers["Content-Length"] = str(len(body))
                self._send(200, body[: len(body) // 2], headers)
                self.close_connection = True
            else:
                self._send(200, body, headers)

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[Script, str]]:
    """The scripted server, and its api-root URL."""
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield script, f"http://127.0.0.1:{httpd.server_address[1]}{polling.STUB_ROOT}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[IntelDatabase]:
    with IntelDatabase(tmp_path / "intel.sqlite") as database:
        yield database


def _sync(
    url: str, db: IntelDatabase, extra: str = "", sleeps: list[float] | None = None
) -> FeedReport:
    text = (
        f'[[feeds]]\nname = "tx"\nmode = "incremental"\n{extra}'
        f'taxii = {{ url = "{url}", collection = "{polling.STUB_COLLECTION}" }}\n'
    )
    fetcher = FeedFetcher(
        sleep=(sleeps if sleeps is not None else []).append,
        random=lambda: 0.5,
        environ={},
    )
    return sync_feeds(parse_feed_list(text), db, now=T0, fetcher=fetcher).get("tx")


# --- max_bytes ----------------------------------------------------------------------


def test_a_gzip_page_inflating_past_max_bytes_fails_the_feed_and_stores_nothing(
    server: tuple[Script, str], db: IntelDatabase
) -> None:
    script, url = server
    script.actions = [{"bomb": 20_000_000}]

    report = _sync(url, db, "max_bytes = 1000000\n")

    assert report.status == "failed"
    assert "max_bytes (1,000,000)" in (report.reason or "")
    assert "after decompression" in (report.reason or "")
    assert "hint:" in (report.reason or "")
    assert (report.added, report.total) == (0, 0)
    point = db.checkpoint("tx")
    assert point is not None and point.added_after is None


def test_max_bytes_holds_the_whole_poll_not_each_page(
    server: tuple[Script, str],
) -> None:
    script, url = server
    source = TaxiiSource(url, polling.STUB_COLLECTION)
    script.actions = [{"pad": 600_000}]
    assert len(poll_collection(source, None, max_bytes=1_000_000).objects) == 2

    script.collections_pad = 600_000
    script.actions = [{"pad": 600_000}]
    with pytest.raises(IntelSourceError, match="more than max_bytes"):
        poll_collection(source, None, max_bytes=1_000_000)

    script.collections_pad = 2_000_000
    with pytest.raises(IntelSourceError, match="more than max_bytes"):
        poll_collection(source, None, max_bytes=1_000_000)
    assert script.paths[-1].endswith("/collections/")


def test_an_object_nested_too_deeply_is_a_reject_not_a_failed_poll(
    server: tuple[Script, str], db: IntelDatabase
) -> None:
    script, url = server
    script.actions = [{"deep": 1000}]

    report = _sync(url, db)

    assert (report.status, report.added) == ("updated", 2)
    assert report.rejected_by_reason == {"too_deep": 1}
    assert report.reject_examples[0].location.endswith("/objects/#page1")


# --- deadline -----------------------------------------------------------------------


@pytest.mark.slow
def test_a_body_dripped_past_the_deadline_is_cut_off(
    server: tuple[Script, str], db: IntelDatabase
) -> None:
    script, url = server
    script.actions = [{"drip": (20, 0.2)}]

    started = time.monotonic()
    report = _sync(url, db, "timeout = 5\ndeadline = 1\nretries = 0\n")
    took = time.monotonic() - started

    assert report.status == "failed"
    assert "deadline of 1 s" in (report.reason or "")
    assert report.total == 0
    assert took < 4


# --- retries ------------------------------------------------------------------------


def test_a_429_is_retried_after_its_retry_after(
    server: tuple[Script, str], db: IntelDatabase
) -> None:
    script, url = server
    script.actions = [{"status": 429, "headers": {"Retry-After": "7"}}]
    sleeps: list[float] = []

    report = _sync(url, db, "retries = 2\n", sleeps)

    assert (report.status, report.added) == ("updated", 2)
    assert sleeps == [7.0]


def test_5xx_and_a_dropped_connection_are_retried_with_back_off(
    server: tuple[Script, str], db: IntelDatabase
) -> None:
    script, url = server
    script.actions = [{"status": 503}, {"drop": True}]
    sleeps: list[float] = []

    report = _sync(url, db, "retries = 3\n", sleeps)

    assert (report.status, report.added) == ("updated", 2)
    # the HTTP feeds' back-off: equal jitter on 1 s, then 2 s
    assert sleeps == [0.75, 1.5]


def test_a_429_left_after_the_retries_fails_with_its_own_hint(
    server: tuple[Script, str], db: IntelDatabase
) -> None:
    script, url = server
    script.actions = [{"status": 429}] * 3
    sleeps: list[float] = []

    report = _sync(url, db, "retries = 1\n", sleeps)

    reason = report.reason or ""
    assert report.status == "failed"
    assert "HTTP 429" in reason and "limiting" in reason
    assert "check the api-root URL" not in reason
    assert len(sleeps) == 1


def test_a_retry_after_past_the_deadline_fails_without_waiting(
    server: tuple[Script, str], db: IntelDatabase
) -> None:
    script, url = server
    script.actions = [{"status": 429, "headers": {"Retry-After": "86400"}}]
    sleeps: list[float] = []

    report = _sync(url, db, "retries = 3\ndeadline = 30\n", sleeps)

    reason = report.reason or ""
    assert report.status == "failed"
    assert "no time is left" in reason and "86400" in reason
    assert sleeps == []


def test_http_feeds_wait_as_long_as_retry_after_asks(db: IntelDatabase) -> None:
    answers = [httpx.Response(503, headers={"Retry-After": "12"})]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if answers else httpx.Response(200, content=b"a.ex\n")

    sleeps: list[float] = []
    fetcher = FeedFetcher(
        sleep=sleeps.append,
        random=lambda: 0.5,
        transport=httpx.MockTransport(handler),
        environ={},
    )
    text = '[[feeds]]\nname = "h"\nurl = "https://f.example/h"\nretries = 2\n'
    report = sync_feeds(parse_feed_list(text), db, now=T0, fetcher=fetcher).get("h")

    assert (report.status, report.added) == ("updated", 1)
    assert sleeps == [12.0]
