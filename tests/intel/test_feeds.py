"""Feed loaders: each layout, the hard cases, and the real dumps."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import ConfigError, InvalidIndicatorError
from trustwatch.intel.feeds import iter_feed, load_feed
from trustwatch.intel.store import IndicatorStore

URLHAUS_HEAD = """\
################################################################
# abuse.ch URLhaus Database Dump (CSV - online URLs only)      #
# Last updated: 2025-04-21 12:40:06 (UTC)                      #
################################################################
#
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_phishtank_row_gives_only_the_url(
    tmp_path: Path, hardcases: dict[str, dict[str, Any]]
) -> None:
    feed = _write(tmp_path / "online-valid.csv", hardcases["FEED-01"]["input"])
    load = load_feed(feed)
    assert load.format == "phishtank_csv"
    assert load.rejects == []
    [indicator] = load.indicators
    url = "https://amazon.co.jp.account-update.checkjpid1.mixh.jp/go/amazon/"
    assert (indicator.type, indicator.value) == ("url", parse_url(url).url)
    assert indicator.tags == ("brand:Amazon.com",)
    assert indicator.reference == "6525211"
    assert indicator.first_seen == datetime(2020, 4, 24, 0, 56, 58, tzinfo=UTC)
    assert indicator.last_seen == datetime(2020, 4, 24, 11, 30, 30, tzinfo=UTC)
    assert (indicator.feed, indicator.confidence, indicator.threat) == (
        "phishtank",
        90,
        "phishing",
    )


def test_phishtank_brand_never_becomes_a_domain_match(
    tmp_path: Path, hardcases: dict[str, dict[str, Any]]
) -> None:
    feed = _write(tmp_path / "online-valid.csv", hardcases["FEED-01"]["input"])
    store = IndicatorStore(load_feed(feed).indicators)
    for benign in (
        "https://www.amazon.co.jp/",
        "https://amazon.com/",
        "http://www.phishtank.com/phish_detail.php?phish_id=6525211",
    ):
        assert store.match_url(parse_url(benign)) == []


def test_hash_inside_a_field_is_not_a_comment(
    tmp_path: Path, hardcases: dict[str, dict[str, Any]]
) -> None:
    family, url, _, day = hardcases["FEED-03"]["input"].split(",")
    row = (
        f'"1","{day} 10:00:00","{url}","online","","malware_download",'
        f'"{family}","https://urlhaus.example/1/","x"\n'
    )
    unquoted = row.replace('"', "")
    feed = _write(tmp_path / "urlhaus.csv", URLHAUS_HEAD + row + unquoted)
    load = load_feed(feed)
    assert load.format == "urlhaus_csv"
    assert load.rejects == []
    assert [i.value for i in load.indicators] == [parse_url(url).url] * 2
    assert load.indicators[0].tags == (family,)


def test_hash_mid_line_in_plain_feed_is_data(tmp_path: Path) -> None:
    feed = _write(
        tmp_path / "list.txt",
        "# a comment\nhttp://203.0.113.5/panel/#/login\n  # indented comment\n",
    )
    load = load_feed(feed)
    assert [(i.type, i.value) for i in load.indicators] == [
        ("url", parse_url("http://203.0.113.5/panel/#/login").url)
    ]
    assert load.indicators[0].reference == "line 2"


def test_urlhaus_csv_reads_commented_header_and_fields(tmp_path: Path) -> None:
    row = (
        '"42","2025-04-21 12:35:06","http://198.51.100.7:60905/bin.sh","offline",'
        '"2025-04-21 13:00:00","malware_download","32-bit,elf,Mozi",'
        '"https://urlhaus.example/42/","r"\n'
    )
    load = load_feed(_write(tmp_path / "csv_online.txt", URLHAUS_HEAD + row))
    [indicator] = load.indicators
    assert indicator.value == "http://198.51.100.7:60905/bin.sh"
    assert indicator.reference == "42"
    assert indicator.tags == ("32-bit", "elf", "Mozi", "url_status:offline")
    assert indicator.first_seen == datetime(2025, 4, 21, 12, 35, 6, tzinfo=UTC)
    assert indicator.last_seen == datetime(2025, 4, 21, 13, tzinfo=UTC)
    assert (indicator.feed, indicator.threat, indicator.confidence) == (
        "urlhaus",
        "malware_download",
        90,
    )


def test_urlhaus_csv_row_of_wrong_width_is_rejected(tmp_path: Path) -> None:
    load = load_feed(
        _write(
            tmp_path / "u.csv",
            URLHAUS_HEAD + '"1","2025-04-21 12:35:06","http://198.51.100.7/a"\n',
        ),
        format="urlhaus_csv",
    )
    assert load.indicators == []
    [reject] = load.rejects
    assert (reject.reason, reject.location) == ("malformed_row", "u.csv:7")


def test_urlhaus_json_dump(tmp_path: Path) -> None:
    dump = {
        "3520667": [
            {
                "dateadded": "2025-04-21 12:35:06 UTC",
                "url": "http://198.51.100.9:8080/i",
                "url_status": "online",
                "last_online": None,
                "threat": "malware_download",
                "tags": ["elf", "Mozi"],
                "urlhaus_link": "https://urlhaus.example/url/3520667/",
                "reporter": "r",
            }
        ],
        "3520668": ["not a record"],
    }
    feed = _write(tmp_path / "urlhaus_full.json", json.dumps(dump))
    load = load_feed(feed)
    assert load.format == "urlhaus_json"
    [indicator] = load.indicators
    assert (indicator.value, indicator.reference, indicator.tags) == (
        "http://198.51.100.9:8080/i",
        "3520667",
        ("elf", "Mozi"),
    )
    assert indicator.first_seen == datetime(2025, 4, 21, 12, 35, 6, tzinfo=UTC)
    assert [(r.reason, r.location) for r in load.rejects] == [
        ("malformed_record", "urlhaus_full.json:id 3520668")
    ]


def test_phishtank_json_dump(tmp_path: Path) -> None:
    records = [
        {
            "phish_id": 123,
            "url": "https://login.example/verify",
            "phish_detail_url": "http://phishtank.example/phish_detail.php?id=123",
            "submission_time": "2021-03-14T07:31:24+00:00",
            "verified": "yes",
            "verification_time": "2021-03-14T07:36:16+00:00",
            "online": "yes",
            "details": [{"ip_address": "203.0.113.4", "cidr_block": "203.0.113.0/24"}],
            "target": "PayPal",
        },
        {"phish_id": 124, "url": "https://other.example/", "verified": "no"},
    ]
    load = load_feed(_write(tmp_path / "verified.json", json.dumps(records)))
    assert load.format == "phishtank_json"
    assert [(i.type, i.value, i.confidence) for i in load.indicators] == [
        ("url", "https://login.example/verify", 90),
        ("url", "https://other.example/", 50),
    ]
    assert load.indicators[0].tags == ("brand:PayPal",)


def test_openphish_json_and_txt(tmp_path: Path) -> None:
    archive = {"https://a.example/x": "2024-10-20T13:27:38.587+00:00"}
    load = load_feed(_write(tmp_path / "archive.json", json.dumps(archive)))
    assert load.format == "openphish_json"
    [indicator] = load.indicators
    assert indicator.first_seen == datetime(
        2024, 10, 20, 13, 27, 38, 587000, tzinfo=UTC
    )
    assert (indicator.feed, indicator.confidence) == ("openphish", 80)

    text = load_feed(
        _write(tmp_path / "openphish_feed.txt", "https://a.example/x\nevil.example\n")
    )
    assert text.format == "openphish_txt"
    assert [i.value for i in text.indicators] == [
        "https://a.example/x",
        parse_url("http://evil.example").url,
    ]


def test_hashlist_dedupes_case_in_store(tmp_path: Path) -> None:
    lines = (
        "# LOKI hashes\n"
        "3395856CE81F2B7382DEE72602F798B642F14140;EICAR - test file\n"
        "3395856ce81f2b7382dee72602f798b642f14140;55;EICAR again\n"
        "nothex;bad\n"
    )
    load = load_feed(_write(tmp_path / "hash-iocs.txt", lines))
    assert load.format == "hashlist"
    assert [(i.type, i.value, i.threat) for i in load.indicators] == [
        ("sha1", "3395856ce81f2b7382dee72602f798b642f14140", "EICAR"),
        ("sha1", "3395856ce81f2b7382dee72602f798b642f14140", "EICAR again"),
    ]
    assert load.indicators[1].confidence == 55
    assert [(r.reason, r.location) for r in load.rejects] == [
        ("invalid_hash", "hash-iocs.txt:4")
    ]
    store = IndicatorStore(load.indicators)
    assert len(store) == 1
    [match] = store.match_hash("3395856CE81F2B7382DEE72602F798B642F14140")
    assert match.indicator.confidence == 70


def test_plain_feed_mixes_types_and_rejects(tmp_path: Path) -> None:
    feed = _write(
        tmp_path / "mixed.txt",
        "198.51.100[.]248\nhxxp://evil[.]example/a\nevil.example\n"
        "203.0.113.0/24\n" + "A" * 64 + "\nnot a value\n\n",
    )
    load = load_feed(feed, feed="mine", confidence=65)
    assert load.by_type() == {"ip": 1, "url": 1, "domain": 1, "cidr": 1, "sha256": 1}
    assert {i.feed for i in load.indicators} == {"mine"}
    assert {i.confidence for i in load.indicators} == {65}
    [reject] = load.rejects
    assert (reject.location, reject.reason, reject.raw) == (
        "mixed.txt:6",
        "invalid_value",
        "not a value",
    )
    assert (load.records, load.accepted, load.rejected) == (6, 5, 1)


def test_undecodable_bytes_are_rejected(tmp_path: Path) -> None:
    feed = tmp_path / "bytes.txt"
    feed.write_bytes(b"http://evil.example/\xff\xfe\nhttp://ok.example/\n")
    load = load_feed(feed)
    assert [r.reason for r in load.rejects] == ["encoding"]
    assert len(load.indicators) == 1


def test_gzip_feed_is_read(tmp_path: Path) -> None:
    feed = tmp_path / "list.txt.gz"
    with gzip.open(feed, "wt", encoding="utf-8") as fh:
        fh.write("evil.example\n")
    load = load_feed(feed)
    assert (load.feed, [i.value for i in load.indicators]) == ("list", ["evil.example"])


def test_iter_feed_streams_items(tmp_path: Path) -> None:
    feed = _write(tmp_path / "l.txt", "evil.example\n???\n")
    items = list(iter_feed(feed, format="plain"))
    assert [type(item).__name__ for item in items] == ["Indicator", "Reject"]


def test_bad_format_and_json_raise(tmp_path: Path) -> None:
    feed = _write(tmp_path / "l.txt", "evil.example\n")
    with pytest.raises(ConfigError, match="unknown feed format"):
        load_feed(feed, format="stix")
    with pytest.raises(ConfigError, match=r"outside 0\.\.100"):
        load_feed(feed, confidence=150)
    with pytest.raises(InvalidIndicatorError, match="not valid JSON"):
        load_feed(_write(tmp_path / "b.json", '{"1": ['), format="urlhaus_json")
    with pytest.raises(ConfigError, match="cannot tell the layout"):
        load_feed(_write(tmp_path / "c.json", '{"a": 1}'))


# --- real dumps ------------------------------------------------------------------


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        lines = [line for line in fh if not line.startswith("#")]
    return list(csv.DictReader(lines))


def _valid_url_count(urls: list[str]) -> int:
    count = 0
    for url in urls:
        try:
            parse_url(url)
        except ValueError:
            continue
        count += 1
    return count


@pytest.mark.datasets
def test_real_urlhaus_csv(datasets_dir: Path) -> None:
    path = datasets_dir / "urlhaus-2025-04-21" / "urlhaus.csv"
    rows = _csv_rows(path)
    load = load_feed(path)
    assert load.format == "urlhaus_csv"
    assert load.records == len(rows) == 11125
    assert load.accepted == _valid_url_count([row["url"] for row in rows])
    assert load.by_type() == {"url": load.accepted}
    first = load.indicators[0]
    assert first.reference == rows[0]["id"]
    assert first.tags == tuple(rows[0]["tags"].split(","))
    assert first.first_seen == datetime.fromisoformat(rows[0]["dateadded"]).replace(
        tzinfo=UTC
    )
    assert load.bad_timestamps == 0


@pytest.mark.datasets
@pytest.mark.parametrize(
    "name",
    [
        "phishtank-2020-05/DataFiles_2.online-valid.csv",
        "phishtank-2021-03/verified_online.csv",
    ],
)
def test_real_phishtank_csv(datasets_dir: Path, name: str) -> None:
    path = datasets_dir / name
    rows = _csv_rows(path)
    load = load_feed(path)
    assert load.format == "phishtank_csv"
    assert load.records == len(rows)
    assert load.accepted == _valid_url_count([row["url"] for row in rows])
    assert load.by_type() == {"url": load.accepted}
    # FEED-01 on real data: detail URLs and brands stay metadata.
    assert not any("phishtank.com/phish_detail" in i.value for i in load.indicators)
    brands = Counter(row["target"] for row in rows if row["target"] != "Other")
    tagged = Counter(
        t[6:] for i in load.indicators for t in i.tags if t.startswith("brand:")
    )
    assert tagged.most_common(3) == brands.most_common(3)


@pytest.mark.datasets
def test_real_openphish_archive(datasets_dir: Path) -> None:
    path = datasets_dir / "openphish-archive" / "openphish_2024H2.json"
    archive = json.loads(path.read_text(encoding="utf-8"))
    load = load_feed(path)
    assert load.format == "openphish_json"
    assert load.records == len(archive) == 46917
    assert load.accepted == _valid_url_count(list(archive))
    assert load.bad_timestamps == 0
    assert all(i.first_seen is not None for i in load.indicators)


@pytest.mark.datasets
def test_real_signature_base_hashes(datasets_dir: Path) -> None:
    path = datasets_dir / "hashes-signature-base" / "iocs_hash-iocs.txt"
    lines = [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    load = load_feed(path)
    assert load.format == "hashlist"
    assert (load.records, load.rejected) == (len(lines), 0)
    lengths = Counter(len(line.split(";")[0]) for line in lines)
    assert load.by_type() == {
        "md5": lengths[32],
        "sha1": lengths[40],
        "sha256": lengths[64],
    }
    distinct = {line.split(";")[0].lower() for line in lines}
    assert len(IndicatorStore(load.indicators)) == len(distinct)
