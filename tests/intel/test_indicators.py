"""Indicators: type detection, normal forms, hashes, merging, the URL fast path."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trustwatch.enrichment.urls import extract_urls, parse_url
from trustwatch.errors import InvalidIndicatorError
from trustwatch.intel._fastpath import fast_canonical_url
from trustwatch.intel.indicators import (
    Indicator,
    indicator_from_text,
    merge_indicators,
    normalize_hash,
    normalize_indicator,
    normalize_url,
)

EICAR_SHA1 = "3395856ce81f2b7382dee72602f798b642f14140"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 6, 1, tzinfo=UTC)


def test_normalize_hash_lowercases_uppercase_sha1(
    hardcases: dict[str, dict[str, Any]],
) -> None:
    case = hardcases["HASH-01"]
    assert normalize_hash(case["input"]) == ("sha1", EICAR_SHA1)


@pytest.mark.parametrize(
    "text",
    [
        " 3395856CE81F2B7382DEE72602F798B642F14140\r\n",
        "sha1:3395856CE81F2B7382DEE72602F798B642F14140",
        "SHA1: 3395856ce81f2b7382dee72602f798b642f14140",
    ],
)
def test_normalize_hash_trims_and_drops_prefix(text: str) -> None:
    assert normalize_hash(text) == ("sha1", EICAR_SHA1)


def test_normalize_hash_types_by_length() -> None:
    assert normalize_hash("44D88612FEA8A8F36DE82E1278ABB02F")[0] == "md5"
    assert normalize_hash("sha256:" + "AB" * 32) == ("sha256", "ab" * 32)


@pytest.mark.parametrize(
    "text", ["abc", "g" * 32, "a" * 33, "md5:" + "a" * 40, "sha256:" + "a" * 32]
)
def test_normalize_hash_refuses_non_digests(text: str) -> None:
    with pytest.raises(InvalidIndicatorError):
        normalize_hash(text)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("https://Evil.Example/login", "url", "https://evil.example/login"),
        ("Evil.Example.", "domain", "evil.example"),
        ("203.0.113.9", "ip", "203.0.113.9"),
        ("2001:DB8::1", "ip", "2001:db8::1"),
        ("207.46.22.98/29", "cidr", "207.46.22.96/29"),
        ("2001:db8::1/64", "cidr", "2001:db8::/64"),
        ("44D88612FEA8A8F36DE82E1278ABB02F", "md5", "44d88612fea8a8f36de82e1278abb02f"),
        ("sha256:" + "AB" * 32, "sha256", "ab" * 32),
    ],
)
def test_normalize_indicator_detects_type(text: str, kind: str, value: str) -> None:
    assert normalize_indicator(text) == (kind, value)


def test_defanged_ip_is_one_ip_indicator_not_url() -> None:
    indicator = indicator_from_text("198.51.100[.]248", "demo")
    assert (indicator.type, indicator.value) == ("ip", "198.51.100.248")


def test_defanged_urls_refang_to_three_urls(
    hardcases: dict[str, dict[str, Any]],
) -> None:
    found = [
        indicator_from_text(url, "demo")
        for url in extract_urls(hardcases["FEED-07"]["input"])
    ]
    assert [(i.type, i.value) for i in found] == [
        ("url", parse_url("http://example1.com").url),
        ("url", parse_url("http://example2.com").url),
        ("url", parse_url("https://example3.com").url),
    ]


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        (
            "hXXps[://]secure-login[.]xyz[/]drop[.]php",
            "https://secure-login.xyz/drop.php",
        ),
        (
            "hxxp://198.51.100[.]130/imageload.cgi",
            "http://198.51.100.130/imageload.cgi",
        ),
        ("tcp://example[.]com:8989/bad", "tcp://example.com:8989/bad"),
        ("fxp://files[.]example/drop.bin", "ftp://files.example/drop.bin"),
        ("FXPS://files.example/drop.bin", "ftps://files.example/drop.bin"),
        ("h__p://evil.example/a", "http://evil.example/a"),
        ("h**ps://evil.example/a", "https://evil.example/a"),
    ],
)
def test_defanged_url_variants(text: str, plain: str) -> None:
    indicator = indicator_from_text(text, "demo")
    assert indicator.type == "url"
    assert indicator.value == parse_url(plain).url


def test_tcp_scheme_is_kept() -> None:
    assert normalize_indicator("tcp://example[.]com:8989/bad")[1].startswith("tcp://")


def test_scheme_less_url_reads_as_http() -> None:
    assert normalize_indicator("evil.example/login.php") == (
        "url",
        parse_url("http://evil.example/login.php").url,
    )


def test_forced_type_mismatch_raises() -> None:
    with pytest.raises(InvalidIndicatorError, match="not an IPv4 or IPv6"):
        normalize_indicator("evil.example", "ip")
    with pytest.raises(InvalidIndicatorError, match="md5 digest, not sha256"):
        normalize_indicator("a" * 32, "sha256")


@pytest.mark.parametrize("text", ["", "   ", "localhost", "not a value at all"])
def test_unrecognised_values_raise(text: str) -> None:
    with pytest.raises(InvalidIndicatorError):
        normalize_indicator(text)


def test_domain_type_refuses_ip() -> None:
    with pytest.raises(InvalidIndicatorError, match="dotted host name"):
        normalize_indicator("203.0.113.9", "domain")


def test_indicator_from_text_keeps_metadata() -> None:
    indicator = indicator_from_text(
        "evil.example",
        "demo",
        confidence=75,
        first_seen=T0,
        tags=["c2"],
        threat="botnet",
        reference="line 3",
    )
    assert indicator == Indicator(
        type="domain",
        value="evil.example",
        feed="demo",
        first_seen=T0,
        confidence=75,
        tags=("c2",),
        threat="botnet",
        reference="line 3",
    )


def test_indicator_from_text_refuses_bad_confidence_and_naive_time() -> None:
    with pytest.raises(InvalidIndicatorError, match=r"outside 0\.\.100"):
        indicator_from_text("evil.example", "demo", confidence=101)
    with pytest.raises(InvalidIndicatorError, match="no timezone"):
        indicator_from_text("evil.example", "demo", first_seen=datetime(2024, 1, 1))


def test_merge_keeps_every_feed_and_widens_times() -> None:
    a = Indicator(
        type="ip",
        value="203.0.113.9",
        feed="a",
        first_seen=T1,
        confidence=60,
        tags=("x",),
        reference="1",
    )
    b = Indicator(
        type="ip",
        value="203.0.113.9",
        feed="b",
        first_seen=T0,
        last_seen=T1,
        confidence=90,
        tags=("y", "x"),
        threat="c2",
        reference="7",
    )
    merged = merge_indicators(a, b)
    assert (merged.first_seen, merged.last_seen) == (T0, T1)
    assert merged.confidence == 90
    assert merged.tags == ("x", "y")
    assert merged.threat == "c2"
    assert merged.feeds == ("a", "b")
    assert [(s.feed, s.reference, s.confidence) for s in merged.sources] == [
        ("a", "1", 60),
        ("b", "7", 90),
    ]


def test_merge_within_one_feed_keeps_no_sources() -> None:
    a = Indicator(type="md5", value="a" * 32, feed="a", first_seen=T1)
    b = Indicator(type="md5", value="a" * 32, feed="a", first_seen=T0)
    merged = merge_indicators(a, b)
    assert merged.sources == ()
    assert merged.feeds == ("a",)
    assert merged.first_seen == T0


def test_merge_expiry_none_outlasts_a_time() -> None:
    a = Indicator(type="md5", value="a" * 32, feed="a", expires_at=T0)
    b = Indicator(type="md5", value="a" * 32, feed="b")
    assert merge_indicators(a, b).expires_at is None
    assert merge_indicators(a, a).expires_at == T0


def test_merge_refuses_different_values() -> None:
    with pytest.raises(InvalidIndicatorError, match="cannot merge"):
        merge_indicators(
            Indicator(type="md5", value="a" * 32, feed="a"),
            Indicator(type="md5", value="b" * 32, feed="a"),
        )


@pytest.mark.parametrize(
    "url",
    [
        "http://EVIL.example/a",
        "http://evil.example:80/a",
        "https://evil.example:443/a",
        "http://evil.example/a/../b",
        "http://evil.example/a%4a",
        "http://evil.example/?ref=hxxp:/x",
        "http://user@evil.example/a",
        "http://evil.example/a#frag",
        "http://xn--80ak6aa92e.com/",
        "http://evil.example",
        "http://evil.example./a",
        "http://evil.example/a?",
        "http://010.0.0.1/a",
    ],
)
def test_fast_path_declines_non_canonical_urls(url: str) -> None:
    assert fast_canonical_url(url) is None
    assert normalize_url(url) == parse_url(url).url


def test_fast_path_takes_canonical_urls() -> None:
    url = "http://203.0.113.5:8080/bin.sh?x=1&y=2"
    assert fast_canonical_url(url) == url
    assert parse_url(url).url == url


def _feed_urls(datasets_dir: Path) -> list[str]:
    """Every URL of the real feeds, as written there."""
    urls: list[str] = []
    with (datasets_dir / "urlhaus-2025-04-21" / "urlhaus.csv").open(newline="") as fh:
        urls += [row["url"] for row in csv.DictReader(fh)]
    for name in (
        "phishtank-2020-05/DataFiles_2.online-valid.csv",
        "phishtank-2021-03/verified_online.csv",
    ):
        with (datasets_dir / name).open(newline="", encoding="utf-8") as fh:
            urls += [row["url"] for row in csv.DictReader(fh)]
    archive = datasets_dir / "openphish-archive" / "openphish_2024H2.json"
    urls += list(json.loads(archive.read_text(encoding="utf-8")))
    return urls


@pytest.mark.datasets
@pytest.mark.slow
def test_fast_path_agrees_with_parse_url_on_real_feeds(datasets_dir: Path) -> None:
    urls = _feed_urls(datasets_dir)
    fast = [(url, fast_canonical_url(url)) for url in urls]
    taken = [(url, key) for url, key in fast if key is not None]
    disagree = [url for url, key in taken if parse_url(url).url != key]
    assert disagree == []
    # The fast path must carry most of the load to be worth having.
    assert len(taken) > 0.6 * len(urls)
