"""Decoding JSON feed files so that one record nested too deeply stays local.

:mod:`msgspec` (like :mod:`json`) decodes recursively and gives up with
:class:`RecursionError` on a value nested about a thousand levels deep. One
such record, say a STIX object with a deep custom property, must not cost
the whole file: :func:`decode_records` then splits the document without
recursing and decodes it record by record. A record that still cannot be
decoded is kept as a :class:`TooDeep` stand-in, which the readers turn into
a reject with reason ``too_deep``.

Records are the items of the top-level array and the values of the
top-level object, where an array value is split into its items too (a STIX
bundle's ``objects``, a URLhaus dump's lists of records).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import msgspec

__all__ = ["TooDeep", "decode_records", "split_when_too_deep"]

# a JSON string (escapes included) or a character that shapes the document
_TOKEN: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]')
_OPEN: Final = frozenset(b"[{")
_CLOSE: Final = frozenset(b"]}")
_SPACE: Final = b" \t\r\n"
_RAW_LIMIT: Final = 200


@dataclass(frozen=True)
class TooDeep:
    """Stands in for a JSON record nested too deeply to decode.

    Attributes
    ----------
    raw
        The start of the record as written (at most 200 characters).
    """

    raw: str

    #: Why the record gave nothing, for its reject.
    message: ClassVar[str] = (
        "the record nests arrays or objects too deeply to decode (about a "
        "thousand levels); hint: the other records were read, ask the "
        "feed's publisher to fix this one"
    )


def decode_records(data: bytes) -> Any:
    """Decode a JSON document, each record too deep to decode a :class:`TooDeep`.

    Raises
    ------
    msgspec.DecodeError
        When ``data`` is not valid JSON.
    """
    try:
        return msgspec.json.decode(data)
    except RecursionError:
        return _split(data, _skip_space(data, 0))


def split_when_too_deep(decode: Callable[..., Any], data: bytes, **options: Any) -> Any:
    """Return ``decode(**options)``, splitting ``data`` when it nests too deeply.

    For a decoder that is not ours (a TAXII client's ``response.json``): on
    :class:`RecursionError`, :func:`decode_records` reads ``data`` instead.
    """
    try:
        return decode(**options)
    except RecursionError:
        return decode_records(data)


def _skip_space(data: bytes, at: int) -> int:
    """Return the index of the first non-blank byte from ``at``."""
    while at < len(data) and data[at] in _SPACE:
        at += 1
    return at


def _split(data: bytes, start: int, top: bool = True) -> Any:
    """Decode the container opening at ``start`` member by member.

    An array's items are records; so are an object's values, except that an
    array directly in the top-level object is split into its items too.
    """
    members = _members(data, start)
    if data[start] == ord("["):
        return [_record(data, begin, end, False) for begin, _, end in members]
    decoded: dict[str, Any] = {}
    for begin, colon, end in members:
        if colon < 0:
            raise msgspec.DecodeError("an object member has no ':'")
        key = msgspec.json.decode(data[begin:colon])
        if not isinstance(key, str):
            raise msgspec.DecodeError("an object key is not a string")
        decoded[key] = _record(data, colon + 1, end, top)
    return decoded


def _record(data: bytes, begin: int, end: int, split_array: bool) -> Any:
    """Decode one member's value; with ``split_array``, an array item by item."""
    try:
        return msgspec.json.decode(data[begin:end])
    except RecursionError:
        first = _skip_space(data, begin)
        if split_array and data[first] == ord("["):
            return _split(data, first, top=False)
        text = data[first : first + _RAW_LIMIT].decode("utf-8", "replace")
        return TooDeep(raw=text)


def _members(data: bytes, start: int) -> list[tuple[int, int, int]]:
    """Return ``(begin, colon, end)`` of each member of a container.

    ``colon`` is the index of an object member's ``:`` (``-1`` for array
    items). Strings are skipped whole, so brackets inside them do not count.
    """
    if start >= len(data) or data[start] not in _OPEN:
        raise msgspec.DecodeError("the document is not an array or object")
    members: list[tuple[int, int, int]] = []
    depth, begin, colon = 0, start + 1, -1
    for token in _TOKEN.finditer(data, start + 1):
        char = data[token.start()]
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE and depth:
            depth -= 1
        elif char in _CLOSE or (char == ord(",") and not depth):
            if data[begin : token.start()].strip(_SPACE):
                members.append((begin, colon, token.start()))
            elif char == ord(",") or members:
                raise msgspec.DecodeError("an array or object has an empty member")
            if char in _CLOSE:
                return members
            begin, colon = token.end(), -1
        elif char == ord(":") and not depth and colon < 0:
            colon = token.start()
    raise msgspec.DecodeError("the document ends inside an array or object")
