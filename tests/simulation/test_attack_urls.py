"""Synthetic malicious URLs: invented hosts, realistic shapes."""

from __future__ import annotations

import ipaddress
from random import Random
from urllib.parse import urlsplit

from trustwatch.simulation.attack_urls import (
    BRANDS,
    FREE_HOSTING_SUFFIXES,
    malware_url,
    phishing_url,
)
from trustwatch.simulation.benign_urls import BENIGN_URLS

DOCS = (ipaddress.ip_network("198.51.100.0/24"), ipaddress.ip_network("203.0.113.0/24"))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _hosts(urls: list[str]) -> list[str]:
    return [urlsplit(u).hostname or "" for u in urls]


def test_phishing_hosts_are_invented_per_url() -> None:
    rng = Random(4)
    urls = [phishing_url(rng, brand) for brand in sorted(BRANDS) for _ in range(40)]
    hosts = _hosts(urls)
    named = [h for h in hosts if not _is_ip(h)]
    assert len(set(named)) == len(named)
    assert not set(hosts) & set(_hosts(list(BENIGN_URLS)))


def test_phishing_urls_take_every_shape() -> None:
    rng = Random(5)
    hosts = _hosts([phishing_url(rng, "paypal") for _ in range(300)])
    free = [
        h for h in hosts if h.endswith(tuple("." + s for s in FREE_HOSTING_SUFFIXES))
    ]
    literal = [h for h in hosts if _is_ip(h)]
    assert free and literal and len(free) + len(literal) < len(hosts)
    assert all(ipaddress.ip_address(h) in DOCS[1] for h in literal)


def test_malware_urls_point_at_payloads() -> None:
    rng = Random(6)
    urls = [malware_url(rng) for _ in range(300)]
    literal = [h for h in _hosts(urls) if _is_ip(h)]
    assert literal
    assert all(ipaddress.ip_address(h) in DOCS[0] for h in literal)
    assert any(u.endswith("/bin.sh") or u.endswith(".exe") for u in urls)


def test_generation_is_deterministic_for_a_seed() -> None:
    first = [phishing_url(Random(9), "apple"), malware_url(Random(9))]
    again = [phishing_url(Random(9), "apple"), malware_url(Random(9))]
    assert first == again
