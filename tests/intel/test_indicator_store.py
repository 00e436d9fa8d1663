"""The indicator store: what matches what, merging, expiry, persistence."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import ConfigError, InvalidIndicatorError, StorageError
from trustwatch.intel.indicators import Indicator, IndicatorType, indicator_from_text
from trustwatch.intel.store import IndicatorStore, IntelMatch

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 6, 1, tzinfo=UTC)


def _store(*values: str, feed: str = "demo", **fields: Any) -> IndicatorStore:
    return IndicatorStore(indicator_from_text(v, feed, **fields) for v in values)


def _on(matches: list[Any]) -> list[tuple[str, str]]:
    return [(m.matched_on, m.indicator.value) for m in matches]


def test_url_indicator_matches_only_that_url() -> None:
    store = _store("https://sites.example/phish/login.html")
    hit = store.match_url(parse_url("HTTPS://Sites.Example/phish/login.html#x"))
    assert _on(hit) == [("url", "https://sites.example/phish/login.html")]
    assert hit[0].observed == "https://sites.example/phish/login.html"
    for other in ("https://sites.example/", "https://sites.example/phish/other.html"):
        assert store.match_url(parse_url(other)) == []
    assert store.match_host("sites.example") == []


def test_domain_indicator_matches_host_and_subdomains_only() -> None:
    store = _store("login.evil.example")
    assert _on(store.match_host("login.evil.example")) == [
        ("host", "login.evil.example")
    ]
    assert _on(store.match_host("a.b.login.evil.example")) == [
        ("domain", "login.evil.example")
    ]
    for miss in ("evil.example", "other.evil.example", "notlogin.evil.example"):
        assert store.match_host(miss) == []


def test_domain_match_through_url_with_trailing_dot_and_case() -> None:
    store = _store("evil.example")
    hit = store.match_url(parse_url("https://WWW.Evil.Example./path"))
    assert _on(hit) == [("domain", "evil.example")]
    assert hit[0].observed == "www.evil.example"


def test_url_host_and_domain_matches_come_in_order() -> None:
    store = _store(
        "http://a.evil.example/x", "a.evil.example", "evil.example", feed="f"
    )
    hit = store.match_url(parse_url("http://a.evil.example/x"))
    assert _on(hit) == [
        ("url", "http://a.evil.example/x"),
        ("host", "a.evil.example"),
        ("domain", "evil.example"),
    ]


def test_url_on_ip_host_matches_ip_and_networks() -> None:
    store = _store("198.51.100.130", "198.51.100.0/24", "198.51.0.0/16")
    url = parse_url("http://198.51.100.130/imageload.cgi")
    assert _on(store.match_url(url)) == [
        ("ip", "198.51.100.130"),
        ("cidr", "198.51.100.0/24"),
        ("cidr", "198.51.0.0/16"),
    ]


@pytest.mark.parametrize(
    ("listed", "seen"),
    [
        (
            "http://evil.example.com/payload.exe",
            "http://evil.example.com/%70ayload.exe",
        ),
        (
            "http://evil.example.com/%70ayload.exe",
            "http://evil.example.com/payload.exe",
        ),
        ("http://evil.example.com/a?x=%7euser", "http://evil.example.com/a?x=~user"),
        ("http://evil.example.com/%2fetc", "http://evil.example.com/%2Fetc"),
    ],
)
def test_percent_encoding_of_unreserved_characters_still_matches(
    listed: str, seen: str
) -> None:
    store = _store(listed)
    assert [m.matched_on for m in store.match_url(parse_url(seen))] == ["url"]


def test_url_on_ip_host_reports_ip_never_host() -> None:
    store = _store("203.0.113.5", "198.51.100.0/24")
    for raw, on in (
        ("http://203.0.113.5/x", "ip"),
        ("http://0xCB.0.113.5/x", "ip"),
        ("http://[::ffff:198.51.100.9]/x", "cidr"),
    ):
        assert [m.matched_on for m in store.match_url(parse_url(raw))] == [on]
    doc = IntelMatch.__doc__ or ""
    assert "IP literal" in doc
    assert "IP literal" in (IndicatorStore.match_url.__doc__ or "")


def test_defanged_url_indicator_and_ip_indicator_meet() -> None:
    url = indicator_from_text("hxxp://198.51.100[.]130/imageload.cgi", "a")
    store = IndicatorStore([indicator_from_text("198.51.100.130", "b")])
    assert _on(store.match_url(parse_url(url.value))) == [("ip", "198.51.100.130")]


def test_ip_and_cidr_lookups_v4_and_v6() -> None:
    store = _store("203.0.113.0/24", "2001:db8::/32", "2001:db8:1::5")
    assert _on(store.match_ip("203.0.113.255")) == [("cidr", "203.0.113.0/24")]
    assert store.match_ip("203.0.114.0") == []
    assert _on(store.match_ip("2001:DB8:1::5")) == [
        ("ip", "2001:db8:1::5"),
        ("cidr", "2001:db8::/32"),
    ]
    assert store.match_ip(ipaddress.ip_address("2001:db9::1")) == []
    assert _on(store.match_ip("::ffff:203.0.113.9")) == [("cidr", "203.0.113.0/24")]
    assert store.match_ip("not an ip") == []


def test_cidr_with_host_bits_matches_whole_network() -> None:
    store = _store("207.46.22.98/29")
    assert [bool(store.match_ip(f"207.46.22.{n}")) for n in (95, 96, 103, 104)] == [
        False,
        True,
        True,
        False,
    ]


def test_hash_lookup_ignores_case_and_prefix() -> None:
    store = _store("3395856CE81F2B7382DEE72602F798B642F14140")
    [match] = store.match_hash("sha1:3395856ce81f2b7382dee72602f798b642f14140")
    assert (match.matched_on, match.observed) == (
        "sha1",
        "3395856ce81f2b7382dee72602f798b642f14140",
    )
    assert store.match_hash("44d88612fea8a8f36de82e1278abb02f") == []
    assert store.match_hash("zzz") == []


def test_merge_across_feeds_keeps_provenance() -> None:
    store = IndicatorStore()
    assert store.add(
        indicator_from_text("evil.example", "a", first_seen=T1, confidence=40)
    )
    assert not store.add(
        indicator_from_text(
            "Evil.Example.", "b", first_seen=T0, last_seen=T1, confidence=80
        )
    )
    [match] = store.match_host("evil.example")
    merged = match.indicator
    assert merged.feeds == ("a", "b")
    assert (merged.first_seen, merged.last_seen, merged.confidence) == (T0, T1, 80)
    stats = store.stats()
    assert (stats.total, stats.multi_feed, stats.merged) == (1, 1, 1)
    assert stats.by_feed == {"a": 1, "b": 1}
    assert len(store) == 1


def test_expired_indicators_never_match() -> None:
    store = _store("evil.example", "203.0.113.9", expires_at=T1)
    before, after = T1 - timedelta(seconds=1), T1 + timedelta(seconds=1)
    assert len(store.match_host("evil.example", at=before)) == 1
    assert store.match_host("evil.example", at=after) == []
    assert store.match_ip("203.0.113.9", at=after) == []
    assert store.match_url(parse_url("http://evil.example/"), at=after) == []
    assert store.match_host("evil.example") == []  # now is after 2024-06-01
    with pytest.raises(ConfigError, match="no timezone"):
        store.match_host("evil.example", at=datetime(2024, 1, 1))
    assert store.prune(after) == 2
    assert len(store) == 0


def test_extra_hosts_are_matched(hardcases: dict[str, dict[str, Any]]) -> None:
    parsed = parse_url(hardcases["URL-02"]["input"])
    assert parsed.extra_hosts
    store = _store(*parsed.extra_hosts)
    assert [m.matched_on for m in store.match_url(parsed)] == ["host"] * len(
        parsed.extra_hosts
    )


def test_wildcard_suffix_tenant_is_its_own_key() -> None:
    store = _store("203-0-113-42.cprapid.com")
    assert len(store.match_host("203-0-113-42.cprapid.com")) == 1
    assert store.match_host("203-0-113-43.cprapid.com") == []


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("ip", "203.0.113.x"),
        ("ip", "2001:DB8::1"),
        ("cidr", "203.0.113.5/24"),
        ("cidr", "2001:db8::1/64"),
    ],
)
def test_add_refuses_non_canonical_addresses(kind: IndicatorType, value: str) -> None:
    with pytest.raises(InvalidIndicatorError, match="canonical"):
        IndicatorStore([Indicator(type=kind, value=value, feed="f")])


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    store = IndicatorStore(
        [
            indicator_from_text("evil.example", "a", first_seen=T0, tags=["x", "y"]),
            indicator_from_text("evil.example", "b", last_seen=T1, confidence=90),
            indicator_from_text("203.0.113.0/24", "a", expires_at=T1, threat="scan"),
            indicator_from_text("a" * 64, "c", reference="line 3"),
            indicator_from_text("https://evil.example/a?b=1", "c"),
        ]
    )
    path = tmp_path / "intel.parquet"
    store.save(path)
    loaded = IndicatorStore.load(path)
    assert sorted(loaded, key=lambda i: i.value) == sorted(store, key=lambda i: i.value)
    assert loaded.match_ip("203.0.113.1", at=T0)[0].indicator.threat == "scan"
    assert loaded.match_host("evil.example")[0].indicator.feeds == ("a", "b")


def test_load_refuses_other_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(StorageError, match="cannot read"):
        IndicatorStore.load(junk)
    with pytest.raises(StorageError, match="cannot read"):
        IndicatorStore.load(tmp_path / "missing.parquet")


def test_a_saved_store_keeps_when_each_indicator_starts_to_hold(tmp_path: Path) -> None:
    starts = Indicator(type="ip", value="198.51.100.7", feed="f", valid_from=T1)
    store = IndicatorStore([starts])
    path = tmp_path / "intel.parquet"
    store.save(path)

    loaded = IndicatorStore.load(path)

    assert loaded.get("ip", "198.51.100.7") == starts
    assert loaded.match_ip("198.51.100.7", at=T0) == []
    assert loaded.match_ip("198.51.100.7", at=T1 + timedelta(days=1))


def test_a_store_saved_before_valid_from_was_kept_still_loads(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "intel.parquet"
    IndicatorStore([indicator_from_text("evil.example", "a", first_seen=T0)]).save(path)
    table = pq.read_table(path).drop_columns(["valid_from"])
    metadata = {b"trustwatch.intel.store": b"1"}
    pq.write_table(table.replace_schema_metadata(metadata), path)

    (loaded,) = IndicatorStore.load(path)

    assert loaded.value == "evil.example" and loaded.valid_from is None
    assert loaded.first_seen == T0
