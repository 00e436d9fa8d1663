"""Threat-intel indicators: one normalised value, its type and its provenance.

An :class:`Indicator` is what a feed says about one URL, host, IP address,
network or file hash. Its ``value`` is always in the one normal form the
matchers look up, so two feeds that write the same thing differently
(``HXXP://Evil[.]Example/a`` and ``http://evil.example/a``) end up as the same
key. Normalisation of URLs, hosts and addresses is delegated to
:mod:`trustwatch.enrichment`; this module only decides which of them a piece of
text is.

Some well-formed values are refused as indicators, with
:class:`RefusedIndicatorError` and a stable ``reason``, because they would
match far more than the feed meant:

``too_broad``
    A network shorter than ``/8`` (IPv4, :data:`MIN_IPV4_PREFIX`) or ``/16``
    (IPv6, :data:`MIN_IPV6_PREFIX`): ``0.0.0.0/0`` or ``::/0`` in a list
    would make every address "listed". No real feed lists networks that
    broad; regional registries allocate ``/8`` at most.
``not_routable``
    The unspecified address (``0.0.0.0``, ``::``, and networks holding it
    such as ``0.0.0.0/8``), loopback (``127.0.0.0/8``, ``::1``) and multicast
    (``224.0.0.0/4``, ``ff00::/8``) addresses and networks: events carry them
    as placeholders or local traffic, never as an abuser's address. Private
    and documentation ranges stay accepted (internal lists and tests use
    them).
``too_long``
    A URL longer than :data:`MAX_URL_INDICATOR_CHARS` (32,768) characters as
    written: the event schema caps URL fields at that length, so such an
    indicator could never match. (:func:`~trustwatch.enrichment.urls.parse_url`
    itself accepts up to 2 MiB, as Chromium does.)
``wildcard``
    A ``*`` anywhere but as the whole first label of a domain
    (``a.*.example``), or a URL whose host is a wildcard (URLs match
    exactly). A domain ``*.x.example`` is accepted: its value keeps the
    ``*.`` and it matches every subdomain of ``x.example`` but not
    ``x.example`` itself (see :class:`~trustwatch.intel.store.IndicatorStore`);
    the feed loaders tag it :data:`WILDCARD_TAG`.
``too_broad`` (wildcards)
    A wildcard on a public suffix (``*.com``, ``*.co.uk``, ``*.github.io``):
    it would make every site under the suffix "listed".

Values already in normal form (lowercase ``http``/``https`` URLs with plain
hosts, lowercase ASCII domains, dotted-quad IPv4) skip the full parsers; see
:mod:`trustwatch.intel._fastpath`. Everything else goes through
:func:`trustwatch.enrichment.urls.parse_url` and friends, which stay the only
definition of the normal forms; the tests check that both agree on every URL
of the real feeds.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Final, Literal, TypeAlias, get_args

import msgspec

from trustwatch.enrichment.domains import normalize_host, psl_split
from trustwatch.enrichment.ips import parse_ip, parse_network
from trustwatch.enrichment.urls import parse_url, refang
from trustwatch.errors import InvalidIndicatorError
from trustwatch.intel._fastpath import (
    CANONICAL_IPV4,
    ROUTABLE_IPV4,
    fast_canonical_url,
    fast_hash,
    fast_ipv4_network,
    is_plain_host,
)

__all__ = [
    "DEFAULT_CONFIDENCE",
    "HASH_TYPES",
    "INDICATOR_TYPES",
    "MAX_URL_INDICATOR_CHARS",
    "MIN_IPV4_PREFIX",
    "MIN_IPV6_PREFIX",
    "WILDCARD_TAG",
    "HashType",
    "Indicator",
    "IndicatorType",
    "RefusedIndicatorError",
    "SeveralValuesError",
    "Source",
    "check_ip_scope",
    "indicator_from_text",
    "merge_indicators",
    "normalize_hash",
    "normalize_indicator",
    "normalize_url",
]

IndicatorType: TypeAlias = Literal[
    "url", "domain", "ip", "cidr", "md5", "sha1", "sha256"
]
HashType: TypeAlias = Literal["md5", "sha1", "sha256"]

INDICATOR_TYPES: Final[tuple[IndicatorType, ...]] = get_args(IndicatorType)
HASH_TYPES: Final[tuple[HashType, ...]] = get_args(HashType)
DEFAULT_CONFIDENCE: Final = 50

#: Longest URL indicator accepted, in characters as written: the event
#: schema's cap on URL fields, so that every indicator can match an event.
MAX_URL_INDICATOR_CHARS: Final = 32768
#: Tag the loaders give a wildcard domain indicator (``*.x.example``).
WILDCARD_TAG: Final = "wildcard"
#: Shortest IPv4 network prefix accepted as an indicator (``/8``).
MIN_IPV4_PREFIX: Final = 8
#: Shortest IPv6 network prefix accepted as an indicator (``/16``).
MIN_IPV6_PREFIX: Final = 16

Confidence = Annotated[int, msgspec.Meta(ge=0, le=100)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class RefusedIndicatorError(InvalidIndicatorError):
    """A well-formed value refused as an indicator because it would overmatch.

    ``reason`` is a stable code: ``too_broad``, ``not_routable``,
    ``too_long`` or ``wildcard`` (see the module docstring); feed loaders
    use it as the reject reason.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SeveralValuesError(InvalidIndicatorError):
    """Text that holds several indicator values where one was expected.

    Raised when a value whose type is to be guessed still holds
    whitespace-separated parts once refanged (spaced defanging such as
    ``evil [.] example`` or ``evil dot example`` is one value), unless it is
    one URL with spaces in its path or query. Feed loaders reject such a
    record with reason ``several_values``.
    """


class Source(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What one feed said about an indicator, kept when feeds are merged.

    Attributes
    ----------
    feed
        Name of the feed.
    reference
        The feed's own id of the record (row id, line number).
    first_seen, last_seen
        Earliest and latest sightings that feed reported.
    confidence
        That feed's confidence, 0 to 100.
    """

    feed: str
    reference: str | None = None
    first_seen: AwareDatetime | None = None
    last_seen: AwareDatetime | None = None
    confidence: Confidence = DEFAULT_CONFIDENCE


class Indicator(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One normalised threat indicator and where it came from.

    Attributes
    ----------
    type
        ``url``, ``domain``, ``ip``, ``cidr``, ``md5``, ``sha1`` or ``sha256``.
    value
        The normal form: canonical URL key, A-label host without a trailing
        dot, canonical IP address, network with host bits cleared, or
        lowercase hex digest.
    feed
        Name of the feed that supplied the record (the first one, once
        merged: see ``sources``).
    first_seen, last_seen
        Timezone-aware times the feed first and last saw the value.
    confidence
        How sure the feed is, 0 to 100.
    tags
        Free labels from the feed (``elf``, ``brand:PayPal``...).
    threat
        What the value is for: ``phishing``, ``malware_download``, a family.
    reference
        The feed's own id of the record (row id, ``line 12``).
    expires_at
        After this time the indicator no longer matches; ``None`` never
        expires.
    valid_from
        Before this time the indicator does not match yet (STIX
        ``valid_from``); ``None`` matches from the start. Unlike
        ``first_seen`` (when a feed saw the value), it limits matching.
    sources
        Per-feed provenance, filled only when records from more than one feed
        were merged; empty means ``feed`` alone.
    """

    type: IndicatorType
    value: str
    feed: str
    first_seen: AwareDatetime | None = None
    last_seen: AwareDatetime | None = None
    confidence: Confidence = DEFAULT_CONFIDENCE
    tags: tuple[str, ...] = ()
    threat: str | None = None
    reference: str | None = None
    expires_at: AwareDatetime | None = None
    sources: tuple[Source, ...] = ()
    valid_from: AwareDatetime | None = None

    @property
    def feeds(self) -> tuple[str, ...]:
        """Names of every feed that listed this value."""
        if not self.sources:
            return (self.feed,)
        return tuple(source.feed for source in self.sources)

    def provenance(self) -> tuple[Source, ...]:
        """Return one :class:`Source` per feed that listed this value."""
        if self.sources:
            return self.sources
        return (
            Source(
                feed=self.feed,
                reference=self.reference,
                first_seen=self.first_seen,
                last_seen=self.last_seen,
                confidence=self.confidence,
            ),
        )

    def is_expired(self, at: datetime) -> bool:
        """Return whether the indicator has expired at the aware time ``at``."""
        return self.expires_at is not None and self.expires_at < at

    def is_live(self, at: datetime) -> bool:
        """Return whether the indicator matches at the aware time ``at``.

        It does from ``valid_from`` until ``expires_at``.
        """
        return not self.is_expired(at) and (
            self.valid_from is None or self.valid_from <= at
        )


# --- hashes -----------------------------------------------------------------

_HASH_RE: Final = re.compile(
    r"(?:(md5|sha1|sha-1|sha256|sha-256)\s*:\s*)?([0-9a-f]+)", re.IGNORECASE
)
_HASH_BY_LENGTH: Final[dict[int, HashType]] = {32: "md5", 40: "sha1", 64: "sha256"}
_HASH_PREFIX: Final[dict[str, HashType]] = {
    "md5": "md5",
    "sha1": "sha1",
    "sha-1": "sha1",
    "sha256": "sha256",
    "sha-256": "sha256",
}


def normalize_hash(text: str) -> tuple[HashType, str]:
    """Return the hash type and lowercase hex digest written in ``text``.

    Surrounding whitespace is trimmed and an optional ``md5:``, ``sha1:`` or
    ``sha256:`` prefix (any case) is dropped; the type comes from the length
    (32, 40 or 64 hex digits).

    Raises
    ------
    InvalidIndicatorError
        When the text is not such a digest, or its prefix names another type.

    Examples
    --------
    >>> normalize_hash(" SHA1:3395856CE81F2B7382DEE72602F798B642F14140\\n")
    ('sha1', '3395856ce81f2b7382dee72602f798b642f14140')
    """
    match = _HASH_RE.fullmatch(text.strip())
    kind = _HASH_BY_LENGTH.get(len(match.group(2))) if match else None
    if match is None or kind is None:
        raise InvalidIndicatorError(
            f"{_excerpt(text)!r} is not an MD5, SHA-1 or SHA-256 digest; hint: "
            "expected 32, 40 or 64 hex digits with an optional 'sha256:' prefix"
        )
    prefix = match.group(1)
    if prefix is not None and _HASH_PREFIX[prefix.lower()] != kind:
        raise InvalidIndicatorError(
            f"{_excerpt(text)!r} is labelled {prefix.lower()} but has the length "
            f"of a {kind} digest; hint: check the feed's hash column"
        )
    return kind, match.group(2).lower()


# --- URLs ---------------------------------------------------------------------


def normalize_url(text: str) -> str:
    """Return the canonical matching key of the URL ``text``.

    Already-canonical URLs take a fast path; every other string goes through
    :func:`trustwatch.enrichment.urls.parse_url` (which also refangs).

    Raises
    ------
    RefusedIndicatorError
        With reason ``too_long`` when the URL, as written, is longer than
        :data:`MAX_URL_INDICATOR_CHARS`, or ``wildcard`` / ``too_broad`` when
        its host is a wildcard (``http://*.x.example/``).
    InvalidIndicatorError
        When the parser refuses the URL.
    """
    if len(text) > MAX_URL_INDICATOR_CHARS:
        _check_url_length(text.strip())
    fast = fast_canonical_url(text)
    if fast is not None:
        return fast
    try:
        parsed = parse_url(text)
    except ValueError as exc:
        raise InvalidIndicatorError(str(exc)) from exc
    if "*" in parsed.host:
        _refuse_wildcard_url(parsed.host)
    return parsed.url


def _refuse_wildcard_url(host: str) -> None:
    """Refuse a URL whose host is a wildcard: URLs are matched exactly."""
    base = _wildcard_base(host)  # too_broad on a public suffix
    raise RefusedIndicatorError(
        "wildcard",
        f"the URL host {_excerpt(host)!r} is a wildcard; hint: URL indicators "
        f"match one URL exactly, list the domain '*.{base}' instead",
    )


def _check_url_length(text: str) -> None:
    """Refuse a URL indicator longer than any event URL can be."""
    if len(text) > MAX_URL_INDICATOR_CHARS:
        raise RefusedIndicatorError(
            "too_long",
            f"URL {_excerpt(text)!r} is {len(text)} characters long, more than "
            f"the {MAX_URL_INDICATOR_CHARS} an event URL may have; hint: such an "
            "indicator could never match, list a shorter form (its host) instead",
        )


# --- scope of addresses and networks -------------------------------------------

_MIN_PREFIX: Final = {4: MIN_IPV4_PREFIX, 6: MIN_IPV6_PREFIX}
_MULTICAST_V6: Final = 0xFF << 120


def check_ip_scope(version: int, number: int, prefix: int, value: str) -> None:
    """Refuse a network too broad, or an address or network not routable.

    Parameters
    ----------
    version
        4 or 6.
    number
        The address, or the network's first address, as an integer.
    prefix
        The network's prefix length (32 or 128 for a single address).
    value
        The value as text, for the message.

    Raises
    ------
    RefusedIndicatorError
        With reason ``too_broad`` or ``not_routable`` (see the module
        docstring).
    """
    minimum = _MIN_PREFIX[version]
    if prefix < minimum:
        raise RefusedIndicatorError(
            "too_broad",
            f"network {value} is broader than /{minimum}, the shortest IPv{version} "
            "prefix accepted as an indicator; hint: a network this wide would "
            "list addresses of countless unrelated users, list the specific "
            "networks instead",
        )
    kind = _unroutable_kind(version, number, prefix)
    if kind is not None:
        raise RefusedIndicatorError(
            "not_routable",
            f"{value} is {kind}, never the address of a remote peer; hint: drop "
            "it from the feed, it would match placeholder or local traffic",
        )


def _unroutable_kind(version: int, number: int, prefix: int) -> str | None:
    """Name what makes an address or network not routable, or ``None``.

    Networks are judged by their first address: at the minimum prefixes, a
    network overlaps the loopback or multicast ranges only by lying inside
    them, and holds the unspecified address only by starting at it.
    """
    if number == 0:
        single = prefix == (32 if version == 4 else 128)
        if single:
            return "the unspecified address"
        return "a network holding the unspecified address"
    if version == 4:
        top = number >> 24
        if top == 127:
            return "in the loopback range 127.0.0.0/8"
        return "in the multicast range 224.0.0.0/4" if 224 <= top <= 239 else None
    if number == 1 and prefix == 128:
        return "the loopback address"
    if number & _MULTICAST_V6 == _MULTICAST_V6:
        return "in the multicast range ff00::/8"
    return None


# First octets of IPv4 values that need the full check (0 only for 0.0.0.0).
_CHECKED_V4_TOPS: Final = frozenset(map(str, (0, 127, *range(224, 240))))


def _check_scope(value: str) -> None:
    """Apply :func:`check_ip_scope` to a normalised ``ip`` or ``cidr`` value.

    Most values are IPv4 outside every refused range, told from the text.
    """
    address, _, prefix = value.partition("/")
    if ":" in address:
        number = int.from_bytes(socket.inet_pton(socket.AF_INET6, address), "big")
        check_ip_scope(6, number, int(prefix) if prefix else 128, value)
        return
    bits = int(prefix) if prefix else 32
    if bits >= MIN_IPV4_PREFIX and address[: address.find(".")] not in _CHECKED_V4_TOPS:
        return
    number = int.from_bytes(socket.inet_aton(address), "big")
    check_ip_scope(4, number, bits, value)


# --- hosts and addresses ------------------------------------------------------


def _ip_or_none(text: str) -> str | None:
    """Return the canonical form of the IP address ``text``, or ``None``."""
    if CANONICAL_IPV4.fullmatch(text):
        return text
    if ":" not in text and not text[-1:].isdigit():
        return None
    try:
        return str(parse_ip(text))
    except ValueError:
        return None


def _normalize_ip(text: str) -> str:
    """Return the canonical IP address, or raise for anything else."""
    address = _ip_or_none(text)
    if address is None:
        raise InvalidIndicatorError(
            f"{_excerpt(text)!r} is not an IPv4 or IPv6 address; hint: use type "
            "'cidr' for networks and 'domain' for host names"
        )
    _check_scope(address)
    return address


def _normalize_network(text: str) -> str:
    """Return the network with host bits cleared, or raise."""
    network = fast_ipv4_network(text)
    if network is None:
        try:
            network = str(parse_network(text))
        except ValueError as exc:
            raise InvalidIndicatorError(str(exc)) from exc
    _check_scope(network)
    return network


def _normalize_host(text: str) -> str:
    """Return the canonical host (domain or IP) ``text`` names, or raise."""
    if is_plain_host(text):
        return text
    try:
        return normalize_host(text)
    except ValueError as exc:
        raise InvalidIndicatorError(str(exc)) from exc


def _wildcard_base(host: str) -> str:
    """Return the domain under a wildcard ``*.x.example``, or refuse it.

    Raises
    ------
    RefusedIndicatorError
        ``too_broad`` for a wildcard on a public suffix (``*.com``,
        ``*.co.uk``, ``*.github.io``); ``wildcard`` for a ``*`` anywhere but
        as the whole first label.
    """
    base = host[2:] if host.startswith("*.") else ""
    if not base or "*" in base:
        raise RefusedIndicatorError(
            "wildcard",
            f"{_excerpt(host)!r} holds a '*' that is not the whole first label; "
            "hint: write '*.x.example' for every subdomain of x.example, or "
            "list the host names",
        )
    base = _normalize_host(base)
    if _ip_or_none(base) is None and psl_split(base)[0] == base:
        raise RefusedIndicatorError(
            "too_broad",
            f"{_excerpt(host)!r} is a wildcard on the public suffix {base!r}; "
            "hint: it would list every site under the suffix, so name the "
            "registrable domains instead",
        )
    return _normalize_domain(base)


def _normalize_domain(text: str) -> str:
    """Return the A-label form of the host name ``text``, or raise.

    ``*.x.example`` (every subdomain of ``x.example``, not ``x.example``
    itself) keeps its ``*.`` before the normalised domain.
    """
    if "*" in text:
        return "*." + _wildcard_base(text.strip())
    host = _normalize_host(text)
    if "." not in host or _ip_or_none(host) is not None:
        raise InvalidIndicatorError(
            f"{_excerpt(text)!r} is not a dotted host name; hint: single labels "
            "are not domain indicators, and IP addresses have type 'ip'"
        )
    return host


# --- detection ------------------------------------------------------------------


_NORMALIZERS: Final = {
    "url": normalize_url,
    "domain": _normalize_domain,
    "ip": _normalize_ip,
    "cidr": _normalize_network,
}


def _detect(text: str) -> tuple[IndicatorType, str]:
    """Guess the type of a stripped value and normalise it.

    Values already in normal form are recognised without parsing; the rest
    is refanged and read by :func:`_detect_written`.
    """
    if "://" in text:
        if len(text) <= MAX_URL_INDICATOR_CHARS:
            fast = fast_canonical_url(text)
            if fast is not None:
                return "url", fast
        return _detect_written(text)
    if is_plain_host(text):
        return "domain", text
    if ROUTABLE_IPV4.fullmatch(text):
        return "ip", text
    digest = fast_hash(text)
    if digest is not None:
        return digest
    network = fast_ipv4_network(text)
    if network is not None:
        _check_scope(network)
        return "cidr", network
    return _detect_written(text)


def _detect_written(text: str) -> tuple[IndicatorType, str]:
    """Guess the type of a value that is not in normal form, and normalise it."""
    if len(text) > MAX_URL_INDICATOR_CHARS:
        # Only a URL can be this long; refang could shorten it below the cap.
        _check_url_length(text)
    if _HASH_RE.fullmatch(text):
        return _typed_hash(text, None)
    if _WHITESPACE.search(text):
        _check_one_value(text)
    if "://" in text:
        # parse_url refangs only a defanged scheme or host, keeping the
        # path and query as written.
        return "url", normalize_url(text)
    plain = refang(text)
    if "/" in plain and "://" not in plain:
        head, _, tail = plain.partition("/")
        if tail.isdigit() and _ip_or_none(head) is not None:
            return "cidr", _normalize_network(plain)
    if "/" in plain:
        return "url", normalize_url(plain)  # a missing scheme reads as http
    address = _ip_or_none(plain)
    if address is None:
        plain = _normalize_host(plain)
        address = _ip_or_none(plain)  # browser notations: 0x7f.1, 3232235777
    if address is not None:
        _check_scope(address)
        return "ip", address
    return "domain", _normalize_domain(plain)


_WHITESPACE: Final = re.compile(r"\s")


def _check_one_value(text: str) -> None:
    """Refuse text whose whitespace separates two or more indicator values.

    Spaced defanging counts as one value (it is refanged first), and so does
    a URL with a scheme followed by words without one: browsers escape the
    spaces of a path or query. Text with fewer than two parts that are
    values on their own (``not a value``) is left to the type's own checks.
    """
    parts = refang(text).split()
    if len(parts) < 2:
        return
    if "://" in parts[0] and not any("://" in part for part in parts[1:]):
        return
    values = sum(_is_value(part) for part in parts)
    if values >= 2:
        raise SeveralValuesError(
            f"{_excerpt(text)!r} holds {values} values separated by whitespace; "
            "hint: write one indicator per line or field, or find the URLs in "
            "free text with trustwatch.enrichment.extract_urls"
        )


def _is_value(part: str) -> bool:
    """Return whether one word is an indicator value (refused ones included)."""
    try:
        _detect(part)
    except RefusedIndicatorError:
        return True
    except InvalidIndicatorError:
        return False
    return True


def normalize_indicator(
    text: str, type: IndicatorType | None = None
) -> tuple[IndicatorType, str]:
    """Return the type and normal form of one indicator written as text.

    With ``type=None`` the type is guessed: anything with ``://`` is a URL, a
    hex digest a hash, an address with ``/PREFIX`` a network, other values
    with a ``/`` a scheme-less URL (read as ``http://``), an address (in any
    notation browsers accept) an IP, and the rest a domain. Defanged forms
    (``hxxp``, ``[.]``, ``(dot)``, ``" dot "``, ``[:]``, ``[://]``, ``[/]``,
    ``:\\/\\/``: see :func:`trustwatch.enrichment.urls.refang`) are refanged
    first, so ``198.51.100[.]248`` is one IP indicator, not a URL.

    Parameters
    ----------
    text
        The value as the feed wrote it.
    type
        Force this type instead of guessing.

    Raises
    ------
    RefusedIndicatorError
        When the value is valid but would overmatch: a network too broad, an
        address or network not routable, a URL too long (see the module
        docstring).
    SeveralValuesError
        When ``type`` is ``None`` and the text holds several
        whitespace-separated values (``a.example b.example``), unless it is
        one URL with spaces in its path or query.
    InvalidIndicatorError
        When the text is empty or not a valid value of the (guessed) type.
    """
    stripped = text.strip()
    if not stripped:
        raise InvalidIndicatorError(
            "an empty value is not an indicator; hint: skip blank feed fields"
        )
    if type is None:
        return _detect(stripped)
    if type == "url":  # the type of URL columns: most records of most feeds
        return type, normalize_url(stripped)
    if type in HASH_TYPES:
        return _typed_hash(stripped, type)
    normalizer = _NORMALIZERS.get(type)
    if normalizer is None:
        raise InvalidIndicatorError(
            f"{type!r} is not an indicator type; hint: use one of "
            f"{', '.join(INDICATOR_TYPES)}"
        )
    return type, normalizer(refang(stripped))


def _typed_hash(text: str, type: IndicatorType | None) -> tuple[IndicatorType, str]:
    """Normalise a digest and check it against a forced hash type."""
    kind, value = normalize_hash(text)
    if type is not None and kind != type:
        raise InvalidIndicatorError(
            f"{_excerpt(text)!r} is a {kind} digest, not {type}; hint: check the "
            "feed's hash column"
        )
    return kind, value


def indicator_from_text(
    text: str,
    feed: str,
    *,
    type: IndicatorType | None = None,
    confidence: int = DEFAULT_CONFIDENCE,
    first_seen: datetime | None = None,
    last_seen: datetime | None = None,
    tags: Iterable[str] = (),
    threat: str | None = None,
    reference: str | None = None,
    expires_at: datetime | None = None,
) -> Indicator:
    """Build an :class:`Indicator` from a value written as text.

    The type is guessed unless ``type`` is given (see
    :func:`normalize_indicator`).

    Raises
    ------
    InvalidIndicatorError
        When the value is invalid, ``confidence`` is outside 0..100, or a time
        is naive.

    Examples
    --------
    >>> indicator_from_text("198.51.100[.]248", "demo").type
    'ip'
    """
    kind, value = normalize_indicator(text, type)
    _check_confidence(confidence)
    for when in (first_seen, last_seen, expires_at):
        _check_aware(when)
    return Indicator(
        type=kind,
        value=value,
        feed=feed,
        first_seen=first_seen,
        last_seen=last_seen,
        confidence=confidence,
        tags=tuple(tags),
        threat=threat,
        reference=reference,
        expires_at=expires_at,
    )


def _check_confidence(confidence: int) -> None:
    """Refuse a confidence outside 0..100."""
    if not 0 <= confidence <= 100:
        raise InvalidIndicatorError(
            f"confidence {confidence!r} is outside 0..100; hint: scale the "
            "feed's score to a percentage"
        )


def _check_aware(when: datetime | None) -> None:
    """Refuse a naive datetime."""
    if when is not None and when.utcoffset() is None:
        raise InvalidIndicatorError(
            f"time {when.isoformat()} has no timezone; hint: attach one, e.g. "
            "datetime.UTC"
        )


# --- merging --------------------------------------------------------------------


def merge_indicators(first: Indicator, second: Indicator) -> Indicator:
    """Merge two records of the same value, keeping every feed's provenance.

    ``first_seen`` is the earliest, ``last_seen`` the latest, ``confidence``
    the highest; tags are united in order; ``threat`` and ``reference`` come
    from ``first`` when it has them. The merged value expires only when both
    records do, and is valid from the earlier ``valid_from`` (from the start
    when either record is). When the records come from more than one feed, ``sources``
    holds one :class:`Source` per feed.

    Raises
    ------
    InvalidIndicatorError
        When the two records are not of the same type and value.
    """
    if first.type != second.type or first.value != second.value:
        raise InvalidIndicatorError(
            f"cannot merge {first.type} {_excerpt(first.value)!r} with "
            f"{second.type} {_excerpt(second.value)!r}; hint: merge only records "
            "of one normalised value"
        )
    sources = _merge_sources(first.provenance(), second.provenance())
    return msgspec.structs.replace(
        first,
        first_seen=_earliest(first.first_seen, second.first_seen),
        last_seen=_latest(first.last_seen, second.last_seen),
        confidence=max(first.confidence, second.confidence),
        tags=_union(first.tags, second.tags),
        threat=first.threat or second.threat,
        reference=first.reference or second.reference,
        expires_at=_later_expiry(first.expires_at, second.expires_at),
        sources=sources if len(sources) > 1 else (),
        valid_from=_earlier_start(first.valid_from, second.valid_from),
    )


def _merge_sources(
    left: tuple[Source, ...], right: tuple[Source, ...]
) -> tuple[Source, ...]:
    """Combine per-feed provenance, one entry per feed, in order of arrival."""
    by_feed = {source.feed: source for source in left}
    for source in right:
        known = by_feed.get(source.feed)
        by_feed[source.feed] = source if known is None else _merge_source(known, source)
    return tuple(by_feed.values())


def _merge_source(known: Source, new: Source) -> Source:
    """Merge two records of one feed about one value."""
    return Source(
        feed=known.feed,
        reference=known.reference or new.reference,
        first_seen=_earliest(known.first_seen, new.first_seen),
        last_seen=_latest(known.last_seen, new.last_seen),
        confidence=max(known.confidence, new.confidence),
    )


def _earliest(left: datetime | None, right: datetime | None) -> datetime | None:
    """Return the earlier of two optional times."""
    if left is None or right is None:
        return left or right
    return min(left, right)


def _latest(left: datetime | None, right: datetime | None) -> datetime | None:
    """Return the later of two optional times."""
    if left is None or right is None:
        return left or right
    return max(left, right)


def _later_expiry(left: datetime | None, right: datetime | None) -> datetime | None:
    """Return the later expiry, where ``None`` (never) outlasts any time."""
    if left is None or right is None:
        return None
    return max(left, right)


def _earlier_start(left: datetime | None, right: datetime | None) -> datetime | None:
    """Return the earlier validity start, where ``None`` (always) comes first."""
    if left is None or right is None:
        return None
    return min(left, right)


def _union(left: tuple[str, ...], right: tuple[str, ...]) -> tuple[str, ...]:
    """Return the tags of both, without repeats, in order."""
    if not right or left == right:
        return left
    return tuple(dict.fromkeys(left + right))


def _excerpt(text: str, limit: int = 80) -> str:
    """Return ``text`` cut to ``limit`` characters for an error message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
