"""Values refused as indicators because they would match far too much."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import InvalidIndicatorError, StorageError
from trustwatch.intel import (
    MAX_URL_INDICATOR_CHARS,
    Indicator,
    IndicatorStore,
    RefusedIndicatorError,
    indicator_from_text,
    load_feed,
    normalize_indicator,
    normalize_url,
)


@pytest.mark.parametrize(
    ("text", "type"),
    [
        ("0.0.0.0/0", None),
        ("::/0", None),
        ("0.0.0.0/0", "cidr"),
        ("::/0", "cidr"),
        ("1.0.0.0/7", None),
        ("2000::/3", "cidr"),
        ("ff00::/8", None),
        ("[::]/0", "cidr"),
    ],
)
def test_catch_all_networks_are_too_broad(text: str, type: str | None) -> None:
    with pytest.raises(RefusedIndicatorError, match=r"broader than /\d+.*hint") as e:
        normalize_indicator(text, type)  # type: ignore[arg-type]
    assert e.value.reason == "too_broad"


@pytest.mark.parametrize(
    "text",
    [
        "0.0.0.0",
        "::",
        "0.0.0.0/8",
        "::/64",
        "127.0.0.1",
        "127.0.0.0/8",
        "127.1",
        "0x7f.1",
        "::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "239.255.255.250/32",
        "ff02::1",
        "ff02::/16",
    ],
)
def test_unspecified_loopback_and_multicast_are_not_routable(text: str) -> None:
    with pytest.raises(RefusedIndicatorError, match="never the address") as e:
        normalize_indicator(text)
    assert e.value.reason == "not_routable"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("2001:db8::/16", "2001::/16"),
        ("198.51.100.7", "198.51.100.7"),
        ("203.0.113.0/24", "203.0.113.0/24"),
        ("192.168.1.1", "192.168.1.1"),
        ("169.254.169.254", "169.254.169.254"),
        ("0.1.0.0/16", "0.1.0.0/16"),
        ("::2", "::2"),
        ("240.0.0.1", "240.0.0.1"),
    ],
)
def test_narrow_and_documentation_ranges_are_kept(text: str, value: str) -> None:
    assert normalize_indicator(text)[1] == value


def test_refusal_is_an_invalid_indicator_error() -> None:
    with pytest.raises(InvalidIndicatorError):
        indicator_from_text("0.0.0.0/0", "demo")


def test_urls_on_loopback_hosts_stay_exact_indicators() -> None:
    kind, value = normalize_indicator("http://127.0.0.1:8080/bin.sh")
    assert (kind, value) == ("url", "http://127.0.0.1:8080/bin.sh")


def test_url_longer_than_an_event_url_is_too_long() -> None:
    path = "/" + "a" * MAX_URL_INDICATOR_CHARS
    for text, type in (
        ("http://evil.example" + path, "url"),
        ("http://evil.example" + path, None),
        ("hxxp://evil[.]example" + path, None),
        ("evil.example" + path, None),
    ):
        with pytest.raises(RefusedIndicatorError, match="more than the 32768") as e:
            normalize_indicator(text, type)  # type: ignore[arg-type]
        assert e.value.reason == "too_long"
    with pytest.raises(RefusedIndicatorError):
        normalize_url("http://evil.example" + path)


def test_url_at_the_cap_is_kept() -> None:
    url = "http://evil.example/"
    url += "a" * (MAX_URL_INDICATOR_CHARS - len(url))
    assert normalize_indicator(f"  {url}\n") == ("url", url)


def test_feed_rejects_carry_the_refusal_reason(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    long_url = "http://evil.example/" + "a" * MAX_URL_INDICATOR_CHARS
    path.write_text(
        f"0.0.0.0/0\n::/0\n127.0.0.1\n{long_url}\n198.51.100.7\n", encoding="utf-8"
    )
    load = load_feed(path)
    assert [(r.location, r.reason) for r in load.rejects] == [
        ("list.txt:1", "too_broad"),
        ("list.txt:2", "too_broad"),
        ("list.txt:3", "not_routable"),
        ("list.txt:4", "too_long"),
    ]
    assert [i.value for i in load.indicators] == ["198.51.100.7"]
    store = IndicatorStore(load.indicators)
    assert store.match_ip("203.0.113.9") == []


@pytest.mark.parametrize(
    ("type", "value"),
    [("cidr", "0.0.0.0/0"), ("cidr", "::/0"), ("ip", "127.0.0.1"), ("ip", "::")],
)
def test_store_refuses_hand_built_catch_alls(type: str, value: str) -> None:
    indicator = Indicator(type=type, value=value, feed="hand")  # type: ignore[arg-type]
    store = IndicatorStore()
    with pytest.raises(RefusedIndicatorError):
        store.add(indicator)
    assert len(store) == 0
    assert store.match_ip("203.0.113.9") == []


def test_store_file_with_a_catch_all_is_a_storage_error(tmp_path: Path) -> None:
    from trustwatch.intel import _parquet

    path = tmp_path / "store.parquet"
    _parquet.write([Indicator(type="cidr", value="0.0.0.0/0", feed="old")], path, "1")
    with pytest.raises(StorageError, match=r"store\.parquet.*rebuild"):
        IndicatorStore.load(path)


def test_public_suffix_domain_indicator_is_no_catch_all() -> None:
    store = IndicatorStore([indicator_from_text("co.uk", "demo")])
    assert store.match_url(parse_url("https://shop.example.co.uk/")) == []
    assert [m.matched_on for m in store.match_host("co.uk")] == ["host"]
