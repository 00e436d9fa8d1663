"""Recognise values that are already in normal form, without parsing them.

Loading a million indicators, or matching a hundred thousand events a second,
cannot afford the full URL and host parsers for every value, and most values
are already canonical: feeds publish lowercase ``http(s)`` URLs on plain or
dotted-quad hosts. The checks here accept only strings the parsers of
:mod:`trustwatch.enrichment` would return unchanged, and say nothing about the
rest (which then goes through those parsers). The parsers stay the one
definition of canonical form; ``tests/intel`` checks the agreement on every
URL of the real feeds.
"""

from __future__ import annotations

import re
import socket
from typing import Final, Literal, TypeAlias

from trustwatch.enrichment.domains import MAX_HOST_CHARS

__all__ = [
    "CANONICAL_IPV4",
    "ROUTABLE_IPV4",
    "fast_canonical_url",
    "fast_hash",
    "fast_ipv4_network",
    "ipv4_number",
    "is_plain_host",
]

_IPV4_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"

#: Dotted-quad IPv4 without leading zeros: what ``str(IPv4Address)`` writes.
CANONICAL_IPV4: Final = re.compile(rf"{_IPV4_OCTET}(?:\.{_IPV4_OCTET}){{3}}")

# A first octet other than 0, 127 (loopback) and 224-239 (multicast).
_ROUTABLE_OCTET: Final = (
    r"(?:25[0-5]|24[0-9]|22[0-3]|2[01][0-9]|1[3-9][0-9]|12[0-689]|1[01][0-9]"
    r"|[1-9][0-9]?)"
)

#: A canonical dotted quad outside ``0.0.0.0/8``, ``127.0.0.0/8`` and
#: ``224.0.0.0/4``: an IP indicator as it is. Addresses in those ranges take
#: the full check of :func:`trustwatch.intel.indicators.check_ip_scope`.
ROUTABLE_IPV4: Final = re.compile(rf"{_ROUTABLE_OCTET}(?:\.{_IPV4_OCTET}){{3}}")

_PLAIN_HOST: Final = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+")
# The host is a plain name (dotted, last label alphabetic: what
# is_plain_host accepts, less its length and xn-- checks) or a canonical
# dotted quad, told apart by the pattern itself in one pass.
_FAST_URL: Final = re.compile(
    rf"(https?)://(?:((?:[a-z0-9-]+\.)+[a-z]+)|{CANONICAL_IPV4.pattern})"
    r"(?::([1-9][0-9]{0,4}))?"
    r"(/[A-Za-z0-9\-._~!$&()*+,;=:@/%]*)((?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/?%]+)?)"
)
# A stray or lower-case escape, or one of an unreserved character (which the
# parser decodes): 2D 2E 30-39 41-5A 5F 61-7A 7E.
_UNCANONICAL_ESCAPE: Final = re.compile(
    r"%(?![0-9A-F]{2})|%(?:2[DE]|3[0-9]|[46][1-9A-F]|[57][0-9A]|5F|7E)"
)
_DOT_SEGMENT: Final = re.compile(r"/(?:\.|%2E){1,2}(?:/|$)")
_DEFAULT_PORTS: Final = {"http": "80", "https": "443"}


def is_plain_host(host: str) -> bool:
    """Return whether ``host`` is a domain name already in canonical form.

    True for lowercase ASCII dotted names (letters, digits, hyphens) of at
    most 1,024 characters whose last label is alphabetic and that hold no
    ``xn--`` label: :func:`~trustwatch.enrichment.domains.normalize_host`
    returns them unchanged, and they cannot be IP addresses.
    """
    return (
        len(host) <= MAX_HOST_CHARS
        and _PLAIN_HOST.fullmatch(host) is not None
        and host.rpartition(".")[2].isalpha()
        and "xn--" not in host
    )


def ipv4_number(text: str) -> int | None:
    """Return the integer of a canonical dotted-quad IPv4, else ``None``."""
    if CANONICAL_IPV4.fullmatch(text) is None:
        return None
    return int.from_bytes(socket.inet_aton(text), "big")


_LOWER_HEX: Final = re.compile(r"[0-9a-f]+")
_HashType: TypeAlias = Literal["md5", "sha1", "sha256"]
_HASH_BY_LENGTH: Final[dict[int, _HashType]] = {32: "md5", 40: "sha1", 64: "sha256"}


def fast_hash(text: str) -> tuple[_HashType, str] | None:
    """Return (hash type, digest) for a bare lowercase hex digest, else ``None``."""
    kind = _HASH_BY_LENGTH.get(len(text))
    if kind is None or _LOWER_HEX.fullmatch(text) is None:
        return None
    return kind, text


def fast_ipv4_network(text: str) -> str | None:
    """Return ``a.b.c.d/n`` with host bits cleared, for dotted-quad IPv4 input.

    The result is what ``str(ipaddress.ip_network(text, strict=False))``
    gives; anything but a canonical dotted quad and a decimal prefix of at
    most 32 without leading zeros returns ``None``.
    """
    address, slash, prefix = text.partition("/")
    if not slash or not prefix.isdigit() or len(prefix) > 2:
        return None
    if len(prefix) == 2 and prefix[0] == "0":
        return None
    bits = int(prefix)
    number = ipv4_number(address)
    if number is None or bits > 32:
        return None
    network = number & ((0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF)
    if network == number:
        return text
    return f"{socket.inet_ntoa(network.to_bytes(4, 'big'))}/{bits}"


def _might_be_defanged(text: str) -> bool:
    """Return whether ``refang`` could change a URL the fast path accepts.

    Every rule of :func:`trustwatch.enrichment.urls.refang` needs one of
    ``[({``, a space (``" . "``, ``" dot "``), a backslash (``:\\/\\/``),
    ``h**p``, ``h__p`` or an ``xp`` (``hxxp``, ``fxp``); the URL pattern
    already refuses brackets, braces, spaces and backslashes.
    """
    return (
        "(" in text
        or "*" in text
        or "xp" in (lowered := text.lower())
        or "__p" in lowered
    )


def fast_canonical_url(text: str) -> str | None:
    """Return ``text`` when it is provably a canonical URL already, else ``None``.

    Accepts only lowercase ``http``/``https`` URLs with a plain host (see
    :func:`is_plain_host`) or a dotted-quad IPv4, and a path: no userinfo,
    default port, lowercase or stray escapes, escapes of unreserved
    characters, characters a browser would escape, fragment, dot segments,
    empty query or defanging.
    """
    match = _FAST_URL.fullmatch(text)
    if match is None:
        return None
    scheme, name, port, path, _ = match.groups()
    if name is not None and (len(name) > MAX_HOST_CHARS or "xn--" in name):
        return None
    if port is not None and (port == _DEFAULT_PORTS[scheme] or int(port) > 65535):
        return None
    if "%" in text and _UNCANONICAL_ESCAPE.search(text):
        return None
    # A dot segment is "/." or "/.." (escaped dots are refused just above).
    if "/." in path and _DOT_SEGMENT.search(path):
        return None
    return None if _might_be_defanged(text) else text
