"""Timestamps as threat feeds write them, read as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

__all__ = ["parse_feed_time"]


@lru_cache(maxsize=65536)
def parse_feed_time(text: str) -> datetime:
    """Return the aware UTC time written in ``text`` by a feed.

    Accepts ISO 8601 with ``T`` or a space between date and time, with an
    offset, ``Z`` or a trailing `` UTC``. A time without an offset is UTC: the
    feeds read here (URLhaus, PhishTank, OpenPhish) all publish UTC. Feeds
    repeat timestamps a lot, so results are cached and shared.

    Raises
    ------
    ValueError
        When ``text`` is not such a time, or one that falls outside the years
        1 to 9999 once moved to UTC.

    Examples
    --------
    >>> parse_feed_time("2025-04-21 12:35:06 UTC").isoformat()
    '2025-04-21T12:35:06+00:00'
    """
    cleaned = text.strip()
    if cleaned.endswith(" UTC"):
        cleaned = cleaned[:-4]
    parsed = datetime.fromisoformat(cleaned)
    if parsed.utcoffset() is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"time {cleaned!r} is out of range in UTC") from exc
