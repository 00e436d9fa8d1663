"""Address blocks the simulator draws source IPs from, per country and per host.

The blocks are real public allocations of large residential ISPs and of
hosting providers, chosen so that a GeoIP/ASN lookup places each address in
the country (and network kind) the simulator means. They are **data only**:
nothing here, nor anywhere in the simulator, ever contacts an address. No
public DNS resolver range is listed.

Attack infrastructure that a test may need to "own" (phishing and malware
servers) lives in the documentation ranges 198.51.100.0/24 and 203.0.113.0/24
(RFC 5737) instead; see :mod:`trustwatch.simulation.attack_urls`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from random import Random

__all__ = [
    "COUNTRIES",
    "HOSTING",
    "Country",
    "Netblock",
    "ip_to_str",
]


def ip_to_str(value: int) -> str:
    """Format a 32-bit integer as a dotted-quad IPv4 address."""
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


class Netblock:
    """One CIDR block of a named network that addresses are drawn from.

    Parameters
    ----------
    cidr
        The block, such as ``"73.0.0.0/13"``.
    network
        Who announces it (an ISP or hosting provider name), for readers.
    """

    __slots__ = ("_base", "_hosts", "cidr", "network")

    def __init__(self, cidr: str, network: str) -> None:
        block = ipaddress.IPv4Network(cidr)
        self.cidr = cidr
        self.network = network
        self._base = int(block.network_address)
        # Whole /24s only, so the last octet can stay in 1..254.
        self._hosts = max(block.num_addresses >> 8, 1)

    def draw(self, rng: Random) -> str:
        """Return a random host address inside the block (never .0 or .255)."""
        rand = rng.random
        value = self._base + (int(rand() * self._hosts) << 8) + 1 + int(rand() * 254)
        return ip_to_str(value)

    def __contains__(self, address: str) -> bool:
        """Whether ``address`` lies inside the block."""
        return ipaddress.IPv4Address(address) in ipaddress.IPv4Network(self.cidr)

    def __repr__(self) -> str:
        return f"Netblock({self.cidr!r}, {self.network!r})"


@dataclass(frozen=True)
class Country:
    """A home country: its residential blocks, UTC offset and share of users.

    Parameters
    ----------
    code
        ISO 3166-1 alpha-2 code.
    utc_offset
        Typical offset of local time from UTC in whole hours (for the daily
        rhythm; daylight saving is ignored).
    weight
        Relative share of the platform's accounts living there.
    blocks
        Residential ISP blocks of the country.
    """

    code: str
    utc_offset: int
    weight: float
    blocks: tuple[Netblock, ...]

    def draw(self, rng: Random) -> str:
        """Return a residential address of this country."""
        blocks = self.blocks
        return blocks[int(rng.random() * len(blocks))].draw(rng)


def _country(
    code: str, offset: int, weight: float, *blocks: tuple[str, str]
) -> Country:
    return Country(code, offset, weight, tuple(Netblock(c, n) for c, n in blocks))


COUNTRIES: tuple[Country, ...] = (
    _country(
        "US",
        -5,
        30.0,
        ("73.0.0.0/13", "Comcast"),
        ("98.192.0.0/13", "Comcast"),
        ("174.48.0.0/13", "Comcast"),
        ("99.0.0.0/12", "AT&T"),
        ("71.160.0.0/13", "Verizon"),
    ),
    _country(
        "CA",
        -5,
        4.0,
        ("24.114.0.0/16", "Rogers"),
        ("99.224.0.0/13", "Rogers"),
        ("174.88.0.0/15", "Bell Canada"),
        ("70.24.0.0/13", "Bell Canada"),
    ),
    _country(
        "GB",
        0,
        8.0,
        ("81.96.0.0/13", "Virgin Media"),
        ("86.128.0.0/12", "BT"),
        ("109.144.0.0/13", "BT"),
        ("2.96.0.0/13", "TalkTalk"),
    ),
    _country(
        "DE",
        1,
        8.0,
        ("79.192.0.0/10", "Deutsche Telekom"),
        ("93.192.0.0/10", "Deutsche Telekom"),
        ("91.0.0.0/10", "Deutsche Telekom"),
        ("84.128.0.0/10", "Deutsche Telekom"),
    ),
    _country(
        "FR",
        1,
        6.0,
        ("86.192.0.0/11", "Orange"),
        ("90.8.0.0/14", "Orange"),
        ("78.192.0.0/13", "Free"),
        ("82.64.0.0/14", "Free"),
    ),
    _country(
        "ES",
        1,
        3.0,
        ("88.0.0.0/11", "Telefonica"),
        ("83.32.0.0/11", "Telefonica"),
        ("95.120.0.0/13", "Telefonica"),
    ),
    _country(
        "IT",
        1,
        3.0,
        ("87.0.0.0/12", "Telecom Italia"),
        ("79.32.0.0/12", "Telecom Italia"),
        ("93.32.0.0/12", "Fastweb"),
    ),
    _country(
        "NL",
        1,
        2.0,
        ("84.80.0.0/16", "KPN"),
        ("77.160.0.0/14", "KPN"),
        ("86.80.0.0/13", "KPN"),
    ),
    _country(
        "SE",
        1,
        1.5,
        ("83.248.0.0/13", "Tele2"),
        ("78.64.0.0/12", "Telia"),
    ),
    _country(
        "PL",
        1,
        2.0,
        ("83.0.0.0/13", "Orange Polska"),
        ("89.64.0.0/12", "UPC Polska"),
    ),
    _country(
        "BR",
        -3,
        6.0,
        ("189.10.0.0/15", "V.tal"),
        ("187.10.0.0/15", "Telefonica Brasil"),
        ("177.64.0.0/13", "Claro"),
    ),
    _country(
        "MX",
        -6,
        3.0,
        ("189.128.0.0/12", "Telmex"),
        ("187.128.0.0/12", "Telmex"),
    ),
    _country(
        "IN",
        5,
        8.0,
        ("49.32.0.0/13", "Reliance Jio"),
        ("122.170.0.0/18", "Bharti Airtel"),
        ("117.192.0.0/12", "BSNL"),
        ("106.192.0.0/11", "Bharti Airtel"),
    ),
    _country(
        "JP",
        9,
        5.0,
        ("126.0.0.0/12", "SoftBank"),
        ("60.64.0.0/12", "SoftBank"),
        ("114.144.0.0/12", "NTT"),
    ),
    _country(
        "KR",
        9,
        2.5,
        ("121.128.0.0/11", "Korea Telecom"),
        ("175.192.0.0/12", "Korea Telecom"),
        ("211.200.0.0/20", "SK Broadband"),
    ),
    _country(
        "AU",
        10,
        3.0,
        ("101.160.0.0/14", "Telstra"),
        ("1.128.0.0/11", "Telstra"),
        ("120.144.0.0/12", "Telstra"),
    ),
)
"""Home countries of simulated users, with residential ISP blocks."""

HOSTING: tuple[Netblock, ...] = (
    Netblock("167.99.0.0/16", "DigitalOcean"),
    Netblock("159.65.0.0/16", "DigitalOcean"),
    Netblock("134.209.0.0/16", "DigitalOcean"),
    Netblock("178.62.0.0/16", "DigitalOcean"),
    Netblock("95.216.0.0/15", "Hetzner"),
    Netblock("65.108.0.0/15", "Hetzner"),
    Netblock("5.161.0.0/16", "Hetzner"),
    Netblock("51.38.0.0/16", "OVH"),
    Netblock("45.32.0.0/16", "Vultr"),
    Netblock("45.76.0.0/16", "Vultr"),
)
"""Hosting-provider blocks: where credential-stuffing and takeover traffic runs."""
