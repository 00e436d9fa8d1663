"""Polling TAXII 2.1 collections: the reference server (medallion) and a stub.

The medallion server runs in a thread on 127.0.0.1 with its memory backend
read in place from ``../shared/datasets/taxii21-medallion-sample``. A small
stub server covers what medallion cannot be made to do: bearer tokens,
repeated objects across pages, ``next`` links aimed elsewhere, redirects,
server errors and TLS.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from tests.certificates import self_signed
from urllib3.exceptions import InsecureRequestWarning

from trustwatch.errors import ConfigError, IntelSourceError
from trustwatch.intel.taxii import (
    TAXII_21_MEDIA_TYPE,
    TaxiiPoll,
    TaxiiSource,
    poll_collection,
)

DATASET = "taxii21-medallion-sample"
DATA_FILE = "medallion_test_data_default_data.json"
CONFIG_FILE = "medallion_test_data_config.json"
API_ROOT = "trustgroup1"
INDICATORS = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
INDICATORS_TITLE = "High Value Indicator Collection"
SECRET = "64993447-4d7e-4f70-b94d-d7f33742ee63"
USER = "admin"


# --------------------------------------------------------------------------
# medallion, the TAXII 2.1 reference server
# --------------------------------------------------------------------------


@dataclass
class Medallion:
    """A running medallion server and what it was loaded with."""

    root_url: str
    password: str
    data_path: Path
    data: dict[str, Any]
    app: Any

    def source(self, collection: str = INDICATORS, **kwargs: Any) -> TaxiiSource:
        """Return a source for ``collection`` with the admin's credentials."""
        kwargs.setdefault("username", USER)
        kwargs.setdefault("password", self.password)
        return TaxiiSource(self.root_url, collection, **kwargs)

    def collection_data(self, collection_id: str) -> dict[str, Any]:
        """Return the data file's entry for a collection of the api root."""
        for collection in self.data[API_ROOT]["collections"]:
            if collection["id"] == collection_id:
                return dict(collection)
        raise KeyError(collection_id)

    def reset(self) -> None:
        """Reload the data file, dropping objects added and paging state."""
        backend = self.app.medallion_backend
        backend.load_data_from_file(str(self.data_path))
        backend.next.clear()

    def add_objects(self, objects: list[dict[str, Any]]) -> None:
        """Add objects to the indicator collection through the TAXII API."""
        response = requests.post(
            f"{self.root_url}collections/{INDICATORS}/objects/",
            data=json.dumps({"objects": objects}),
            auth=(USER, self.password),
            headers={
                "Accept": TAXII_21_MEDIA_TYPE,
                "Content-Type": TAXII_21_MEDIA_TYPE,
            },
            timeout=10,
        )
        assert response.status_code == 202, response.text
        assert response.json()["success_count"] == len(objects)


def _dataset(datasets_dir: Path) -> Path:
    folder = datasets_dir / DATASET
    if (folder / DATA_FILE).is_file() and (folder / CONFIG_FILE).is_file():
        return folder
    reason = f"{folder} is absent: the medallion sample data is not on this machine"
    if os.environ.get("TRUSTWATCH_REQUIRE_DATASETS") == "1":
        pytest.fail(f"{reason}, and TRUSTWATCH_REQUIRE_DATASETS=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def medallion_server(datasets_dir: Path) -> Iterator[Medallion]:
    """Medallion on 127.0.0.1 (a free port) serving the sample data file."""
    folder = _dataset(datasets_dir)
    medallion = pytest.importorskip("medallion")
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return None

    config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    data_path = folder / DATA_FILE
    config["backend"] = {
        "module": "medallion.backends.memory_backend",
        "module_class": "MemoryBackend",
        "filename": str(data_path),
        # the backend expires sessions on a timer that re-arms itself for
        # good; a day apart, it never fires while the tests run
        "check_interval": 86_400,
    }
    app = medallion.application_instance
    for part in ("users", "taxii", "backend"):
        medallion.set_config(app, part, config)
    if "objects" not in app.blueprints:
        medallion.register_blueprints(app)
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Medallion(
            root_url=f"http://127.0.0.1:{server.server_port}/{API_ROOT}/",
            password=config["users"][USER],
            data_path=data_path,
            data=json.loads(data_path.read_text(encoding="utf-8")),
            app=app,
        )
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        _stop_session_timers()


def _stop_session_timers() -> None:
    """Cancel the memory backend's session timer, which nothing else stops.

    Left running, each firing starts a new timer thread for the rest of the
    test session, and each one that ends frees objects while other tests
    run.
    """
    for timer in threading.enumerate():
        owner = getattr(getattr(timer, "function", None), "__self__", None)
        if isinstance(timer, threading.Timer) and type(owner).__name__ == (
            "SessionChecker"
        ):
            timer.cancel()
            timer.join(timeout=10)


@pytest.fixture
def taxii(medallion_server: Medallion) -> Medallion:
    """The medallion server with the sample data freshly loaded."""
    medallion_server.reset()
    return medallion_server


def _latest_ids(collection: dict[str, Any]) -> set[str]:
    """Ids of the STIX objects a collection holds (one per object, any version)."""
    return {stix_object["id"] for stix_object in collection["objects"]}


def _new_indicators() -> list[dict[str, Any]]:
    """Two indicators made up for the test, on documentation names and addresses."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    patterns = {
        "indicator--0c6a4a6b-4a61-4c1e-9d0d-7e1f2a3b4c01": (
            "[domain-name:value = 'taxii-poll-test.example']"
        ),
        "indicator--0c6a4a6b-4a61-4c1e-9d0d-7e1f2a3b4c02": (
            "[ipv4-addr:value = '198.51.100.77']"
        ),
    }
    return [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": stix_id,
            "created": now,
            "modified": now,
            "name": "added by the polling test",
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": now,
        }
        for stix_id, pattern in patterns.items()
    ]


@pytest.mark.datasets
def test_a_full_poll_returns_every_object_of_the_collection(taxii: Medallion) -> None:
    expected = _latest_ids(taxii.collection_data(INDICATORS))

    poll = poll_collection(taxii.source(), None)

    assert isinstance(poll, TaxiiPoll)
    assert len(poll.objects) == len(expected) == 5
    assert {stix_object["id"] for stix_object in poll.objects} == expected
    assert poll.pages == 1
    assert poll.duplicates == 0
    assert poll.rejects == []
    newest = max(
        entry["date_added"] for entry in taxii.collection_data(INDICATORS)["manifest"]
    )
    assert poll.added_last == newest


@pytest.mark.datasets
def test_the_collection_can_be_named_by_title(taxii: Medallion) -> None:
    by_title = poll_collection(taxii.source(INDICATORS_TITLE), None)
    by_id = poll_collection(taxii.source(INDICATORS), None)

    assert [o["id"] for o in by_title.objects] == [o["id"] for o in by_id.objects]


@pytest.mark.datasets
def test_an_incremental_poll_returns_only_objects_added_since(taxii: Medallion) -> None:
    first = poll_collection(taxii.source(), None)
    added = _new_indicators()
    taxii.add_objects(added)

    second = poll_collection(taxii.source(), first.added_last)

    assert sorted(o["id"] for o in second.objects) == sorted(o["id"] for o in added)
    assert second.added_last is not None and first.added_last is not None
    assert second.added_last > first.added_last

    third = poll_collection(taxii.source(), second.added_last)

    assert third.objects == []
    assert third.added_last == second.added_last


@pytest.mark.datasets
def test_small_pages_are_followed_to_the_end(taxii: Medallion) -> None:
    whole = poll_collection(taxii.source(), None)

    paged = poll_collection(taxii.source(), None, page_size=2)

    assert paged.pages == 3
    assert [o["id"] for o in paged.objects] == [o["id"] for o in whole.objects]
    assert len({(o["id"], o.get("modified")) for o in paged.objects}) == 5
    assert paged.added_last == whole.added_last


@pytest.mark.datasets
def test_paging_and_added_after_combine(taxii: Medallion) -> None:
    manifest = taxii.collection_data(INDICATORS)["manifest"]
    cut = sorted(entry["date_added"] for entry in manifest)[3]
    newer = {entry["id"] for entry in manifest if entry["date_added"] > cut}

    poll = poll_collection(taxii.source(), cut, page_size=1)

    assert {o["id"] for o in poll.objects} == newer
    assert poll.pages == len(poll.objects)


@pytest.mark.datasets
def test_a_wrong_password_is_an_error_that_hides_the_password(
    taxii: Medallion, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "Not-the-Passw0rd-4242"

    with pytest.raises(IntelSourceError) as caught:
        poll_collection(taxii.source(password=wrong), None)

    message = str(caught.value)
    assert "401" in message
    assert "hint:" in message
    assert wrong not in message
    assert wrong not in caplog.text
    assert wrong not in repr(taxii.source(password=wrong))


@pytest.mark.datasets
def test_an_unknown_collection_is_an_error_with_a_hint(taxii: Medallion) -> None:
    with pytest.raises(IntelSourceError, match="hint:") as caught:
        poll_collection(taxii.source("no-such-collection"), None)

    assert "no-such-collection" in str(caught.value)
    assert INDICATORS in str(caught.value)


@pytest.mark.datasets
def test_an_unknown_api_root_is_a_404_with_a_hint(taxii: Medallion) -> None:
    source = TaxiiSource(
        taxii.root_url.replace(API_ROOT, "nowhere"),
        INDICATORS,
        username=USER,
        password=taxii.password,
    )

    with pytest.raises(IntelSourceError, match=r"HTTP 404.*hint: check the api-root"):
        poll_collection(source, None)


@pytest.mark.datasets
def test_an_unreadable_collection_is_an_error_with_a_hint(taxii: Medallion) -> None:
    with pytest.raises(IntelSourceError, match="read access"):
        poll_collection(taxii.source(SECRET), None)


@pytest.mark.datasets
def test_polled_indicators_become_trustwatch_indicators(taxii: Medallion) -> None:
    stix = pytest.importorskip("trustwatch.intel.stix")
    poll = poll_collection(taxii.source(), None)
    stix_indicators = [o for o in poll.objects if o["type"] == "indicator"]

    load = stix.load_stix_objects(
        poll.objects, feed="taxii-sample", location=f"{taxii.root_url}{INDICATORS}"
    )

    assert len(stix_indicators) == 2
    assert len(load.indicators) == len(stix_indicators)
    assert {i.reference for i in load.indicators} == {o["id"] for o in stix_indicators}
    assert sorted(i.type for i in load.indicators) == ["sha256", "url"]
    assert {i.feed for i in load.indicators} == {"taxii-sample"}


# --------------------------------------------------------------------------
# a stub TAXII server for behaviour medallion does not show
# --------------------------------------------------------------------------

STUB_ROOT = "/api/"
STUB_COLLECTION = "c0ffee00-0000-4000-8000-000000000001"


def _stix(number: int) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{number:012d}",
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "pattern": f"[ipv4-addr:value = '192.0.2.{number}']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }


@dataclass
class Stub:
    """What the stub server answers, and what it was asked."""

    pages: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    token: str | None = None
    redirect_to: str | None = None
    requests: list[tuple[str, dict[str, list[str]], str | None]] = field(
        default_factory=list
    )


def _stub_handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", TAXII_21_MEDIA_TYPE)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            stub.requests.append((parts.path, query, self.headers.get("Authorization")))
            if stub.token is not None and (
                self.headers.get("Authorization") != f"Bearer {stub.token}"
            ):
                self._send(401, {"title": "unauthorised"}, {})
                return
            if stub.redirect_to is not None:
                self.send_response(302)
                self.send_header("Location", stub.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if stub.status != 200:
                self._send(stub.status, {"title": "failure"}, {})
                return
            if parts.path == f"{STUB_ROOT}collections/":
                collection = {
                    "id": STUB_COLLECTION,
                    "title": "stub",
                    "can_read": True,
                    "can_write": False,
                    "media_types": ["application/stix+json;version=2.1"],
                }
                self._send(200, {"collections": [collection]}, {})
                return
            if parts.path == f"{STUB_ROOT}collections/{STUB_COLLECTION}/objects/":
                token = query.get("next", [""])[0]
                tokens = [page.get("next") for page in stub.pages]
                number = tokens.index(token) + 1 if token else 0
                page = stub.pages[number]
                headers = {"X-TAXII-Date-Added-Last": page.pop("_added_last")}
                self._send(200, page, headers)
                return
            self._send(404, {"title": "not found"}, {})

    return Handler


@pytest.fixture
def stub_server() -> Iterator[tuple[Stub, ThreadingHTTPServer]]:
    """A stub TAXII 2.1 server on 127.0.0.1 at a free port."""
    stub = Stub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _stub_handler(stub))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield stub, server
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _stub_url(server: ThreadingHTTPServer, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.server_address[1]}{STUB_ROOT}"


def _page(objects: list[Any], added_last: str, more: str | None) -> dict[str, Any]:
    page: dict[str, Any] = {"objects": objects, "_added_last": added_last}
    if more is not None:
        page.update(more=True, next=more)
    return page


def test_objects_repeated_across_pages_are_kept_once(
    stub_server: tuple[Stub, ThreadingHTTPServer],
) -> None:
    stub, server = stub_server
    stub.pages = [
        _page([_stix(1), _stix(2)], "2024-01-01T00:00:02.000000Z", "1"),
        _page([_stix(2), _stix(3), "not an object"], "2024-01-01T00:00:03.5Z", None),
    ]

    poll = poll_collection(TaxiiSource(_stub_url(server), STUB_COLLECTION), None)

    assert [o["id"][-1] for o in poll.objects] == ["1", "2", "3"]
    assert poll.duplicates == 1
    assert poll.pages == 2
    assert poll.added_last == "2024-01-01T00:00:03.5Z"
    assert [reject.reason for reject in poll.rejects] == ["malformed_record"]
    assert stub.requests[-1][1]["next"] == ["1"]


def test_opaque_next_tokens_with_slashes_are_followed(
    stub_server: tuple[Stub, ThreadingHTTPServer],
) -> None:
    stub, server = stub_server
    same_server = f"{_stub_url(server)}?page=3"
    stub.pages = [
        _page([_stix(1)], "2024-01-01T00:00:01Z", "q1//x+/=="),
        _page([_stix(2)], "2024-01-01T00:00:02Z", same_server),
        _page([_stix(3)], "2024-01-01T00:00:03Z", None),
    ]

    poll = poll_collection(TaxiiSource(_stub_url(server), STUB_COLLECTION), None)

    assert len(poll.objects) == 3
    assert [query.get("next") for _, query, _ in stub.requests[1:]] == [
        None,
        ["q1//x+/=="],
        [same_server],
    ]


def test_a_server_paging_in_a_loop_is_stopped(
    stub_server: tuple[Stub, ThreadingHTTPServer],
) -> None:
    stub, server = stub_server
    stub.pages = [
        _page([_stix(1)], "2024-01-01T00:00:01Z", "a"),
        _page([_stix(1)], "2024-01-01T00:00:01Z", "b"),
        _page([_stix(2)], "2024-01-01T00:00:02Z", None),
    ]

    with pytest.raises(IntelSourceError, match="paging in a loop"):
        poll_collection(TaxiiSource(_stub_url(server), STUB_COLLECTION), None)

    assert len(stub.requests) == 3


def test_more_without_a_next_token_is_an_error(
    stub_server: tuple[Stub, ThreadingHTTPServer],
) -> None:
    stub, server = stub_server
    stub.pages = [{"objects": [_stix(1)], "more": True, "_added_last": "2024-01-01Z"}]

    with pytest.raises(IntelSourceError, match="no 'next' token"):
        poll_collection(TaxiiSource(_stub_url(server), STUB_COLLECTION), None)


def test_a_bearer_token_is_sent_and_kept_out_of_the_repr(
    stub_server: tuple[Stub, ThreadingHTTPServer],
) -> None:
    stub, server = stub_server
    stub.token = "tok-1234-secret"
    stub.pages = [_page([_stix(1)], "2024-01-01T00:00:01Z", None)]
    source = TaxiiSource(_stub_url(server), STUB_COLLECTION, token=stub.token)

    poll = poll_collection(source, "2023-12-31T00:00:00Z")

    assert len(poll.objects) == 1
    assert stub.requests[-1][1]["added_after"] == ["2023-12-31T00:00:00Z"]
    assert stub.token not in repr(source)

    with pytest.raises(IntelSourceError, match="401") as caught:
        poll_collection(
            TaxiiSource(_stub_url(server), STUB_COLLECTION, token="tok-wrong-99"),
            None,
        )
    assert "tok-wrong-99" not in str(caught.value)


def test_a_next_link_to_another_host_is_refused(
    stub_server: tuple[Stub, ThreadingHTTPServer],
) -> None:
    stub, server = stub_server
    stub.pages = [_page([_stix(1)], "2024-01-01T00:00:01Z", "https://elsewhere.test/p")]

    with pytest.raises(IntelSourceError, match=r"elsewhere\.test") as caught:
        poll_collection(TaxiiSource(_stub_url(server), STUB_COLLECTION), None)

    assert "hint:" in str(caught.value)
    assert len(stub.requests) == 2


def test_a_redirect_to_another_port_is_refused(
    stub_server: tuple[Stub, ThreadingHTTPServer],
) -> None:
    stub, server = stub_server
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        stub.redirect_to = f"http://127.0.0.1:{other.getsockname()[1]}{STUB_ROOT}"

        with pytest.raises(IntelSourceError, match="refused a request"):
            poll_collection(TaxiiSource(_stub_url(server), STUB_COLLECTION), None)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (403, "read access"),
        (404, "api-root URL"),
        (500, "try again"),
        (503, "HTTP 503"),
    ],
)
def test_http_failures_are_errors_with_hints(
    stub_server: tuple[Stub, ThreadingHTTPServer], status: int, words: str
) -> None:
    stub, server = stub_server
    stub.status = status
    source = TaxiiSource(
        _stub_url(server), STUB_COLLECTION, username="u", password="pw-hidden-77"
    )

    with pytest.raises(IntelSourceError, match=f"HTTP {status}") as caught:
        poll_collection(source, None)

    assert words in str(caught.value)
    assert "hint:" in str(caught.value)
    assert "pw-hidden-77" not in str(caught.value)


def test_a_silent_server_times_out_with_a_hint() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/"

        with pytest.raises(IntelSourceError, match="raise the timeout"):
            poll_collection(TaxiiSource(url, "c"), None, timeout=0.2)


def test_a_closed_port_is_a_connection_error_with_a_hint() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(IntelSourceError, match="could not connect"):
        poll_collection(TaxiiSource(f"http://127.0.0.1:{port}/api/", "c"), None)


def test_tls_certificates_are_verified_unless_turned_off(
    stub_server: tuple[Stub, ThreadingHTTPServer], tmp_path: Path
) -> None:
    stub, server = stub_server
    stub.pages = [_page([_stix(1)], "2024-01-01T00:00:01Z", None)]
    cert_path, key_path = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)

    with pytest.raises(IntelSourceError, match="TLS"):
        poll_collection(TaxiiSource(_stub_url(server, "https"), STUB_COLLECTION), None)

    stub.pages = [_page([_stix(1)], "2024-01-01T00:00:01Z", None)]
    insecure = TaxiiSource(
        _stub_url(server, "https"), STUB_COLLECTION, verify_tls=False
    )
    with pytest.warns(InsecureRequestWarning):
        assert len(poll_collection(insecure, None).objects) == 1


@pytest.mark.parametrize(
    ("source", "added_after", "words"),
    [
        (TaxiiSource("ftp://host/api/", "c"), None, "https://"),
        (TaxiiSource("https://u:p@host/api/", "c"), None, "carries credentials"),
        (TaxiiSource("https://host/api/?key=1", "c"), None, "query"),
        (TaxiiSource("https://host/api/", " "), None, "collection is empty"),
        (TaxiiSource("https://host/api/", "c", username="u"), None, "both"),
        (
            TaxiiSource(
                "https://host/api/", "c", username="u", password="p", token="t"
            ),
            None,
            "token",
        ),
        (TaxiiSource("https://host/api/", "c"), "yesterday", "not a timestamp"),
    ],
)
def test_unusable_settings_are_config_errors(
    source: TaxiiSource, added_after: str | None, words: str
) -> None:
    with pytest.raises(ConfigError, match="hint:") as caught:
        poll_collection(source, added_after)

    assert words in str(caught.value)
    assert ":p@" not in str(caught.value)


def test_page_size_and_timeout_must_be_positive() -> None:
    source = TaxiiSource("https://host/api/", "c")

    with pytest.raises(ConfigError, match="page size"):
        poll_collection(source, None, page_size=0)
    with pytest.raises(ConfigError, match="timeout"):
        poll_collection(source, None, timeout=0)
