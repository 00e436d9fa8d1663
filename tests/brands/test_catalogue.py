"""The shipped catalogue and its JSON form."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from trustwatch.brands import Brand, Catalogue, load_catalogue
from trustwatch.brands.catalogue import catalogue_from_dict, catalogue_to_dict
from trustwatch.errors import ConfigError


def test_shipped_catalogue_knows_the_big_brands_and_their_domains() -> None:
    catalogue = load_catalogue()
    paypal = catalogue.get("paypal")
    assert paypal is not None
    assert {"paypal.com", "paypal.me"} <= set(paypal.domains)
    bofa = catalogue.get("bankofamerica")
    assert bofa is not None and "bankofamerica.com" in bofa.domains
    irs = catalogue.get("irs")
    assert irs is not None and irs.domains == ("irs.gov",)
    japanpost = catalogue.get("japanpost")
    assert japanpost is not None and "post.japanpost.jp" in japanpost.domains
    assert len(catalogue) >= 100


def test_shipped_catalogue_is_small_names_its_sources_and_holds_no_urls() -> None:
    raw = resources.files("trustwatch.brands").joinpath("catalogue.json").read_bytes()
    assert len(raw) < 100_000
    data = json.loads(raw)
    assert data["sources"] and all("licence" in s for s in data["sources"])
    assert b"://" not in raw and b"http" not in raw.lower()
    assert set(data["brands"][0]) == {"key", "name", "domains", "tokens", "labels"}


def test_load_catalogue_is_cached() -> None:
    assert load_catalogue() is load_catalogue()


def test_round_trip_through_dict() -> None:
    catalogue = load_catalogue()
    again = catalogue_from_dict(catalogue_to_dict(catalogue))
    assert again.brands == catalogue.brands


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "Pay Pal"}, "'Pay Pal'"),
        ({"domains": ("https://paypal.com",)}, "https://paypal.com"),
        ({"tokens": ("pp",)}, "'pp' is shorter"),
        ({"tokens": (), "labels": ()}, "no tokens"),
        ({"labels": ("Pay-",)}, "'Pay-'"),
    ],
)
def test_invalid_brand_is_refused_naming_the_value(
    kwargs: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {
        "key": "paypal",
        "name": "PayPal",
        "domains": ("paypal.com",),
        "tokens": ("paypal",),
    }
    fields.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        Brand(**fields)  # type: ignore[arg-type]


def test_duplicate_keys_are_refused() -> None:
    brand = Brand("paypal", "PayPal", ("paypal.com",), ("paypal",))
    with pytest.raises(ConfigError, match="appears twice"):
        Catalogue(brands=(brand, brand))


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ConfigError, match="format 99"):
        catalogue_from_dict({"format": 99, "brands": []})


def test_entry_missing_a_field_is_refused() -> None:
    with pytest.raises(ConfigError, match="key, name, domains and tokens"):
        catalogue_from_dict({"format": 1, "brands": [{"key": "paypal"}]})
