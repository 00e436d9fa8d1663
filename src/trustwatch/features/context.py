"""Per-event context shared by every detector that looks at one event.

Detectors see the same event in turn; whatever one of them derives from it
(event time as a float, the parsed URL, the parsed user agent) is computed once
here and reused by the others.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from trustwatch.enrichment.geo import GeoInfo, GeoResolver
from trustwatch.enrichment.ips import ip_prefix, parse_ip
from trustwatch.enrichment.urls import ParsedUrl, parse_url
from trustwatch.errors import InvalidIndicatorError, InvalidUrlError
from trustwatch.events.model import EventBase, LinkCreated, UrlPosted

__all__ = ["EventContext"]

_UNSET = object()
#: The event types that carry a URL (a missing attribute costs an exception).
_URL_EVENTS = frozenset((UrlPosted, LinkCreated))
#: A dotted-quad IPv4 address already in canonical form (no leading zeros).
_CANONICAL_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)


class EventContext:
    """What detectors need to know about one event beyond its fields.

    Parameters
    ----------
    event
        The event being scored.
    geo
        Resolves the source address to a country and network; without one,
        networks are keyed by address prefix.
    t
        The event time in epoch seconds, when the caller has it already.

    Attributes
    ----------
    raised
        The signals the detectors that ran before on this event raised, in
        order (:class:`trustwatch.detectors.Signal` values). A detector that
        builds on another's judgement (a takeover chain on the login risk)
        reads them here; the pipeline runs detectors in a fixed order.
    """

    __slots__ = ("_geo", "_network", "_source", "_url", "event", "geo", "raised", "t")

    def __init__(
        self, event: EventBase, geo: GeoResolver | None = None, t: float | None = None
    ) -> None:
        self.event = event
        self.geo = geo
        self.t: float = event.ts.timestamp() if t is None else t
        self._url: object = _UNSET
        self.raised: list[Any] = []
        self._geo: GeoInfo | None = None
        self._network: str | None = None
        self._source: str | None = None

    def source(self) -> str:
        """Return the source address in canonical form, or ``""``.

        ``::ffff:203.0.113.9`` and ``203.0.113.9`` are one source; a value that
        is not an address (``"localhost"``, ``"1.2.3.4:5555"``) is no source.
        """
        if self._source is None:
            self._source = _canonical_ip(self.event.ip) if self.event.ip else ""
        return self._source

    def location(self) -> GeoInfo | None:
        """Return the source address's country and network, looked up once."""
        if self._geo is None and self.geo is not None and self.source():
            self._geo = self.geo.lookup(self.source())
        return self._geo

    def network(self) -> str:
        """Return a key for the source's network: its AS, else its /24 or /64.

        Returns ``""`` when the event has no (valid) source address.
        """
        if self._network is None:
            info = self.location()
            if info is not None and info.asn is not None:
                self._network = f"AS{info.asn}"
            elif info is not None and info.as_name:
                self._network = f"AS:{info.as_name}"
            else:
                self._network = self._prefix()
        return self._network

    def _prefix(self) -> str:
        source = self.source()
        if not source:
            return ""
        if ":" not in source:
            # a canonical IPv4 address: its /24, as ip_prefix writes it
            return f"{source.rpartition('.')[0]}.0/24"
        return ip_prefix(source)

    def url(self) -> ParsedUrl | None:
        """Return the event's URL parsed once, or ``None`` when it has none.

        A URL that does not parse is ``None`` here; the URL detectors report it
        themselves from :func:`~trustwatch.enrichment.urls.parse_url`'s error.
        """
        if self._url is _UNSET:
            event = self.event
            raw = event.url if type(event) in _URL_EVENTS else None  # type: ignore[attr-defined]
            try:
                self._url = parse_url(raw) if raw else None
            except InvalidUrlError:
                self._url = None
        return self._url  # type: ignore[return-value]


@lru_cache(maxsize=65_536)
def _canonical_ip(text: str) -> str:
    if _CANONICAL_IPV4.fullmatch(text):
        return text  # what parse_ip would give back, without building it
    try:
        return str(parse_ip(text))
    except InvalidIndicatorError:
        return ""
