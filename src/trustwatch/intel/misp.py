"""MISP events and MISP feed folders read as indicators.

Two layouts:

``misp_event``
    One event file as MISP exports it: ``{"Event": {...}}``, a bare event
    object, a list of either, or a REST answer ``{"response": [...]}``. A
    file that is JSON but holds no event is one reject (``not_misp_event``),
    so that one stray file in a folder or glob of events spares the rest.
``misp_feed``
    A MISP feed folder (what ``misp-feed`` generators and the MISP "feed"
    export write): ``manifest.json`` naming each event by uuid, and one
    ``<uuid>.json`` event file per entry. The folder itself is the feed
    path; an event the manifest names but the folder lacks is one reject
    (``missing_event``), a damaged event file one reject
    (``malformed_record``), an event file holding JSON of another kind one
    reject (``not_misp_event``), and reading goes on.

What becomes an indicator
-------------------------
Only attributes marked ``to_ids`` (MISP's "use for detection" flag) do;
the rest (context: reference links, comments, analysis notes) are counted in
:attr:`~trustwatch.intel.feeds.FeedLoad.skipped` under ``to_ids_false``,
never rejected. Attributes (and objects) marked ``deleted`` are counted
under ``deleted``; attributes of a type with no indicator form (``email-src``,
``regkey``, ``mutex``, ``text``...) under ``unsupported_type:<type>``.

The types read are ``url`` and ``link`` (as URLs), ``domain`` and
``hostname``, ``ip-src`` and ``ip-dst`` (an address or a network),
``ip-src|port`` and ``ip-dst|port`` (the address), ``hostname|port`` (the
host), ``domain|ip`` (two indicators: the domain and the address), ``md5``,
``sha1``, ``sha256`` and ``filename|md5``, ``filename|sha1``,
``filename|sha256`` (the digest). Attributes inside MISP objects (``file``,
``url``, ``domain-ip``...) are read the same way. Values go through the
usual normalisers, so defanged values (``hxxp``, ``[.]``) are refanged.

Provenance: ``reference`` is ``<event uuid>/<attribute uuid>``;
``first_seen``/``last_seen`` come from the attribute's own ``first_seen`` and
``last_seen`` when set, else its object's, else its ``timestamp``; tags are
the event's and the attribute's tag names (TLP, galaxies, taxonomies), plus
``unpublished`` for events not yet published (they are still read: the publisher marked
their attributes for detection); ``threat`` is the first galaxy cluster
naming a malware family, tool or actor, else the event's ``info``.
Confidence follows the event's ``threat_level_id`` (1 high: 90, 2 medium:
70, 3 low: 50, 4 undefined: the format's default) unless the caller sets
one.

Files are decoded by :mod:`msgspec` into typed structures that skip every
field not read here (galaxy descriptions, sightings, shadow attributes), so
an event of 43,000 attributes loads in a fraction of a second
(``benchmarks/bench_misp.py``). An event whose fields do not fit those types
(a number where text belongs) is read again attribute by attribute: the
attributes that do not fit become rejects (``malformed_record``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import msgspec

from trustwatch.errors import InvalidIndicatorError
from trustwatch.intel._files import MISP_MANIFEST, is_misp_feed_folder, open_feed
from trustwatch.intel._times import parse_feed_time
from trustwatch.intel.feeds import _build, _Context, _Item, _reject
from trustwatch.intel.indicators import IndicatorType

__all__ = [
    "MANIFEST_NAME",
    "THREAT_LEVEL_CONFIDENCE",
    "is_misp_feed_folder",
    "read_misp_event",
    "read_misp_feed",
]

#: The file that makes a folder a MISP feed.
MANIFEST_NAME: Final = MISP_MANIFEST

#: Confidence for each MISP ``threat_level_id`` (4, undefined, is absent:
#: the format's default applies).
THREAT_LEVEL_CONFIDENCE: Final[dict[str, int]] = {"1": 90, "2": 70, "3": 50}

_RAW_LIMIT: Final = 200
_EVENT_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,127}")

# MISP attribute type -> how to read its value: the indicator type of each
# ``|``-separated part (None: that part is not an indicator, e.g. a file name
# or port; "" for a lone value: guess ip or cidr).
_SINGLE: Final[dict[str, IndicatorType | None]] = {
    "url": "url",
    "link": "url",
    "domain": "domain",
    "hostname": "domain",
    "ip-src": None,
    "ip-dst": None,
    "md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
}
_COMPOSITE: Final[dict[str, tuple[IndicatorType | None, IndicatorType | None]]] = {
    "ip-src|port": ("ip", None),
    "ip-dst|port": ("ip", None),
    "hostname|port": ("domain", None),
    "domain|ip": ("domain", "ip"),
    "filename|md5": (None, "md5"),
    "filename|sha1": (None, "sha1"),
    "filename|sha256": (None, "sha256"),
}

# Galaxies whose clusters name what an indicator is for.
_THREAT_GALAXIES: Final = frozenset(
    {
        "android",
        "backdoor",
        "banker",
        "botnet",
        "exploit-kit",
        "malpedia",
        "microsoft-activity-group",
        "mitre-intrusion-set",
        "mitre-malware",
        "mitre-tool",
        "ransomware",
        "rat",
        "stealer",
        "threat-actor",
        "tool",
    }
)
_GALAXY_TAG: Final = re.compile(r'misp-galaxy:([^=]+)="(.+)"')


# --- the parts of an event that are read ----------------------------------------


class _Tag(msgspec.Struct, gc=False):
    """A tag on an event or attribute."""

    name: str = ""


class _Attribute(msgspec.Struct, gc=False):
    """One MISP attribute, with only the fields read."""

    type: str = ""
    value: str | None = None
    to_ids: bool | int | str | None = False
    deleted: bool | int | str | None = False
    uuid: str | None = None
    timestamp: int | str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    Tag: list[_Tag] | None = None


class _Object(msgspec.Struct, gc=False):
    """One MISP object: a named group of attributes."""

    deleted: bool | int | str | None = False
    first_seen: str | None = None
    last_seen: str | None = None
    Attribute: list[_Attribute] | None = None


class _Event(msgspec.Struct):
    """One MISP event, with only the fields read."""

    uuid: str | None = None
    info: str | None = None
    published: bool | int | str | None = None
    threat_level_id: int | str | None = None
    Tag: list[_Tag] | None = None
    Attribute: list[_Attribute] | None = None
    Object: list[_Object] | None = None


class _Document(_Event):
    """A file's top level: a wrapped event, a REST answer or a bare event."""

    Event: _Event | None = None
    response: list[_Document] | None = None


_DOCUMENT_DECODER: Final = msgspec.json.Decoder(_Document | list[_Document])


# --- public API -----------------------------------------------------------------


def read_misp_event(path: Path, ctx: _Context) -> Iterator[_Item]:
    """Yield the indicators and rejects of one MISP event file.

    A file that is JSON but holds no MISP event (a STIX bundle in a folder or
    glob of events) gives one reject, reason ``not_misp_event``, located at
    the file's name, so the other files of the feed still load.

    Raises
    ------
    InvalidIndicatorError
        When the file is not JSON.
    """
    data = _read_bytes(path)
    events = _decode_events(path, data)
    if events is None:
        yield _not_an_event(ctx.name, path.name)
        return
    for number, event in enumerate(events, 1):
        yield from _event_items(ctx, event, f"{ctx.name}:", number)


def read_misp_feed(path: Path, ctx: _Context) -> Iterator[_Item]:
    """Yield the indicators and rejects of every event a feed manifest names.

    Raises
    ------
    InvalidIndicatorError
        When ``manifest.json`` is missing, not JSON, or not an object of
        event uuids.
    """
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        raise InvalidIndicatorError(
            f"feed folder {path} has no {MANIFEST_NAME}; hint: a MISP feed folder "
            "holds manifest.json and one <uuid>.json per event"
        )
    manifest = _decode_any(manifest_path, _read_bytes(manifest_path))
    if not isinstance(manifest, dict):
        raise InvalidIndicatorError(
            f"{manifest_path} is not an object of event uuids; hint: pass the "
            "folder of a MISP feed"
        )
    for number, name in enumerate(manifest, 1):
        where = f"{ctx.name}/{MANIFEST_NAME}:{name}"
        if not isinstance(name, str) or _EVENT_NAME.fullmatch(name) is None:
            yield _reject(
                where,
                str(name),
                "malformed_record",
                "manifest key is not an event uuid; hint: check the feed's manifest",
            )
            continue
        event_path = path / f"{name}.json"
        if not event_path.is_file():
            yield _reject(
                where,
                name,
                "missing_event",
                f"the manifest names event {name} but {event_path.name} is not in "
                "the folder; hint: the feed download may be incomplete",
            )
            continue
        yield from _feed_event_items(ctx, event_path, number)


# --- decoding -------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    """Return a file's bytes, gzip decompressed."""
    with open_feed(path) as handle:
        return handle.read()


def _decode_any(path: Path, data: bytes) -> Any:
    """Decode JSON of any shape, or raise naming the file."""
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise InvalidIndicatorError(
            f"feed file {path} is not valid JSON: {exc}; hint: check the download "
            "finished, or pass the right format="
        ) from exc
    except RecursionError as exc:
        raise InvalidIndicatorError(
            f"feed file {path} nests JSON too deeply to be a MISP event; hint: "
            "pass the right format="
        ) from exc


def _decode_events(path: Path, data: bytes) -> list[_Event | _Damaged] | None:
    """Return the events a file holds, ``None`` when it holds none.

    The typed decode reads a well-formed file in one pass; a file with a
    field of the wrong type is decoded again untyped and converted event by
    event and attribute by attribute, so that damage stays local.
    """
    try:
        document = _DOCUMENT_DECODER.decode(data)
    except (msgspec.DecodeError, RecursionError):
        # Not JSON (raises, naming the file), or JSON that does not fit the
        # types (includes msgspec.ValidationError): read it untyped.
        return _events_from_untyped(_decode_any(path, data))
    documents = document if isinstance(document, list) else [document]
    events: list[_Event | _Damaged] = []
    for item in documents:
        events.extend(_unwrap(item))
    return events if events or _is_empty_export(documents) else None


def _unwrap(document: _Document) -> list[_Event]:
    """Return the events of one top-level document."""
    if document.Event is not None:
        return [document.Event]
    if document.response is not None:
        return [event for item in document.response for event in _unwrap(item)]
    if document.Attribute is not None or document.Object is not None:
        return [document]
    if document.uuid is not None and document.info is not None:
        return [document]
    return []


def _is_empty_export(documents: Sequence[_Document]) -> bool:
    """Return whether the file is an empty list or an empty REST answer."""
    if not documents:
        return True
    return all(doc.response == [] for doc in documents)


class _Damaged(msgspec.Struct):
    """An event read untyped: its fields, and attributes that did not fit."""

    event: _Event
    bad: list[tuple[str, Any]]


def _events_from_untyped(data: Any) -> list[_Event | _Damaged] | None:
    """Convert untyped JSON to events, attribute by attribute."""
    found: list[_Event | _Damaged] = []
    for raw in _raw_events(data):
        found.append(_convert_event(raw))
    return found or None


def _raw_events(data: Any) -> Iterator[Any]:
    """Yield the raw event objects of an untyped document."""
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not isinstance(item, dict):
            continue
        if "Event" in item:
            yield item["Event"]
        elif isinstance(item.get("response"), list):
            yield from _raw_events(item["response"])
        elif "Attribute" in item or "Object" in item:
            yield item


def _convert_event(raw: Any) -> _Event | _Damaged:
    """Convert one raw event, setting aside attributes that do not fit."""
    bad: list[tuple[str, Any]] = []
    if not isinstance(raw, dict):
        return _Damaged(event=_Event(), bad=[("event", raw)])
    head = {k: v for k, v in raw.items() if k not in ("Attribute", "Object")}
    try:
        event = msgspec.convert(head, _Event)
    except msgspec.ValidationError:
        bad.append(("event", head))
        event = _Event(uuid=_text_or_none(raw.get("uuid")))
    event.Attribute = _convert_attributes(raw.get("Attribute"), bad)
    objects: list[_Object] = []
    for number, obj in enumerate(_as_list(raw.get("Object")), 1):
        if not isinstance(obj, dict):
            bad.append((f"object {number}", obj))
            continue
        deleted = obj.get("deleted", False)
        if not isinstance(deleted, bool | int | str | None):
            deleted = False
        objects.append(
            _Object(
                deleted=deleted,
                first_seen=_text_or_none(obj.get("first_seen")),
                last_seen=_text_or_none(obj.get("last_seen")),
                Attribute=_convert_attributes(obj.get("Attribute"), bad),
            )
        )
    event.Object = objects
    return _Damaged(event=event, bad=bad) if bad else event


def _convert_attributes(raw: Any, bad: list[tuple[str, Any]]) -> list[_Attribute]:
    """Convert raw attributes; those that do not fit go to ``bad``."""
    converted: list[_Attribute] = []
    for attribute in _as_list(raw):
        try:
            converted.append(msgspec.convert(attribute, _Attribute))
        except msgspec.ValidationError:
            name = attribute.get("uuid") if isinstance(attribute, dict) else None
            bad.append((f"attribute {name}" if name else "attribute", attribute))
    return converted


def _as_list(value: Any) -> list[Any]:
    """Return a JSON value as a list (a lone object becomes one item)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text_or_none(value: Any) -> str | None:
    """Return text, or ``None`` for anything else."""
    return value if isinstance(value, str) else None


# --- events to items ------------------------------------------------------------


def _feed_event_items(ctx: _Context, event_path: Path, number: int) -> Iterator[_Item]:
    """Yield the items of one event file of a feed folder."""
    prefix = f"{ctx.name}/{event_path.name}:"
    try:
        events = _decode_events(event_path, _read_bytes(event_path))
    except InvalidIndicatorError as exc:
        yield _reject(prefix.rstrip(":"), event_path.name, "malformed_record", str(exc))
        return
    if events is None:
        yield _not_an_event(prefix.rstrip(":"), event_path.name)
        return
    for event in events:
        yield from _event_items(ctx, event, prefix, number)


def _not_an_event(location: str, name: str) -> _Item:
    """Reject a whole file that is JSON but holds no MISP event."""
    return _reject(
        location,
        name,
        "not_misp_event",
        f"{name} is JSON but holds no MISP event; hint: remove it from the "
        "feed's files, or load it with its own format=",
    )


def _event_items(
    ctx: _Context, item: _Event | _Damaged, prefix: str, number: int
) -> Iterator[_Item]:
    """Yield the indicators, rejects and skip counts of one event."""
    event = item.event if isinstance(item, _Damaged) else item
    event_id = event.uuid or f"event {number}"
    if isinstance(item, _Damaged):
        for where, raw in item.bad:
            yield _reject(
                f"{prefix}{event_id}/{where}",
                _excerpt(raw),
                "malformed_record",
                f"the {where.split(' ')[0]} has a field of the wrong type; hint: "
                "check the export (values, uuids and flags are text)",
            )
    reader = _EventReader(ctx, event, event_id, prefix)
    for attribute in event.Attribute or ():
        yield from reader.attribute(attribute)
    for obj in event.Object or ():
        if _flag(obj.deleted):
            ctx.skipped["deleted"] += len(obj.Attribute or ())
            continue
        for attribute in obj.Attribute or ():
            yield from reader.attribute(attribute, obj)


class _EventReader:
    """Turns one event's attributes into items, sharing the event's context."""

    def __init__(self, ctx: _Context, event: _Event, event_id: str, prefix: str):
        self.ctx = ctx
        self.event_id = event_id
        self.prefix = f"{prefix}{event_id}/"
        tags = tuple(tag.name for tag in event.Tag or () if tag.name)
        if event.published is not None and not _flag(event.published):
            tags = (*tags, "unpublished")
        self.tags = tags
        info = (event.info or "").strip()[:_RAW_LIMIT] or None
        self.threat = _galaxy_threat(tags) or info
        level = event.threat_level_id
        self.confidence = (
            None
            if ctx.explicit_confidence or level is None
            else THREAT_LEVEL_CONFIDENCE.get(str(level).strip())
        )

    def attribute(
        self, attribute: _Attribute, obj: _Object | None = None
    ) -> Iterator[_Item]:
        """Yield the items of one attribute, or count why it gives none."""
        ctx = self.ctx
        deleted = attribute.deleted
        if deleted is not False and _flag(deleted):
            ctx.skipped["deleted"] += 1
            return
        kind = attribute.type
        single = kind in _SINGLE
        if not single and kind not in _COMPOSITE:
            ctx.skipped[f"unsupported_type:{kind[:64] or '(none)'}"] += 1
            return
        to_ids = attribute.to_ids
        if to_ids is not True and not _flag(to_ids):
            ctx.skipped["to_ids_false"] += 1
            return
        attribute_id = attribute.uuid or "(no uuid)"
        where = (self.prefix, attribute_id)
        value = attribute.value
        if not value:
            yield _reject(
                f"{self.prefix}{attribute_id}",
                "",
                "invalid_value",
                f"{kind} attribute has no value; hint: check the export",
            )
            return
        parts: list[tuple[str, IndicatorType | None]]
        if single:
            forced = _SINGLE[kind]
            if forced is None:  # ip-src / ip-dst hold an address or a network
                forced = "cidr" if "/" in value else "ip"
            parts = [(value, forced)]
        else:
            first, sep, second = value.rpartition("|")
            if not sep:
                yield _reject(
                    f"{self.prefix}{attribute_id}",
                    value,
                    "invalid_value",
                    f"{kind} attribute value has no '|' between its parts; hint: "
                    "check the export",
                )
                return
            left, right = _COMPOSITE[kind]
            parts = [(p, t) for p, t in ((first, left), (second, right)) if t]
        first_seen, last_seen = self._times(attribute, obj)
        tags = self.tags
        threat = self.threat
        if attribute.Tag:
            own = tuple(tag.name for tag in attribute.Tag if tag.name)
            tags = _merge_tags(tags, own)
            threat = _galaxy_threat(own) or threat
        reference = f"{self.event_id}/{attribute_id}"
        for part, part_type in parts:
            yield _build(
                ctx,
                part,
                part_type,
                where,
                reference=reference,
                first_seen=first_seen,
                last_seen=last_seen,
                tags=tags,
                threat=threat,
                confidence=self.confidence,
            )

    def _times(
        self, attribute: _Attribute, obj: _Object | None
    ) -> tuple[datetime | None, datetime | None]:
        """Return the first and last sightings (see the module docstring)."""
        stamp = _epoch_time(self.ctx, attribute.timestamp)
        first_text, last_text = attribute.first_seen, attribute.last_seen
        if obj is not None:
            first_text = first_text or obj.first_seen
            last_text = last_text or obj.last_seen
        if first_text is None and last_text is None:
            return stamp, stamp
        first = _iso_time(self.ctx, first_text) or stamp
        last = _iso_time(self.ctx, last_text) or stamp
        return first, last


def _flag(value: bool | int | str | None) -> bool:
    """Read a MISP boolean written as a bool, 0/1 or "0"/"1"/"true"."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


@lru_cache(maxsize=4096)
def _merge_tags(event_tags: tuple[str, ...], own: tuple[str, ...]) -> tuple[str, ...]:
    """Return event and attribute tags without repeats; shared per pair."""
    return tuple(dict.fromkeys(event_tags + own))


@lru_cache(maxsize=4096)
def _galaxy_threat(tags: tuple[str, ...]) -> str | None:
    """Return the first galaxy cluster that names a family, tool or actor."""
    for tag in tags:
        match = _GALAXY_TAG.fullmatch(tag)
        if match is not None and match.group(1) in _THREAT_GALAXIES:
            return match.group(2)[:_RAW_LIMIT]
    return None


@lru_cache(maxsize=65536)
def _epoch_from_text(text: str) -> datetime | None:
    """Return the UTC time of epoch seconds written as text, ``None`` if bad."""
    stripped = text.strip()
    if not stripped.isdigit():
        return None
    return _epoch(int(stripped))


@lru_cache(maxsize=65536)
def _epoch(seconds: int) -> datetime | None:
    """Return the UTC time of epoch seconds, ``None`` when out of range."""
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _epoch_time(ctx: _Context, value: int | str | None) -> datetime | None:
    """Read an attribute timestamp; count one that cannot be read."""
    if value is None or value == "":
        return None
    when = _epoch_from_text(value) if isinstance(value, str) else _epoch(value)
    if when is None:
        ctx.bad_timestamps += 1
    return when


def _iso_time(ctx: _Context, value: str | None) -> datetime | None:
    """Read an ISO ``first_seen``/``last_seen``; count one that cannot be read."""
    if not value:
        return None
    try:
        return parse_feed_time(value)
    except ValueError:
        ctx.bad_timestamps += 1
        return None


def _excerpt(raw: Any) -> str:
    """Return the start of a raw JSON value as text."""
    try:
        text = msgspec.json.encode(raw).decode("utf-8", "replace")
    except (TypeError, msgspec.EncodeError):
        text = repr(raw)
    return text[:_RAW_LIMIT]
