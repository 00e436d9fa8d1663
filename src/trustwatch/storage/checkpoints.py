"""What a stream worker needs from a decision store, and how to open one.

A :class:`PartitionCheckpoint` holds, for one consumer group and one input
partition, the next offset to read in each co-partitioned topic together with
the pipeline state that results from reading everything before them. Stores
replace a checkpoint in one transaction, so the offsets and the state always
belong together.

:func:`open_store` picks the store from a target: a PostgreSQL DSN
(``postgresql://...`` or ``postgres://...``), a ``sqlite:///`` URL, or a plain
file path. :func:`redact_dsn` hides a DSN's password wherever one is shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol, Self
from urllib.parse import unquote

import msgspec

from trustwatch.decisions.model import Action, Verdict
from trustwatch.errors import ConfigError
from trustwatch.events.deadletter import DeadLetter
from trustwatch.graph.rings import RingSnapshot

__all__ = [
    "DecisionStore",
    "PartitionCheckpoint",
    "check_checkpoint_key",
    "check_offsets",
    "open_store",
    "redact_dsn",
]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite://"
_REDACTED = "***"
# the secrets libpq takes: the password, and the passphrase of the TLS key
_KEYWORD_PASSWORD = re.compile(
    r"(?P<key>\b(?:ssl)?password\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|\S*)",
    re.IGNORECASE,
)
_SECRET_KEYS = frozenset({"password", "sslpassword"})


class PartitionCheckpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where one consumer group stands in one partition, and its state there.

    Attributes
    ----------
    group
        The consumer group id.
    partition
        The partition number, shared by co-partitioned input topics.
    offsets
        For each input topic, the next offset to read.
    state
        An opaque blob: the pipeline state after reading everything before
        ``offsets``.
    saved_at
        When the checkpoint was saved (UTC).
    """

    group: str
    partition: int
    offsets: dict[str, int]
    state: bytes
    saved_at: datetime


class DecisionStore(Protocol):
    """The decision store a stream worker writes to: SQLite or PostgreSQL.

    Writes are idempotent on derived ids and return how many rows were new.
    A checkpoint replaces the previous one of its (group, partition) in one
    transaction: offsets and state change together or not at all.
    """

    def write_verdicts(self, verdicts: Iterable[Verdict]) -> int:
        """Store verdicts not stored yet; return how many were new."""
        ...

    def write_actions(self, actions: Iterable[Action]) -> int:
        """Store actions not stored yet; return how many were new."""
        ...

    def write_dead_letters(self, letters: Iterable[DeadLetter]) -> int:
        """Store dead letters not stored yet; return how many were new."""
        ...

    def write_rings(self, snapshots: Iterable[RingSnapshot]) -> int:
        """Keep the newest snapshot of each ring; return how many changed."""
        ...

    def save_checkpoint(
        self, group: str, partition: int, offsets: Mapping[str, int], state: bytes
    ) -> None:
        """Replace the checkpoint of (``group``, ``partition``) atomically."""
        ...

    def load_checkpoint(self, group: str, partition: int) -> PartitionCheckpoint | None:
        """Return the checkpoint of (``group``, ``partition``), or ``None``."""
        ...

    def delete_checkpoints(self, group: str) -> int:
        """Delete every checkpoint of ``group``; return how many there were."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


def check_checkpoint_key(group: str, partition: int) -> None:
    """Refuse an empty group or a partition that is not a non-negative int.

    Raises
    ------
    ConfigError
        When ``group`` or ``partition`` cannot name a checkpoint.
    """
    if not isinstance(group, str) or not group:
        raise ConfigError(
            f"consumer group {group!r} cannot name a checkpoint; hint: pass the "
            "non-empty group id the worker consumes with"
        )
    if isinstance(partition, bool) or not isinstance(partition, int) or partition < 0:
        raise ConfigError(
            f"partition {partition!r} of group {group!r} cannot name a checkpoint; "
            "hint: pass the partition number, an int from 0 up"
        )


def check_offsets(
    group: str, partition: int, offsets: Mapping[str, int]
) -> dict[str, int]:
    """Return ``offsets`` as a plain dict after checking topics and offsets.

    Raises
    ------
    ConfigError
        When a topic is not a non-empty string or an offset is not an int
        from 0 up.
    """
    checked: dict[str, int] = {}
    for topic, offset in offsets.items():
        if not isinstance(topic, str) or not topic:
            raise ConfigError(
                f"checkpoint of group {group!r} partition {partition}: topic "
                f"{topic!r} is not a topic name; hint: key offsets by topic name"
            )
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ConfigError(
                f"checkpoint of group {group!r} partition {partition}: offset "
                f"{offset!r} of topic {topic!r} is not an int from 0 up; hint: "
                "pass the next offset to read"
            )
        checked[topic] = offset
    return checked


def _password_span(dsn: str) -> tuple[int, int] | None:
    """Return where the password of a URL DSN's user info lies, if it has one."""
    start = dsn.find("://")
    if start < 0:
        return None
    start += 3
    end = len(dsn)
    for stop in "/?#":
        found = dsn.find(stop, start)
        if found >= 0:
            end = min(end, found)
    at = dsn.rfind("@", start, end)
    if at < 0:
        return None
    colon = dsn.find(":", start, at)
    if colon < 0:
        return None
    return colon + 1, at


def dsn_passwords(dsn: str) -> list[str]:
    """Return the non-empty password values a DSN spells out, for scrubbing."""
    found: list[str] = []
    span = _password_span(dsn)
    if span is not None:
        found.append(dsn[span[0] : span[1]])
    query = dsn.partition("?")[2] if "://" in dsn else ""
    for _, value in _secret_parameters(query):
        found += [value, unquote(value)]
    if "://" not in dsn:
        for m in _KEYWORD_PASSWORD.finditer(dsn):
            value = m.group("value")
            found.append(value)
            if len(value) >= 2 and value[0] == value[-1] == "'":
                found.append(value[1:-1])
    return [p for p in found if p]


def redact_dsn(dsn: str) -> str:
    """Return ``dsn`` with its password replaced by ``***``.

    Handles URL DSNs (``postgresql://user:secret@host/db``, and a
    ``password=`` or ``sslpassword=`` query parameter) and keyword DSNs
    (``host=h password=secret sslpassword=secret``).

    Examples
    --------
    >>> redact_dsn("postgresql://app:s3cret@db:5432/tw?sslmode=require")
    'postgresql://app:***@db:5432/tw?sslmode=require'
    >>> redact_dsn("host=db user=app password='s 3' dbname=tw")
    'host=db user=app password=*** dbname=tw'
    """
    if "://" not in dsn:
        return _KEYWORD_PASSWORD.sub(lambda m: m.group("key") + _REDACTED, dsn)
    span = _password_span(dsn)
    if span is not None:
        dsn = dsn[: span[0]] + _REDACTED + dsn[span[1] :]
    head, mark, query = dsn.partition("?")
    if mark:
        secret = {index for index, _ in _secret_parameters(query)}
        parts = query.split("&")
        query = "&".join(
            part.partition("=")[0] + "=" + _REDACTED if index in secret else part
            for index, part in enumerate(parts)
        )
    return head + mark + query


def _secret_parameters(query: str) -> list[tuple[int, str]]:
    """The query parameters that hold secrets: ``(index, value)``.

    A key is read as libpq reads it, percent-decoded (``ssl%70assword`` is
    ``sslpassword``), and compared without regard to case.
    """
    found = []
    for index, part in enumerate(query.split("&")):
        key, sep, value = part.partition("=")
        if sep and unquote(key).strip().lower() in _SECRET_KEYS:
            found.append((index, value.partition("#")[0]))
    return found


def scrub(text: str, dsn: str) -> str:
    """Return ``text`` with any password spelled out in ``dsn`` masked.

    The server's line breaks and tabs become single spaces, so a message
    reads as one line.
    """
    for password in sorted(dsn_passwords(dsn), key=len, reverse=True):
        text = text.replace(password, _REDACTED)
    return " ".join(text.split())


#: The keywords of a libpq ``key=value`` connection string.
_DSN_KEYWORDS = frozenset(
    "host hostaddr port dbname user password passfile require_auth "
    "channel_binding connect_timeout client_encoding options application_name "
    "fallback_application_name keepalives keepalives_idle keepalives_interval "
    "keepalives_count tcp_user_timeout replication gssencmode sslmode "
    "sslnegotiation requiressl sslcompression sslcert sslkey sslpassword "
    "sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer "
    "ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib "
    "gssdelegation service target_session_attrs load_balance_hosts".split()
)
#: Keywords whose value is a secret: a string with one is never a file name.
_DSN_SECRETS = frozenset({"password", "sslpassword"})
#: One ``key=value`` pair of such a string (a value may be quoted).
_DSN_PAIR = re.compile(r"\s*(\w+)\s*=\s*(?:'(?:[^'\\]|\\.)*'|[^\s']*)\s*")


def check_not_keyword_dsn(target: str) -> None:
    """Refuse a libpq ``key=value`` connection string given as a store file.

    ``host=db user=trustwatch dbname=t`` would otherwise name a SQLite file,
    created in the working folder with the connection string (and any
    password in it) as its name, while the decisions never reach the
    database. The message does not repeat the string.

    Raises
    ------
    ConfigError
        When ``target`` reads as such a string.
    """
    pairs, at = [], 0
    while at < len(target):
        pair = _DSN_PAIR.match(target, at)
        if pair is None or pair.end() == at:
            return  # not made of pairs: a path
        pairs.append(pair.group(1).lower())
        at = pair.end()
    # one pair with a slash can be a folder named like one (user=ann/t.db),
    # unless it spells out a secret
    if (
        pairs
        and all(key in _DSN_KEYWORDS for key in pairs)
        and (len(pairs) > 1 or "/" not in target or _DSN_SECRETS.intersection(pairs))
    ):
        raise ConfigError(
            "the store reads as a libpq key=value connection string, which "
            "is not taken; hint: write it as a URL, postgresql://USER@HOST:PORT/"
            "DBNAME (the password from PGPASSWORD or ~/.pgpass, or after USER:)"
        )


def sqlite_path(target: str) -> str:
    """Return the file a ``sqlite://`` URL or a plain path names.

    ``sqlite:///name.db`` names ``name.db`` relative to the working folder and
    ``sqlite:////abs/name.db`` the absolute ``/abs/name.db`` (three slashes,
    then the path as written); ``sqlite:///:memory:`` an in-memory store.

    Raises
    ------
    ConfigError
        When the URL has a host or no path, or the target is a libpq
        ``key=value`` connection string (:func:`check_not_keyword_dsn`).
    """
    if not target.startswith(SQLITE_SCHEME):
        check_not_keyword_dsn(target)
        return target
    rest = target[len(SQLITE_SCHEME) :]
    path = rest[1:] if rest.startswith("/") else ""
    if not path:
        raise ConfigError(
            f"{target!r} names no SQLite file; hint: write sqlite:///relative.db, "
            "sqlite:////absolute/path.db, or just the file path"
        )
    return path


def open_store(target: str, *, schema: str = "trustwatch") -> DecisionStore:
    """Open the decision store ``target`` names.

    Parameters
    ----------
    target
        ``postgresql://...`` or ``postgres://...`` for a
        :class:`~trustwatch.storage.postgres.PostgresStore`; ``sqlite:///path``
        (see :func:`sqlite_path`) or a plain file path for a
        :class:`~trustwatch.storage.sqlite.SqliteStore`.
    schema
        The PostgreSQL schema that holds the tables; unused for SQLite.

    Raises
    ------
    ConfigError
        When the target is empty or names an unknown kind of store, or when
        psycopg is missing for a PostgreSQL target.
    StorageError
        When the store cannot be opened.
    """
    if not target.strip():
        raise ConfigError(
            "the store target is empty; hint: pass a file path, sqlite:///path, "
            "or postgresql://user@host/db"
        )
    if target.startswith(POSTGRES_SCHEMES):
        from trustwatch.storage.postgres import PostgresStore

        return PostgresStore(target, schema=schema)
    if "://" in target and not target.startswith(SQLITE_SCHEME):
        scheme = target.partition("://")[0]
        raise ConfigError(
            f"store target {redact_dsn(target)!r} has the unknown scheme "
            f"{scheme!r}; hint: use postgresql://, sqlite:/// or a file path"
        )
    from trustwatch.storage.sqlite import SqliteStore

    return SqliteStore(sqlite_path(target))
