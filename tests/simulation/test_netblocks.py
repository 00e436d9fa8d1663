"""Source addresses: inside their blocks, in their countries, never resolvers."""

from __future__ import annotations

import ipaddress
from random import Random

import pytest
from geoip2fast import GeoIP2Fast

from trustwatch.simulation.netblocks import COUNTRIES, HOSTING, Netblock, ip_to_str

PUBLIC_RESOLVERS = (
    "8.8.8.8",
    "8.8.4.4",
    "1.1.1.1",
    "1.0.0.1",
    "9.9.9.9",
    "208.67.222.222",
)


def test_ip_to_str_formats_dotted_quads() -> None:
    assert ip_to_str(int(ipaddress.IPv4Address("203.0.113.7"))) == "203.0.113.7"


def test_draws_stay_inside_the_block_and_avoid_edges() -> None:
    block = Netblock("198.51.100.0/24", "documentation")
    rng = Random(1)
    drawn = {block.draw(rng) for _ in range(2_000)}
    assert all(ip in block for ip in drawn)
    assert not {"198.51.100.0", "198.51.100.255"} & drawn


def test_no_block_holds_a_public_resolver() -> None:
    blocks = [*HOSTING, *(b for c in COUNTRIES for b in c.blocks)]
    assert not [(r, b) for r in PUBLIC_RESOLVERS for b in blocks if r in b]


@pytest.fixture(scope="module")
def geo() -> GeoIP2Fast:
    """The GeoIP country database bundled with geoip2fast (offline)."""
    return GeoIP2Fast()


@pytest.mark.parametrize("country", COUNTRIES, ids=lambda c: c.code)
def test_residential_addresses_geolocate_to_their_country(
    country: object, geo: GeoIP2Fast
) -> None:
    rng = Random(2)
    codes = {geo.lookup(country.draw(rng)).country_code for _ in range(40)}  # type: ignore[attr-defined]
    assert codes == {country.code}  # type: ignore[attr-defined]
