"""IP addresses and networks as indicators and event fields.

Parsing follows Python's :mod:`ipaddress` with three deliberate additions:

* brackets (``[2001:db8::1]``) and IPv6 zone ids (``fe80::1%eth0``) are removed;
* only IPv4-mapped IPv6 addresses (``::ffff:0:0/96``, RFC 4291 section 2.5.5.2)
  are unwrapped to IPv4. Addresses that merely contain ``ffff`` in the sixth group,
  such as ``2001:db8:1:1:0:ffff:7f00:1``, stay IPv6 (the ruby ipaddr bug of the
  IP-02 hard case);
* networks written with host bits set (``207.46.22.98/29``, common in SPF records
  and feeds) are accepted and normalised to their network address, logged at
  DEBUG.

Dotted-quad IPv4 with leading zeros (``010.0.0.1``) is refused: readers disagree
on whether it is octal. :func:`trustwatch.enrichment.urls.parse_url` reads the
notations browsers accept inside URLs.
"""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache

from trustwatch.errors import ConfigError, InvalidIndicatorError

__all__ = [
    "IPAddress",
    "IPNetwork",
    "ip_prefix",
    "is_loopback_host",
    "is_public",
    "is_public_address",
    "parse_ip",
    "parse_network",
]

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAPPED_V4 = ipaddress.IPv6Network("::ffff:0:0/96")
_SHOWN_CHARS = 80


def _show(text: str) -> str:
    """Return ``repr(text)`` cut to a readable length for error messages."""
    if len(text) <= _SHOWN_CHARS:
        return repr(text)
    return repr(text[:_SHOWN_CHARS]) + "..."


def _strip_decorations(text: str) -> str:
    """Remove surrounding space, brackets and an IPv6 zone id."""
    core = text.strip()
    if core.startswith("[") and core.endswith("]"):
        core = core[1:-1]
    if ":" in core and "%" in core:
        core = core.partition("%")[0]
    return core


@lru_cache(maxsize=65536)
def parse_ip(text: str) -> IPAddress:
    """Parse an IP address, unwrapping IPv4-mapped IPv6 addresses.

    Parameters
    ----------
    text
        An IPv4 or IPv6 address, optionally in brackets or with a zone id.

    Returns
    -------
    ipaddress.IPv4Address or ipaddress.IPv6Address
        The address; ``::ffff:a.b.c.d`` comes back as ``IPv4Address('a.b.c.d')``.

    Raises
    ------
    trustwatch.errors.InvalidIndicatorError
        When the text is not an address.

    Examples
    --------
    >>> parse_ip("[::ffff:198.51.100.7]")
    IPv4Address('198.51.100.7')
    >>> parse_ip("2001:db8:1:1:0:ffff:7f00:1")
    IPv6Address('2001:db8:1:1:0:ffff:7f00:1')
    """
    try:
        address = ipaddress.ip_address(_strip_decorations(text))
    except ValueError as error:
        raise InvalidIndicatorError(
            f"{_show(text)} is not an IP address ({error}); expected dotted-quad "
            "IPv4 without leading zeros or IPv6, optionally in brackets"
        ) from error
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def parse_network(text: str) -> IPNetwork:
    """Parse a CIDR network, clearing host bits instead of refusing them.

    A bare address becomes a one-address network (``/32`` or ``/128``). Networks
    inside ``::ffff:0:0/96`` with a prefix of at least 96 become IPv4 networks.

    Parameters
    ----------
    text
        A network such as ``"207.46.22.98/29"`` or ``"2001:db8::/32"``.

    Returns
    -------
    ipaddress.IPv4Network or ipaddress.IPv6Network
        The normalised network, e.g. ``IPv4Network('207.46.22.96/29')``.

    Raises
    ------
    trustwatch.errors.InvalidIndicatorError
        When the text is not a network.
    """
    address, slash, prefix = text.strip().partition("/")
    core = _strip_decorations(address) + slash + prefix
    try:
        network = ipaddress.ip_network(core, strict=False)
    except ValueError as error:
        raise InvalidIndicatorError(
            f"{_show(text)} is not an IP network ({error}); expected ADDRESS/PREFIX "
            "such as '198.51.100.0/24' or '2001:db8::/32'"
        ) from error
    network = _unwrap_mapped_network(network)
    if "/" in core and network.network_address != _address_part(core):
        logger.debug(
            "cleared host bits: network normalised to %s (prefix /%d)",
            network,
            network.prefixlen,
        )
    return network


def _address_part(core: str) -> IPAddress | None:
    """Return the address written before the slash, or ``None`` if unreadable."""
    try:
        return ipaddress.ip_address(core.partition("/")[0])
    except ValueError:
        return None


def _unwrap_mapped_network(network: IPNetwork) -> IPNetwork:
    """Turn ``::ffff:a.b.c.d/n`` (n >= 96) into the IPv4 network it maps."""
    if not isinstance(network, ipaddress.IPv6Network):
        return network
    if network.prefixlen < 96 or not network.subnet_of(_MAPPED_V4):
        return network
    mapped = network.network_address.ipv4_mapped
    if mapped is None:
        return network
    return ipaddress.IPv4Network((mapped, network.prefixlen - 96))


@lru_cache(maxsize=65536)
def ip_prefix(ip: str, v4_bits: int = 24, v6_bits: int = 64) -> str:
    """Return the network an address belongs to, as a string key.

    Parameters
    ----------
    ip
        An IP address (see :func:`parse_ip`).
    v4_bits
        Prefix length for IPv4 addresses, 0 to 32.
    v6_bits
        Prefix length for IPv6 addresses, 0 to 128.

    Returns
    -------
    str
        The network in CIDR form, e.g. ``"203.0.113.0/24"``.

    Raises
    ------
    trustwatch.errors.InvalidIndicatorError
        When ``ip`` is not an address.
    trustwatch.errors.ConfigError
        When a prefix length is out of range.

    Examples
    --------
    >>> ip_prefix("203.0.113.77")
    '203.0.113.0/24'
    """
    address = parse_ip(ip)
    bits = v4_bits if address.version == 4 else v6_bits
    if not 0 <= bits <= address.max_prefixlen:
        raise ConfigError(
            f"prefix length {bits} is out of range for IPv{address.version}; "
            f"use 0 to {address.max_prefixlen}"
        )
    # the host bits cleared on the integer: the same text as
    # str(ip_network((address, bits), strict=False)), at a fraction of the cost
    width = address.max_prefixlen
    base = int(address) >> (width - bits) << (width - bits)
    return f"{type(address)(base)}/{bits}"


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine only.

    ``localhost`` (any case, with or without the root's dot) and loopback
    addresses: ``127.0.0.0/8``, ``::1`` and IPv4 loopback written as IPv6
    (``::ffff:127.0.0.1``), with or without the brackets of a URL.

    Examples
    --------
    >>> [is_loopback_host(h) for h in ("LOCALHOST.", "[::ffff:127.0.0.1]", "10.0.0.1")]
    [True, True, False]
    """
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def is_public_address(address: IPAddress) -> bool:
    """Say whether a parsed address is globally reachable unicast.

    Parameters
    ----------
    address
        A parsed address.

    Returns
    -------
    bool
        False for private, loopback, link-local, shared (CGNAT), documentation,
        benchmarking, reserved, unspecified and multicast addresses.
    """
    return address.is_global and not address.is_multicast


@lru_cache(maxsize=65536)
def is_public(ip: str) -> bool:
    """Say whether an address is globally reachable unicast.

    Parameters
    ----------
    ip
        An IP address (see :func:`parse_ip`); IPv4-mapped IPv6 is judged as IPv4.

    Returns
    -------
    bool
        See :func:`is_public_address`.

    Raises
    ------
    trustwatch.errors.InvalidIndicatorError
        When ``ip`` is not an address.

    Examples
    --------
    >>> is_public("::ffff:127.0.0.1")
    False
    """
    return is_public_address(parse_ip(ip))
