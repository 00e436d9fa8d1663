"""IP address and network parsing, prefixes and reachability."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustwatch.enrichment.ips import (
    ip_prefix,
    is_loopback_host,
    is_public,
    parse_ip,
    parse_network,
)
from trustwatch.errors import ConfigError, InvalidIndicatorError

Cases = dict[str, dict[str, Any]]


def test_ip02_ffff_in_the_sixth_group_is_not_ipv4_mapped(hardcases: Cases) -> None:
    address = parse_ip(hardcases["IP-02"]["input"])

    assert address == ipaddress.IPv6Address("2001:db8:1:1:0:ffff:7f00:1")
    assert isinstance(address, ipaddress.IPv6Address)
    assert address.ipv4_mapped is None
    assert not address.is_loopback
    assert not address.is_link_local


def test_ip02_global_address_with_ffff_group_stays_public() -> None:
    # The address from the ruby ipaddr report that was wrongly called private.
    assert is_public("2001:718:1404:c8:0:ffff:ac19:c80e")


def test_ipv4_mapped_address_is_unwrapped() -> None:
    assert parse_ip("::ffff:127.0.0.1") == ipaddress.IPv4Address("127.0.0.1")
    assert parse_ip("[::ffff:7f00:1]") == ipaddress.IPv4Address("127.0.0.1")
    assert not is_public("::ffff:127.0.0.1")


def test_ip03_host_bits_are_cleared_and_logged(
    hardcases: Cases, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="trustwatch.enrichment.ips"):
        network = parse_network(hardcases["IP-03"]["input"])

    assert network == ipaddress.IPv4Network("207.46.22.96/29")
    assert ipaddress.IPv4Address("207.46.22.103") in network
    assert "207.46.22.96/29" in caplog.text


def test_ip03_ipv6_host_bits_are_cleared() -> None:
    network = parse_network("2600:9000:224a:6e00:19:74a:4c80:93a1/64")

    assert network == ipaddress.IPv6Network("2600:9000:224a:6e00::/64")


def test_exact_network_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="trustwatch.enrichment.ips"):
        parse_network("198.51.100.0/24")

    assert caplog.records == []


@pytest.mark.parametrize(
    ("text", "network"),
    [
        ("198.51.100.7", "198.51.100.7/32"),
        ("2001:db8::1", "2001:db8::1/128"),
        (" 203.0.113.0/24 ", "203.0.113.0/24"),
        ("::ffff:198.51.100.0/120", "198.51.100.0/24"),
        ("[2001:db8::]/32", "2001:db8::/32"),
    ],
)
def test_parse_network_forms(text: str, network: str) -> None:
    assert parse_network(text) == ipaddress.ip_network(network)


@pytest.mark.parametrize("text", ["198.51.100.0/33", "nope/8", "", "1.2.3/24"])
def test_parse_network_rejects_bad_input(text: str) -> None:
    with pytest.raises(InvalidIndicatorError, match="is not an IP network"):
        parse_network(text)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (" 198.51.100.7 ", "198.51.100.7"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
    ],
)
def test_parse_ip_forms(text: str, address: str) -> None:
    assert parse_ip(text) == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    "text", ["", "198.51.100", "010.0.0.1", "198.51.100.7:80", "example.com"]
)
def test_parse_ip_rejects_bad_input(text: str) -> None:
    with pytest.raises(InvalidIndicatorError, match="is not an IP address"):
        parse_ip(text)


def test_ip_prefix_defaults_and_custom_lengths() -> None:
    assert ip_prefix("203.0.113.77") == "203.0.113.0/24"
    assert ip_prefix("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert ip_prefix("203.0.113.77", v4_bits=16) == "203.0.0.0/16"
    assert ip_prefix("2001:db8:1:2::1", v6_bits=48) == "2001:db8:1::/48"
    assert ip_prefix("::ffff:203.0.113.77") == "203.0.113.0/24"


def test_ip_prefix_rejects_bad_lengths() -> None:
    with pytest.raises(ConfigError, match="prefix length 33"):
        ip_prefix("203.0.113.77", v4_bits=33)


@pytest.mark.parametrize(
    ("text", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("10.1.2.3", False),
        ("127.0.0.1", False),
        ("169.254.1.1", False),
        ("100.64.0.1", False),
        ("198.51.100.7", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
    ],
)
def test_is_public(text: str, public: bool) -> None:
    assert is_public(text) is public


@given(
    st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)),
    st.integers(0, 32),
    st.integers(0, 128),
)
def test_ip_prefix_names_the_network_as_ipaddress_does(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, v4_bits: int, v6_bits: int
) -> None:
    bits = v4_bits if address.version == 4 else v6_bits
    expected = ipaddress.ip_network((address, bits), strict=False)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return  # read as the IPv4 address it carries, tested above
    assert ip_prefix(str(address), v4_bits, v6_bits) == str(expected)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LocalHost.", True),
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("[::ffff:127.0.0.1]", True),
        ("::ffff:10.0.0.1", False),
        ("10.0.0.1", False),
        ("0.0.0.0", False),
        ("localhost.example", False),
        ("", False),
    ],
)
def test_loopback_hosts_are_told_one_way_everywhere(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
