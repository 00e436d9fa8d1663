"""STIX versions and revocations across syncs and feeds.

Only the creator of a STIX object revokes it: a feed's revocation removes
that feed's own records, and another feed's only when both objects name the
same ``created_by_ref``; a dropped feed's revocations go with it. A newer
version of an indicator replaces the values of the older one, in every
mode. Records that arrive already expired are not counted as expired.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

# the stub TAXII server lives with the TAXII polling tests (a sibling module)
import test_taxii_polling as polling

from trustwatch.intel.feedlist import FeedList, parse_feed_list
from trustwatch.intel.sync import IntelDatabase, SyncReport, sync_feeds

stub_server = polling.stub_server

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VENDOR = "identity--11111111-1111-4111-8111-111111111111"
OTHER = "identity--22222222-2222-4222-8222-222222222222"
V1 = "2026-02-01T00:00:00.000Z"
V2 = "2026-02-02T00:00:00.000Z"


def _id(number: int) -> str:
    return f"indicator--00000000-0000-4000-8000-{number:012d}"


def _indicator(
    number: int,
    pattern: str,
    *,
    modified: str = V1,
    creator: str | None = VENDOR,
    **extra: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": _id(number),
        "created": V1,
        "modified": modified,
        "valid_from": "2026-02-01T00:00:00Z",
        "pattern": pattern,
        "pattern_type": "stix",
        **extra,
    }
    if creator is not None:
        obj["created_by_ref"] = creator
    return obj


def _domain(value: str) -> str:
    return f"[domain-name:value = '{value}']"


def _bundle(path: Path, objects: list[dict[str, Any]]) -> None:
    path.write_text(
        json.dumps({"type": "bundle", "id": "bundle--1", "objects": objects})
    )


def _feeds(tmp_path: Path, *names: str) -> FeedList:
    text = "".join(
        f'[[feeds]]\nname = "{name}"\npath = "{name}.json"\nformat = "stix21"\n'
        'mode = "incremental"\nevery = "1m"\n'
        for name in names
    )
    return parse_feed_list(text, base=tmp_path)


def _sync(feeds: FeedList, db: IntelDatabase, at: datetime) -> SyncReport:
    return sync_feeds(feeds, db, now=at)


def _values(db: IntelDatabase) -> list[tuple[str, str]]:
    return sorted((i.feed, i.value) for i in db.store(at=T0))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[IntelDatabase]:
    with IntelDatabase(tmp_path / "intel.sqlite") as database:
        yield database


# --- who may revoke -------------------------------------------------------------------


def test_a_feed_cannot_revoke_another_creators_indicators(
    tmp_path: Path, db: IntelDatabase
) -> None:
    _bundle(tmp_path / "vendor.json", [_indicator(1, _domain("one.example"))])
    revoked = _indicator(1, _domain("one.example"), modified=V2, revoked=True)
    _bundle(tmp_path / "low.json", [{**revoked, "created_by_ref": OTHER}])
    feeds = _feeds(tmp_path, "vendor", "low")

    first = _sync(feeds, db, T0)

    assert first.get("low").revoked == 0
    assert _values(db) == [("vendor", "one.example")]
    again = _sync(feeds, db, T0 + timedelta(minutes=5))
    assert again.get("vendor").rejected == 0
    assert _values(db) == [("vendor", "one.example")]

    # no creator at all: the revocation holds for the revoking feed only
    _bundle(tmp_path / "low.json", [{**revoked, "created_by_ref": None}])
    later = _sync(feeds, db, T0 + timedelta(minutes=10))
    assert later.get("low").revoked == 0
    assert _values(db) == [("vendor", "one.example")]


def test_a_revocation_naming_the_same_creator_still_reaches_no_other_feed(
    tmp_path: Path, db: IntelDatabase
) -> None:
    # created_by_ref is only what a feed says: naming the vendor's creator
    # must not let another feed delete the vendor's intel
    _bundle(tmp_path / "vendor.json", [_indicator(1, _domain("one.example"))])
    _bundle(tmp_path / "mirror.json", [_indicator(1, _domain("one.example"))])
    both = _feeds(tmp_path, "vendor", "mirror")
    _sync(both, db, T0)
    revoked = _indicator(1, _domain("one.example"), modified=V2, revoked=True)
    _bundle(tmp_path / "mirror.json", [revoked])

    report = _sync(both, db, T0 + timedelta(minutes=5))

    assert report.get("mirror").revoked == 1  # its own record
    assert _values(db) == [("vendor", "one.example")]
    forced = sync_feeds(both, db, now=T0 + timedelta(minutes=6), force=True)
    assert forced.get("vendor").rejected == 0
    assert _values(db) == [("vendor", "one.example")]

    vendor_only = _feeds(tmp_path, "vendor")
    dropped = sync_feeds(vendor_only, db, now=T0 + timedelta(minutes=7), force=True)
    assert dropped.get("mirror").status == "dropped"
    assert db.revocations() == {}


def test_revocations_of_an_older_database_hold_for_their_own_feed_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    with IntelDatabase(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO revocations (reference, feed, revoked_at) VALUES (?, ?, ?)",
            (_id(1), "gone", T0.timestamp()),
        )
    _bundle(tmp_path / "vendor.json", [_indicator(1, _domain("one.example"))])

    with IntelDatabase(path) as db:
        assert db.revocations() == {_id(1): "gone"}
        report = _sync(_feeds(tmp_path, "vendor"), db, T0)
        assert report.get("vendor").added == 1
        assert report.get("gone").status == "dropped"
        assert db.revocations() == {}


# --- versions -------------------------------------------------------------------------


def test_a_newer_version_replaces_the_values_of_the_older(
    tmp_path: Path, db: IntelDatabase
) -> None:
    _bundle(
        tmp_path / "f.json",
        [_indicator(1, _domain("tx2.example")), _indicator(2, _domain("keep.example"))],
    )
    feeds = _feeds(tmp_path, "f")
    _sync(feeds, db, T0)
    _bundle(
        tmp_path / "f.json",
        [
            _indicator(1, _domain("tx2-moved.example"), modified=V2),
            _indicator(2, _domain("keep.example")),
        ],
    )

    report = _sync(feeds, db, T0 + timedelta(minutes=5)).get("f")

    assert (report.added, report.removed) == (1, 1)
    assert _values(db) == [("f", "keep.example"), ("f", "tx2-moved.example")]
    assert db.lookup("tx2.example") == []


def test_a_pattern_replacing_plain_values_and_back_leaves_nothing_behind(
    tmp_path: Path, db: IntelDatabase
) -> None:
    compound = "[url:value = 'http://a.example/x' AND url:value = 'http://a.example/y']"
    _bundle(tmp_path / "f.json", [_indicator(1, _domain("plain.example"))])
    feeds = _feeds(tmp_path, "f")
    _sync(feeds, db, T0)

    _bundle(tmp_path / "f.json", [_indicator(1, compound, modified=V2)])
    second = _sync(feeds, db, T0 + timedelta(minutes=5)).get("f")
    assert (second.added, second.removed, second.total) == (1, 1, 1)
    assert db.lookup("plain.example") == []

    third_version = "2026-02-03T00:00:00.000Z"
    _bundle(
        tmp_path / "f.json",
        [_indicator(1, _domain("plain2.example"), modified=third_version)],
    )
    third = _sync(feeds, db, T0 + timedelta(minutes=10)).get("f")
    assert (third.added, third.removed, third.total) == (1, 1, 1)
    assert db.live_patterns(at=T0) == []


def test_an_older_version_after_a_newer_one_is_not_applied(
    tmp_path: Path, db: IntelDatabase
) -> None:
    _bundle(tmp_path / "f.json", [_indicator(1, _domain("new.example"), modified=V2)])
    feeds = _feeds(tmp_path, "f")
    _sync(feeds, db, T0)
    _bundle(tmp_path / "f.json", [_indicator(1, _domain("old.example"))])

    report = _sync(feeds, db, T0 + timedelta(minutes=5)).get("f")

    assert report.rejected_by_reason == {"superseded": 1}
    assert _values(db) == [("f", "new.example")]


def test_an_incremental_taxii_poll_moves_a_changed_indicator(
    stub_server: tuple[polling.Stub, ThreadingHTTPServer], db: IntelDatabase
) -> None:
    stub, server = stub_server
    url = f"http://127.0.0.1:{server.server_address[1]}{polling.STUB_ROOT}"
    feeds = parse_feed_list(
        f'[[feeds]]\nname = "tx"\nmode = "incremental"\nevery = "1m"\n'
        f'taxii = {{ url = "{url}", collection = "{polling.STUB_COLLECTION}" }}\n'
    )
    stub.pages = [
        polling._page(
            [_indicator(2, _domain("tx2.example"))], "2026-03-01T11:00Z", None
        )
    ]
    assert _sync(feeds, db, T0).get("tx").added == 1
    moved = _indicator(2, _domain("tx2-moved.example"), modified=V2)
    stub.pages = [polling._page([moved], "2026-03-01T11:30Z", None)]

    report = _sync(feeds, db, T0 + timedelta(minutes=5)).get("tx")

    assert (report.added, report.removed) == (1, 1)
    assert [i.value for i in db.store(at=T0)] == ["tx2-moved.example"]
    assert stub.requests[-1][1]["added_after"] == ["2026-03-01T11:00Z"]


# --- expiry accounting ----------------------------------------------------------------


def test_records_that_arrive_expired_are_skipped_not_counted_as_expired(
    tmp_path: Path, db: IntelDatabase
) -> None:
    past = "2026-02-15T00:00:00Z"
    soon = "2026-03-01T12:30:00Z"
    compound = "[url:value = 'http://a.example/x' AND url:value = 'http://a.example/y']"
    _bundle(
        tmp_path / "f.json",
        [
            _indicator(1, _domain("dead.example"), valid_until=past),
            _indicator(2, compound, valid_until=past),
            _indicator(3, _domain("soon.example"), valid_until=soon),
        ],
    )
    feeds = _feeds(tmp_path, "f")

    for minutes in (0, 5):
        at = T0 + timedelta(minutes=minutes)
        report = sync_feeds(feeds, db, now=at, force=True).get("f")
        assert report.expired == 0
        assert report.skipped_by_reason == {"already_expired": 2}
        assert report.total == 1

    later = sync_feeds(feeds, db, now=T0 + timedelta(hours=1), force=True).get("f")
    assert later.expired == 1
    assert later.total == 0
