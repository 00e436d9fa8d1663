"""Hostile feed bodies stay local: a record nested too deeply, an HTML page, a URL.

One STIX object nested a thousand levels deep is a reject, not a failed
file; an HTML page served for a list feed fails the feed and removes
nothing; a URL given as a feed path is refused as a URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from test_intel_sync import T0, FeedServer, Route, _feeds, _start, _sync

from trustwatch.errors import ConfigError, InvalidIndicatorError
from trustwatch.intel.feeds import load_feed, resolve_feed_paths
from trustwatch.intel.sync import IntelDatabase

DEEP = '{"a":' * 1000 + "1" + "}" * 1000
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


def _indicator(number: int, domain: str) -> dict[str, str]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{number:08d}-1111-4111-8111-111111111111",
        "created": CREATED,
        "modified": CREATED,
        "pattern": f"[domain-name:value = '{domain}']",
        "pattern_type": "stix",
        "valid_from": CREATED,
    }


def _deep_bundle() -> str:
    """A bundle of two good indicators and one with a deep custom property."""
    objects = [
        _indicator(1, "good-one.example"),
        {**_indicator(2, "deep.example"), "x_deep": "__DEEP__"},
        _indicator(3, "good-two.example"),
    ]
    bundle = {"type": "bundle", "id": "bundle--1", "objects": objects}
    return json.dumps(bundle).replace('"__DEEP__"', DEEP)


# --- records nested too deeply ----------------------------------------------------


def test_a_stix_object_nested_too_deeply_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(_deep_bundle())
    load = load_feed(path, format="stix21")
    assert sorted(i.value for i in load.indicators) == [
        "good-one.example",
        "good-two.example",
    ]
    [reject] = load.rejects
    assert (reject.location, reject.reason) == ("deep.json:object 2", "too_deep")
    assert reject.raw.startswith('{"type": "indicator"')
    assert "too deeply" in reject.message and "hint:" in reject.message


def test_a_stix_list_whose_object_nests_too_deeply_is_one_reject(
    tmp_path: Path,
) -> None:
    path = tmp_path / "objects.json"
    path.write_text(f"[{json.dumps(_indicator(1, 'ok.example'))}, {DEEP}]")
    load = load_feed(path, format="stix21")
    assert [i.value for i in load.indicators] == ["ok.example"]
    assert [r.reason for r in load.rejects] == ["too_deep"]


def test_json_list_formats_reject_only_the_record_nested_too_deeply(
    tmp_path: Path,
) -> None:
    urlhaus = tmp_path / "urlhaus.json"
    good = {"url": "http://bad.example/a", "threat": "malware_download"}
    urlhaus.write_text(f'{{"1": [{json.dumps(good)}], "2": [{DEEP}]}}')
    load = load_feed(urlhaus, format="urlhaus_json")
    assert [i.value for i in load.indicators] == ["http://bad.example/a"]
    assert [(r.location, r.reason) for r in load.rejects] == [
        ("urlhaus.json:id 2", "too_deep")
    ]

    phishtank = tmp_path / "phishtank.json"
    phishtank.write_text(f'[{DEEP}, {{"url": "http://phish.example/x"}}]')
    load = load_feed(phishtank, format="phishtank_json")
    assert [i.value for i in load.indicators] == ["http://phish.example/x"]
    assert [(r.location, r.reason) for r in load.rejects] == [
        ("phishtank.json:record 1", "too_deep")
    ]


def test_a_deep_file_that_is_not_valid_json_still_fails_whole(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(f"[{DEEP},]")
    with pytest.raises(InvalidIndicatorError, match="is not valid JSON"):
        load_feed(path, format="stix21")


def test_sync_applies_a_stix_feed_with_one_object_nested_too_deeply(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    feed_server.routes["/bundle.json"] = Route(body=_deep_bundle().encode())
    feeds = _feeds(
        f'[[feeds]]\nname = "s"\nurl = "{feed_server.base}/bundle.json"\n'
        'format = "stix21"\n'
    )
    report = _sync(feeds, db).get("s")
    assert (report.status, report.added) == ("updated", 2)
    assert report.rejected_by_reason == {"too_deep": 1}
    assert sorted(i.value for i in db.store(at=T0)) == [
        "good-one.example",
        "good-two.example",
    ]


# --- HTML pages for list feeds ------------------------------------------------------

LISTING = "".join(f"http://bad{n}.example/x\n" for n in range(14))
ERROR_PAGE = (
    "<html>\n<body>\nhttp://one.example/a\nhttp://two.example/b\nexample.com\n"
    "</body>\n</html>\n"
)


def _snapshot_feed(server: FeedServer) -> str:
    server.routes["/list.txt"] = Route(body=LISTING.encode())
    return (
        f'[[feeds]]\nname = "snap"\nurl = "{server.base}/list.txt"\n'
        'format = "plain"\nevery = "1m"\n'
    )


def test_an_html_page_with_a_few_values_does_not_replace_a_snapshot(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    feeds = _feeds(_snapshot_feed(feed_server))
    assert _sync(feeds, db).get("snap").added == 14
    feed_server.routes["/list.txt"] = Route(body=ERROR_PAGE.encode())
    report = _sync(feeds, db, T0 + timedelta(hours=1)).get("snap")
    assert (report.status, report.added, report.removed) == ("failed", 0, 0)
    assert "is an HTML page, not a list" in (report.reason or "")
    assert len(db.store(at=T0)) == 14


def test_an_html_content_type_fails_a_list_feed(
    feed_server: FeedServer, db: IntelDatabase
) -> None:
    feeds = _feeds(_snapshot_feed(feed_server))
    assert _sync(feeds, db).get("snap").added == 14
    feed_server.routes["/list.txt"] = Route(
        body=b"http://one.example/a\n",
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    report = _sync(feeds, db, T0 + timedelta(hours=1)).get("snap")
    assert (report.status, report.removed) == ("failed", 0)
    assert "the server sent an HTML page, not a list" in (report.reason or "")
    assert len(db.store(at=T0)) == 14


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        ("\ufeff  \n<!DOCTYPE HTML PUBLIC>", "plain"),
        ("<html lang=en>", "openphish_txt"),
        ("\n<!doctype html>", "urlhaus_csv"),
        ("<HTML>", "hashlist"),
    ],
)
def test_list_and_csv_files_that_are_html_pages_are_refused(
    tmp_path: Path, head: str, fmt: str
) -> None:
    path = tmp_path / "page.txt"
    path.write_text(f"{head}\nhttp://one.example/a\n</html>\n", encoding="utf-8")
    with pytest.raises(InvalidIndicatorError, match="is an HTML page, not a list"):
        load_feed(path, format=fmt)


def test_a_list_that_mentions_html_later_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("http://one.example/<html>\nexample.com\n")
    assert len(load_feed(path, format="plain").indicators) == 2


# --- URLs given as feed paths ------------------------------------------------------


def test_a_url_as_a_feed_path_is_refused_as_a_url() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_feed_paths(["http://user:secret@127.0.0.1:1/x.txt"])
    message = str(caught.value)
    assert "http://127.0.0.1:1/x.txt is a URL, not a file" in message
    assert "trustwatch intel sync" in message and "secret" not in message
