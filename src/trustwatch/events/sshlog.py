"""Turn OpenSSH and PAM authentication logs into :class:`~trustwatch.events.Login`.

Each line is framed by :mod:`trustwatch.events.syslog`; lines from ``sshd``,
``sshd-session``, ``sshd-auth`` and ``sshd(pam_unix)`` are read, lines from
other programs are skipped, and a line with no syslog header becomes a
:class:`~trustwatch.events.deadletter.DeadLetter`.

One attempt, one event
----------------------
sshd writes several lines for one authentication attempt, all under the pid
of the connection's process: ``Invalid user X from IP``, then PAM's
``check pass; user unknown`` and ``authentication failure; ... rhost=IP``,
then ``Failed password for invalid user X from IP port N ssh2``. The rule:

- ``Accepted <method> for ...`` and ``Failed <method> for ...`` are
  *decisive*: each is one event, and ``message repeated N times: [ ... ]``
  repeats the bracketed line N times. ``Failed none`` is not decisive: the
  ``none`` method carries no credential, clients send it to learn the
  methods on offer.
- ``Invalid user``, ``User X from IP not allowed``, ``Failed none``, PAM's
  ``check pass; user unknown`` and PAM's ``authentication failure`` are
  *evidence* of an attempt. Evidence from one connection (host and pid)
  merges into one pending attempt, which the next decisive line of that
  connection replaces. A second PAM failure while one is pending is a new
  attempt: the pending one is emitted first.
- A pending attempt is emitted on its own when its connection closes
  (``Connection closed``, ``Received disconnect``, ``Disconnected from``,
  ``Disconnecting``, ``fatal:``...), when the connection is quiet for
  ``window``, or at the end of the input. ``Connection closed by
  authenticating user X`` and ``Disconnected from invalid user X`` count as
  an attempt only if the connection logged no event before.

``username`` is always the name the client presented. ``account`` is that name
for successful logins and for failures of an existing user, and ``None`` for
invalid users (``failure_reason="invalid_user"``). Other failure reasons:
``"bad_credentials"`` (an existing user's credential was refused),
``"not_allowed"`` (sshd's AllowUsers/DenyUsers refused an existing user) and
``"abandoned"`` (the client left while authenticating).

Event ids are deterministic: ``"ssh-"`` and the first 20 hex digits of a
SHA-256 over the source's file name, the line number and the line; the
repetitions of a ``message repeated`` line add their index.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path, PurePath

from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.events._files import (
    STDIN,
    UnreadableError,
    check_text,
    iter_line_blocks,
)
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.model import Login, LoginMethod
from trustwatch.events.syslog import SyslogClock, SyslogRecord, parse_syslog_line
from trustwatch.events.timestamps import EARLIEST_EVENT_TIME, LATEST_EVENT_TIME

__all__ = ["AuthLogParser", "AuthLogStats", "parse_auth_log", "read_auth_log"]

logger = logging.getLogger(__name__)

_SSHD_PROGRAMS = frozenset({"sshd", "sshd-session", "sshd-auth", "sshd(pam_unix)"})
_MAX_LINE_CHARS = 65_536
_MAX_CONNECTIONS = 100_000

_DECISIVE = re.compile(
    r"(?P<verdict>Accepted|Failed) (?P<method>\S+) for (?P<invalid>invalid user )?"
    r"(?P<user>.*) from (?P<ip>\S+) port \d+(?: ssh\d?)?(?:: .*| \[preauth\])?",
    re.DOTALL,
)
_REPEATED = re.compile(r"message repeated (?P<n>\d{1,12}) times: \[ ?(?P<inner>.*)\]")
_INVALID = re.compile(r"Invalid user (?P<user>.*) from (?P<ip>\S+)(?: port \d+)?")
_NOT_ALLOWED = re.compile(r"User (?P<user>.*) from (?P<ip>\S+) not allowed because .*")
_PAM_PREFIX = r"(?:pam_[a-z_]+\(sshd:auth\): )?"
_PAM_FAILURE = re.compile(_PAM_PREFIX + r"authentication failure; (?P<fields>.*)")
_PAM_UNKNOWN = re.compile(_PAM_PREFIX + r"check pass; user unknown")
_PAM_RHOST = re.compile(r"(?:^|\s)rhost=(?P<v>\S*)")
_PAM_USER = re.compile(r"(?:^|\s)user=(?P<v>\S*)")
_CLOSED_AUTH = re.compile(
    r"(?:Connection closed by|Disconnected from) (?P<kind>authenticating|invalid) "
    r"user (?P<user>.*) (?P<ip>\S+) port \d+(?: \[preauth\])?"
)
_CLOSE = re.compile(
    r"Connection closed by |Connection reset by |Received disconnect from |"
    r"Disconnected from |Disconnecting|Did not receive identification string|"
    r"fatal: |error: Received disconnect|error: maximum authentication attempts|"
    r"Timeout, client not responding|Read error from remote host|"
    r"ssh_dispatch_run_fatal|Unable to negotiate|Bad protocol version|"
    r"banner exchange: "
)
_NOISE = re.compile(
    r"reverse mapping checking |Address \S+ maps to |input_userauth_request: |"
    r"pam_[a-z_]+\(sshd:(?:session|account|setcred)\): |"
    r"session (?:opened|closed) for user |PAM \d+ more authentication failures?|"
    r"PAM service\(sshd\) ignoring max retries|error: |Server listening on |"
    r"Received signal |Connection from |Postponed |Partial |Starting session: |"
    r"User child is on pid |Close session: |Transferred: |subsystem request |"
    r"Exiting on signal|Accepted key |Authentication refused: |"
    r"Nasty PTR record |warning: |Set \S+ to |"
    r"Protocol major versions differ|Corrupted MAC|Bad packet length|"
    r"kex_exchange_identification: |userauth_pubkey: |Failed to "
)
_METHODS: dict[str, LoginMethod] = {
    "password": "password",
    "publickey": "publickey",
    "gssapi-with-mic": "sso",
    "gssapi-keyex": "sso",
}


@dataclass(slots=True)
class AuthLogStats:
    """What one pass over an authentication log found."""

    lines: int = 0
    events: int = 0
    merged: int = 0
    """Evidence lines folded into an event produced by another line."""
    noise: int = 0
    """Known sshd and PAM lines that describe no attempt."""
    other_programs: int = 0
    unrecognised: int = 0
    """sshd lines matching no known message (logged at DEBUG by line number)."""
    dead_letters: int = 0


@dataclass(slots=True)
class _Attempt:
    """Evidence of one attempt that no decisive line has settled yet."""

    lineno: int
    line: str
    index: int
    ts: datetime
    username: str | None
    ip: str | None
    invalid: bool = False
    not_allowed: bool = False
    pam_failed: bool = False


@dataclass(slots=True)
class _Connection:
    last_seen: datetime
    pending: _Attempt | None = None
    emitted: bool = False
    closed: bool = False


@dataclass(slots=True)
class _Line:
    """One input line and where it came from."""

    lineno: int
    text: str
    record: SyslogRecord
    key: tuple[str, int | None] = field(init=False)

    def __post_init__(self) -> None:
        self.key = (self.record.host, self.record.pid)


class AuthLogParser:
    """Turn authentication log lines into login events, one line at a time.

    Parameters
    ----------
    source
        The file path or stream name; dead letters carry it, and event ids use
        its final component.
    year
        Year of the first line when the log uses year-less BSD timestamps.
    reference
        An aware instant the log cannot be later than (by default, now); used
        to infer the year when ``year`` is not given.
    tz
        IANA zone of the log's wall-clock times.
    strict
        Turn sshd lines that match no known message into dead letters with
        reason ``"unrecognised_sshd"`` instead of counting and skipping them.
    max_repeat
        Largest ``message repeated N times`` expanded; larger counts are dead
        letters with reason ``"too_many_repeats"``.
    window
        How long a connection may stay quiet before its pending attempt is
        emitted.
    """

    def __init__(
        self,
        source: str,
        *,
        year: int | None = None,
        reference: datetime | None = None,
        tz: str = "UTC",
        strict: bool = False,
        max_repeat: int = 10_000,
        window: timedelta = timedelta(minutes=10),
    ) -> None:
        if max_repeat < 1:
            raise ConfigError(f"max_repeat={max_repeat} must be at least 1")
        self._source = source
        self._name = PurePath(source).name or source
        self._clock = SyslogClock(year=year, reference=reference, tz=tz)
        self._strict = strict
        self._max_repeat = max_repeat
        self._window = window
        # ordered by activity; an OrderedDict, so taking the oldest stays O(1)
        self._connections: OrderedDict[tuple[str, int | None], _Connection] = (
            OrderedDict()
        )
        self._out: list[Login | DeadLetter] = []
        self.stats = AuthLogStats()

    def feed(
        self, lineno: int, text: str, *, truncated: bool = False
    ) -> list[Login | DeadLetter]:
        """Read one line (without its newline) and return what it settled.

        ``truncated`` says the reader cut an overlong line; it becomes a dead
        letter with reason ``"too_large"``.
        """
        self._out = []
        self.stats.lines += 1
        if truncated or len(text) > _MAX_LINE_CHARS:
            self._dead(lineno, text, "too_large", f"line over {_MAX_LINE_CHARS} chars")
            return self._out
        if not text.strip():
            return self._out
        try:
            record = parse_syslog_line(text, self._clock)
        except InvalidEventError as exc:
            self._dead(lineno, text, exc.reason, str(exc))
            return self._out
        if record.program not in _SSHD_PROGRAMS:
            self.stats.other_programs += 1
            return self._out
        line = _Line(lineno, text, record)
        self._expire(record.ts)
        self._dispatch(line, record.message.rstrip(), 0)
        return self._out

    def finish(self) -> list[Login | DeadLetter]:
        """Emit every attempt still pending; call once at the end of the input."""
        self._out = []
        pending = [c.pending for c in self._connections.values() if c.pending]
        for attempt in sorted(pending, key=lambda a: (a.lineno, a.index)):
            self._emit_attempt(attempt)
        self._connections.clear()
        return self._out

    def _dispatch(self, line: _Line, message: str, index: int) -> None:
        """Route one sshd message to the rule that handles it."""
        if (match := _DECISIVE.fullmatch(message)) and match["method"] != "none":
            self._decisive(line, match, index)
        elif match is not None:
            invalid = bool(match["invalid"])
            self._evidence(line, match["user"], match["ip"], index, invalid=invalid)
        elif match := _REPEATED.fullmatch(message):
            self._repeated(line, int(match["n"]), match["inner"])
        elif match := _INVALID.fullmatch(message):
            self._evidence(line, match["user"], match["ip"], index, invalid=True)
        elif match := _NOT_ALLOWED.fullmatch(message):
            self._evidence(line, match["user"], match["ip"], index, not_allowed=True)
        elif match := _PAM_FAILURE.fullmatch(message):
            self._pam_failure(line, match["fields"], index)
        elif _PAM_UNKNOWN.fullmatch(message):
            self._evidence(line, None, None, index, invalid=True)
        elif match := _CLOSED_AUTH.fullmatch(message):
            self._closed_by_user(line, match)
        elif _CLOSE.match(message):
            self._close(line)
        elif _NOISE.match(message):
            self.stats.noise += 1
        else:
            self._unrecognised(line)

    def _decisive(self, line: _Line, match: re.Match[str], index: int) -> None:
        """Emit the event an ``Accepted`` or ``Failed`` line describes."""
        ip = _ip(match["ip"])
        if self._broken_address(line, match["ip"], ip):
            return
        conn = self._connection(line, reopen=True)
        pending, conn.pending, conn.emitted = conn.pending, None, True
        if pending is not None:
            self.stats.merged += 1
        user = match["user"]
        success = match["verdict"] == "Accepted"
        not_allowed = pending is not None and pending.not_allowed and not success
        invalid = bool(match["invalid"]) and not not_allowed
        if success:
            reason = None
        elif not_allowed:
            reason = "not_allowed"
        else:
            reason = "invalid_user" if invalid else "bad_credentials"
        self._emit(
            line.lineno,
            line.text,
            index,
            ts=line.record.ts,
            success=success,
            method=_METHODS.get(match["method"], "other"),
            username=user,
            account=None if invalid else user,
            ip=ip,
            failure_reason=reason,
        )

    def _repeated(self, line: _Line, count: int, inner: str) -> None:
        """Handle the bracketed message of a repeated line ``count`` more times."""
        inner = inner.strip()
        if count > self._max_repeat or _REPEATED.fullmatch(inner):
            self._dead(
                line.lineno,
                line.text,
                "too_many_repeats",
                f"'message repeated {count} times' exceeds max_repeat="
                f"{self._max_repeat} or nests another repetition",
            )
            return
        for index in range(1, count + 1):
            self._dispatch(line, inner, index)

    def _evidence(
        self,
        line: _Line,
        user: str | None,
        ip: str | None,
        index: int = 0,
        *,
        invalid: bool = False,
        not_allowed: bool = False,
        pam_failed: bool = False,
    ) -> None:
        """Fold a line that shows an attempt into the connection's pending one."""
        if self._broken_address(line, ip, _ip(ip)):
            return
        conn = self._connection(line, reopen=True)
        attempt = conn.pending
        if attempt is not None and pam_failed and attempt.pam_failed:
            self._emit_attempt(attempt)  # a second PAM failure is a new attempt
            attempt = None
        if attempt is None:
            attempt = _Attempt(
                line.lineno, line.text, index, line.record.ts, user, _ip(ip)
            )
            conn.pending = attempt
        else:
            self.stats.merged += 1
            attempt.username = attempt.username if user is None else user
            attempt.ip = attempt.ip or _ip(ip)
        attempt.invalid |= invalid
        attempt.not_allowed |= not_allowed
        attempt.pam_failed |= pam_failed

    def _broken_address(self, line: _Line, written: str | None, ip: str | None) -> bool:
        """Dead-letter a line whose source is written as an address that does
        not parse; a host name (sshd with UseDNS) has no address and passes.

        The connection's state is left as it was: the line is not evidence.
        """
        if ip is not None or not written or not _ADDRESS_LIKE.fullmatch(written):
            return False
        self._dead(
            line.lineno, line.text, "invalid_ip", f"{written!r} is not an IP address"
        )
        return True

    def _pam_failure(self, line: _Line, fields: str, index: int) -> None:
        rhost = _PAM_RHOST.search(fields)
        user = _PAM_USER.search(fields)
        self._evidence(
            line,
            user["v"] if user and user["v"] else None,
            rhost["v"] if rhost else None,
            index,
            pam_failed=True,
        )

    def _closed_by_user(self, line: _Line, match: re.Match[str]) -> None:
        """Handle a close line that names the user being authenticated."""
        conn = self._connection(line, reopen=False)
        if conn.pending is not None or not conn.emitted:
            invalid = match["kind"] == "invalid"
            self._evidence(line, match["user"], match["ip"], invalid=invalid)
        else:
            self.stats.noise += 1
        self._close(line, count=False)

    def _close(self, line: _Line, *, count: bool = True) -> None:
        conn = self._connection(line, reopen=False)
        if count:
            self.stats.noise += 1
        if conn.pending is not None:
            self._emit_attempt(conn.pending)
            conn.pending, conn.emitted = None, True
        conn.closed = True

    def _unrecognised(self, line: _Line) -> None:
        self.stats.unrecognised += 1
        logger.debug("unrecognised sshd message at %s line %d", self._name, line.lineno)
        if self._strict:
            self._dead(
                line.lineno,
                line.text,
                "unrecognised_sshd",
                "sshd message matches no known form; hint: run without strict "
                "to skip such lines",
            )

    def _connection(self, line: _Line, *, reopen: bool) -> _Connection:
        """Find or open the state of the line's connection, marking it active."""
        conn = self._connections.pop(line.key, None)
        if conn is None or (reopen and conn.closed):
            # A pid seen again after its connection closed is a new connection.
            conn = _Connection(line.record.ts)
        conn.last_seen = line.record.ts
        self._connections[line.key] = conn  # reinsert: the dict stays by activity
        if len(self._connections) > _MAX_CONNECTIONS:
            self._drop_oldest()
        return conn

    def _expire(self, now: datetime) -> None:
        """Emit the pending attempts of connections quiet for longer than window."""
        while self._connections:
            key, conn = next(iter(self._connections.items()))
            if now - conn.last_seen <= self._window:
                return
            del self._connections[key]
            if conn.pending is not None:
                self._emit_attempt(conn.pending)

    def _drop_oldest(self) -> None:
        key, conn = next(iter(self._connections.items()))
        del self._connections[key]
        if conn.pending is not None:
            self._emit_attempt(conn.pending)

    def _emit_attempt(self, attempt: _Attempt) -> None:
        """Emit an attempt that no decisive line settled."""
        if attempt.invalid and not attempt.not_allowed:
            reason, account = "invalid_user", None
        elif attempt.not_allowed:
            reason, account = "not_allowed", attempt.username
        elif attempt.pam_failed:
            reason, account = "bad_credentials", attempt.username
        else:
            reason, account = "abandoned", attempt.username
        self._emit(
            attempt.lineno,
            attempt.line,
            attempt.index,
            ts=attempt.ts,
            success=False,
            method="password" if attempt.pam_failed else "other",
            username=attempt.username,
            account=account,
            ip=attempt.ip,
            failure_reason=reason,
        )

    def _emit(
        self,
        lineno: int,
        text: str,
        index: int,
        *,
        ts: datetime,
        success: bool,
        method: LoginMethod,
        username: str | None,
        account: str | None,
        ip: str | None,
        failure_reason: str | None,
    ) -> None:
        self.stats.events += 1
        self._out.append(
            Login(
                event_id=_event_id(self._name, lineno, text, index),
                ts=ts,
                account=account,
                ip=ip,
                success=success,
                method=method,
                username=username,
                failure_reason=failure_reason,
            )
        )

    def _dead(self, lineno: int, text: str, reason: str, message: str) -> None:
        self.stats.dead_letters += 1
        letter = DeadLetter.build(self._source, f"line {lineno}", reason, message, text)
        logger.debug("dead letter %s (%s)", letter.dead_letter_id, reason)
        self._out.append(letter)


def _event_id(name: str, lineno: int, text: str, index: int) -> str:
    digest = hashlib.sha256(f"{name}\x00{lineno}\x00".encode())
    digest.update(text.encode("utf-8", "backslashreplace"))
    if index:
        digest.update(f"\x00{index}".encode())
    return "ssh-" + digest.hexdigest()[:20]


#: Written as an address (digits and dots, or anything with a colon, which
#: no host name has), not as a host name: one that does not parse is broken.
_ADDRESS_LIKE = re.compile(r"[0-9.]+|.*:.*")


@lru_cache(maxsize=65_536)
def _ip(text: str | None) -> str | None:
    """Return the address in canonical form, or ``None`` for a host name."""
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return None


def parse_auth_log(
    lines: Iterable[str],
    *,
    source: str = "<auth-log>",
    year: int | None = None,
    reference: datetime | None = None,
    tz: str = "UTC",
    strict: bool = False,
) -> Iterator[Login | DeadLetter]:
    """Turn authentication log lines into login events and dead letters.

    Parameters
    ----------
    lines
        The lines, with or without their newlines.
    source
        Name of the input, for dead letters and event ids.
    year, reference, tz, strict
        As for :class:`AuthLogParser`.

    Examples
    --------
    >>> events = list(parse_auth_log(
    ...     ["Dec 10 07:13:43 host sshd[24227]: Failed password for root "
    ...      "from 198.51.100.7 port 42393 ssh2"], year=2015))
    >>> events[0].account, events[0].success, events[0].ip
    ('root', False, '198.51.100.7')
    """
    parser = AuthLogParser(source, year=year, reference=reference, tz=tz, strict=strict)
    for lineno, line in enumerate(lines, start=1):
        yield from parser.feed(lineno, line.rstrip("\r\n"))
    yield from parser.finish()
    _log_stats(PurePath(source).name, parser.stats)


def read_auth_log(
    path: str | Path,
    *,
    year: int | None = None,
    reference: datetime | None = None,
    tz: str = "UTC",
    strict: bool = False,
) -> Iterator[Login | DeadLetter]:
    """Read an authentication log file (gzip-compressed too) into login events.

    Without ``year`` or ``reference`` the file's modification time is the
    reference for the year of its BSD timestamps (the current time when the
    modification time is outside the span of event times). Dead letters name
    the file by its real path. A file that cannot be opened yields one dead
    letter with reason ``"unreadable"``, and so does one that breaks off,
    where reading stopped; UTF-16 or UTF-32 text is one dead letter with
    reason ``"encoding"``, a binary format one with ``"unsupported_format"``.
    """
    path = STDIN if path is STDIN else Path(os.path.realpath(path))
    if year is None and reference is None and path is not STDIN:
        reference = _modified(path)
    parser = AuthLogParser(
        str(path), year=year, reference=reference, tz=tz, strict=strict
    )
    lineno = 0
    try:
        for lines in iter_line_blocks(path, _MAX_LINE_CHARS, check=check_text):
            for line in lines:
                lineno += 1
                text = line.decode("utf-8", "backslashreplace").rstrip("\r")
                overlong = len(line) > _MAX_LINE_CHARS + 1
                yield from parser.feed(lineno, text, truncated=overlong)
    except UnreadableError as exc:
        if exc.location == "file":
            logger.warning("%s refused (%s)", path, exc.reason)
        parser.stats.dead_letters += 1
        yield DeadLetter.build(str(path), exc.location, exc.reason, str(exc), exc.raw)
    yield from parser.finish()
    _log_stats(path.name, parser.stats)


def _modified(path: Path) -> datetime | None:
    """Return when a file was last written, or ``None`` if unknown or absurd."""
    try:
        when = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except (OSError, OverflowError, ValueError):  # the reader reports a bad file
        return None
    if EARLIEST_EVENT_TIME <= when < LATEST_EVENT_TIME:
        return when
    logger.warning("%s was modified at %s; inferring years from now", path, when)
    return None


def _log_stats(name: str, stats: AuthLogStats) -> None:
    logger.info(
        "auth log %s: %d lines, %d events, %d dead letters, %d unrecognised",
        name,
        stats.lines,
        stats.events,
        stats.dead_letters,
        stats.unrecognised,
    )
