"""Per-event context shared by every detector that looks at one event.

Detectors see the same event in turn; whatever one of them derives from it
(event time as a float, the parsed URL, the parsed user agent) is computed once
here and reused by the others.
"""

from __future__ import annotations

from trustwatch.enrichment.urls import ParsedUrl, parse_url
from trustwatch.errors import InvalidUrlError
from trustwatch.events.model import EventBase

__all__ = ["EventContext"]

_UNSET = object()


class EventContext:
    """What detectors need to know about one event beyond its fields.

    Parameters
    ----------
    event
        The event being scored.
    """

    __slots__ = ("_url", "event", "t")

    def __init__(self, event: EventBase) -> None:
        self.event = event
        self.t: float = event.ts.timestamp()
        self._url: object = _UNSET

    def url(self) -> ParsedUrl | None:
        """Return the event's URL parsed once, or ``None`` when it has none.

        A URL that does not parse is ``None`` here; the URL detectors report it
        themselves from :func:`~trustwatch.enrichment.urls.parse_url`'s error.
        """
        if self._url is _UNSET:
            raw = getattr(self.event, "url", None)
            try:
                self._url = parse_url(raw) if raw else None
            except InvalidUrlError:
                self._url = None
        return self._url  # type: ignore[return-value]
