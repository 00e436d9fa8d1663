"""Read the published CSV layout of the RBA login dataset into labelled logins.

The dataset (Wiefling et al., "Pump Up Password Security!", ACM TOPS 2023;
github.com/das-group/rba-dataset, CC BY 4.0) has one login attempt per row,
with a header naming these columns::

    index, Login Timestamp, User ID, Round-Trip Time [ms], IP Address,
    Country, Region, City, ASN, User Agent String, Browser Name and Version,
    OS Name and Version, Device Type, Login Successful, Is Attack IP,
    Is Account Takeover

:func:`read_rba` yields an :class:`RbaLogin` per row: the
:class:`~trustwatch.events.model.Login` (``account`` and ``username`` are the
user id, ``event_id`` is ``rba-<index>``) with the row's own geolocation,
round-trip time, parsed user-agent fields and labels. The columns may come in
any order; ``index``, the round-trip time, region, city and the parsed
user-agent columns may be left out.

- Timestamps (``2020-02-03 12:43:30.772``, or epoch numbers) carry no zone;
  the dataset does not say which it is, and they are read in ``tz`` (UTC by
  default). Only their order matters to an evaluation.
- ``-`` or an empty cell is "unknown" in the text columns; an empty ASN or
  round-trip time is unknown too. The dataset's stand-in values (ASNs from
  500,000, addresses in 10.0.0.0/8) are kept as they are.

Bad input never stops reading: a row that cannot become a login is yielded
as a :class:`~trustwatch.events.deadletter.DeadLetter` (location ``line N``)
with reason ``"malformed_csv"`` (unbalanced quotes, a wrong number of
fields), ``"timestamp"``, ``"schema"`` (a bad address, user id, country, ASN,
round-trip time or flag) or ``"too_large"`` (a line over the limit). A file
that is not text, or whose first line is not an RBA header, is one dead
letter at location ``file`` (``"encoding"``, ``"unsupported_format"``), and
one that cannot be opened or breaks off is one with ``"unreadable"``.
Multi-line quoted fields are not supported (the dataset has none); such a
row becomes dead letters.
"""

from __future__ import annotations

import csv
import ipaddress
import logging
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.events._files import UnreadableError, check_text, iter_line_blocks
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.model import Login
from trustwatch.events.timestamps import check_event_time, get_zone, parse_timestamp

__all__ = ["RBA_COLUMNS", "RBA_REQUIRED", "RbaLogin", "read_rba"]

logger = logging.getLogger(__name__)

RBA_COLUMNS: tuple[str, ...] = (
    "index",
    "Login Timestamp",
    "User ID",
    "Round-Trip Time [ms]",
    "IP Address",
    "Country",
    "Region",
    "City",
    "ASN",
    "User Agent String",
    "Browser Name and Version",
    "OS Name and Version",
    "Device Type",
    "Login Successful",
    "Is Attack IP",
    "Is Account Takeover",
)
"""The columns of the published layout, in its order."""

RBA_REQUIRED: frozenset[str] = frozenset(
    {
        "Login Timestamp",
        "User ID",
        "IP Address",
        "Country",
        "ASN",
        "User Agent String",
        "Login Successful",
        "Is Attack IP",
        "Is Account Takeover",
    }
)
"""The columns a file must have."""

_MAX_LINE_BYTES = 65_536
_MAX_ID_CHARS = 512
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_UNKNOWN = frozenset({"", "-"})
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")


class RbaLogin(NamedTuple):
    """One row of the RBA dataset: the login, its geolocation and its labels.

    Attributes
    ----------
    event
        The login attempt.
    country
        ISO 3166-1 alpha-2 code the dataset gives the address, or ``None``.
    region, city
        Where the dataset places the address, or ``None``.
    asn
        Autonomous system number the dataset gives the address, or ``None``.
    rtt_ms
        Round-trip time measured by the server, in milliseconds, or ``None``.
    browser, os, device_type
        The dataset's parse of the user agent, or ``None``.
    is_attack_ip
        The address was in the service's data of known attackers.
    is_account_takeover
        The service's incident response found the login to be a takeover.
    """

    event: Login
    country: str | None
    region: str | None
    city: str | None
    asn: int | None
    rtt_ms: float | None
    browser: str | None
    os: str | None
    device_type: str | None
    is_attack_ip: bool
    is_account_takeover: bool

    @property
    def truth(self) -> str:
        """``"account_takeover"``, else ``"attack_ip"``, else ``"legit"``."""
        if self.is_account_takeover:
            return "account_takeover"
        return "attack_ip" if self.is_attack_ip else "legit"


def read_rba(path: str | Path, *, tz: str = "UTC") -> Iterator[RbaLogin | DeadLetter]:
    """Read an RBA dataset CSV file (gzip-compressed too), row by row.

    Parameters
    ----------
    path
        The CSV file.
    tz
        IANA zone the timestamps are read in.

    Yields
    ------
    RbaLogin or DeadLetter
        A labelled login per good row, a dead letter per bad one.

    Raises
    ------
    ConfigError
        Before anything is read, when ``path`` is not a file or ``tz`` is not
        a known zone.

    Examples
    --------
    >>> for item in read_rba("rba-dataset.csv"):  # doctest: +SKIP
    ...     if isinstance(item, RbaLogin):
    ...         print(item.event.account, item.truth)
    """
    get_zone(tz)
    real = Path(os.path.realpath(path))
    if not real.is_file():
        raise ConfigError(
            f"{path} is not a file; hint: give the RBA dataset's CSV file "
            "(rba-dataset.csv, optionally gzip-compressed)"
        )
    return _read(real, tz)


def _read(path: Path, tz: str) -> Iterator[RbaLogin | DeadLetter]:
    source = str(path)
    reader = _RowReader(source, tz)
    lineno = rows = letters = 0
    try:
        for lines in iter_line_blocks(path, _MAX_LINE_BYTES, check=check_text):
            for line in lines:
                lineno += 1
                item = reader.feed(lineno, line)
                if item is None:
                    continue
                if isinstance(item, RbaLogin):
                    rows += 1
                    yield item
                    continue
                letters += 1
                yield item
                if item.location == "file":
                    return
    except UnreadableError as exc:
        if exc.location == "file":
            logger.warning("%s refused (%s)", source, exc.reason)
        letters += 1
        yield DeadLetter.build(source, exc.location, exc.reason, str(exc), exc.raw)
    else:
        if not reader.has_header:
            letters += 1
            yield DeadLetter.build(
                source,
                "file",
                "unsupported_format",
                f"{source} is empty; hint: give the RBA dataset's CSV file",
                b"",
            )
    logger.info("read %s: %d logins, %d dead letters", source, rows, letters)


class _RowReader:
    """Turns the lines of one file into logins, the first line being the header."""

    def __init__(self, source: str, tz: str) -> None:
        self._source = source
        self._tz = tz
        self._columns: dict[str, int] | None = None
        self._width = 0
        self._utc = get_zone(tz) is UTC
        self._pick: Callable[[list[str]], tuple[str, ...]] | None = None

    @property
    def has_header(self) -> bool:
        """Whether the header line has been read."""
        return self._columns is not None

    def feed(self, lineno: int, line: bytes) -> RbaLogin | DeadLetter | None:
        """Return the login, the dead letter or nothing (a blank line) of a line."""
        raw = line.rstrip(b"\r")
        try:
            if len(line) > _MAX_LINE_BYTES + 1:
                raise InvalidEventError(
                    "too_large", f"line is over the limit of {_MAX_LINE_BYTES} bytes"
                )
            text = raw.decode("utf-8")
            if not text.strip():
                return None
            fields = _split(text)
            if self._columns is None:
                self._header(fields, raw)
                return None
            if len(fields) != self._width:
                raise InvalidEventError(
                    "malformed_csv",
                    f"expected {self._width} fields (as in the header), "
                    f"got {len(fields)}",
                )
            return self._row(lineno, fields)
        except UnicodeDecodeError as exc:
            error = InvalidEventError("encoding", f"line is not UTF-8 ({exc.reason})")
        except InvalidEventError as exc:
            error = exc
        except _HeaderError as exc:
            return DeadLetter.build(
                self._source, "file", "unsupported_format", str(exc), raw[:1024]
            )
        return DeadLetter.build(
            self._source, f"line {lineno}", error.reason, str(error), raw
        )

    def _header(self, fields: list[str], raw: bytes) -> None:
        names = [name.strip() for name in fields]
        missing = sorted(RBA_REQUIRED - set(names))
        if missing:
            raise _HeaderError(
                f"{self._source} does not start with an RBA dataset header: "
                f"missing {', '.join(repr(m) for m in missing)}; hint: the columns "
                f"are {', '.join(RBA_COLUMNS)}"
            )
        self._columns = {name: i for i, name in enumerate(names)}
        self._width = len(names)
        # A missing column reads the empty cell appended after the last one.
        at = [self._columns.get(name, self._width) for name in RBA_COLUMNS]
        self._pick = _stripped_getter(at)

    def _row(self, lineno: int, fields: list[str]) -> RbaLogin:
        assert self._pick is not None
        fields.append("")  # what the columns the file lacks read
        (index, when, user, rtt, ip, country, region, city, asn, agent, browser,
         os_name, device, success, attack, takeover) = self._pick(fields)  # fmt: skip
        if not user or len(user) > _MAX_ID_CHARS:
            raise InvalidEventError(
                "schema", f"User ID must be 1 to {_MAX_ID_CHARS} characters"
            )
        if index and not (index.isascii() and index.isdigit()):
            raise InvalidEventError("schema", f"index {index[:40]!r} is not a number")
        succeeded = _flag(success, "Login Successful")
        event = Login(
            event_id=f"rba-{index}" if index else f"rba-line-{lineno}",
            ts=check_event_time(self._time(when)),
            account=user,
            ip=_address(ip),
            user_agent=agent or None,
            success=succeeded,
            username=user,
            failure_reason=None if succeeded else "bad_credentials",
        )
        return RbaLogin(
            event=event,
            country=_country(country),
            region=_text(region),
            city=_text(city),
            asn=_asn(asn),
            rtt_ms=_rtt(rtt),
            browser=_text(browser),
            os=_text(os_name),
            device_type=_text(device),
            is_attack_ip=_flag(attack, "Is Attack IP"),
            is_account_takeover=_flag(takeover, "Is Account Takeover"),
        )

    def _time(self, text: str) -> datetime:
        # The published form, read in UTC, takes the fast path.
        if self._utc and len(text) == 23 and text[10] == " " and text[19] == ".":
            try:
                return datetime.fromisoformat(text).replace(tzinfo=UTC)
            except ValueError:
                pass  # the general parser words the error
        return parse_timestamp(text, source_tz=self._tz)


class _HeaderError(Exception):
    """The first line is not an RBA header: the file is refused as a whole."""


def _stripped_getter(at: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """Return a function picking the cells at ``at``, without outer spaces."""
    pick = itemgetter(*at)

    def cells(fields: list[str]) -> tuple[str, ...]:
        return tuple(map(str.strip, pick(fields)))

    return cells


def _split(text: str) -> list[str]:
    try:
        return next(csv.reader((text,), strict=True))
    except csv.Error as exc:
        raise InvalidEventError(
            "malformed_csv", f"CSV row is malformed: {exc}"
        ) from exc


def _flag(value: str, column: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidEventError("schema", f"{column} {value[:40]!r} is not True or False")


def _address(value: str) -> str:
    if _IPV4.fullmatch(value):
        return value  # canonical dotted-quad IPv4 already
    try:
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise InvalidEventError(
            "schema", f"IP Address {value[:60]!r} is not an IP address"
        ) from exc


def _country(value: str) -> str | None:
    if value in _UNKNOWN:
        return None
    if len(value) == 2 and value.isascii() and value.isalpha():
        return value.upper()
    raise InvalidEventError(
        "schema", f"Country {value[:40]!r} is not a two-letter ISO code"
    )


def _asn(value: str) -> int | None:
    if value in _UNKNOWN:
        return None
    if value.isascii() and value.isdigit() and len(value) <= 10:
        return int(value)
    raise InvalidEventError("schema", f"ASN {value[:40]!r} is not a number")


def _rtt(value: str) -> float | None:
    if value in _UNKNOWN:
        return None
    try:
        rtt = float(value)
    except ValueError:
        rtt = -1.0
    if not 0.0 <= rtt < 1e9:  # also refuses nan and inf
        raise InvalidEventError(
            "schema", f"Round-Trip Time [ms] {value[:40]!r} is not a duration"
        )
    return rtt


def _text(value: str) -> str | None:
    return None if value in _UNKNOWN else value
