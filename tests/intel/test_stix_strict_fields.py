"""Every STIX record a feed sends is accounted for, and fields of the wrong kind reject.

A TAXII envelope entry that is not a STIX object, an indicator whose
timestamps are not RFC 3339, whose ``revoked`` is not a boolean or whose
``confidence`` is not 0..100 are rejects with a reason, in ``intel sync``
reports (TAXII, STIX files) and as dead letters of ``run --intel``; a
revocation of an id the feed never sent is ``skipped`` as ``revoked``.
A stub TAXII 2.1 server on 127.0.0.1 serves the pages.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from trustwatch.intel import stix
from trustwatch.intel.feedlist import parse_feed_list
from trustwatch.intel.stix import load_stix_objects
from trustwatch.intel.sync import FeedFetcher, FeedReport, IntelDatabase, sync_feeds
from trustwatch.runtime.embedded import load_intel

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STAMP = "2026-02-01T00:00:00.000Z"
ROOT = "/api/"
COLLECTION = "c0ffee00-0000-4000-8000-00000000000a"
MEDIA_TYPE = "application/taxii+json;version=2.1"


def _indicator(number: int, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{number:012d}",
        "created": STAMP,
        "modified": STAMP,
        "valid_from": STAMP,
        "pattern": f"[domain-name:value = '{value}']",
        "pattern_type": "stix",
        **extra,
    }


#: Indicators with one malformed field, and the reject reason each gives.
MALFORMED: dict[str, tuple[dict[str, Any], str]] = {
    "revoked_as_text": ({"revoked": "true"}, "invalid_field"),
    "revoked_as_number": ({"revoked": 1}, "invalid_field"),
    "valid_until_in_words": ({"valid_until": "tomorrow"}, "invalid_timestamp"),
    "valid_until_as_number": ({"valid_until": 12345}, "invalid_timestamp"),
    "valid_until_empty": ({"valid_until": ""}, "invalid_timestamp"),
    "valid_until_date_only": ({"valid_until": "2026-03-02"}, "invalid_timestamp"),
    "valid_from_in_words": ({"valid_from": "yesterday"}, "invalid_timestamp"),
    "valid_from_no_offset": (
        {"valid_from": "2026-02-01T00:00:00"},
        "invalid_timestamp",
    ),
    "modified_garbage": ({"modified": "garbage"}, "invalid_timestamp"),
    "created_impossible_day": (
        {"created": "2026-02-30T00:00:00Z"},
        "invalid_timestamp",
    ),
    "confidence_too_high": ({"confidence": 150}, "invalid_field"),
    "confidence_negative": ({"confidence": -1}, "invalid_field"),
    "confidence_as_text": ({"confidence": "80"}, "invalid_field"),
    "confidence_as_boolean": ({"confidence": True}, "invalid_field"),
    "confidence_fraction": ({"confidence": 70.5}, "invalid_field"),
}


# --- a stub TAXII server ------------------------------------------------------------


@dataclass
class Pages:
    """The envelopes the stub serves for objects, one per request, in order."""

    envelopes: list[dict[str, Any]] = field(default_factory=list)


def _handler(pages: Pages) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _send(self, body: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", MEDIA_TYPE)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == f"{ROOT}collections/":
                collection = {
                    "id": COLLECTION,
                    "title": "stub",
                    "can_read": True,
                    "can_write": False,
                }
                self._send({"collections": [collection]}, {})
                return
            envelope = (
                pages.envelopes.pop(0)
                if pages.envelopes
                else {"more": False, "objects": []}
            )
            self._send(envelope, envelope.pop("_headers", {}))

    return Handler


@pytest.fixture
def taxii() -> Iterator[tuple[Pages, str]]:
    """The stub server's pages, and its api-root URL."""
    pages = Pages()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(pages))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield pages, f"http://127.0.0.1:{httpd.server_address[1]}{ROOT}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[IntelDatabase]:
    with IntelDatabase(tmp_path / "intel.sqlite") as database:
        yield database


def _sync_taxii(url: str, db: IntelDatabase, at: datetime = T0) -> FeedReport:
    text = (
        '[[feeds]]\nname = "tx"\nmode = "incremental"\n'
        f'taxii = {{ url = "{url}", collection = "{COLLECTION}" }}\n'
    )
    fetcher = FeedFetcher(sleep=lambda _: None, random=lambda: 0.5, environ={})
    feeds = parse_feed_list(text)
    return sync_feeds(feeds, db, now=at, fetcher=fetcher, force=True).get("tx")


def _page(
    *objects: Any, added_last: str = "2026-03-01T11:00:00.000Z"
) -> dict[str, Any]:
    return {
        "more": False,
        "objects": list(objects),
        "_headers": {"X-TAXII-Date-Added-Last": added_last},
    }


# --- TAXII entries that are not STIX objects ----------------------------------------


def test_taxii_entries_that_are_not_stix_objects_are_rejects_in_the_report(
    taxii: tuple[Pages, str], db: IntelDatabase
) -> None:
    pages, url = taxii
    pages.envelopes.append(
        _page(
            1,
            "str",
            None,
            {"type": "indicator"},
            {"id": "indicator--x"},
            _indicator(1, "good.example"),
        )
    )
    report = _sync_taxii(url, db)
    assert (report.status, report.added) == ("updated", 1)
    assert report.rejected == 5
    assert report.rejected_by_reason == {"malformed_record": 5}
    assert {example.reason for example in report.reject_examples} == {
        "malformed_record"
    }
    assert "not a STIX object" in report.reject_examples[0].message


def test_a_taxii_page_of_only_non_objects_is_reported_not_taken_as_unchanged(
    taxii: tuple[Pages, str], db: IntelDatabase
) -> None:
    pages, url = taxii
    pages.envelopes.append(_page(_indicator(1, "good.example")))
    assert _sync_taxii(url, db).added == 1
    pages.envelopes.append(
        _page(7, {"type": "indicator"}, added_last="2026-03-01T11:30:00.000Z")
    )
    report = _sync_taxii(url, db, T0 + timedelta(hours=1))
    assert report.status == "updated"
    assert report.rejected_by_reason == {"malformed_record": 2}
    point = db.checkpoint("tx")
    assert point is not None and point.added_after == "2026-03-01T11:30:00.000Z"


# --- fields of the wrong kind ---------------------------------------------------------


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_an_indicator_with_a_malformed_field_is_a_reject(case: str) -> None:
    extra, reason = MALFORMED[case]
    loaded = load_stix_objects(
        [_indicator(1, "bad-field.example", **extra)], feed="f", location="f.json"
    )
    assert (loaded.indicators, loaded.patterns, loaded.revoked) == ([], [], [])
    (reject,) = loaded.rejects
    assert reject.reason == reason
    assert reject.location == "f.json:indicator--00000000-0000-4000-8000-000000000001"
    field_name = next(iter(extra))
    assert reject.message.startswith(field_name) and "hint:" in reject.message


def test_well_formed_fields_still_load() -> None:
    loaded = load_stix_objects(
        [
            _indicator(
                1,
                "fine.example",
                revoked=False,
                confidence=0,
                valid_until="2026-04-01T00:00:00.123456789Z",
                modified="2026-02-01T01:00:00+01:00",
            )
        ],
        feed="f",
    )
    assert loaded.rejects == []
    (indicator,) = loaded.indicators
    assert indicator.confidence == 0
    assert indicator.expires_at == datetime(2026, 4, 1, 0, 0, 0, 123456, tzinfo=UTC)


def test_a_version_with_a_malformed_modified_never_wins() -> None:
    first = _indicator(1, "first.example")
    # read as a date before, this later-looking version replaced the first
    second = _indicator(1, "second.example", modified="2099-01-01")
    for objects in ([first, second], [second, first]):
        loaded = load_stix_objects(objects, feed="f")
        assert [i.value for i in loaded.indicators] == ["first.example"]
        assert [r.reason for r in loaded.rejects] == ["invalid_timestamp"]


def test_related_objects_with_malformed_fields_name_no_threat() -> None:
    malware = {
        "type": "malware",
        "id": "malware--00000000-0000-4000-8000-000000000009",
        "created": STAMP,
        "modified": STAMP,
        "name": "Family-X",
        "is_family": True,
        "revoked": "false",
    }
    relationship = {
        "type": "relationship",
        "id": "relationship--00000000-0000-4000-8000-000000000008",
        "created": STAMP,
        "modified": STAMP,
        "relationship_type": "indicates",
        "source_ref": "indicator--00000000-0000-4000-8000-000000000001",
        "target_ref": malware["id"],
    }
    loaded = load_stix_objects(
        [_indicator(1, "a.example"), relationship, malware], feed="f"
    )
    (indicator,) = loaded.indicators
    assert indicator.threat is None
    assert [r.reason for r in loaded.rejects] == ["invalid_field"]


def test_objects_not_read_are_not_checked() -> None:
    identity = {"type": "identity", "id": "identity--1", "created": "whenever"}
    assert stix.check_stix_fields(identity) is not None  # malformed, but not read
    loaded = load_stix_objects([identity, _indicator(1, "a.example")], feed="f")
    assert (len(loaded.indicators), loaded.rejects) == (1, [])


def test_malformed_fields_are_rejects_in_a_taxii_sync_and_nothing_is_stored(
    taxii: tuple[Pages, str], db: IntelDatabase
) -> None:
    pages, url = taxii
    cases = sorted(MALFORMED)
    objects = [
        _indicator(number, f"case{number}.example", **MALFORMED[case][0])
        for number, case in enumerate(cases, 1)
    ]
    pages.envelopes.append(_page(*objects))
    report = _sync_taxii(url, db)
    expected: dict[str, int] = {}
    for case in cases:
        expected[MALFORMED[case][1]] = expected.get(MALFORMED[case][1], 0) + 1
    assert (report.added, report.rejected_by_reason) == (0, expected)
    assert list(db.store(at=T0)) == []


def test_malformed_fields_are_rejects_in_a_stix_file_sync(
    tmp_path: Path, db: IntelDatabase
) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text(
        json.dumps(
            {
                "type": "bundle",
                "id": "bundle--1",
                "objects": [
                    _indicator(1, "kept.example"),
                    _indicator(2, "never-expires.example", valid_until="tomorrow"),
                    _indicator(3, "still-active.example", revoked="true"),
                ],
            }
        )
    )
    feeds = parse_feed_list(
        f'[[feeds]]\nname = "s"\npath = "{bundle}"\nformat = "stix21"\n'
    )
    report = sync_feeds(feeds, db, now=T0).get("s")
    assert report.added == 1
    assert report.rejected_by_reason == {"invalid_timestamp": 1, "invalid_field": 1}
    assert [i.value for i in db.store(at=T0)] == ["kept.example"]


def test_malformed_fields_are_dead_letters_of_run_intel(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text(
        json.dumps(
            [
                _indicator(1, "kept.example"),
                _indicator(2, "a.example", valid_from="yesterday"),
                _indicator(3, "b.example", confidence=150),
            ]
        )
    )
    loaded = load_intel([bundle], format="stix21")
    assert loaded.loaded == {str(bundle): 1}
    assert sorted(letter.reason for letter in loaded.rejected) == [
        "invalid_field",
        "invalid_timestamp",
    ]


# --- records that went nowhere ------------------------------------------------------


def test_a_revocation_of_an_id_never_sent_is_skipped_as_revoked(
    taxii: tuple[Pages, str], db: IntelDatabase
) -> None:
    pages, url = taxii
    pages.envelopes.append(
        _page(
            _indicator(1, "kept.example"), _indicator(2, "gone.example", revoked=True)
        )
    )
    report = _sync_taxii(url, db)
    assert (report.added, report.revoked, report.rejected) == (1, 0, 0)
    assert report.skipped_by_reason == {"revoked": 1}
    # revoking what the feed holds counts as revoked, not skipped
    pages.envelopes.append(
        _page(
            _indicator(
                1, "kept.example", revoked=True, modified="2026-02-02T00:00:00.000Z"
            )
        )
    )
    again = _sync_taxii(url, db, T0 + timedelta(hours=1))
    assert (again.revoked, again.skipped) == (1, 0)
