"""Split syslog lines into header fields and place each one in time.

Three framings are read: BSD syslog (RFC 3164, ``Dec 10 06:55:46 host
sshd[24200]: ...``), the same with an ISO 8601 timestamp (rsyslog's high
precision format, ``journalctl -o short-iso``), and RFC 5424
(``<34>1 2003-10-11T22:14:15.003Z host sshd 4711 - - ...``). An optional
``<PRI>`` prefix is accepted and ignored.

BSD timestamps carry no year and no zone. The zone is a parameter (default
UTC). The year comes from ``year`` when given, else from a reference instant
(by default the file's modification time, when the log was last written):

- the first line takes the reference's year, or the year before when that
  would put it more than a day after the reference;
- a line more than half a year earlier than the line before it starts a new
  year (a December line followed by January lines);
- a line more than half a year later than the line before it is a late
  arrival from the previous year and does not move the running year;
- with a reference, no line may lie more than a day after it: such a line
  belongs to the year before.

References
----------
RFC 3164 (BSD syslog protocol), RFC 5424 (the syslog protocol).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.events.timestamps import (
    EARLIEST_EVENT_TIME,
    LATEST_EVENT_TIME,
    check_event_time,
    get_zone,
    localize,
    parse_timestamp_flags,
)

__all__ = ["SyslogClock", "SyslogRecord", "parse_syslog_line"]

_FIRST_YEAR = EARLIEST_EVENT_TIME.year
_END_YEAR = LATEST_EVENT_TIME.year
_HALF_YEAR = timedelta(days=183)
_ONE_DAY = timedelta(days=1)
_MONTHS = {
    "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
    "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}  # fmt: skip
_TAG = re.compile(
    r"(?P<tag>[^\s\[:]+)(?:\[(?P<pid>\d{1,10})\])?: ?(?P<msg>.*)", re.DOTALL
)
_BSD = re.compile(
    r"(?:<\d{1,3}>)?(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) "
    r"(?P<h>\d{2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:\.(?P<frac>\d{1,6}))? "
    r"(?P<host>\S+) (?P<rest>.*)",
    re.DOTALL,
)
_ISO = re.compile(
    r"(?:<\d{1,3}>)?(?P<ts>\d{4}-\d{2}-\d{2}T\S+) (?P<host>\S+) (?P<rest>.*)",
    re.DOTALL,
)
_SD_ELEMENT = r'\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\]'
_RFC5424 = re.compile(
    r"<\d{1,3}>\d{1,2} (?P<ts>\S+) (?P<host>\S+) (?P<tag>\S+) (?P<pid>\S+) \S+ "
    rf"(?:-|(?:{_SD_ELEMENT})+)(?: \ufeff?(?P<msg>.*))?",
    re.DOTALL,
)


class SyslogRecord(NamedTuple):
    """The header fields of one syslog line."""

    ts: datetime
    """The instant, aware and in UTC."""
    host: str
    program: str
    """The tag without its pid: ``sshd``, ``sshd(pam_unix)``, ``sshd-session``."""
    pid: int | None
    message: str
    flags: frozenset[str]
    """Timestamp flags from :mod:`trustwatch.events.timestamps`."""


class SyslogClock:
    """Assign years and zones to BSD syslog timestamps, line after line.

    Parameters
    ----------
    year
        Year of the first line, when known.
    reference
        An aware instant no line can be later than by more than a day (the
        file's modification time); used when ``year`` is not given. Defaults to
        the current time.
    tz
        IANA zone the log was written in.

    Raises
    ------
    ConfigError
        When ``tz`` is unknown, or ``year`` or ``reference`` lies outside the
        span of event times (see
        :func:`~trustwatch.events.timestamps.check_event_time`).
    """

    __slots__ = ("_last", "_reference", "_tz", "_year")

    def __init__(
        self,
        *,
        year: int | None = None,
        reference: datetime | None = None,
        tz: str = "UTC",
    ) -> None:
        get_zone(tz)  # fail now on a bad zone
        self._tz = tz
        self._reference: datetime | None = None
        if year is None:
            instant = reference if reference is not None else datetime.now(UTC)
            self._reference = _to_local(instant, tz)
            year = self._reference.year
        if not _FIRST_YEAR <= year < _END_YEAR:
            raise ConfigError(
                f"syslog year {year} is outside {_FIRST_YEAR}..{_END_YEAR - 1}, the "
                "span of event times; hint: pass the year the log was written in"
            )
        self._year = year
        self._last: datetime | None = None

    @property
    def tz(self) -> str:
        """The zone the log's wall-clock times are read in."""
        return self._tz

    def place(
        self, month: int, day: int, clock: tuple[int, int, int, int]
    ) -> tuple[datetime, frozenset[str]]:
        """Return the UTC instant of a year-less local time, updating the year."""
        late = False
        candidate = _wall(self._year, month, day, clock)
        if self._last is not None:
            if candidate < self._last - _HALF_YEAR:
                candidate = _wall(self._year + 1, month, day, clock)
            elif candidate > self._last + _HALF_YEAR:
                candidate = _wall(self._year - 1, month, day, clock)
                late = True
        if self._reference is not None and candidate > self._reference + _ONE_DAY:
            candidate = _wall(candidate.year - 1, month, day, clock)
        if not late:
            self._year = candidate.year
            self._last = candidate
        return localize(candidate, self._tz)


def _wall(
    year: int, month: int, day: int, clock: tuple[int, int, int, int]
) -> datetime:
    try:
        return datetime(year, month, day, *clock)
    except ValueError as exc:
        raise InvalidEventError(
            "timestamp",
            f"no such date {year:04d}-{month:02d}-{day:02d} ({exc}); hint: the "
            "year comes from the file's modification time; set it to when the "
            "log was written (touch -d), or pass sshlog_year= to read_events in "
            "Python",
        ) from exc


def _to_local(instant: datetime, tz: str) -> datetime:
    """Express an aware instant as a naive wall-clock time in ``tz``."""
    if instant.utcoffset() is None:
        raise ConfigError(
            f"reference time {instant.isoformat()} has no zone; hint: pass an "
            "aware datetime"
        )
    if not EARLIEST_EVENT_TIME <= instant < LATEST_EVENT_TIME:
        raise ConfigError(
            f"reference time {instant.isoformat()} is outside the span of event "
            "times; hint: pass the time the log was last written"
        )
    return instant.astimezone(get_zone(tz)).replace(tzinfo=None)


def parse_syslog_line(line: str, clock: SyslogClock) -> SyslogRecord:
    """Split one syslog line into its header fields and its instant.

    Parameters
    ----------
    line
        The line, without its newline.
    clock
        Supplies the zone, and the year of BSD timestamps.

    Raises
    ------
    InvalidEventError
        ``"not_syslog"`` when no framing matches, ``"timestamp"`` when the
        time cannot be placed or lies outside the span of event times.

    Examples
    --------
    >>> clock = SyslogClock(year=2015)
    >>> record = parse_syslog_line(
    ...     "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from "
    ...     "198.51.100.7", clock)
    >>> record.ts.isoformat(), record.program, record.pid
    ('2015-12-10T06:55:46+00:00', 'sshd', 24200)
    """
    record = _parse(line, clock)
    check_event_time(record.ts)
    return record


def _parse(line: str, clock: SyslogClock) -> SyslogRecord:
    match = _BSD.fullmatch(line)
    if match is not None:
        month = _MONTHS.get(match["mon"])
        if month is None:
            raise InvalidEventError("not_syslog", f"unknown month {match['mon']!r}")
        micros = int((match["frac"] or "").ljust(6, "0"))
        hms = (int(match["h"]), int(match["mi"]), int(match["s"]), micros)
        ts, flags = clock.place(month, int(match["day"]), hms)
        return _record(ts, flags, match["host"], match["rest"])
    match = _RFC5424.fullmatch(line)
    if match is not None:
        ts, flags = parse_timestamp_flags(match["ts"], source_tz=clock.tz)
        pid = match["pid"]
        return SyslogRecord(
            ts=ts,
            host=match["host"],
            program=match["tag"],
            pid=int(pid) if pid.isdigit() and len(pid) <= 10 else None,
            message=match["msg"] or "",
            flags=flags,
        )
    match = _ISO.fullmatch(line)
    if match is None:
        raise InvalidEventError(
            "not_syslog",
            "line has no syslog header (BSD, ISO or RFC 5424); hint: pass the "
            "file in its original syslog form",
        )
    ts, flags = parse_timestamp_flags(match["ts"], source_tz=clock.tz)
    return _record(ts, flags, match["host"], match["rest"])


def _record(ts: datetime, flags: frozenset[str], host: str, rest: str) -> SyslogRecord:
    """Split ``TAG[PID]: MESSAGE``; a line without a usable tag keeps it all."""
    tag = _TAG.fullmatch(rest)
    if tag is None:
        return SyslogRecord(ts, host, "", None, rest, flags)
    pid = tag["pid"]
    return SyslogRecord(
        ts, host, tag["tag"], int(pid) if pid else None, tag["msg"], flags
    )
