"""Decode JSON lines and mappings into typed events, refusing ambiguous input.

:class:`EventDecoder` turns one JSON line into one :data:`~trustwatch.events.Event`
or raises :class:`~trustwatch.errors.InvalidEventError` with a stable reason:

``too_large``
    The line is longer than ``max_bytes``.
``malformed_json``
    The line is not JSON (or not UTF-8).
``too_deep``
    Arrays and objects nest deeper than ``max_depth``.
``duplicate_key``
    An object, at any depth, names the same key twice. Readers disagree on
    which value wins, which has been used to slip values past validators.
``number_out_of_range``
    A number too large to represent, or a file size beyond 64 bits.
``unknown_type``
    ``type`` names no known event.
``schema``
    A field is missing or has the wrong type, the record is not an object, a
    required identifier (``event_id``, ``file_id``, ``link_id``, ``url``) is
    only whitespace, or the record was written by a newer schema version than
    this reader's. Identifiers are kept exactly as sent: nothing is stripped.
``invalid_ip``
    ``ip`` is not an IPv4 or IPv6 address (a port or a host name with it,
    say); spaces around it, brackets and a zone id are allowed, and an empty
    string reads as an unknown address.
``timestamp``
    ``ts`` cannot be read as an instant, or lies outside
    :data:`~trustwatch.events.timestamps.EARLIEST_EVENT_TIME` to
    :data:`~trustwatch.events.timestamps.LATEST_EVENT_TIME`.

How the checks stay cheap
-------------------------
The line is decoded straight into the event union by msgspec and the event is
encoded again. When the two byte strings match, the line is the canonical
form of a valid event, which has no duplicate key, no unknown field and no
nesting beyond a list of strings. Only what types cannot express is left to
check (the version, the time span, identifiers of only whitespace, the zone,
64-bit sizes, the address), each with one comparison or one call. That is the case for
every line msgspec-based producers write, including
:func:`~trustwatch.events.readers.write_events_jsonl`.

Any other line is decoded untyped as well. Duplicate keys are then found by
counting: a key is a string followed by optional whitespace and a colon, so
when no ``"`` in the line is followed by whitespace, every key puts one ``":``
in the text, and any other ``":`` can only come from inside a string. Decoding
collapses duplicates, so if the line holds as many ``":`` as the decoded tree
holds keys, no key is repeated. When that count equals the keys of the root
object alone, no nested object has a key either, so the nesting is at most
the ``[`` bytes plus two, and only a line with more ``[`` than that is
measured exactly. Anything else (nested objects, whitespace after a quote,
escaped quotes) takes the exact path: a recursion-free bracket scan for depth
and :func:`json.loads` with an ``object_pairs_hook`` for duplicates. msgspec
itself stops at Python's recursion limit, which is reported as ``too_deep``.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from array import array
from collections.abc import Mapping
from datetime import UTC
from functools import lru_cache
from itertools import accumulate
from typing import Any

import msgspec
import msgspec.inspect as mi

from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.events.model import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    Event,
    EventBase,
    FileUploaded,
)
from trustwatch.events.timestamps import (
    EARLIEST_EVENT_TIME,
    LATEST_EVENT_TIME,
    check_event_time,
    get_zone,
    parse_timestamp,
)

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "EventDecoder"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 1 << 20
"""Longest accepted line, in bytes (1 MiB)."""
DEFAULT_MAX_DEPTH = 64
"""Deepest accepted nesting of arrays and objects (the root object counts 1)."""

_INT64_MAX = (1 << 63) - 1
_quote_then_space = re.compile(rb'"[ \t\r\n]').search
_ESCAPE_PAIR = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
#: A syslog line from sshd (classic or ISO time stamp), given where JSON was
#: expected: the hint names the reader for it.
_SSH_LOG_LINE = re.compile(
    rb"\s*(?:[A-Z][a-z]{2} [ 0-9]?[0-9] [0-9:]{8}|[0-9]{4}-[0-9]{2}-[0-9]{2}T\S+)"
    rb" \S+ sshd(?:-session)?\[[0-9]+\]: "
)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_CONTAINERS = (dict, list)
_TS_ERROR_SUFFIX = "- at `$.ts`"
_KNOWN_TYPES = ", ".join(sorted(EVENT_TYPES))
_CLASSES: dict[str, Any] = dict(EVENT_TYPES)
_EARLIEST = EARLIEST_EVENT_TIME
_LATEST = LATEST_EVENT_TIME


def _required_text(cls: type[EventBase]) -> tuple[str, ...]:
    """Name the required identifier fields of an event class, ``event_id`` last."""
    fields = mi.type_info(cls).fields  # type: ignore[attr-defined]
    names = [
        f.name
        for f in fields
        if isinstance(f.type, mi.StrType) and f.type.min_length and f.required
    ]
    names.sort(key=lambda name: name == "event_id")
    return tuple(names)


def _other_id(names: tuple[str, ...]) -> str | None:
    """Say what the fast path tests besides ``event_id`` (see ``_OTHER_ID``)."""
    if len(names) > 2:
        return _SEVERAL
    return names[0] if len(names) == 2 else None


_SEVERAL = "<several>"
_IDENTIFIERS = {cls: _required_text(cls) for cls in EVENT_TYPES.values()}
# The one other required identifier of each class, None when it has none, or
# _SEVERAL to send the event to _checked, which tests them all.
_OTHER_ID = {cls: _other_id(names) for cls, names in _IDENTIFIERS.items()}


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class EventDecoder:
    """Decode JSON lines or mappings into validated, typed events.

    Parameters
    ----------
    max_bytes
        Longest line accepted, in bytes.
    max_depth
        Deepest nesting of arrays and objects accepted.
    source_tz
        IANA zone in which to read timestamps that carry no zone; without it
        such timestamps are refused.

    Examples
    --------
    >>> decoder = EventDecoder()
    >>> event = decoder.decode(
    ...     b'{"type":"logout","event_id":"e1","ts":"2024-05-01T12:00:00Z"}'
    ... )
    >>> type(event).__name__, event.ts.isoformat()
    ('Logout', '2024-05-01T12:00:00+00:00')
    """

    __slots__ = (
        "_decode_event",
        "_decode_json",
        "_encode_event",
        "_max_bytes",
        "_max_depth",
        "_source_tz",
    )

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_depth: int = DEFAULT_MAX_DEPTH,
        source_tz: str | None = None,
    ) -> None:
        if max_bytes < 2:
            raise ConfigError(f"max_bytes={max_bytes} is too small; hint: use >= 2")
        if not 2 <= max_depth <= 512:
            # Events nest lists in objects (2 levels); 512 keeps the exact
            # check far from Python's recursion limit.
            raise ConfigError(f"max_depth={max_depth} is outside 2..512")
        if source_tz is not None:
            get_zone(source_tz)  # fail now on a bad zone
        self._decode_json = msgspec.json.Decoder().decode
        self._decode_event = msgspec.json.Decoder(Event).decode
        self._encode_event = msgspec.json.Encoder().encode
        self._max_bytes = max_bytes
        self._max_depth = max_depth
        self._source_tz = source_tz

    @property
    def max_bytes(self) -> int:
        """Longest line accepted, in bytes."""
        return self._max_bytes

    @property
    def max_depth(self) -> int:
        """Deepest nesting accepted."""
        return self._max_depth

    @property
    def source_tz(self) -> str | None:
        """Zone for timestamps without one, or ``None`` to refuse them."""
        return self._source_tz

    def decode(self, line: bytes) -> Event:
        """Decode one JSON line (a trailing newline is allowed) into an event.

        Raises
        ------
        InvalidEventError
            For any line that cannot become an event; nothing else escapes.
        """
        try:
            if len(line) > self._max_bytes:
                line = self._refuse_large(line)
            try:
                event: Event = self._decode_event(line)
            except msgspec.DecodeError:
                return self._decode_checked(line, None)
            # A line that is exactly the canonical encoding of the event it
            # decodes to has no duplicate key, no unknown field and no nesting.
            encoded = self._encode_event(event)
            if encoded != line and encoded != line.rstrip(b"\r\n"):
                return self._decode_checked(line, event)
            ts, other = event.ts, _OTHER_ID[type(event)]
            if (
                event.v != SCHEMA_VERSION
                or ts.tzinfo is not UTC
                or not _EARLIEST <= ts < _LATEST
                or event.event_id.isspace()
                or (
                    other is not None
                    and (other is _SEVERAL or getattr(event, other).isspace())
                )
                or (
                    type(event) is FileUploaded
                    and event.size is not None
                    and event.size > _INT64_MAX
                )
                or (event.ip is not None and not _is_ip(event.ip))
            ):
                return _checked(event)
            return event
        except InvalidEventError:
            raise
        except RecursionError as exc:
            raise InvalidEventError("too_deep", "nesting exhausted the stack") from exc
        except Exception as exc:
            raise _unexpected(exc) from exc

    def decode_dict(self, obj: Mapping[str, Any]) -> Event:
        """Validate a mapping (a Parquet row, an adapter's output) into an event.

        Values may already be Python objects: ``ts`` may be a ``datetime`` and
        sequences may be lists or tuples. The mapping is copied, not changed.

        Raises
        ------
        InvalidEventError
            For any mapping that cannot become an event.
        """
        try:
            return self._build(dict(obj))
        except InvalidEventError:
            raise
        except Exception as exc:
            raise _unexpected(exc) from exc

    def _decode_checked(self, line: bytes, event: Event | None) -> Event:
        """Run every check on a line that is not in canonical form."""
        try:
            tree = self._decode_json(line)
        except msgspec.ValidationError as exc:
            # Untyped decoding only fails validation on numeric limits.
            raise InvalidEventError(
                "number_out_of_range",
                f"a number cannot be represented ({exc}); hint: send it as a string",
            ) from exc
        except msgspec.DecodeError as exc:
            hint = ""
            if _SSH_LOG_LINE.match(line):
                hint = "; hint: an SSH log line: `run` reads those with --format sshlog"
            raise InvalidEventError("malformed_json", f"not JSON: {exc}{hint}") from exc
        if type(tree) is not dict:
            raise InvalidEventError(
                "schema", f"expected a JSON object, got {type(tree).__name__}"
            )
        if line.count(b'":') != len(tree) or _quote_then_space(line):
            self._check_structure(line, tree)
        elif line.count(b"[") + 2 > self._max_depth:
            # No nested object has a key (see the module notes), so only
            # arrays and one empty object can add depth below the root.
            self._check_depth(line)
        if event is None:
            # The typed decoder refused the line: find out why, or read a
            # timestamp form only the lenient parser knows.
            return self._build(tree)
        return _checked(event)

    def _refuse_large(self, line: bytes) -> bytes:
        trimmed = line.rstrip(b"\r\n")
        if len(trimmed) > self._max_bytes:
            raise InvalidEventError(
                "too_large",
                f"record is {len(trimmed)} bytes, over the limit of {self._max_bytes}; "
                "hint: shorten such records at the producer, or raise the limit "
                "with EventDecoder(max_bytes=...) in Python (the CLI has no "
                "option for it)",
            )
        return trimmed

    def _check_structure(self, line: bytes, tree: dict[str, Any]) -> None:
        """Run the exact depth and duplicate checks the counting cannot skip."""
        if line.count(b"{") + line.count(b"[") > self._max_depth:
            self._check_depth(line)
        if line.count(b'":') != _count_keys(tree) or _quote_then_space(line):
            _check_duplicates(line)

    def _check_depth(self, line: bytes) -> None:
        """Measure nesting exactly, without recursion, and refuse deep lines."""
        # Drop escape pairs, then whole strings, so only structural brackets stay.
        plain = _STRING.sub(b"", _ESCAPE_PAIR.sub(b"", line))
        steps = array("b", plain.translate(_BRACKET_STEP, _NOT_BRACKET))
        depth = max(accumulate(steps), default=0)
        if depth > self._max_depth:
            raise InvalidEventError(
                "too_deep",
                f"arrays and objects nest {depth} deep, over the limit of "
                f"{self._max_depth}",
            )

    def _build(self, tree: dict[str, Any]) -> Event:
        """Convert a decoded object to its event class and check what types cannot."""
        kind = tree.get("type")
        cls = _CLASSES.get(kind) if type(kind) is str else None
        if cls is None:
            raise _type_error(kind)
        try:
            event: Event = msgspec.convert(tree, cls)
        except msgspec.ValidationError as exc:
            event = self._convert_with_timestamp(tree, cls, exc)
        return _checked(event)

    def _convert_with_timestamp(
        self, tree: dict[str, Any], cls: Any, exc: msgspec.ValidationError
    ) -> Any:
        """Retry a failed conversion after reading ``ts`` with the lenient parser."""
        version = tree.get("v", SCHEMA_VERSION)
        if type(version) is not int or not 1 <= version <= SCHEMA_VERSION:
            raise _version_error(version) from exc
        ts = tree.get("ts")
        if ts is None or not str(exc).endswith(_TS_ERROR_SUFFIX):
            raise _schema_error(tree, exc) from exc
        tree["ts"] = parse_timestamp(ts, source_tz=self._source_tz)
        try:
            return msgspec.convert(tree, cls)
        except msgspec.ValidationError as again:
            raise _schema_error(tree, again) from again


def _type_error(kind: object) -> InvalidEventError:
    if kind is None:
        return InvalidEventError("schema", "the record has no 'type' field")
    return InvalidEventError(
        "unknown_type", f"unknown event type {_short(kind)}; known: {_KNOWN_TYPES}"
    )


def _version_error(version: object) -> InvalidEventError:
    return InvalidEventError(
        "schema",
        f"schema version {_short(version)} is not one this reader knows "
        f"(1..{SCHEMA_VERSION}); hint: upgrade trustwatch to read newer events",
    )


def _checked(event: Event) -> Event:
    """Refuse what types cannot express; put ``ts`` in UTC.

    That is: unknown versions, 64-bit overflows, identifiers of only
    whitespace, and times outside the accepted span (checked before the move
    to UTC, which could overflow).
    """
    if not 1 <= event.v <= SCHEMA_VERSION:
        raise _version_error(event.v)
    if (
        type(event) is FileUploaded
        and event.size is not None
        and event.size > _INT64_MAX
    ):
        raise InvalidEventError(
            "number_out_of_range", f"file size {event.size} does not fit 64 bits"
        )
    for name in _IDENTIFIERS[type(event)]:
        if getattr(event, name).isspace():
            raise InvalidEventError(
                "schema",
                f"{name} is only whitespace; hint: send a real identifier "
                "(identifiers are kept as sent, never stripped)",
            )
    if event.ip is not None and not _is_ip(event.ip):
        raise InvalidEventError(
            "invalid_ip",
            f"ip {_short(event.ip)} is not an IPv4 or IPv6 address; hint: send "
            "the address alone (no port or brackets), or leave ip out when it "
            "is not known",
        )
    ts = event.ts
    if not _EARLIEST <= ts < _LATEST:
        check_event_time(ts)  # raises, saying why
    if ts.tzinfo is not UTC:
        return msgspec.structs.replace(event, ts=ts.astimezone(UTC))
    return event


def _count_keys(root: dict[str, Any]) -> int:
    """Count the keys of every object in a decoded tree, without recursion."""
    total = 0
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            total += len(node)
            stack.extend(v for v in node.values() if type(v) in _CONTAINERS)
        else:
            stack.extend(v for v in node if type(v) in _CONTAINERS)
    return total


def _ignore(_: str) -> None:
    return None


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKeyError(key)
        seen.add(key)


def _check_duplicates(line: bytes) -> None:
    """Refuse the line if any object in it repeats a key (the exact check)."""
    try:
        json.loads(
            line,
            object_pairs_hook=_refuse_duplicates,
            parse_int=_ignore,
            parse_float=_ignore,
            parse_constant=_ignore,
        )
    except _DuplicateKeyError as exc:
        raise InvalidEventError(
            "duplicate_key",
            f"key {_short(exc.key)} appears twice in one object; hint: readers "
            "disagree on which value wins, so such records are refused",
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidEventError("malformed_json", f"not valid JSON: {exc}") from exc


def _schema_error(tree: dict[str, Any], exc: msgspec.ValidationError) -> Exception:
    return InvalidEventError(
        "schema", f"record does not fit event type {tree.get('type')!r}: {exc}"
    )


def _unexpected(exc: Exception) -> InvalidEventError:
    logger.warning("event decoder failed unexpectedly: %s", type(exc).__name__)
    return InvalidEventError(
        "undecodable", f"decoder failed on this record ({type(exc).__name__})"
    )


@lru_cache(maxsize=65_536)
def _is_ip(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address as the enrichment reads one.

    Spaces around it, brackets and an IPv6 zone id (letters, digits, ``_.-``)
    are allowed, and an empty string is an unknown address, as exports
    write one. Answers are kept, since addresses repeat: a kept one costs
    well under a tenth of a microsecond, a new one a third (the C parser;
    :mod:`ipaddress` would take two and a half).
    """
    if not text:
        return True
    core = text.strip() if text[0].isspace() or text[-1].isspace() else text
    if core[:1] == "[" and core[-1:] == "]":
        core = core[1:-1]
    if "%" in core:
        core, _, zone = core.partition("%")
        if ":" not in core or not _ZONE_ID.fullmatch(zone):
            return False
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in core else socket.AF_INET, core)
    except (OSError, ValueError):  # ValueError: a NUL, or a character not ASCII
        return False
    return True


_ZONE_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 64 else shown[:61] + "..."
