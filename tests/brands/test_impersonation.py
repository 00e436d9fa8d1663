"""find_impersonation on the issue's examples and on each technique."""

from __future__ import annotations

from typing import Any

import pytest

from trustwatch.brands import (
    TECHNIQUES,
    Brand,
    BrandHit,
    Catalogue,
    find_impersonation,
    imitates_brand,
    within_one_edit,
)
from trustwatch.enrichment.urls import parse_url


def _hits(url: str, catalogue: Catalogue | None = None) -> set[tuple[str, str]]:
    """Return (brand, technique) pairs for a URL."""
    return {
        (h.brand, h.technique) for h in find_impersonation(parse_url(url), catalogue)
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("paypal.com.secure-login.example", ("paypal", "brand_in_subdomain")),
        ("xn--pypal-4ve.com", ("paypal", "homoglyph")),
        ("https://paypa1.com/", ("paypal", "homoglyph")),
        ("https://paypal-secure-login.com/", ("paypal", "combosquat")),
        ("https://pyapal.com/", ("paypal", "typosquat")),
        ("https://paypl.com/", ("paypal", "typosquat")),
        ("https://paypal.help/", ("paypal", "brand_tld_swap")),
        ("https://files.example/paypal/signin", ("paypal", "brand_in_path")),
        ("https://secure-ups-parcel.example/", ("ups", "combosquat")),
        ("https://xn--80ak6aa92e.com/", ("apple", "homoglyph")),
        (
            "https://rakuten-card.co.jp.login.example/",
            ("rakuten", "brand_in_subdomain"),
        ),
        ("https://smbc-card-verify.example/", ("smbccard", "combosquat")),
        ("https://peringatan-fb-help.example/", ("facebook", "combosquat")),
    ],
)
def test_impersonation_is_flagged(url: str, expected: tuple[str, str]) -> None:
    assert expected in _hits(url)


@pytest.mark.parametrize(
    "url",
    [
        "paypal.com",
        "https://www.paypal.com/signin",
        "https://paypal.me/someone",
        "https://www.paypalobjects.com/js/login.js",
        "https://appleid.apple.com/account/verify",
        "https://www.google.com/paypal/login",
        "https://stream.example/",
        "https://news.example/2016/paypal-results",
        "https://203.0.113.7/index.html",
    ],
)
def test_legitimate_and_unrelated_urls_are_not_flagged(url: str) -> None:
    assert _hits(url) == set()


def test_batch_yes_or_no_matches_the_hits_url_by_url() -> None:
    urls = [
        "paypal.com",
        "https://www.paypal.com/signin",
        "https://paypal-secure-login.com/",
        "https://files.example/paypal/signin",
        "https://files.example/paypal/photos",
        "http://198.51.100.4/paypal/webscr/login",
        "https://203.0.113.7/index.html",
        "https://www.google.com/paypal/login",
        "https://paypal.com.x.example/paypal/login",
        "https://paypal-secure-login.com/",
    ]
    batch = [parse_url(url) for url in urls]
    expected = [bool(find_impersonation(parsed)) for parsed in batch]
    assert imitates_brand(batch) == expected
    assert imitates_brand([]) == []
    assert expected.count(True) == 5


def test_batch_yes_or_no_uses_a_custom_catalogue() -> None:
    catalogue = Catalogue(
        brands=(Brand("acmebank", "Acme Bank", ("acmebank.example",), ("acmebank",)),)
    )
    batch = [
        parse_url("https://acmebank-login.example/"),
        parse_url("https://www.acmebank.example/"),
        parse_url("https://paypal-login.example/"),
    ]
    assert imitates_brand(batch, catalogue) == [True, False, False]


def test_brand_own_subdomain_is_not_flagged_even_with_other_brand_words() -> None:
    assert ("paypal", "brand_in_subdomain") not in _hits("paypal.login.paypal.com")


def test_hardcase_dom04_is_apple_homoglyph(
    hardcases: dict[str, dict[str, Any]],
) -> None:
    hits = find_impersonation(parse_url(hardcases["DOM-04"]["input"]))
    assert BrandHit("apple", "homoglyph", hits[0].evidence) in hits


def test_hits_carry_known_techniques_and_evidence() -> None:
    hits = find_impersonation(parse_url("https://paypal.com.x.example/paypal/login"))
    assert hits
    for hit in hits:
        assert hit.technique in TECHNIQUES
        assert hit.evidence


def test_one_hit_per_brand_and_technique() -> None:
    hits = find_impersonation(parse_url("paypal.paypal-x.paypal.example"))
    pairs = [(h.brand, h.technique) for h in hits]
    assert len(pairs) == len(set(pairs))


def test_ip_host_gets_path_hits_only() -> None:
    assert _hits("http://198.51.100.4/paypal/webscr/login") == {
        ("paypal", "brand_in_path")
    }


def test_custom_catalogue_is_used() -> None:
    catalogue = Catalogue(
        brands=(Brand("acmebank", "Acme Bank", ("acmebank.example",), ("acmebank",)),)
    )
    assert _hits("https://acmebank-login.example/", catalogue) == {
        ("acmebank", "combosquat")
    }
    assert _hits("https://www.acmebank.example/", catalogue) == set()
    assert _hits("https://paypal-login.example/", catalogue) == set()


def test_label_only_names_match_whole_labels_but_not_inside_words() -> None:
    catalogue = Catalogue(brands=(Brand("ups", "UPS", ("ups.com",), (), ("ups",)),))
    assert _hits("https://ups.parcel.example/", catalogue) == {
        ("ups", "brand_in_subdomain")
    }
    assert _hits("https://groups.example/", catalogue) == set()


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("paypal", "paypal", False),
        ("paypal", "paypa", True),
        ("paypal", "paypall", True),
        ("paypal", "paypai", True),
        ("paypal", "papyal", True),
        ("paypal", "pyapla", False),
        ("paypal", "pay", False),
        ("", "a", True),
        ("ab", "ba", True),
        ("abc", "cab", False),
    ],
)
def test_within_one_edit(a: str, b: str, expected: bool) -> None:
    assert within_one_edit(a, b) is expected
    assert within_one_edit(b, a) is expected
