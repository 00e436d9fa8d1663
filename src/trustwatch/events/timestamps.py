"""Turn the timestamps found in feeds and logs into aware UTC datetimes.

:func:`parse_timestamp` accepts epoch numbers, RFC 3339 / ISO 8601 strings,
RFC 2822 and ``date(1)`` strings, Apache log times and compact
``YYYYMMDDhhmmss`` dates, and always returns an aware datetime in UTC. The rules,
in the order they are tried:

1. Numbers, and strings that are numbers, are Unix epochs whose unit follows from
   their magnitude: ``|v| < 1e11`` seconds, ``1e11 <= |v| < 1e14`` milliseconds,
   ``1e14 <= |v| < 1e17`` microseconds, ``1e17 <= |v| < 1e20`` nanoseconds.
   Larger values are rejected. Arithmetic is exact (no float rounding);
   sub-microsecond digits are floored.
2. A string of exactly 14 digits is a compact local date ``YYYYMMDDhhmmss``,
   never an epoch (``20171222160001`` is 2017-12-22 16:00:01).
3. RFC 3339 / ISO 8601, including comma fractions, fractions longer than six
   digits (floored to microseconds), lowercase ``t``/``z``, leap seconds
   (clamped to ``:59.999999`` and flagged) and a trailing zone abbreviation.
4. RFC 2822 (``Tue, 23 Feb 2016 00:44:27 -0800``), ``date(1)`` / ``ctime``
   (``Tue Feb 23 00:44:27 PST 2016``) and Apache (``23/Feb/2016:00:44:27 -0800``).

A time without a zone is read in ``source_tz`` (an IANA name), else in
``default_tz``; with neither it is rejected, never returned naive. A time that
leaves years 1-9999 once moved to UTC (``0001-01-01T00:00:00+01:00``) is
rejected like any other unreadable one. Local times
that fall in a daylight-saving gap or overlap resolve with ``fold=0`` as
:pep:`495` defines it (the offset in force before the transition) and carry a
flag. Zone abbreviations come from a fixed table of unambiguous ones; others,
and ambiguous ones such as ``IST``, are rejected rather than guessed.

References
----------
RFC 3339 (Internet date/time format), RFC 2822 section 3.3 and 4.3 (date and
obsolete zone names), PEP 495 (local time disambiguation).

Event times
-----------
:func:`parse_timestamp` reads any instant Python can hold, so it also serves
for dates that are not event times. Events must also fall between
:data:`EARLIEST_EVENT_TIME` and :data:`LATEST_EVENT_TIME`:
:func:`check_event_time` refuses others, since a time outside that span is a
wrong epoch unit, an unset clock or an overflow, never a real platform event.
"""

from __future__ import annotations

import math
import numbers
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_FLOOR, Context, Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trustwatch.errors import ConfigError, InvalidEventError

__all__ = [
    "EARLIEST_EVENT_TIME",
    "FLAG_AMBIGUOUS",
    "FLAG_ASSUMED_ZONE",
    "FLAG_LEAP_SECOND",
    "FLAG_NONEXISTENT",
    "LATEST_EVENT_TIME",
    "ZONE_ABBREVIATIONS",
    "check_event_time",
    "get_zone",
    "localize",
    "parse_timestamp",
    "parse_timestamp_flags",
]

FLAG_NONEXISTENT = "nonexistent_local_time"
"""The local time fell in a daylight-saving gap; the earlier offset was used."""
FLAG_AMBIGUOUS = "ambiguous_local_time"
"""The local time occurred twice; the first occurrence (``fold=0``) was used."""
FLAG_ASSUMED_ZONE = "assumed_zone"
"""The value had no zone; ``source_tz`` or ``default_tz`` supplied it."""
FLAG_LEAP_SECOND = "leap_second"
"""Second 60 was clamped to the last microsecond of second 59."""

_UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)

EARLIEST_EVENT_TIME = datetime(1990, 1, 1, tzinfo=_UTC)
"""No event is older than this (an unset clock reads 1970, a wrong unit 1970 too)."""
LATEST_EVENT_TIME = datetime(2200, 1, 1, tzinfo=_UTC)
"""Every event is older than this (an epoch in the wrong unit lands far later)."""
_NO_FLAGS: frozenset[str] = frozenset()
_MAX_TEXT = 100


def _hours(value: float) -> timezone:
    return timezone(timedelta(hours=value))


ZONE_ABBREVIATIONS: dict[str, timezone] = {
    "Z": _UTC,
    "UT": _UTC,
    "UTC": _UTC,
    "GMT": _UTC,
    # RFC 2822 section 4.3 gives these North American meanings.
    "EST": _hours(-5),
    "EDT": _hours(-4),
    "CST": _hours(-6),
    "CDT": _hours(-5),
    "MST": _hours(-7),
    "MDT": _hours(-6),
    "PST": _hours(-8),
    "PDT": _hours(-7),
    "AKST": _hours(-9),
    "AKDT": _hours(-8),
    "HST": _hours(-10),
    "WET": _UTC,
    "WEST": _hours(1),
    "BST": _hours(1),  # British Summer Time, as UK syslog and mail write it
    "CET": _hours(1),
    "CEST": _hours(2),
    "EET": _hours(2),
    "EEST": _hours(3),
    "MSK": _hours(3),
    "JST": _hours(9),
    "KST": _hours(9),
    "AEST": _hours(10),
    "AEDT": _hours(11),
}
"""Zone abbreviations accepted in text timestamps, with their fixed offsets."""

_AMBIGUOUS_ABBREVIATIONS = {
    "IST": "India, Israel or Irish Standard Time",
    "AST": "Atlantic or Arabia Standard Time",
    "ADT": "Atlantic or Arabia Daylight Time",
    "GST": "Gulf or South Georgia Standard Time",
    "SST": "Samoa or Singapore Standard Time",
    "ECT": "Ecuador or Eastern Caribbean Time",
    "CAT": "Central Africa or Central Alaska Time",
}

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MON = r"(?P<mon>[A-Za-z]{3})"
_DOW = r"(?:[A-Za-z]{3},?\s+)"
_HMS = r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?"
_ZONE = r"(?P<off>[+-]\d{2}(?::?\d{2})?|[Zz])?(?:\s*\(?(?P<abbr>[A-Za-z]{1,5})\)?)?"

_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})")
_ISO = re.compile(
    rf"(?P<y>\d{{4}})-(?P<m>\d{{2}})-(?P<d>\d{{2}})(?:[Tt ]\s*{_HMS})?\s*{_ZONE}"
)
_RFC2822 = re.compile(
    rf"{_DOW}?(?P<d>\d{{1,2}})\s+{_MON}\s+(?P<y>\d{{2}}|\d{{4}})\s+{_HMS}\s*{_ZONE}"
)
_CTIME = re.compile(
    rf"{_DOW}?{_MON}\s+(?P<d>\d{{1,2}})\s+{_HMS}\s+"
    r"(?:(?P<off>[+-]\d{4})\s+|(?P<abbr>[A-Za-z]{1,5})\s+)?(?P<y>\d{4})"
)
_APACHE = re.compile(
    rf"\[?(?P<d>\d{{2}})/{_MON}/(?P<y>\d{{4}}):{_HMS}(?:\s+(?P<off>[+-]\d{{4}}))?\]?"
)
_TEXT_FORMS = (_ISO, _RFC2822, _CTIME, _APACHE)


def parse_timestamp(
    value: str | int | float | datetime,
    *,
    source_tz: str | None = None,
    default_tz: str | None = None,
) -> datetime:
    """Parse a timestamp into an aware UTC datetime.

    Parameters
    ----------
    value
        An epoch number, a numeric string, a text timestamp or a datetime.
    source_tz
        IANA zone of the source, used for times without a zone.
    default_tz
        Fallback zone for times without a zone when ``source_tz`` is not given
        (``"UTC"`` to read naive times as UTC).

    Returns
    -------
    datetime
        The instant, with ``tzinfo`` set to :data:`datetime.timezone.utc`.

    Raises
    ------
    InvalidEventError
        With reason ``"timestamp"`` when the value cannot be read.
    ConfigError
        When ``source_tz`` or ``default_tz`` is not a known zone.

    Examples
    --------
    >>> parse_timestamp("Tue Feb 23 00:44:27 PST 2016").isoformat()
    '2016-02-23T08:44:27+00:00'
    >>> parse_timestamp(1595441285858).isoformat()
    '2020-07-22T18:08:05.858000+00:00'
    """
    return parse_timestamp_flags(value, source_tz=source_tz, default_tz=default_tz)[0]


def parse_timestamp_flags(
    value: str | int | float | datetime,
    *,
    source_tz: str | None = None,
    default_tz: str | None = None,
) -> tuple[datetime, frozenset[str]]:
    """Parse a timestamp like :func:`parse_timestamp`, and say how it was resolved.

    Returns
    -------
    tuple
        The aware UTC datetime and a set of flags among :data:`FLAG_ASSUMED_ZONE`,
        :data:`FLAG_NONEXISTENT`, :data:`FLAG_AMBIGUOUS` and
        :data:`FLAG_LEAP_SECOND`.

    Examples
    --------
    >>> when, flags = parse_timestamp_flags(
    ...     "2017-03-26T02:59:33,492", source_tz="Europe/Berlin"
    ... )
    >>> when.isoformat(), sorted(flags)
    ('2017-03-26T01:59:33.492000+00:00', ['assumed_zone', 'nonexistent_local_time'])
    """
    zone = source_tz if source_tz is not None else default_tz
    if isinstance(value, bool):
        raise _error(value, "a boolean is not a timestamp")
    if isinstance(value, int):
        return _from_epoch_int(value), _NO_FLAGS
    if isinstance(value, float):
        return _from_float(value), _NO_FLAGS
    if isinstance(value, datetime):
        return _from_datetime(value, zone)
    if isinstance(value, str):
        return _parse_text(value.strip(), zone)
    # Rarer numeric types: Decimal stays exact, numpy scalars convert.
    if isinstance(value, Decimal) and value.is_finite():
        return _from_epoch(value, value), _NO_FLAGS
    if isinstance(value, numbers.Integral):
        return _from_epoch_int(int(value)), _NO_FLAGS
    if isinstance(value, numbers.Real):
        return _from_float(float(value)), _NO_FLAGS
    raise _error(value, f"expected a string or a number, got {type(value).__name__}")


def localize(naive: datetime, zone: str) -> tuple[datetime, frozenset[str]]:
    """Read a naive wall-clock time in an IANA zone and return it in UTC.

    A time inside a daylight-saving gap takes the offset in force before the
    gap and is flagged :data:`FLAG_NONEXISTENT`; a time that occurs twice takes
    its first occurrence and is flagged :data:`FLAG_AMBIGUOUS` (both follow
    ``fold=0`` of :pep:`495`). :data:`FLAG_ASSUMED_ZONE` is always set.

    Raises
    ------
    ConfigError
        When ``zone`` is not a known IANA zone name.
    InvalidEventError
        With reason ``"timestamp"`` when the time in UTC is outside years 1-9999.
    """
    tz = get_zone(zone)
    if tz is _UTC:
        return naive.replace(tzinfo=_UTC), _ASSUMED
    first = naive.replace(tzinfo=tz, fold=0)
    before, after = first.utcoffset(), naive.replace(tzinfo=tz, fold=1).utcoffset()
    if before is None or after is None or before == after:
        return _to_utc(first, naive), _ASSUMED
    # PEP 495: in a gap fold=0 has the smaller offset, in an overlap the larger.
    flag = FLAG_NONEXISTENT if before < after else FLAG_AMBIGUOUS
    return _to_utc(first, naive), _ASSUMED | {flag}


def check_event_time(ts: datetime) -> datetime:
    """Return an aware event time unchanged if it lies in the accepted span.

    The span runs from :data:`EARLIEST_EVENT_TIME` (included) to
    :data:`LATEST_EVENT_TIME` (excluded). Comparing aware datetimes never
    overflows, so this is safe to call before converting ``ts`` to UTC.

    Raises
    ------
    InvalidEventError
        With reason ``"timestamp"`` when ``ts`` lies outside the span.

    Examples
    --------
    >>> check_event_time(datetime(2024, 5, 1, tzinfo=UTC)).year
    2024
    """
    if EARLIEST_EVENT_TIME <= ts < LATEST_EVENT_TIME:
        return ts
    raise InvalidEventError(
        "timestamp",
        f"event time {ts.isoformat()} is outside the accepted span "
        f"{EARLIEST_EVENT_TIME.date()} to {LATEST_EVENT_TIME.date()} (UTC); "
        "hint: check the producer's clock and the epoch's unit (s, ms, us, ns)",
    )


_ASSUMED = frozenset({FLAG_ASSUMED_ZONE})


@lru_cache(maxsize=64)
def get_zone(name: str) -> tzinfo:
    """Return the tzinfo for an IANA zone name (``UTC`` is the stdlib singleton).

    Raises
    ------
    ConfigError
        When the name is not a known zone.
    """
    if name in ("UTC", "Etc/UTC", "Z"):
        return _UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"unknown time zone {name!r}; hint: use an IANA name such as "
            "'UTC' or 'Europe/Berlin'"
        ) from exc


def _error(value: object, why: str) -> InvalidEventError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return InvalidEventError("timestamp", f"cannot read timestamp {shown}: {why}")


def _from_datetime(
    value: datetime, zone: str | None
) -> tuple[datetime, frozenset[str]]:
    if value.utcoffset() is not None:
        return _to_utc(value, value), _NO_FLAGS
    if zone is None:
        raise _error(value, _NAIVE_HINT)
    return localize(value, zone)


def _to_utc(value: datetime, shown: object) -> datetime:
    """Move an aware datetime to UTC, refusing one that leaves years 1-9999."""
    try:
        return value.astimezone(_UTC)
    except OverflowError as exc:
        raise _error(shown, "it is outside years 1-9999 once moved to UTC") from exc


_NAIVE_HINT = (
    "it has no time zone; hint: add an offset such as 'Z', or pass --source-tz "
    "ZONE to say which zone it is in (source_tz= in Python, or default_tz='UTC' "
    "to parse_timestamp)"
)

_EPOCH_UNITS = (
    (Decimal(10) ** 11, Decimal(10) ** 6),  # seconds
    (Decimal(10) ** 14, Decimal(10) ** 3),  # milliseconds
    (Decimal(10) ** 17, Decimal(1)),  # microseconds
    (Decimal(10) ** 20, Decimal(10) ** -3),  # nanoseconds
)
_EXACT = Context(prec=80)


def _from_epoch(number: Decimal, shown: object) -> datetime:
    """Convert an epoch number whose unit follows from its magnitude."""
    magnitude = abs(number)
    for limit, to_micros in _EPOCH_UNITS:
        if magnitude < limit:
            micros = _EXACT.multiply(number, to_micros)
            break
    else:
        raise _error(shown, "epoch value is too large (>= 1e20) for any unit")
    whole = int(micros.to_integral_value(rounding=ROUND_FLOOR))
    try:
        return _EPOCH + timedelta(microseconds=whole)
    except OverflowError as exc:
        raise _error(shown, "epoch value is outside years 1-9999") from exc


def _from_epoch_int(value: int) -> datetime:
    """Convert an integer epoch with integer arithmetic only, so no digit is lost."""
    magnitude = abs(value)
    if magnitude < 10**11:
        micros = value * 1_000_000
    elif magnitude < 10**14:
        micros = value * 1_000
    elif magnitude < 10**17:
        micros = value
    elif magnitude < 10**20:
        micros = value // 1_000
    else:
        raise _error(value, "epoch value is too large (>= 1e20) for any unit")
    try:
        return _EPOCH + timedelta(microseconds=micros)
    except OverflowError as exc:
        raise _error(value, "epoch value is outside years 1-9999") from exc


def _from_float(value: float) -> datetime:
    if not math.isfinite(value):
        raise _error(value, "not a finite number")
    # repr() is the shortest string that round-trips, so 1586476777.093312
    # keeps exactly the digits the producer wrote.
    return _from_epoch(Decimal(repr(value)), value)


@lru_cache(maxsize=4096)
def _parse_text(text: str, zone: str | None) -> tuple[datetime, frozenset[str]]:
    """Parse a stripped text timestamp; cached because log times repeat."""
    if not text:
        raise _error(text, "the string is empty")
    if len(text) > _MAX_TEXT:
        raise _error(text, f"longer than {_MAX_TEXT} characters")
    if _NUMERIC.fullmatch(text):
        return _parse_numeric(text, zone)
    fast = _fast_iso(text)
    if fast is not None:
        return _resolve(fast, zone, text)
    for form in _TEXT_FORMS:
        match = form.fullmatch(text)
        if match is not None:
            return _from_fields(match, zone, text)
    raise _error(
        text,
        "not an epoch, RFC 3339, RFC 2822, date(1) or Apache time; "
        "hint: send RFC 3339 such as '2024-05-01T12:00:00Z'",
    )


def _parse_numeric(text: str, zone: str | None) -> tuple[datetime, frozenset[str]]:
    compact = _COMPACT.fullmatch(text)
    if compact is not None:
        year, month, day, hour, minute, second = map(int, compact.groups())
        try:
            naive = datetime(year, month, day, hour, minute, second)
        except ValueError as exc:
            raise _error(text, f"14 digits read as YYYYMMDDhhmmss: {exc}") from exc
        return _resolve(naive, zone, text)
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits numbers
        raise _error(text, "not a number") from exc
    return _from_epoch(number, text), _NO_FLAGS


def _fast_iso(text: str) -> datetime | None:
    """Parse the common RFC 3339 shapes with the C parser; ``None`` if it declines."""
    if len(text) < 10 or text[4] != "-" or (len(text) > 10 and text[10] not in "T "):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _resolve(
    value: datetime, zone: str | None, text: str, flags: frozenset[str] = _NO_FLAGS
) -> tuple[datetime, frozenset[str]]:
    if value.utcoffset() is not None:
        return _to_utc(value, text), flags
    if zone is None:
        raise _error(text, _NAIVE_HINT)
    when, local_flags = localize(value, zone)
    return when, flags | local_flags


def _from_fields(
    match: re.Match[str], zone: str | None, text: str
) -> tuple[datetime, frozenset[str]]:
    """Build a datetime from the named groups of one of the text forms."""
    fields = match.groupdict()
    naive, flags = _wall_clock(fields, text)
    offset = _offset(fields.get("off"), fields.get("abbr"), text)
    if offset is None:
        return _resolve(naive, zone, text, flags)
    return _to_utc(naive.replace(tzinfo=offset), text), flags


def _wall_clock(
    fields: dict[str, str | None], text: str
) -> tuple[datetime, frozenset[str]]:
    month_text = fields.get("mon")
    month = _MONTHS.get(month_text.lower()) if month_text else _int(fields.get("m"))
    if month is None:
        raise _error(text, f"unknown month name {month_text!r}")
    year = _int(fields.get("y"))
    if len(fields.get("y") or "") == 2:
        year += 2000 if year < 50 else 1900  # RFC 2822 section 4.3
    second = _int(fields.get("s"))
    micros = int(((fields.get("frac") or "") + "000000")[:6])
    flags = _NO_FLAGS
    if second == 60:
        second, micros, flags = 59, 999_999, frozenset({FLAG_LEAP_SECOND})
    day, hour, minute = _int(fields["d"]), _int(fields.get("h")), _int(fields.get("mi"))
    try:
        naive = datetime(year, month, day, hour, minute, second, micros)
    except ValueError as exc:
        raise _error(text, str(exc)) from exc
    return naive, flags


def _int(text: str | None) -> int:
    return int(text) if text else 0


def _offset(numeric: str | None, abbr: str | None, text: str) -> timezone | None:
    """Return the zone named by a numeric offset or an abbreviation, if any."""
    if numeric:
        return _numeric_offset(numeric, text)
    if not abbr:
        return None
    upper = abbr.upper()
    known = ZONE_ABBREVIATIONS.get(upper)
    if known is not None:
        return known
    if upper in _AMBIGUOUS_ABBREVIATIONS:
        why = f"zone {abbr!r} is ambiguous ({_AMBIGUOUS_ABBREVIATIONS[upper]})"
    else:
        why = f"unknown zone abbreviation {abbr!r}"
    raise _error(text, why + "; hint: send a numeric offset such as '+05:30'")


def _numeric_offset(numeric: str, text: str) -> timezone:
    if numeric in ("Z", "z"):
        return _UTC
    digits = numeric[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        raise _error(text, f"offset {numeric!r} is out of range")
    sign = -1 if numeric[0] == "-" else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))
