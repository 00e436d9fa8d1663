"""Geo resolvers: the null one, the bundled data, and user MaxMind files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trustwatch.enrichment.geo import (
    UNKNOWN_GEO,
    BundledGeo,
    GeoInfo,
    GeoResolver,
    MaxMindGeo,
    NullGeo,
)
from trustwatch.errors import ConfigError, InvalidIndicatorError

from .mmdb_writer import write_mmdb

# Well-known public resolver addresses: looked up in local files only.
PUBLIC_V4 = "8.8.8.8"
PUBLIC_V6 = "2001:4860:4860::8888"


@pytest.fixture(scope="module")
def bundled() -> BundledGeo:
    """The bundled resolver; its data loads once per test session."""
    return BundledGeo()


@pytest.fixture
def mmdb_files(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny country database and a tiny ASN database."""
    country = write_mmdb(
        tmp_path / "country.mmdb",
        {
            "8.8.8.0/24": {"country": {"iso_code": "US"}},
            "1.1.1.0/24": {"registered_country": {"iso_code": "AU"}},
            "2001:4860::/32": {"country": {"iso_code": "US"}},
            "198.51.100.0/24": {"country": {"iso_code": "ZZ"}},
        },
        "GeoLite2-Country",
    )
    asn = write_mmdb(
        tmp_path / "asn.mmdb",
        {
            "8.8.8.0/24": {
                "autonomous_system_number": 15169,
                "autonomous_system_organization": "GOOGLE",
            },
        },
        "GeoLite2-ASN",
    )
    return country, asn


@pytest.fixture
def maxmind(mmdb_files: tuple[Path, Path]) -> Iterator[MaxMindGeo]:
    """A MaxMind resolver over both test databases, closed afterwards."""
    with MaxMindGeo(*mmdb_files) as resolver:
        yield resolver


def test_every_resolver_satisfies_the_protocol(
    bundled: BundledGeo, maxmind: MaxMindGeo
) -> None:
    for resolver in (NullGeo(), bundled, maxmind):
        assert isinstance(resolver, GeoResolver)


def test_null_geo_knows_nothing() -> None:
    assert NullGeo().lookup(PUBLIC_V4) == GeoInfo(None, None, None)


def test_null_geo_still_rejects_bad_addresses() -> None:
    with pytest.raises(InvalidIndicatorError):
        NullGeo().lookup("not-an-ip")


def test_bundled_geo_resolves_a_public_address(bundled: BundledGeo) -> None:
    info = bundled.lookup(PUBLIC_V4)

    assert info.country == "US"
    assert info.as_name == "GOOGLE"
    assert info.asn is None


def test_bundled_geo_resolves_ipv6_and_mapped_addresses(bundled: BundledGeo) -> None:
    assert bundled.lookup(PUBLIC_V6).country == "US"
    assert bundled.lookup("::ffff:8.8.8.8") == bundled.lookup(PUBLIC_V4)


@pytest.mark.parametrize(
    "ip", ["10.0.0.1", "127.0.0.1", "198.51.100.20", "203.0.113.5", "::1", "fe80::1"]
)
def test_bundled_geo_skips_special_addresses(bundled: BundledGeo, ip: str) -> None:
    assert bundled.lookup(ip) == UNKNOWN_GEO


def test_bundled_geo_names_its_data(bundled: BundledGeo) -> None:
    assert "GeoLite2" in bundled.data_version()


def test_bundled_geo_rejects_bad_addresses(bundled: BundledGeo) -> None:
    with pytest.raises(InvalidIndicatorError, match="is not an IP address"):
        bundled.lookup("999.1.1.1")


def test_maxmind_geo_reads_country_and_asn(maxmind: MaxMindGeo) -> None:
    assert maxmind.lookup(PUBLIC_V4) == GeoInfo("US", 15169, "GOOGLE")


def test_maxmind_geo_falls_back_to_registered_country(maxmind: MaxMindGeo) -> None:
    assert maxmind.lookup("1.1.1.1") == GeoInfo("AU", None, None)


def test_maxmind_geo_reads_ipv6(maxmind: MaxMindGeo) -> None:
    assert maxmind.lookup(PUBLIC_V6) == GeoInfo("US", None, None)


def test_maxmind_geo_unknown_public_address(maxmind: MaxMindGeo) -> None:
    assert maxmind.lookup("9.9.9.9") == UNKNOWN_GEO


def test_maxmind_geo_skips_special_addresses_even_when_listed(
    maxmind: MaxMindGeo,
) -> None:
    assert maxmind.lookup("198.51.100.7") == UNKNOWN_GEO


def test_maxmind_geo_with_only_an_asn_database(
    mmdb_files: tuple[Path, Path],
) -> None:
    with MaxMindGeo(None, mmdb_files[1]) as resolver:
        assert resolver.lookup(PUBLIC_V4) == GeoInfo(None, 15169, "GOOGLE")


def test_maxmind_geo_needs_a_database() -> None:
    with pytest.raises(ConfigError, match="needs a country database"):
        MaxMindGeo(None, None)


def test_maxmind_geo_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        MaxMindGeo(tmp_path / "absent.mmdb", None)


def test_maxmind_geo_corrupt_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mmdb"
    corrupt.write_bytes(b"this is not a MaxMind DB" * 10)

    with pytest.raises(ConfigError, match="not a readable MaxMind DB"):
        MaxMindGeo(corrupt, None)
