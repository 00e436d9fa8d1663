"""Pin the public names of the brands package."""

from __future__ import annotations

import trustwatch.brands as brands
from trustwatch.brands import BrandMatcher, clear_caches, find_impersonation
from trustwatch.brands.catalogue import Brand, Catalogue
from trustwatch.enrichment.urls import parse_url


def test_package_exports() -> None:
    assert sorted(brands.__all__) == [
        "Brand",
        "BrandHit",
        "BrandMatcher",
        "Catalogue",
        "TECHNIQUES",
        "clear_caches",
        "find_impersonation",
        "imitates_brand",
        "load_catalogue",
        "within_one_edit",
    ]
    for name in brands.__all__:
        assert getattr(brands, name) is not None


def test_results_are_the_same_after_clearing_caches() -> None:
    parsed = parse_url("https://paypal.com.verify.example/")
    first = find_impersonation(parsed)
    clear_caches()
    assert find_impersonation(parsed) == first != []


def test_matcher_reports_owners_of_a_domain() -> None:
    catalogue = Catalogue(
        brands=(Brand("acmebank", "Acme Bank", ("acmebank.example",), ("acmebank",)),)
    )
    matcher = BrandMatcher(catalogue)
    assert matcher.owners("acmebank.example") == frozenset({"acmebank"})
    assert matcher.owners("other.example") == frozenset()
