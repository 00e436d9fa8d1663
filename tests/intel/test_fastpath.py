"""Fast paths accept only values the enrichment parsers return unchanged."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustwatch.enrichment.domains import normalize_host
from trustwatch.enrichment.ips import parse_ip, parse_network
from trustwatch.enrichment.urls import parse_url
from trustwatch.intel._fastpath import (
    ROUTABLE_IPV4,
    fast_canonical_url,
    fast_hash,
    fast_ipv4_network,
    ipv4_number,
    is_plain_host,
)
from trustwatch.intel.indicators import RefusedIndicatorError, normalize_indicator


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example/a(.)b",
        "http://evil.example/h**p://x",
        "http://evil.example/?ref=hXXp:/x",
        "http://evil.example/fxp:/x",
        "http://evil.example/h__p:/x",
        "http://evil.example/H__Ps:/x",
    ],
)
def test_fast_url_declines_anything_refang_could_touch(url: str) -> None:
    assert fast_canonical_url(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example/%70ayload.exe",
        "http://evil.example/a%2D",
        "http://evil.example/a%2E",
        "http://evil.example/%30",
        "http://evil.example/%5A%5F",
        "http://evil.example/%7E",
        "http://evil.example/?q=%61",
    ],
)
def test_fast_url_declines_escapes_of_unreserved_characters(url: str) -> None:
    assert fast_canonical_url(url) is None
    assert parse_url(url).url != url


_ESCAPED_PATH = st.lists(
    st.sampled_from(
        ["a", "/", ".", "-", "~", "?", "=", "&", "%"]
        + [f"%{n:02X}" for n in range(0x20, 0x80)]
        + [f"%{n:02x}" for n in (0x2E, 0x41, 0x7E, 0xAB)]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_ESCAPED_PATH)
def test_fast_url_agrees_with_parse_url_on_escapes(path: str) -> None:
    url = "http://evil.example/" + path
    fast = fast_canonical_url(url)
    assert fast is None or fast == parse_url(url).url


@pytest.mark.parametrize(
    "host",
    ["evil.example", "a-b.c-d.example", "123.example", "r2.sn-huoa.example"],
)
def test_plain_hosts_are_canonical(host: str) -> None:
    assert is_plain_host(host)
    assert normalize_host(host) == host


@pytest.mark.parametrize(
    "host",
    [
        "Evil.example",
        "evil.example.",
        "xn--80ak6aa92e.com",
        "evil",
        "1.2.3.4",
        "evil.example1",
        "0x7f.0x1",
        "e_vil.example",
        "a..example",
        "a." * 600 + "example",
    ],
)
def test_other_hosts_are_not_plain(host: str) -> None:
    assert not is_plain_host(host)


def test_plain_host_length_agrees_with_normalize_host() -> None:
    longest = "a." * 508 + "example"
    assert len(longest) == 1023
    assert is_plain_host(longest)
    assert normalize_host(longest) == longest
    with pytest.raises(ValueError, match="longer than 1024"):
        normalize_host("a" + longest + "a")


@pytest.mark.parametrize("first", range(256))
def test_routable_ipv4_agrees_with_the_scope_check(first: int) -> None:
    for text in (f"{first}.0.0.0", f"{first}.1.2.3"):
        try:
            normalize_indicator(text, "ip")
        except RefusedIndicatorError:
            assert ROUTABLE_IPV4.fullmatch(text) is None
        else:
            assert (ROUTABLE_IPV4.fullmatch(text) is not None) is (first != 0)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_ipv4_number_agrees_with_parse_ip(number: int) -> None:
    text = str(ipaddress.IPv4Address(number))
    assert ipv4_number(text) == int(parse_ip(text)) == number


@given(
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=0, max_value=32),
)
def test_ipv4_network_agrees_with_parse_network(number: int, prefix: int) -> None:
    text = f"{ipaddress.IPv4Address(number)}/{prefix}"
    assert fast_ipv4_network(text) == str(parse_network(text))


@pytest.mark.parametrize(
    "text", ["10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/", "010.0.0.0/8", "::/0"]
)
def test_ipv4_network_declines_other_forms(text: str) -> None:
    assert fast_ipv4_network(text) is None


def test_fast_hash_takes_only_lowercase_digests() -> None:
    assert fast_hash("a" * 40) == ("sha1", "a" * 40)
    assert fast_hash("A" * 40) is None
    assert fast_hash("g" * 32) is None
    assert fast_hash("a" * 33) is None


@pytest.mark.parametrize("text", ["010.0.0.1", "1.2.3", "256.1.1.1", "::1", "a.b.c.d"])
def test_ipv4_number_declines_other_forms(text: str) -> None:
    assert ipv4_number(text) is None


@pytest.mark.datasets
def test_plain_hosts_agree_with_normalize_host_on_real_lists(
    datasets_dir: Path,
) -> None:
    folder = datasets_dir / "misp-warninglists-toplists"
    hosts = {
        host
        for path in folder.glob("*.json")
        for host in json.loads(path.read_text(encoding="utf-8"))["list"]
    }
    plain = [host for host in hosts if is_plain_host(host)]
    assert [host for host in plain if normalize_host(host) != host] == []
    assert len(plain) > 0.9 * len(hosts)


@pytest.mark.datasets
def test_plain_url_hosts_agree_with_parse_url(datasets_dir: Path) -> None:
    archive = datasets_dir / "openphish-archive" / "openphish_2024H2.json"
    urls = list(json.loads(archive.read_text(encoding="utf-8")))
    checked = 0
    for url in urls:
        host = url.split("://", 1)[-1].split("/", 1)[0]
        if is_plain_host(host):
            checked += 1
            assert parse_url(url).host == host
    assert checked > 0.9 * len(urls)
