"""Every feed format synced over loopback HTTP, and MISP feed folders by URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from test_intel_sync import T0, FeedServer, Route, _fetcher, _start

from trustwatch.intel.feedlist import parse_feed_list
from trustwatch.intel.formats import FEED_FORMATS
from trustwatch.intel.sync import IntelDatabase, SyncReport, sync_feeds

EVENT_1 = "5f0c0e3a-0000-4000-8000-000000000001"
EVENT_2 = "5f0c0e3a-0000-4000-8000-000000000002"
EVENT_3 = "5f0c0e3a-0000-4000-8000-000000000003"
CREATED = "2026-02-01T00:00:00Z"


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    state = _start()
    yield state
    state.server.shutdown()
    state.server.server_close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[IntelDatabase]:
    with IntelDatabase(tmp_path / "intel.sqlite") as database:
        yield database


@dataclass(frozen=True)
class Sample:
    """A small feed of one format: two good records and one bad one."""

    body: str
    indicators: set[tuple[str, str]]
    reject_reason: str
    sniffable: bool = True


def _stix_indicator(number: int, pattern: str) -> dict[str, str]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{number}1111111-1111-4111-8111-111111111111",
        "created": CREATED,
        "modified": CREATED,
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": CREATED,
    }


def _misp_attribute(letter: str, kind: str, value: str) -> dict[str, object]:
    return {
        "uuid": f"5f0c0e3a-0000-4000-8000-00000000000{letter}",
        "type": kind,
        "value": value,
        "to_ids": True,
        "timestamp": "1772280000",
    }


def _misp_event(uuid: str, *attributes: dict[str, object]) -> str:
    return json.dumps({"Event": {"uuid": uuid, "info": "t", "Attribute": attributes}})


URLHAUS_ROW = (
    '"{n}","2026-02-28 10:00:00","{url}","online","2026-02-28 10:00:00",'
    '"malware_download","elf","https://urlhaus.example/url/{n}/","tester"\n'
)
PHISHTANK_ROW = (
    "{n},{url},https://phishtank.example/{n},2026-02-27T09:00:00+00:00,yes,"
    "2026-02-27T09:05:00+00:00,yes,PayPal\n"
)
URLHAUS_URLS = {
    ("url", "http://203.0.113.9/bin.sh"),
    ("url", "http://dl.bad.example/x.exe"),
}
PHISH_URLS = {
    ("url", "https://login.paypa1.example/"),
    ("url", "https://op2.example/y"),
}

SAMPLES: dict[str, Sample] = {
    "plain": Sample(
        "http://bad.example/login\n198.51.100.7\nnot a url!!\n",
        {("url", "http://bad.example/login"), ("ip", "198.51.100.7")},
        "invalid_value",
    ),
    "urlhaus_csv": Sample(
        "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
        + URLHAUS_ROW.format(n=1, url="http://203.0.113.9/bin.sh")
        + URLHAUS_ROW.format(n=2, url="http://dl.bad.example/x.exe")
        + URLHAUS_ROW.format(n=3, url="not a url!!"),
        URLHAUS_URLS,
        "invalid_url",
    ),
    "urlhaus_json": Sample(
        json.dumps(
            {
                "1": [
                    {
                        "dateadded": "2026-02-28 10:00:00 UTC",
                        "url": "http://203.0.113.9/bin.sh",
                    }
                ],
                "2": [
                    {
                        "dateadded": "2026-02-28 11:00:00 UTC",
                        "url": "http://dl.bad.example/x.exe",
                    }
                ],
                "3": ["not a record"],
            }
        ),
        URLHAUS_URLS,
        "malformed_record",
    ),
    "phishtank_csv": Sample(
        "phish_id,url,phish_detail_url,submission_time,verified,verification_time,"
        "online,target\n"
        + PHISHTANK_ROW.format(n=101, url="https://login.paypa1.example/")
        + PHISHTANK_ROW.format(n=102, url="https://op2.example/y")
        + PHISHTANK_ROW.format(n=103, url="not a url!!"),
        PHISH_URLS,
        "invalid_url",
    ),
    "phishtank_json": Sample(
        json.dumps(
            [
                {
                    "phish_id": 101,
                    "url": "https://login.paypa1.example/",
                    "verified": "yes",
                },
                {"phish_id": 102, "url": "https://op2.example/y", "verified": "yes"},
                {"phish_id": 103, "url": "not a url!!", "verified": "yes"},
            ]
        ),
        PHISH_URLS,
        "invalid_url",
    ),
    "openphish_txt": Sample(
        "https://login.paypa1.example/\nhttps://op2.example/y\nnot a url!!\n",
        PHISH_URLS,
        "invalid_url",
    ),
    "openphish_json": Sample(
        json.dumps(
            {
                "https://login.paypa1.example/": "2026-02-20T10:00:00+00:00",
                "https://op2.example/y": "2026-02-21T10:00:00+00:00",
                "not a url!!": "2026-02-21T10:00:00+00:00",
            }
        ),
        PHISH_URLS,
        "invalid_url",
    ),
    "hashlist": Sample(
        "44d88612fea8a8f36de82e1278abb02f;sample A\n"
        "3395856ce81f2b7382dee72602f798b642f14140;90;Family-X dropper\nzz;broken\n",
        {
            ("md5", "44d88612fea8a8f36de82e1278abb02f"),
            ("sha1", "3395856ce81f2b7382dee72602f798b642f14140"),
        },
        "invalid_hash",
    ),
    "stix21": Sample(
        json.dumps(
            {
                "type": "bundle",
                "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
                "objects": [
                    _stix_indicator(1, "[domain-name:value = 'stix-bad.example']"),
                    _stix_indicator(2, "[ipv4-addr:value = '198.51.100.20']"),
                    _stix_indicator(3, "[domain-name:value = "),
                ],
            }
        ),
        {("domain", "stix-bad.example"), ("ip", "198.51.100.20")},
        "invalid_pattern",
    ),
    "misp_event": Sample(
        _misp_event(
            EVENT_1,
            _misp_attribute("a", "domain", "misp-bad.example"),
            _misp_attribute("b", "ip-dst", "198.51.100.30"),
            _misp_attribute("c", "domain", "not a domain!!"),
        ),
        {("domain", "misp-bad.example"), ("ip", "198.51.100.30")},
        "invalid_domain",
    ),
    "misp_feed": Sample(
        "",  # served as a folder by _serve_sample
        {("domain", "misp-bad.example"), ("ip", "198.51.100.30")},
        "malformed_record",
        sniffable=False,  # a URL names no folder to look into
    ),
}

CASES = [(fmt, fmt) for fmt in FEED_FORMATS] + [
    (fmt, "auto") for fmt in FEED_FORMATS if SAMPLES[fmt].sniffable
]


def _serve_sample(server: FeedServer, fmt: str) -> str:
    """Serve the sample of ``fmt``; return its URL."""
    if fmt != "misp_feed":
        name = "openphish.txt" if fmt == "openphish_txt" else f"{fmt}.dat"
        server.routes[f"/{name}"] = Route(body=SAMPLES[fmt].body.encode())
        return f"{server.base}/{name}"
    events = {
        EVENT_1: _misp_event(
            EVENT_1, _misp_attribute("a", "domain", "misp-bad.example")
        ),
        EVENT_2: _misp_event(EVENT_2, _misp_attribute("b", "ip-dst", "198.51.100.30")),
    }
    manifest = {uuid: {"timestamp": "1772280000"} for uuid in events}
    manifest["../../etc/passwd"] = {"timestamp": "1"}
    _serve_misp(server, manifest, events)
    return f"{server.base}/feed/"


def _serve_misp(
    server: FeedServer, manifest: dict[str, dict[str, str]], events: dict[str, str]
) -> None:
    """Serve a MISP feed folder under ``/feed/``."""
    for path in [p for p in server.routes if p.startswith("/feed/")]:
        del server.routes[path]
    server.routes["/feed/manifest.json"] = Route(body=json.dumps(manifest).encode())
    for uuid, body in events.items():
        server.routes[f"/feed/{uuid}.json"] = Route(body=body.encode())


def _sync(server_url: str, fmt: str, db: IntelDatabase) -> SyncReport:
    feeds = parse_feed_list(
        f'[[feeds]]\nname = "f"\nurl = "{server_url}"\nformat = "{fmt}"\n'
    )
    return sync_feeds(feeds, db, now=T0, fetcher=_fetcher())


def _stored(db: IntelDatabase) -> set[tuple[str, str]]:
    return {(r.indicator.type, r.indicator.value) for r in db.records(feed="f")}


def test_every_feed_format_has_an_http_sample() -> None:
    assert sorted(SAMPLES) == sorted(FEED_FORMATS)
    assert {fmt for fmt, _ in CASES} == set(FEED_FORMATS)


@pytest.mark.parametrize(("fmt", "declared"), CASES)
def test_each_format_syncs_over_http(
    feed_server: FeedServer, db: IntelDatabase, fmt: str, declared: str
) -> None:
    sample = SAMPLES[fmt]
    report = _sync(_serve_sample(feed_server, fmt), declared, db).get("f")
    assert (report.status, report.reason) == ("updated", None)
    assert _stored(db) == sample.indicators
    assert (report.added, report.total) == (2, 2)
    assert report.rejected_by_reason == {sample.reject_reason: 1}
    assert report.reject_examples[0].message


# --- MISP feeds over HTTP -----------------------------------------------------------


def _misp_feed(
    db: IntelDatabase, server: FeedServer, hours: int, **extra: str
) -> SyncReport:
    options = "".join(f"{key} = {value}\n" for key, value in extra.items())
    feeds = parse_feed_list(
        f'[[feeds]]\nname = "f"\nurl = "{server.base}/feed/"\nformat = "misp_feed"\n'
        f'every = "1h"\n{options}'
    )
    return sync_feeds(feeds, db, now=T0 + timedelta(hours=hours), fetcher=_fetcher())


def _event(uuid: str, value: str) -> str:
    return _misp_event(uuid, _misp_attribute("a", "domain", value))


def test_misp_feed_fetches_only_new_and_changed_events(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    stamps = {EVENT_1: {"timestamp": "100"}, EVENT_2: {"timestamp": "100"}}
    events = {
        EVENT_1: _event(EVENT_1, "one.example"),
        EVENT_2: _event(EVENT_2, "two.example"),
    }
    _serve_misp(feed_server, stamps, events)
    first = _misp_feed(db, feed_server, 0).get("f")
    assert (first.status, first.added) == ("updated", 2)
    point = db.checkpoint("f")
    assert point is not None and point.events == {EVENT_1: "100", EVENT_2: "100"}

    # event 2 changes, event 3 appears, event 1 is as it was
    stamps = {**stamps, EVENT_2: {"timestamp": "200"}, EVENT_3: {"timestamp": "200"}}
    events = {
        **events,
        EVENT_2: _event(EVENT_2, "two-b.example"),
        EVENT_3: _event(EVENT_3, "three.example"),
    }
    _serve_misp(feed_server, stamps, events)
    feed_server.requests.clear()
    second = _misp_feed(db, feed_server, 2).get("f")
    assert sorted(path for path, _ in feed_server.requests) == sorted(
        ["/feed/manifest.json", f"/feed/{EVENT_2}.json", f"/feed/{EVENT_3}.json"]
    )
    assert (second.added, second.removed, second.unchanged) == (2, 1, 1)
    assert _stored(db) == {
        ("domain", "one.example"),
        ("domain", "two-b.example"),
        ("domain", "three.example"),
    }

    # event 1 leaves the manifest: its records leave the snapshot
    del stamps[EVENT_1]
    _serve_misp(feed_server, stamps, events)
    feed_server.requests.clear()
    third = _misp_feed(db, feed_server, 4).get("f")
    assert [path for path, _ in feed_server.requests] == ["/feed/manifest.json"]
    assert (third.removed, third.unchanged) == (1, 2)
    assert _stored(db) == {("domain", "two-b.example"), ("domain", "three.example")}
    point = db.checkpoint("f")
    assert point is not None and set(point.events or {}) == {EVENT_2, EVENT_3}


def test_misp_feed_manifest_not_modified_fetches_nothing_else(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    _serve_misp(
        feed_server,
        {EVENT_1: {"timestamp": "1"}},
        {EVENT_1: _event(EVENT_1, "one.example")},
    )
    feed_server.routes["/feed/manifest.json"].etag = '"m1"'
    _misp_feed(db, feed_server, 0)
    feed_server.requests.clear()
    again = _misp_feed(db, feed_server, 2).get("f")
    assert again.status == "not_modified"
    assert [path for path, _ in feed_server.requests] == ["/feed/manifest.json"]
    assert _stored(db) == {("domain", "one.example")}


def test_misp_feed_rejects_bad_keys_and_missing_events_without_failing(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    manifest = {
        EVENT_1: {"timestamp": "1"},
        EVENT_2: {"timestamp": "1"},
        "../../secret": {"timestamp": "1"},
        "5f0c0e3a-0000-4000-8000-00000000000%2F": {"timestamp": "1"},
    }
    _serve_misp(feed_server, manifest, {EVENT_1: _event(EVENT_1, "one.example")})
    report = _misp_feed(db, feed_server, 0).get("f")
    assert (report.status, report.added) == ("updated", 1)
    assert report.rejected_by_reason == {"malformed_record": 2, "missing_event": 1}
    requested = {path for path, _ in feed_server.requests}
    assert requested == {
        "/feed/manifest.json",
        f"/feed/{EVENT_1}.json",
        f"/feed/{EVENT_2}.json",
    }
    point = db.checkpoint("f")
    # the missing event is not remembered, so the next sync asks for it again
    assert point is not None and point.events == {EVENT_1: "1"}
    feed_server.routes[f"/feed/{EVENT_2}.json"] = Route(
        body=_event(EVENT_2, "two.example").encode()
    )
    later = _misp_feed(db, feed_server, 2).get("f")
    assert later.added == 1
    assert _stored(db) == {("domain", "one.example"), ("domain", "two.example")}


def test_misp_feed_event_failing_after_retries_keeps_its_last_copy(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    _serve_misp(
        feed_server,
        {EVENT_1: {"timestamp": "1"}},
        {EVENT_1: _event(EVENT_1, "one.example")},
    )
    assert _misp_feed(db, feed_server, 0).get("f").added == 1
    _serve_misp(
        feed_server,
        {EVENT_1: {"timestamp": "2"}},
        {EVENT_1: _event(EVENT_1, "new.example")},
    )
    feed_server.routes[f"/feed/{EVENT_1}.json"].fail_first = 10
    report = _misp_feed(db, feed_server, 2).get("f")
    assert (report.status, report.removed) == ("updated", 0)
    assert report.rejected_by_reason == {"event_unavailable": 1}
    assert _stored(db) == {("domain", "one.example")}
    point = db.checkpoint("f")
    assert point is not None and point.events == {EVENT_1: "1"}
    feed_server.routes[f"/feed/{EVENT_1}.json"].fail_first = 0
    healed = _misp_feed(db, feed_server, 4).get("f")
    assert (healed.added, healed.removed) == (1, 1)
    assert _stored(db) == {("domain", "new.example")}


def test_misp_feed_event_over_the_size_limit_is_a_reject(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    big = _misp_event(
        EVENT_2, *[_misp_attribute("b", "domain", f"d{n}.example") for n in range(40)]
    )
    _serve_misp(
        feed_server,
        {EVENT_1: {"timestamp": "1"}, EVENT_2: {"timestamp": "1"}},
        {EVENT_1: _event(EVENT_1, "one.example"), EVENT_2: big},
    )
    report = _misp_feed(db, feed_server, 0, max_bytes="2048").get("f")
    assert report.status == "updated"
    assert report.rejected_by_reason == {"event_unavailable": 1}
    assert "max_bytes" in report.reject_examples[0].message
    assert _stored(db) == {("domain", "one.example")}


@pytest.mark.parametrize("path", ["/feed", "/feed/manifest.json"])
def test_misp_feed_url_may_omit_the_slash_or_name_the_manifest(
    feed_server: FeedServer, db: IntelDatabase, path: str
) -> None:
    _serve_misp(
        feed_server,
        {EVENT_1: {"timestamp": "1"}},
        {EVENT_1: _event(EVENT_1, "one.example")},
    )
    report = _sync(f"{feed_server.base}{path}", "misp_feed", db).get("f")
    assert (report.status, report.added) == ("updated", 1)
    assert feed_server.hits(f"/feed/{EVENT_1}.json")


def test_misp_feed_events_without_timestamps_are_fetched_every_time(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    _serve_misp(feed_server, {EVENT_1: {}}, {EVENT_1: _event(EVENT_1, "one.example")})
    _misp_feed(db, feed_server, 0)
    _serve_misp(feed_server, {EVENT_1: {}}, {EVENT_1: _event(EVENT_1, "new.example")})
    report = _misp_feed(db, feed_server, 2).get("f")
    assert (report.added, report.removed) == (1, 1)
    assert len(feed_server.hits(f"/feed/{EVENT_1}.json")) == 2


def test_database_from_before_misp_checkpoints_opens(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with IntelDatabase(path) as database:
        database._conn.execute("ALTER TABLE feeds DROP COLUMN events")
        database._conn.execute("INSERT INTO feeds (name, failures) VALUES ('old', 2)")
        database._conn.commit()
    with IntelDatabase(path) as database:
        point = database.checkpoint("old")
        assert point is not None and (point.failures, point.events) == (2, None)
