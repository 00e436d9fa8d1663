"""A minimal MaxMind DB (``.mmdb``) writer, enough to test the reader path.

Writes the format of the MaxMind DB File Format Specification 2.0: a binary
search tree of 24-bit records over an IPv6 address space (IPv4 networks under
``::/96``), a 16-byte separator, the data section, and the metadata map after
the ``\\xab\\xcd\\xefMaxMind.com`` marker.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

__all__ = ["write_mmdb"]

_METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"
_UINT_TYPES = {16: 5, 32: 6, 64: 9}
_MAP, _STRING, _ARRAY = 7, 2, 11


def _control(type_num: int, size: int) -> bytes:
    """Encode a control byte, an extended-type byte and size bytes."""
    first = type_num << 5 if type_num <= 7 else 0
    extended = b"" if type_num <= 7 else bytes([type_num - 7])
    if size < 29:
        return bytes([first | size]) + extended
    if size < 285:
        return bytes([first | 29]) + extended + bytes([size - 29])
    if size < 65821:
        return bytes([first | 30]) + extended + (size - 285).to_bytes(2, "big")
    return bytes([first | 31]) + extended + (size - 65821).to_bytes(3, "big")


def _uint(value: int, bits: int) -> bytes:
    """Encode an unsigned integer of the given width with minimal bytes."""
    payload = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return _control(_UINT_TYPES[bits], len(payload)) + payload


def _encode(value: Any) -> bytes:
    """Encode strings, unsigned ints (as uint32), lists and dicts."""
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _control(_STRING, len(data)) + data
    if isinstance(value, int):
        return _uint(value, 32)
    if isinstance(value, list):
        return _control(_ARRAY, len(value)) + b"".join(map(_encode, value))
    if isinstance(value, dict):
        body = b"".join(_encode(key) + _encode(item) for key, item in value.items())
        return _control(_MAP, len(value)) + body
    raise TypeError(f"cannot encode {type(value).__name__}")


def _metadata(node_count: int, database_type: str) -> bytes:
    """Encode the metadata map with the integer widths readers check."""
    fields = [
        (_encode("binary_format_major_version"), _uint(2, 16)),
        (_encode("binary_format_minor_version"), _uint(0, 16)),
        (_encode("build_epoch"), _uint(1_700_000_000, 64)),
        (_encode("database_type"), _encode(database_type)),
        (_encode("description"), _encode({"en": "trustwatch test database"})),
        (_encode("ip_version"), _uint(6, 16)),
        (_encode("languages"), _encode(["en"])),
        (_encode("node_count"), _uint(node_count, 32)),
        (_encode("record_size"), _uint(24, 16)),
    ]
    return _control(_MAP, len(fields)) + b"".join(k + v for k, v in fields)


def _as_v6(network: str) -> tuple[int, int]:
    """Return (address as 128-bit int, prefix length) in the IPv6 tree."""
    parsed = ipaddress.ip_network(network)
    if parsed.version == 4:
        return int(parsed.network_address), parsed.prefixlen + 96
    return int(parsed.network_address), parsed.prefixlen


def write_mmdb(
    path: Path, records: dict[str, dict[str, Any]], database_type: str
) -> Path:
    """Write ``records`` (network -> record map) as an ``.mmdb`` file."""
    nodes: list[list[Any]] = [[None, None]]
    data = bytearray()
    for network, record in records.items():
        address, prefix = _as_v6(network)
        offset = len(data)
        data += _encode(record)
        node = 0
        for depth in range(prefix):
            bit = (address >> (127 - depth)) & 1
            if depth == prefix - 1:
                nodes[node][bit] = ("data", offset)
                break
            if not isinstance(nodes[node][bit], int):
                nodes.append([None, None])
                nodes[node][bit] = len(nodes) - 1
            node = nodes[node][bit]
    count = len(nodes)

    def value(entry: Any) -> int:
        if entry is None:
            return count
        if isinstance(entry, int):
            return entry
        return count + 16 + int(entry[1])

    tree = b"".join(
        value(left).to_bytes(3, "big") + value(right).to_bytes(3, "big")
        for left, right in nodes
    )
    body = tree + bytes(16) + bytes(data) + _METADATA_MARKER
    path.write_bytes(body + _metadata(count, database_type))
    return path
