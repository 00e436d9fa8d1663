"""Canonical hosts the way a browser computes them, leniently.

This follows the host parser of the WHATWG URL Standard (section 3.5, "host
parsing"): percent-decode once, map with UTS #46 (non-transitional, without the
STD3 ASCII rules, so ``_`` and ``---`` labels survive), refuse forbidden domain
code points, read IPv4 in every notation browsers accept, and encode labels to
Punycode. It differs on purpose in three places:

* default-ignorable characters are removed *and reported* before the mapping
  (UTS #46 removes them silently, which hides ``e<ZWSP>vil.com``);
* trailing root dots are removed, so ``evil.example.`` keys as ``evil.example``;
* IPv4-mapped IPv6 literals are unwrapped to IPv4.
"""

from __future__ import annotations

import ipaddress
import re
import string
from functools import lru_cache
from typing import NamedTuple

import idna

from trustwatch.enrichment._unicode import INVISIBLE, mixes_scripts, skeleton_text
from trustwatch.enrichment.ips import IPAddress, is_public_address

__all__ = ["MAX_HOST_CHARS", "HostError", "HostInfo", "canonical_host"]

# WHATWG forbidden domain code points: C0 controls, space, # % / : < > ? @ [ \ ] ^ |
# and DEL. UTS #46 may map into them (U+2105 -> "c/o"), so check after mapping.
_FORBIDDEN = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")
_PLAIN = re.compile(r"[a-z0-9._-]+")
_HEX = frozenset(string.hexdigits)
_OCT = frozenset(string.octdigits)
#: Longest host accepted, in characters: four times the longest DNS name.
MAX_HOST_CHARS = 1024


class HostError(ValueError):
    """A host string is not one a browser would accept; the message says why."""


class HostInfo(NamedTuple):
    """A canonical host and what was noticed on the way to it."""

    ascii: str
    unicode: str
    is_ip: bool
    flags: frozenset[str]


@lru_cache(maxsize=65536)
def canonical_host(text: str) -> HostInfo:
    """Return the canonical form of a host as found in a URL authority.

    Parameters
    ----------
    text
        The host part of a URL: no userinfo, no port.

    Returns
    -------
    HostInfo
        ASCII (A-label) and Unicode forms, whether it is an IP literal, and the
        flags described in :mod:`trustwatch.enrichment.urls`.

    Raises
    ------
    HostError
        When a browser would refuse the host.
    """
    if len(text) > MAX_HOST_CHARS:
        raise HostError(f"the host is longer than {MAX_HOST_CHARS} characters")
    if text.startswith("["):
        return _ipv6_literal(text)
    flags: set[str] = set()
    if "%" in text:
        text = _percent_decode(text)
        flags.add("percent_encoded_host")
    mapped = text.lower() if _PLAIN.fullmatch(text.lower()) else _map(text, flags)
    if mapped.endswith("."):
        mapped = mapped.rstrip(".")
        flags.add("trailing_dot")
    if not mapped:
        raise HostError("the host is empty")
    if _ends_in_number(mapped):
        return _ipv4_host(mapped, flags)
    return _domain_host(mapped, flags)


def _percent_decode(text: str) -> str:
    """Decode ``%XX`` escapes once, as UTF-8; a stray ``%`` stays for the check."""
    try:
        raw = bytes(_unescape_bytes(text))
        return raw.decode("utf-8")
    except UnicodeError as error:
        raise HostError("the percent-decoded host is not UTF-8") from error


def _unescape_bytes(text: str) -> bytearray:
    """Turn ``text`` into bytes, replacing each valid ``%XX`` by its byte."""
    out = bytearray()
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        escape = text[index + 1 : index + 3]
        if char == "%" and len(escape) == 2 and set(escape) <= _HEX:
            out.append(int(escape, 16))
            index += 3
            continue
        out += char.encode("utf-8", "surrogatepass")
        index += 1
    return out


def _map(text: str, flags: set[str]) -> str:
    """Remove invisible characters, then apply the UTS #46 mapping."""
    visible = INVISIBLE.sub("", text)
    if visible != text:
        flags.add("invisible_chars")
    try:
        mapped = idna.uts46_remap(visible, std3_rules=False, transitional=False)
    except (idna.IDNAError, ValueError) as error:
        raise HostError(f"the host has a disallowed character ({error})") from error
    forbidden = _FORBIDDEN.search(mapped)
    if forbidden:
        raise HostError(
            f"the host contains the forbidden character {forbidden.group()!r} "
            "after IDNA mapping"
        )
    return mapped


def _ends_in_number(host: str) -> bool:
    """WHATWG "ends in a number": the last label is decimal or ``0x`` hex."""
    last = host.rpartition(".")[2]
    if last.isascii() and last.isdigit():
        return True
    return last.startswith("0x") and set(last[2:]) <= _HEX


def _ipv4_host(host: str, flags: set[str]) -> HostInfo:
    """Read an IPv4 host in any browser notation (hex, octal, integer, short)."""
    parts = host.split(".")
    if len(parts) > 4:
        raise HostError("the host ends in a number but has more than four parts")
    numbers = [_ipv4_number(part) for part in parts]
    if any(number > 255 for number in numbers[:-1]):
        raise HostError("an IPv4 part other than the last is above 255")
    if numbers[-1] >= 256 ** (5 - len(numbers)):
        raise HostError("the last IPv4 part is too large for its position")
    value = numbers[-1]
    for position, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - position)
    address = str(ipaddress.IPv4Address(value))
    if address != host:
        flags.add("nonstandard_ip_notation")
    return _ip_info(ipaddress.IPv4Address(value), flags)


def _ipv4_number(part: str) -> int:
    """Parse one IPv4 part: ``0x`` hex, leading-zero octal, or decimal."""
    if part.startswith("0x"):
        digits, base, allowed = part[2:], 16, _HEX
    elif len(part) > 1 and part.startswith("0"):
        digits, base, allowed = part[1:], 8, _OCT
    else:
        digits, base, allowed = part, 10, frozenset(string.digits)
    if not digits:
        if base == 16:
            return 0
        raise HostError("the host ends in a number but has an empty IPv4 part")
    if not set(digits) <= allowed:
        raise HostError(f"{part!r} is not a valid IPv4 part")
    return int(digits, base)


def _ipv6_literal(text: str) -> HostInfo:
    """Read ``[...]``; unwrap ``::ffff:a.b.c.d`` to IPv4."""
    if not text.endswith("]"):
        raise HostError("the IPv6 literal has no closing bracket")
    inner = text[1:-1]
    if "%" in inner:
        raise HostError("IPv6 zone identifiers are not allowed in URLs")
    try:
        address = ipaddress.IPv6Address(inner)
    except ValueError as error:
        raise HostError(f"the IPv6 literal is invalid ({error})") from error
    flags: set[str] = set()
    if address.ipv4_mapped is not None:
        flags.update(("ipv4_mapped", "nonstandard_ip_notation"))
        return _ip_info(address.ipv4_mapped, flags)
    return _ip_info(address, flags)


def _ip_info(address: IPAddress, flags: set[str]) -> HostInfo:
    """Wrap an address as a host, flagging addresses that are not public."""
    flags.add("ip_host")
    if not is_public_address(address):
        flags.add("private_ip")
    text = str(address)
    return HostInfo(text, text, True, frozenset(flags))


def _domain_host(host: str, flags: set[str]) -> HostInfo:
    """Encode each label to ASCII and check the Punycode ones."""
    labels = host.split(".")
    ascii_labels: list[str] = []
    unicode_labels: list[str] = []
    for label in labels:
        ascii_label, unicode_label = _label_forms(label, flags)
        ascii_labels.append(ascii_label)
        unicode_labels.append(unicode_label)
    ascii_host = ".".join(ascii_labels)
    if ascii_host == host and "xn--" not in host:
        return HostInfo(host, host, False, frozenset(flags))
    unicode_host = ".".join(unicode_labels)
    _flag_idn(unicode_host, unicode_labels, flags)
    return HostInfo(ascii_host, unicode_host, False, frozenset(flags))


def _label_forms(label: str, flags: set[str]) -> tuple[str, str]:
    """Return the (A-label, U-label) pair for one mapped label."""
    if not label.isascii():
        try:
            encoded = label.encode("punycode").decode("ascii")
        except UnicodeError as error:
            raise HostError(f"a label cannot be encoded ({error})") from error
        return "xn--" + encoded, label
    if label.startswith("xn--"):
        return label, _decode_a_label(label, flags)
    return label, label


def _decode_a_label(label: str, flags: set[str]) -> str:
    """Decode an ``xn--`` label; refuse broken ones, flag unmapped ones.

    Browsers also refuse labels that decode to text UTS #46 would map (such as
    lower-case Cherokee letters), but phishing feeds list such hosts, so they
    are kept, as written, and flagged ``nonstandard_idn``.
    """
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except UnicodeError as error:
        raise HostError(f"{label!r} is not valid Punycode") from error
    if not decoded or decoded.isascii():
        raise HostError(f"{label!r} does not decode to an internationalised label")
    try:
        remapped = idna.uts46_remap(decoded, std3_rules=False, transitional=False)
    except (idna.IDNAError, ValueError) as error:
        raise HostError(f"{label!r} decodes to a disallowed character") from error
    if _FORBIDDEN.search(decoded) or "." in decoded:
        raise HostError(f"{label!r} decodes to a forbidden host character")
    if remapped != decoded:
        flags.add("nonstandard_idn")
    if INVISIBLE.search(decoded):
        flags.add("invisible_chars")
    return decoded


def _flag_idn(unicode_host: str, unicode_labels: list[str], flags: set[str]) -> None:
    """Add the ``idn``, ``mixed_script`` and ``confusable`` flags."""
    flags.add("idn")
    if any(mixes_scripts(label) for label in unicode_labels):
        flags.add("mixed_script")
    if skeleton_text(unicode_host).isascii():
        flags.add("confusable")
