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
  A row dated more than a day after the moment the file is read is refused
  (``"timestamp"``): the dataset records past logins, and one stray date far
  ahead would move a learning scorer's clock.
- ``-`` or an empty cell is "unknown" in the text columns; an empty ASN or
  round-trip time is unknown too. The dataset's stand-in values (ASNs from
  500,000, addresses in 10.0.0.0/8) are kept as they are. An IPv4-mapped
  IPv6 address (``::ffff:a.b.c.d``) is read as the IPv4 address it maps.
- ``index`` identifies a row: a second row with an index already read is
  refused (``"duplicate"``) rather than becoming a second login with the
  same event id. Indices up to 2**28 are remembered in a bitmap (at most
  32 MiB), larger ones in a set of at most a million; past that, larger
  indices are no longer checked (a warning says so).

Bad input never stops reading: a row that cannot become a login is yielded
as a :class:`~trustwatch.events.deadletter.DeadLetter` (location ``line N``)
with reason ``"malformed_csv"`` (unbalanced quotes, a wrong number of
fields), ``"timestamp"``, ``"schema"`` (a bad address, user id, country, ASN,
round-trip time or flag), ``"duplicate"``, ``"encoding"`` (a line that is
not UTF-8) or ``"too_large"`` (a line over the limit). A file is one dead
letter at location ``file`` when it is not UTF-8 text, judged from its
first 4 KiB (``"encoding"``: UTF-16, another 8-bit encoding, binary data),
is another format or has no RBA header (``"unsupported_format"``), or cannot
be opened (``"unreadable"``). Data that breaks off (a gzip file cut short)
ends the rows with one ``"unreadable"`` dead letter at the line where
reading stopped, saying so. Multi-line quoted fields are not supported (the
dataset has none); such a row becomes dead letters.
"""

from __future__ import annotations

import codecs
import csv
import ipaddress
import logging
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.events._files import (
    HEAD_BYTES,
    UnreadableError,
    check_text,
    iter_line_blocks,
)
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
_MAX_INDEX_DIGITS = 18  # below 2**63
_MAX_ASN = 4_294_967_295  # ASNs are 32-bit
_FUTURE_SKEW = timedelta(days=1)  # clocks and zones: a row may be this far ahead
_BITMAP_INDICES = 1 << 28  # indices remembered in a bitmap: 32 MiB at most
_MAX_SPARSE_INDICES = 1_000_000  # larger indices remembered in a set
_BINARY_SHARE = 0.05  # control bytes in the head beyond which it is binary data
_CONTROL_BYTES = frozenset(range(32)) - {9, 10, 13} | {127}
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
        for lines in iter_line_blocks(path, _MAX_LINE_BYTES, check=_check_head):
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
        else:
            logger.warning("%s (%d logins read before it)", exc, rows)
        letters += 1
        yield DeadLetter.build(source, exc.location, exc.reason, str(exc), exc.raw)
    else:
        if not reader.has_header:
            letters += 1
            what = "is empty" if lineno == 0 else "has only blank lines"
            yield DeadLetter.build(
                source,
                "file",
                "unsupported_format",
                f"{source} {what}; hint: give the RBA dataset's CSV file",
                b"",
            )
    if reader.unchecked_indices:
        logger.warning(
            "%s: %d rows with an index above %d were not checked for duplicates "
            "(too many to remember)",
            source,
            reader.unchecked_indices,
            _BITMAP_INDICES,
        )
    logger.info("read %s: %d logins, %d dead letters", source, rows, letters)


def _check_head(path: Path, head: bytes) -> None:
    """Refuse a file whose first bytes are not UTF-8 text (binary data too).

    Raises
    ------
    UnreadableError
        ``"encoding"`` for UTF-16/32 text, binary data or text in another
        8-bit encoding; ``"unsupported_format"`` for the formats
        :func:`~trustwatch.events._files.check_text` knows.
    """
    check_text(path, head)
    sample = head[:HEAD_BYTES]
    try:
        # Not final: a character cut off at the end of the sample is fine.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError as exc:
        controls = sum(byte in _CONTROL_BYTES for byte in sample)
        if controls > _BINARY_SHARE * len(sample):
            why = "is binary data, not CSV text"
            hint = (
                "give the RBA dataset's CSV file (rba-dataset.csv, optionally "
                "gzip-compressed)"
            )
        else:
            line = sample.count(b"\n", 0, exc.start) + 1
            why = f"is not UTF-8 text (byte 0x{sample[exc.start]:02x} on line {line})"
            hint = (
                "convert it to UTF-8 first, e.g. with iconv -f LATIN1 -t UTF-8 "
                "(naming the file's encoding)"
            )
        raise UnreadableError(
            "file", f"{path} {why}; hint: {hint}", reason="encoding", raw=sample[:1024]
        ) from exc


class _RowReader:
    """Turns the lines of one file into logins, the first line being the header."""

    def __init__(self, source: str, tz: str) -> None:
        self._source = source
        self._tz = tz
        self._columns: dict[str, int] | None = None
        self._width = 0
        self._utc = get_zone(tz) is UTC
        self._pick: Callable[[list[str]], tuple[str, ...]] | None = None
        self._latest = datetime.now(UTC) + _FUTURE_SKEW
        self._indices = _SeenIndices()

    @property
    def has_header(self) -> bool:
        """Whether the header line has been read."""
        return self._columns is not None

    @property
    def unchecked_indices(self) -> int:
        """Rows whose index was too large to be checked for a duplicate."""
        return self._indices.unchecked

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
        number = _index(index) if index else None
        succeeded = _flag(success, "Login Successful")
        ts = check_event_time(self._time(when))
        if ts > self._latest:
            raise InvalidEventError(
                "timestamp",
                f"Login Timestamp {when[:40]!r} is in the future (after "
                f"{self._latest:%Y-%m-%d %H:%M} UTC); hint: check the file's "
                "timestamps and --rba-tz",
            )
        event = Login(
            event_id=f"rba-line-{lineno}" if number is None else f"rba-{number}",
            ts=ts,
            account=user,
            ip=_address(ip),
            user_agent=agent or None,
            success=succeeded,
            username=user,
            failure_reason=None if succeeded else "bad_credentials",
        )
        login = RbaLogin(
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
        # Last: a row refused for another reason leaves its index free.
        if number is not None and not self._indices.add(number):
            raise InvalidEventError(
                "duplicate",
                f"index {number} was already read on an earlier row; the row "
                f"would be a second login {event.event_id}",
            )
        return login

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


class _SeenIndices:
    """The row indices read so far, in bounded memory.

    Indices below :data:`_BITMAP_INDICES` (the dataset's run from 0) take a
    bit each; larger ones go to a set of at most :data:`_MAX_SPARSE_INDICES`,
    past which they are counted in :attr:`unchecked` and let through.
    """

    __slots__ = ("_bits", "_sparse", "unchecked")

    def __init__(self) -> None:
        self._bits = bytearray()
        self._sparse: set[int] = set()
        self.unchecked = 0

    def add(self, index: int) -> bool:
        """Remember ``index``; return ``False`` when it was already there."""
        if index < _BITMAP_INDICES:
            at, bit = index >> 3, 1 << (index & 7)
            bits = self._bits
            if at >= len(bits):
                # Doubling keeps growing cheap over a long file.
                size = min(max(at + 1, 2 * len(bits)), _BITMAP_INDICES >> 3)
                bits.extend(bytes(size - len(bits)))
            if bits[at] & bit:
                return False
            bits[at] |= bit
            return True
        if index in self._sparse:
            return False
        if len(self._sparse) < _MAX_SPARSE_INDICES:
            self._sparse.add(index)
        else:
            self.unchecked += 1
        return True


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


def _index(value: str) -> int:
    if value.isascii() and value.isdigit() and len(value) <= _MAX_INDEX_DIGITS:
        return int(value)
    raise InvalidEventError(
        "schema",
        f"index {value[:40]!r} is not a number of at most {_MAX_INDEX_DIGITS} digits",
    )


def _address(value: str) -> str:
    if _IPV4.fullmatch(value):
        return value  # canonical dotted-quad IPv4 already
    if "%" in value:
        raise InvalidEventError(
            "schema",
            f"IP Address {value[:60]!r} carries a zone index (%...), which only "
            "names an interface of the machine that wrote it",
        )
    try:
        address = ipaddress.ip_address(value)
    except ValueError as exc:
        raise InvalidEventError(
            "schema", f"IP Address {value[:60]!r} is not an IP address"
        ) from exc
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


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
        number = int(value)
        if number <= _MAX_ASN:
            return number
    raise InvalidEventError(
        "schema", f"ASN {value[:40]!r} is not a number from 0 to {_MAX_ASN}"
    )


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
