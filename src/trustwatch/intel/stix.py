"""STIX 2.1 bundles as a threat-intel feed.

:func:`load_stix_objects` turns STIX objects (a bundle's ``objects``, a TAXII
page) into a :class:`~trustwatch.intel.feeds.FeedLoad`; :func:`load_stix`
reads a bundle file (or a JSON list of objects), and ``load_feed(path,
format="stix21")`` does the same through the feed registry.

Indicators
    A pattern made only of ``=`` tests on ``url:value``,
    ``domain-name:value``, ``ipv4-addr:value``, ``ipv6-addr:value``
    (addresses or networks) or ``file:hashes`` MD5 / SHA-1 / SHA-256, joined
    by ``OR`` (or one ``IN``), gives one plain
    :class:`~trustwatch.intel.indicators.Indicator` per value. Every other
    pattern the grammar accepts and one observation can answer becomes a
    :class:`~trustwatch.intel.stix_patterns.PatternIndicator` (in
    ``FeedLoad.patterns``); the rest are rejects with a reason
    (``invalid_pattern``, ``unsupported_pattern``,
    ``unsupported_pattern_type`` for Sigma, YARA, Snort… patterns,
    ``too_broad`` for a pattern that holds for everything, ``unsafe_regex``
    for a ``MATCHES`` that may backtrack without end: see
    :func:`~trustwatch.intel.stix_patterns.check_pattern_scope`).
Provenance
    ``reference`` is the STIX id; ``valid_from`` is ``first_seen`` and
    ``valid_from``, ``valid_until`` is ``expires_at``: the store matches an
    indicator only from ``valid_from`` until ``valid_until``, judged at the
    time it is asked about (an event's time), so one not yet valid or
    already past it is still loaded; ``confidence`` comes from the
    object unless the caller gives one; ``indicator_types`` (STIX 2.1) or
    ``labels`` (2.0) become tags, the first also the threat;
    ``kill_chain_phases`` become ``kill_chain:<chain>:<phase>`` tags, and
    ``indicates`` relationships to a malware, threat actor, campaign,
    intrusion set, attack pattern or tool in the same load add
    ``<type>:<name>`` tags. An indicator with no ``indicator_types`` or
    ``labels`` takes its threat from those relationships: the malware's
    name first, then the tool's, then the threat actor's, intrusion set's
    or campaign's.
Versions and revocation
    Of several versions of one id, the latest ``modified`` wins; a winning
    version with ``revoked: true`` is listed in ``FeedLoad.revoked`` and
    loads nothing.
Malformed objects
    An object that is read (indicators, ``indicates`` relationships and what
    they point to, observations taken as indicators) whose ``created``,
    ``modified``, ``valid_from``, ``valid_until``, ``first_observed`` or
    ``last_observed`` is not an RFC 3339 timestamp is a reject
    (``invalid_timestamp``), as is one whose ``revoked`` is not a boolean or
    whose ``confidence`` is not a whole number from 0 to 100
    (``invalid_field``); it takes no part in choosing the latest version.
    Entries that are not objects with a text ``type`` and ``id`` are
    ``malformed_record`` rejects.
Observations
    Observed data and cyber observables (``url``, ``domain-name``,
    ``ipv4-addr``, ``ipv6-addr``, ``file`` …) say what was seen, not what is
    bad: they are counted in ``FeedLoad.skipped`` unless the caller passes
    ``observables=True``, when URLs, domains, addresses and file hashes
    among them become indicators too. Other objects are context only.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from trustwatch.errors import ConfigError, InvalidIndicatorError
from trustwatch.intel._json import TooDeep
from trustwatch.intel._times import parse_feed_time
from trustwatch.intel.feeds import FeedLoad, Reject, _Context, _decode_json
from trustwatch.intel.formats import FORMAT_DEFAULTS
from trustwatch.intel.indicators import (
    WILDCARD_TAG,
    Indicator,
    IndicatorType,
    RefusedIndicatorError,
    normalize_indicator,
)
from trustwatch.intel.stix_patterns import (
    Comparison,
    PatternError,
    PatternIndicator,
    check_pattern_scope,
    make_pattern_indicator,
    parse_pattern,
)

__all__ = [
    "check_stix_fields",
    "load_stix",
    "load_stix_objects",
    "read_stix",
    "read_stix_file",
    "stix_objects",
]

log = logging.getLogger(__name__)

_RAW_LIMIT: Final = 200
#: An RFC 3339 date-time, as STIX 2.1 writes timestamps (``Z`` or an offset).
_TIMESTAMP: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
#: Timestamp properties read, on every object and per object type.
_COMMON_TIMES: Final = ("created", "modified")
_TYPE_TIMES: Final[dict[str, tuple[str, ...]]] = {
    "indicator": ("valid_from", "valid_until"),
    "observed-data": ("first_observed", "last_observed"),
}
#: Objects an ``indicates`` relationship names as what an indicator points to.
_CONTEXT_TYPES: Final = frozenset(
    (
        "malware",
        "threat-actor",
        "campaign",
        "intrusion-set",
        "attack-pattern",
        "tool",
    )
)
#: Related object types that name an indicator's threat, most telling first.
_THREAT_TYPES: Final = ("malware", "tool", "threat-actor", "intrusion-set", "campaign")
#: Cyber observables (and their container) that are observations, not verdicts.
_OBSERVABLE_TYPES: Final = frozenset(
    (
        "observed-data",
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    )
)
_VALUE_TYPES: Final[dict[str, IndicatorType | None]] = {
    "url": "url",
    "domain-name": "domain",
    "ipv4-addr": None,
    "ipv6-addr": None,
}
_PLAIN_PATHS: Final[dict[str, IndicatorType | None]] = {
    "url:value": "url",
    "domain-name:value": "domain",
    "ipv4-addr:value": None,
    "ipv6-addr:value": None,
    "file:hashes.MD5": "md5",
    "file:hashes.'SHA-1'": "sha1",
    "file:hashes.'SHA-256'": "sha256",
}
_HASH_KEYS: Final[dict[str, IndicatorType]] = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA1": "sha1",
    "SHA-256": "sha256",
    "SHA256": "sha256",
}


def load_stix(
    path: str | Path,
    *,
    feed: str | None = None,
    confidence: int | None = None,
    observables: bool = False,
) -> FeedLoad:
    """Read a STIX bundle file (or a JSON list of STIX objects).

    Parameters
    ----------
    path
        The file (``.gz`` is decompressed on the fly).
    feed
        Feed name; defaults to the file's stem.
    confidence
        Confidence for every indicator, overriding the objects' own.
    observables
        Also turn observed URLs, domains, addresses and file hashes into
        indicators (off: they are counted as skipped).

    Raises
    ------
    ConfigError
        When the file cannot be read or ``confidence`` is outside 0..100.
    InvalidIndicatorError
        When the file is not JSON, or JSON of another shape.
    """
    source = Path(path)
    return load_stix_objects(
        read_stix_file(source),
        feed=feed or source.stem,
        confidence=confidence,
        location=str(source),
        observables=observables,
    )


def read_stix_file(path: Path) -> list[Any]:
    """Return the objects of a STIX bundle file or JSON list of objects.

    Raises
    ------
    InvalidIndicatorError
        When the file is not JSON, or JSON of another shape.
    """
    return stix_objects(_decode_json(path), str(path))


def stix_objects(data: Any, location: str = "") -> list[Any]:
    """Return the objects of decoded STIX JSON: a bundle, a list, one object.

    Raises
    ------
    InvalidIndicatorError
        When ``data`` is none of these.
    """
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        objects = data.get("objects")
        if isinstance(objects, list):
            return objects
        if isinstance(data.get("type"), str) and data.get("type") != "bundle":
            return [data]
        if data.get("type") == "bundle" and objects is None:
            return []
    raise InvalidIndicatorError(
        f"{location or 'input'} is JSON but not a STIX bundle or list of STIX "
        "objects; hint: pass the right format="
    )


def load_stix_objects(
    objects: Iterable[Mapping[str, Any]],
    *,
    feed: str,
    confidence: int | None = None,
    location: str = "",
    observables: bool = False,
) -> FeedLoad:
    """Turn STIX 2.x objects into indicators, pattern indicators and rejects.

    Parameters
    ----------
    objects
        STIX objects, in any order (relationships may come before the
        objects they join).
    feed
        Feed name for every indicator.
    confidence
        Confidence for every indicator, overriding the objects' own (and the
        format default, 70, for objects without one).
    location
        Where the objects came from, used as the load's ``path`` and in
        reject locations (``location:stix-id``).
    observables
        Also turn observed URLs, domains, addresses and file hashes into
        indicators.

    Raises
    ------
    ConfigError
        When ``confidence`` is outside 0..100.
    """
    if confidence is not None and not 0 <= confidence <= 100:
        raise ConfigError(
            f"confidence {confidence!r} is outside 0..100; hint: give a percentage"
        )
    reader = _StixReader(feed, confidence, location, observables)
    reader.read(objects)
    log.info(
        "stix feed %s loaded: %d indicators, %d patterns, %d rejects, %d revoked",
        feed,
        len(reader.indicators),
        len(reader.patterns),
        len(reader.rejects),
        len(reader.revoked),
    )
    return FeedLoad(
        path=location,
        feed=feed,
        format="stix21",
        indicators=reader.indicators,
        rejects=reader.rejects,
        bad_timestamps=reader.bad_timestamps,
        patterns=reader.patterns,
        revoked=reader.revoked,
        skipped=dict(reader.skipped),
    )


class _StixReader:
    """One load's settings, the latest object versions and the results."""

    def __init__(
        self, feed: str, confidence: int | None, location: str, observables: bool
    ) -> None:
        self.feed = feed
        self.confidence = confidence
        self.default_confidence = FORMAT_DEFAULTS["stix21"].confidence
        self.location = location
        self.observables = observables
        self.indicators: list[Indicator] = []
        self.patterns: list[PatternIndicator] = []
        self.rejects: list[Reject] = []
        self.revoked: list[str] = []
        self.skipped: Counter[str] = Counter()
        self.bad_timestamps = 0

    # --- collecting -----------------------------------------------------------

    def read(self, objects: Iterable[Mapping[str, Any]]) -> None:
        """Keep each id's latest version, then turn them into results."""
        latest: dict[str, Mapping[str, Any]] = {}
        for number, obj in enumerate(objects, 1):
            if isinstance(obj, TooDeep):
                self._reject(f"object {number}", obj.raw, "too_deep", obj.message)
                continue
            if not isinstance(obj, Mapping):
                self._reject(f"object {number}", repr(obj), "malformed_record", "")
                continue
            stix_id, kind = obj.get("id"), obj.get("type")
            if not isinstance(stix_id, str) or not isinstance(kind, str):
                self._reject(
                    f"object {number}",
                    repr(obj),
                    "malformed_record",
                    "a STIX object needs a text 'type' and 'id'",
                )
                continue
            problem = check_stix_fields(obj) if self._is_read(kind) else None
            if problem is not None:
                reason, message = problem
                self._reject(stix_id, repr(obj), reason, message)
                continue
            known = latest.get(stix_id)
            if known is None or self._newer(obj, known):
                latest[stix_id] = obj
        tags = self._related_tags(latest)
        for stix_id, obj in latest.items():
            kind = obj["type"]
            if kind == "indicator":
                if obj.get("revoked") is True:
                    self.revoked.append(stix_id)
                    continue
                self._indicator(stix_id, obj, tags.get(stix_id, ()))
            elif kind in _OBSERVABLE_TYPES:
                self._observable(stix_id, obj)

    def _is_read(self, kind: str) -> bool:
        """Whether objects of type ``kind`` give or shape indicators here."""
        return (
            kind in ("indicator", "relationship")
            or kind in _CONTEXT_TYPES
            or (self.observables and kind in _OBSERVABLE_TYPES)
        )

    def _newer(self, obj: Mapping[str, Any], known: Mapping[str, Any]) -> bool:
        """Return whether ``obj`` is a later version than ``known``."""
        new, old = self._modified(obj), self._modified(known)
        if new is None or old is None:
            return new is not None or old is None
        return new >= old

    def _modified(self, obj: Mapping[str, Any]) -> datetime | None:
        """Return an object's ``modified`` time (``created`` when absent)."""
        return self._time(obj.get("modified") or obj.get("created"))

    def _time(self, text: Any) -> datetime | None:
        """Read a STIX timestamp; count one that cannot be read."""
        if text is None:
            return None
        if isinstance(text, str):
            try:
                return parse_feed_time(text)
            except ValueError:
                pass
        self.bad_timestamps += 1
        return None

    def _related_tags(
        self, latest: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, tuple[str, ...]]:
        """Return ``<type>:<name>`` tags per indicator id from relationships."""
        found: dict[str, list[str]] = {}
        for obj in latest.values():
            if obj.get("type") != "relationship" or obj.get("revoked") is True:
                continue
            if obj.get("relationship_type") != "indicates":
                continue
            source, target = obj.get("source_ref"), obj.get("target_ref")
            context = latest.get(target) if isinstance(target, str) else None
            if not isinstance(source, str) or context is None:
                continue
            if context.get("revoked") is True:
                continue
            kind, name = context.get("type"), context.get("name")
            if kind in _CONTEXT_TYPES and isinstance(name, str) and name.strip():
                found.setdefault(source, []).append(f"{kind}:{name.strip()}")
        return {key: tuple(dict.fromkeys(tags)) for key, tags in found.items()}

    # --- indicators -------------------------------------------------------------

    def _indicator(
        self, stix_id: str, obj: Mapping[str, Any], related: tuple[str, ...]
    ) -> None:
        """Turn one indicator object into indicators, a pattern or a reject."""
        pattern = obj.get("pattern")
        if not isinstance(pattern, str) or not pattern.strip():
            self._reject(stix_id, repr(pattern), "malformed_record", "no pattern")
            return
        pattern_type = obj.get("pattern_type", "stix")
        if pattern_type != "stix":
            self._reject(
                stix_id,
                pattern,
                "unsupported_pattern_type",
                f"pattern_type {str(pattern_type)[:40]!r} is not matched; hint: "
                "only STIX patterns are",
            )
            return
        try:
            parsed = parse_pattern(pattern)
        except PatternError as exc:
            self._reject(stix_id, pattern, exc.reason, str(exc))
            return
        fields = self._fields(obj, related)
        simple = parsed.equalities
        if simple is not None and all(c.path in _PLAIN_PATHS for c in simple):
            plain = {**fields, "valid_from": fields["first_seen"]}
            for comparison in simple:
                self._plain(stix_id, comparison, plain)
            return
        try:
            check_pattern_scope(parsed.expression)
        except PatternError as exc:
            self._reject(stix_id, pattern, exc.reason, str(exc))
            return
        name = obj.get("name")
        self.patterns.append(
            make_pattern_indicator(
                parsed,
                id=stix_id,
                feed=self.feed,
                pattern=pattern,
                name=name if isinstance(name, str) else None,
                modified=self._modified(obj),
                **fields,
            )
        )

    def _fields(
        self, obj: Mapping[str, Any], related: tuple[str, ...]
    ) -> dict[str, Any]:
        """Return confidence, threat, tags and validity of an indicator."""
        types = _texts(obj.get("indicator_types")) or _texts(obj.get("labels"))
        chains = [
            f"kill_chain:{phase['kill_chain_name']}:{phase['phase_name']}"
            for phase in obj.get("kill_chain_phases") or ()
            if isinstance(phase, Mapping)
            and isinstance(phase.get("kill_chain_name"), str)
            and isinstance(phase.get("phase_name"), str)
        ]
        return {
            "confidence": self._confidence(obj.get("confidence")),
            "threat": types[0] if types else _related_threat(related),
            "tags": tuple(dict.fromkeys([*types, *chains, *related])),
            "first_seen": self._time(obj.get("valid_from")),
            "expires_at": self._time(obj.get("valid_until")),
        }

    def _confidence(self, value: Any) -> int:
        """Return the caller's confidence, else the object's, else the default."""
        if self.confidence is not None:
            return self.confidence
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
            return value
        return self.default_confidence

    def _plain(
        self, stix_id: str, comparison: Comparison, fields: Mapping[str, Any]
    ) -> None:
        """Add one plain indicator for an equality, or a reject."""
        kind = _PLAIN_PATHS[comparison.path]
        value = str(comparison.value)
        if kind is None:
            kind = "cidr" if "/" in value else "ip"
        self._value(stix_id, value, kind, fields)

    def _value(
        self, stix_id: str, value: str, kind: IndicatorType, fields: Mapping[str, Any]
    ) -> None:
        """Normalise a value into an indicator, or reject it with the reason."""
        try:
            kind, normal = normalize_indicator(value, kind)
        except RefusedIndicatorError as exc:
            self._reject(stix_id, value, exc.reason, str(exc))
            return
        except InvalidIndicatorError as exc:
            self._reject(stix_id, value, _INVALID.get(kind, "invalid_value"), str(exc))
            return
        if normal.startswith("*."):
            fields = {**fields, "tags": (*fields["tags"], WILDCARD_TAG)}
        self.indicators.append(
            Indicator(
                type=kind, value=normal, feed=self.feed, reference=stix_id, **fields
            )
        )

    # --- observations -------------------------------------------------------------

    def _observable(self, stix_id: str, obj: Mapping[str, Any]) -> None:
        """Count an observation, or turn its values into indicators when asked."""
        kind = obj["type"]
        if not self.observables:
            self.skipped[kind] += 1
            return
        fields = {
            "confidence": self._confidence(obj.get("confidence")),
            "threat": None,
            "tags": ("observed",),
            "first_seen": self._time(obj.get("first_observed")),
            "expires_at": None,
        }
        values = list(_observed_values(obj))
        if not values:
            self.skipped[kind] += 1
        for value, value_kind in values:
            self._value(stix_id, value, value_kind, fields)

    def _reject(self, where: str, raw: str, reason: str, message: str) -> None:
        """Record a reject at ``location:where``."""
        place = f"{self.location}:{where}" if self.location else where
        self.rejects.append(
            Reject(
                location=place,
                raw=raw[:_RAW_LIMIT],
                reason=reason,
                message=message or reason.replace("_", " "),
            )
        )


def check_stix_fields(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return why a STIX object's read properties are malformed, or ``None``.

    Timestamps (``created``, ``modified``; an indicator's ``valid_from``
    and ``valid_until``; observed data's ``first_observed`` and
    ``last_observed``) must be RFC 3339 date-times, ``revoked`` a boolean
    and ``confidence`` a whole number from 0 to 100, as STIX 2.1 requires.
    A property that is absent (or ``null``) is not checked.

    Returns
    -------
    tuple[str, str] | None
        The reject reason (``invalid_timestamp`` or ``invalid_field``) and
        a message naming the property, or ``None`` when all are well formed.

    Examples
    --------
    >>> check_stix_fields({"type": "indicator", "revoked": "true"})[0]
    'invalid_field'
    >>> check_stix_fields({"type": "indicator", "valid_until": "2026-01-01"})[0]
    'invalid_timestamp'
    >>> check_stix_fields({"type": "indicator", "created": "2026-01-01T00:00:00Z"})
    """
    kind = obj.get("type")
    names = _TYPE_TIMES.get(kind, ()) if isinstance(kind, str) else ()
    for name in (*_COMMON_TIMES, *names):
        value = obj.get(name)
        if value is not None and not _is_timestamp(value):
            return (
                "invalid_timestamp",
                f"{name} {_shown(value)} is not an RFC 3339 timestamp; hint: STIX "
                "writes times like 2026-03-01T12:00:00.000Z",
            )
    revoked = obj.get("revoked")
    if revoked is not None and not isinstance(revoked, bool):
        return (
            "invalid_field",
            f"revoked {_shown(revoked)} is not a boolean; hint: STIX writes it "
            "as true or false, without quotes",
        )
    confidence = obj.get("confidence")
    if confidence is not None and (
        not isinstance(confidence, int)
        or isinstance(confidence, bool)
        or not 0 <= confidence <= 100
    ):
        return (
            "invalid_field",
            f"confidence {_shown(confidence)} is not a whole number from 0 to "
            "100; hint: STIX confidence is a percentage",
        )
    return None


def _is_timestamp(value: Any) -> bool:
    """Whether ``value`` is an RFC 3339 date-time that names a real moment."""
    if not isinstance(value, str) or _TIMESTAMP.fullmatch(value) is None:
        return False
    try:
        parse_feed_time(value)
    except ValueError:
        return False
    return True


def _shown(value: Any) -> str:
    """Return a property value as JSON would write it, cut short."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


_INVALID: Final[dict[str, str]] = {
    "url": "invalid_url",
    "domain": "invalid_domain",
    "ip": "invalid_ip",
    "cidr": "invalid_cidr",
    "md5": "invalid_hash",
    "sha1": "invalid_hash",
    "sha256": "invalid_hash",
}


def _related_threat(related: tuple[str, ...]) -> str | None:
    """Return the name of the most telling object an indicator ``indicates``.

    ``related`` holds ``<type>:<name>`` tags; a malware wins over a tool,
    and a tool over a threat actor, intrusion set or campaign.
    """
    for kind in _THREAT_TYPES:
        for tag in related:
            tag_kind, _, name = tag.partition(":")
            if tag_kind == kind:
                return name[:_RAW_LIMIT]
    return None


def _texts(value: Any) -> list[str]:
    """Return the non-empty strings of a list field."""
    if not isinstance(value, list):
        return []
    return [item.strip() for item in value if isinstance(item, str) and item.strip()]


def _observed_values(obj: Mapping[str, Any]) -> Iterator[tuple[str, IndicatorType]]:
    """Yield (value, type) of the URLs, hosts, addresses and hashes observed."""
    kind = obj.get("type")
    if kind == "observed-data":
        embedded = obj.get("objects")
        if isinstance(embedded, Mapping):
            for inner in embedded.values():
                if isinstance(inner, Mapping):
                    yield from _observed_values(inner)
        return
    value = obj.get("value")
    if isinstance(kind, str) and kind in _VALUE_TYPES and isinstance(value, str):
        mapped = _VALUE_TYPES[kind]
        yield value, mapped or ("cidr" if "/" in value else "ip")
    hashes = obj.get("hashes")
    if kind == "file" and isinstance(hashes, Mapping):
        for name, digest in hashes.items():
            hash_kind = _HASH_KEYS.get(str(name).upper())
            if hash_kind is not None and isinstance(digest, str):
                yield digest, hash_kind


def read_stix(path: Path, ctx: _Context) -> Iterator[Indicator | Reject]:
    """Feed-registry reader: yield a bundle file's indicators and rejects.

    Pattern indicators, revoked ids, skipped observations and unreadable
    times are handed over through ``ctx``.
    """
    reader = _StixReader(
        ctx.feed, ctx.confidence if ctx.explicit_confidence else None, ctx.name, False
    )
    reader.read(read_stix_file(path))
    ctx.patterns.extend(reader.patterns)
    ctx.revoked.extend(reader.revoked)
    ctx.skipped.update(reader.skipped)
    ctx.bad_timestamps += reader.bad_timestamps
    yield from reader.indicators
    yield from reader.rejects
