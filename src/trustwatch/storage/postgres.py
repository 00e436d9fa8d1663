"""The shared decision store in PostgreSQL: verdicts, actions, dead letters, rings.

Tables mirror :mod:`trustwatch.storage.sqlite` inside one schema (``trustwatch``
by default), created when missing on connect by the Alembic migrations of
:mod:`trustwatch.storage.migrate` (which record the schema's revision).
Writes are ``INSERT ... ON CONFLICT DO NOTHING`` on the derived ids, one
transaction per call, so replaying the same input adds nothing; each returns
how many rows were new.
Each row keeps the full record as JSON text beside the columns that queries
filter on (text, not ``jsonb``, which refuses the ``\\u0000`` escape that
hostile input can carry).

PostgreSQL text cannot hold NUL characters: the filter columns get U+FFFD in
their place, the JSON body keeps the record exactly, and a dead letter's
``raw`` record is kept as UTF-8 bytes.

psycopg is imported when a store is opened, so trustwatch runs without it;
install it with ``pip install "trustwatch[postgres]"``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from trustwatch.decisions.model import Action, Verdict
from trustwatch.errors import ConfigError, StorageError
from trustwatch.events.deadletter import DeadLetter
from trustwatch.graph.rings import RingSnapshot
from trustwatch.storage.checkpoints import (
    PartitionCheckpoint,
    check_checkpoint_key,
    check_offsets,
    redact_dsn,
    scrub,
)
from trustwatch.storage.migrate import (
    DECISION_SCHEMA_HEAD,
    VERSION_TABLE,
    upgrade_decision_store,
)

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

__all__ = ["PostgresStore"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_encode = msgspec.json.Encoder().encode
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_TABLES = (
    "verdicts",
    "actions",
    "dead_letters",
    "stream_checkpoints",
    "rings",
    "ring_members",
)
_PAGE = 1000
#: Numbers a reader of :meth:`PostgresStore.alerts_since` reads again below its
#: last mark, to catch rows that concurrent writers committed out of order.
ALERT_MARK_OVERLAP = 20_000
_CONNECT_TIMEOUT_S = 10

_VERDICT_COLUMNS = (
    "verdict_id, event_id, event_type, ts, account, ip, decision, score, kinds, "
    "policy, body"
)
_ACTION_COLUMNS = (
    "action_id, verdict_id, event_id, type, target_type, target, mode, "
    "created_at, expires_at, body"
)
_DEAD_LETTER_COLUMNS = "dead_letter_id, source, location, reason, message, raw"


def _text(value: str) -> str:
    """Return ``value`` with NUL, which PostgreSQL text cannot hold, as U+FFFD."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _maybe_text(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _is_migration_error(exc: Exception) -> bool:
    """Whether ``exc`` comes from SQLAlchemy or Alembic while migrating."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, SQLAlchemyError | CommandError)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class PostgresStore:
    """Verdicts, actions, dead letters, checkpoints and rings in PostgreSQL.

    Parameters
    ----------
    dsn
        A libpq connection string: ``postgresql://user@host:5432/db`` or
        ``host=... dbname=...``. A DSN without ``connect_timeout`` waits
        10 seconds for the server.
    schema
        The schema that holds the tables (lower-case letters, digits and
        ``_``); created with the tables when missing.
    existing
        Refuse (``ConfigError``) a schema that does not exist yet instead of
        creating it: for commands that read or add to a store that must be
        there already, so a mistyped schema name is not a new, empty store.

    Raises
    ------
    ConfigError
        When psycopg is not installed, or the DSN or schema name is invalid.
    StorageError
        When the server cannot be reached or refuses the tables.

    Notes
    -----
    One store holds one connection, with autocommit off; every call runs in
    its own transaction. A call that meets a dropped connection reconnects and
    runs once more (every call is idempotent) before raising
    :class:`~trustwatch.errors.StorageError`. Error messages and logs show
    the DSN with its password as ``***``.
    """

    #: Marks a reader of :meth:`alerts_since` reads again below its last one.
    alert_mark_overlap = ALERT_MARK_OVERLAP

    def __init__(
        self, dsn: str, *, schema: str = "trustwatch", existing: bool = False
    ) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise ConfigError(
                "a PostgreSQL store needs psycopg, which is not installed; "
                'hint: pip install "trustwatch[postgres]"'
            ) from exc
        self._psycopg = psycopg
        self._dsn = dsn
        self.target = redact_dsn(dsn)
        if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
            raise ConfigError(
                f"schema name {schema!r} is not usable; hint: use lower-case "
                "letters, digits and _, starting with a letter or _ (at most 63)"
            )
        self.schema = schema
        try:
            params = psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            raise ConfigError(
                f"{self.target!r} is not a PostgreSQL connection string "
                f"({scrub(str(exc), dsn)}); hint: write "
                "postgresql://user:password@host:port/database"
            ) from None
        self._connect_options: dict[str, Any] = (
            {}
            if "connect_timeout" in params
            else {"connect_timeout": _CONNECT_TIMEOUT_S}
        )
        self._sql = _Statements(schema)
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._closed = False
        self._staged: set[str] = set()
        self._staged_on: psycopg.Connection[tuple[Any, ...]] | None = None
        self._conn = self._connect()
        if existing and not self._schema_exists():
            self.close()
            raise ConfigError(
                f"no decision store in schema {schema!r} at {self.target}; hint: "
                "check --db-schema, or write one with `trustwatch stream "
                "--decision-store` first"
            )
        try:
            self._run("create the tables", self._create_tables)
        except StorageError:
            self.close()
            raise

    def _schema_exists(self) -> bool:
        """Whether this store's schema is in the database (read, then rolled back)."""
        assert self._conn is not None
        try:
            found = self._conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
            ).fetchone()
        finally:
            self._conn.rollback()
        return found is not None

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            conn = self._psycopg.connect(
                self._dsn, autocommit=False, **self._connect_options
            )
        except self._psycopg.Error as exc:
            raise StorageError(
                f"cannot connect to PostgreSQL store {self.target}: "
                f"{scrub(str(exc).strip(), self._dsn)}; hint: check that the server "
                "runs and that the host, port, user, password and database in the "
                "DSN are right"
            ) from None
        log.debug("connected to PostgreSQL store %s", self.target)
        return conn

    def _create_tables(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        """Migrate the schema when a table is missing or behind the newest."""
        found = tuple(conn.execute(self._sql.existing).fetchone() or ())
        tables, versioned = found[: len(_TABLES)], found[len(_TABLES) :] == (True,)
        revision = conn.execute(self._sql.revision).fetchone() if versioned else None
        at_head = revision is not None and revision[0] == DECISION_SCHEMA_HEAD
        if at_head and all(tables):
            return
        if at_head:
            missing = [
                table for table, ok in zip(_TABLES, tables, strict=True) if not ok
            ]
            raise StorageError(
                f"PostgreSQL store {self.target} (schema {self.schema}) is recorded "
                f"at revision {DECISION_SCHEMA_HEAD} but lacks {', '.join(missing)}; "
                "hint: restore the table from a backup, or drop the schema's "
                f"{VERSION_TABLE} table to have the store recreate what is missing"
            )
        try:
            upgrade_decision_store(self._new_connection, self.schema)
        except Exception as exc:
            if isinstance(exc, self._psycopg.Error) or _is_migration_error(exc):
                raise self._error("migrate the tables", exc) from None
            raise

    def _new_connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        """A fresh connection for the migrations (they run in their own)."""
        return self._psycopg.connect(self._dsn, **self._connect_options)

    def _run(
        self, what: str, work: Callable[[psycopg.Connection[tuple[Any, ...]]], _T]
    ) -> _T:
        """Run ``work`` in one transaction; reconnect once if the link dropped."""
        if self._closed:
            raise StorageError(
                f"cannot {what}: the PostgreSQL store {self.target} is closed; "
                "hint: open a new store"
            )
        for attempt in (1, 2):
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            conn = self._conn
            try:
                with conn.transaction():
                    return work(conn)
            except self._psycopg.OperationalError as exc:
                if attempt == 1:
                    log.warning(
                        "PostgreSQL store %s: %s while trying to %s; retrying once",
                        self.target,
                        type(exc).__name__,
                        what,
                    )
                    if conn.broken or conn.closed:
                        conn.close()
                        self._conn = None
                    continue
                raise self._error(what, exc) from None
            except self._psycopg.Error as exc:
                raise self._error(what, exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, what: str, exc: Exception) -> StorageError:
        message = scrub(str(exc).strip(), self._dsn)
        return StorageError(
            f"cannot {what} in PostgreSQL store {self.target} (schema "
            f"{self.schema}): {type(exc).__name__}: {message}; hint: check that "
            f"the server runs and that the DSN's user may use schema {self.schema}"
        )

    def close(self) -> None:
        """Close the connection; later calls raise StorageError."""
        self._closed = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _insert(self, table: str, rows: list[tuple[Any, ...]]) -> int:
        """Copy ``rows`` into a staging table, then add those not stored yet.

        The staging table is temporary (one per connection, emptied at each
        commit), so a batch is one COPY and one ``INSERT ... SELECT ... ON
        CONFLICT DO NOTHING``.
        """
        if not rows:
            return 0
        statements = self._sql.staged[table]

        def insert(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
            with conn.cursor() as cur:
                if conn is not self._staged_on or table not in self._staged:
                    cur.execute(statements.create)
                with cur.copy(statements.copy) as copy:
                    for number, row in enumerate(rows):
                        copy.write_row((number, *row))
                cur.execute(statements.insert)
                return max(cur.rowcount, 0)

        added = self._run(f"write {table.replace('_', ' ')}", insert)
        if self._conn is not self._staged_on:
            self._staged, self._staged_on = set(), self._conn
        self._staged.add(table)
        return added

    def write_verdicts(self, verdicts: Iterable[Verdict]) -> int:
        """Store verdicts not stored yet; return how many were new.

        Raises
        ------
        StorageError
            When the server refuses the write.
        """
        rows = [
            (
                _text(v.verdict_id),
                _text(v.event_id),
                _text(v.event_type),
                _utc(v.ts),
                _maybe_text(v.account),
                _maybe_text(v.ip),
                v.decision,
                v.score,
                _text(" ".join(sorted({s.kind for s in v.signals}))),
                _text(v.policy),
                _encode(v).decode(),
            )
            for v in verdicts
        ]
        return self._insert("verdicts", rows)

    def write_actions(self, actions: Iterable[Action]) -> int:
        """Store actions not stored yet; return how many were new.

        Raises
        ------
        StorageError
            When the server refuses the write.
        """
        rows = [
            (
                _text(a.action_id),
                _text(a.verdict_id),
                _text(a.event_id),
                a.type,
                _text(a.target_type),
                _text(a.target),
                a.mode,
                _utc(a.created_at),
                _utc(a.expires_at) if a.expires_at else None,
                _encode(a).decode(),
            )
            for a in actions
        ]
        return self._insert("actions", rows)

    def write_dead_letters(self, letters: Iterable[DeadLetter]) -> int:
        """Store dead letters not stored yet; return how many were new.

        Raises
        ------
        StorageError
            When the server refuses the write.
        """
        rows = [
            (
                _text(d.dead_letter_id),
                _text(d.source),
                _text(d.location),
                _text(d.reason),
                _text(d.message),
                d.raw.encode("utf-8", "surrogatepass"),
            )
            for d in letters
        ]
        return self._insert("dead_letters", rows)

    def save_checkpoint(
        self, group: str, partition: int, offsets: Mapping[str, int], state: bytes
    ) -> None:
        """Replace the checkpoint of (``group``, ``partition``) in one transaction.

        Offsets and state are written in one statement: a reader sees the old
        pair or the new pair, never a mix.

        Raises
        ------
        ConfigError
            When the group, partition or offsets cannot make a checkpoint.
        StorageError
            When the server refuses the write.
        """
        check_checkpoint_key(group, partition)
        text = _encode(check_offsets(group, partition, offsets)).decode()
        row = (group, partition, text, bytes(state), datetime.now(UTC))

        def save(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
            conn.execute(self._sql.save_checkpoint, row)

        self._run(f"save the checkpoint of group {group!r} partition {partition}", save)

    def load_checkpoint(self, group: str, partition: int) -> PartitionCheckpoint | None:
        """Return the checkpoint of (``group``, ``partition``), or ``None``.

        Raises
        ------
        ConfigError
            When the stored checkpoint is damaged.
        StorageError
            When the server cannot be read.
        """
        check_checkpoint_key(group, partition)

        def load(conn: psycopg.Connection[tuple[Any, ...]]) -> tuple[Any, ...] | None:
            return conn.execute(
                self._sql.load_checkpoint, (group, partition)
            ).fetchone()

        row = self._run(
            f"read the checkpoint of group {group!r} partition {partition}", load
        )
        if row is None:
            return None
        offsets, state, saved_at = row
        try:
            return PartitionCheckpoint(
                group=group,
                partition=partition,
                offsets=msgspec.convert(offsets, type=dict[str, int]),
                state=bytes(state),
                saved_at=_utc(saved_at),
            )
        except (msgspec.ValidationError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"the checkpoint of group {group!r} partition {partition} in "
                f"PostgreSQL store {self.target} (schema {self.schema}) is damaged "
                f"({exc}); hint: delete the group's checkpoints to start the "
                "partition from the consumer's reset position"
            ) from exc

    def delete_checkpoints(self, group: str) -> int:
        """Delete every checkpoint of ``group``; return how many there were.

        Raises
        ------
        StorageError
            When the server refuses the delete.
        """

        def delete(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
            return max(conn.execute(self._sql.delete_checkpoints, (group,)).rowcount, 0)

        return self._run(f"delete the checkpoints of group {group!r}", delete)

    def counts(self) -> dict[str, int]:
        """Return row counts: verdicts, actions, dead letters, and per decision."""

        def count(conn: psycopg.Connection[tuple[Any, ...]]) -> dict[str, int]:
            found: dict[str, int] = {}
            for table, statement in self._sql.counts.items():
                row = conn.execute(statement).fetchone()
                found[table] = int(row[0]) if row else 0
            for decision, n in conn.execute(self._sql.decision_counts):
                found[f"decision:{decision}"] = int(n)
            return found

        return self._run("count rows", count)

    def _pages(
        self, what: str, first: sql.Composed, after: sql.Composed
    ) -> Iterator[tuple[Any, ...]]:
        """Yield rows ``(key1, key2, body)`` a page per transaction, in key order."""
        last: tuple[Any, Any] | None = None
        while True:

            def page(
                conn: psycopg.Connection[tuple[Any, ...]],
                last: tuple[Any, Any] | None = last,
            ) -> list[tuple[Any, ...]]:
                if last is None:
                    return conn.execute(first, (_PAGE,)).fetchall()
                return conn.execute(after, (*last, _PAGE)).fetchall()

            rows = self._run(what, page)
            yield from rows
            if len(rows) < _PAGE:
                return
            last = (rows[-1][0], rows[-1][1])

    def iter_verdicts(self) -> Iterator[Verdict]:
        """Yield every stored verdict in event-time order."""
        for _, _, body in self._pages(
            "read verdicts", self._sql.verdicts_first, self._sql.verdicts_after
        ):
            yield msgspec.json.decode(body, type=Verdict)

    def alerts_since(
        self, mark: int | None, *, min_score: float | None = None, limit: int = 5000
    ) -> list[tuple[int, Verdict]]:
        """Return the alerts stored after ``mark``, in the order they were stored.

        An alert is a verdict whose decision is not ``allow``, or, when
        ``min_score`` is given, one whose score reaches it. Each comes with
        its mark, the verdict's ``seq`` (an identity number given at insert).
        Pass the last mark returned to read on from there.

        Parameters
        ----------
        mark
            Read alerts stored after this mark; ``None`` reads from the start.
        min_score
            Also return ``allow`` verdicts scoring at least this.
        limit
            The most alerts returned; read the next page from the last mark.

        Raises
        ------
        StorageError
            When the server cannot be read.

        Notes
        -----
        Numbers are given at insert, but concurrent writers may commit out of
        order: a row numbered below a mark already read can become visible
        later. A reader that must see every alert starts a little before its
        last mark (:attr:`alert_mark_overlap` numbers) and skips the alerts it
        already has, as :func:`trustwatch.review.cases.build_cases` does.
        """
        after = 0 if mark is None else mark
        params: list[Any] = [after, max(0, limit)]
        statement = self._sql.alerts_since
        if min_score is not None:
            statement = self._sql.alerts_since_scoring
            params = [after, min_score, max(0, limit)]

        def read(conn: psycopg.Connection[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return conn.execute(statement, params).fetchall()

        rows = self._run("read alerts", read)
        return [
            (int(seq), msgspec.json.decode(body, type=Verdict)) for seq, body in rows
        ]

    def iter_actions(self) -> Iterator[Action]:
        """Yield every stored action in creation order."""
        for _, _, body in self._pages(
            "read actions", self._sql.actions_first, self._sql.actions_after
        ):
            yield msgspec.json.decode(body, type=Action)

    def dead_letters(
        self, limit: int = 50, reason: str | None = None
    ) -> list[DeadLetter]:
        """Return stored dead letters in the order they were stored."""

        def read(conn: psycopg.Connection[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            if reason is None:
                return conn.execute(self._sql.dead_letters, (limit,)).fetchall()
            return conn.execute(
                self._sql.dead_letters_by_reason, (reason, limit)
            ).fetchall()

        return [
            DeadLetter(
                dead_letter_id=r[0],
                source=r[1],
                location=r[2],
                reason=r[3],
                message=r[4],
                raw=bytes(r[5]).decode("utf-8", "surrogatepass"),
            )
            for r in self._run("read dead letters", read)
        ]

    def write_rings(self, snapshots: Iterable[RingSnapshot]) -> int:
        """Keep the latest snapshot of each ring, replacing an older one.

        A snapshot older than the stored one (by ``updated``) is ignored, so
        replaying an earlier run cannot roll a ring back; of snapshots of one
        ring in the same call, the latest is kept. A written ring's members
        replace its stored members. Return how many rings were written (a ring
        given twice counts once).

        Raises
        ------
        StorageError
            When the server refuses the write.
        """
        latest: dict[str, RingSnapshot] = {}
        for snapshot in snapshots:
            kept = latest.get(snapshot.ring_id)
            if kept is None or kept.updated <= snapshot.updated:
                latest[snapshot.ring_id] = snapshot
        if not latest:
            return 0
        rows = [
            (
                _text(s.ring_id),
                _text(s.method),
                s.risk,
                s.size,
                datetime.fromtimestamp(s.updated, UTC),
                _encode(s.to_json()).decode(),
            )
            # in key order: workers writing rings at once lock them in one
            # order, so they cannot deadlock
            for _, s in sorted(latest.items())
        ]

        def write(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
            with conn.cursor() as cur:
                cur.executemany(self._sql.upsert_ring, rows, returning=True)
                written: list[str] = []
                while True:
                    found = cur.fetchone()
                    if found is not None:
                        written.append(found[0])
                    if not cur.nextset():
                        break
                if not written:
                    return 0
                cur.execute(self._sql.delete_ring_members, (written,))
                replaced = set(written)
                members = {
                    (ring_id, _text(member))
                    for s in latest.values()
                    if (ring_id := _text(s.ring_id)) in replaced
                    for member in s.members
                }
                with cur.copy(self._sql.copy_ring_members) as copy:
                    for row in sorted(members):
                        copy.write_row(row)
                return len(written)

        return self._run("write rings", write)

    def rings(
        self,
        *,
        min_risk: float = 0.0,
        method: str | None = None,
        account: str | None = None,
        limit: int = 50,
    ) -> list[RingSnapshot]:
        """Return stored rings, riskiest first (then largest, then by id).

        ``account`` keeps the rings that list it as a member.

        Raises
        ------
        StorageError
            When the server cannot be read, or a stored ring is damaged.
        """
        where: list[sql.Composable] = [self._sql.ring_min_risk]
        params: list[Any] = [min_risk]
        if method is not None:
            where.append(self._sql.ring_method)
            params.append(_text(method))
        if account is not None:
            where.append(self._sql.ring_member)
            params.append(_text(account))
        statement = self._sql.select_rings(where)

        def read(conn: psycopg.Connection[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return conn.execute(statement, (*params, limit)).fetchall()

        rows = self._run("read rings", read)
        return [self._snapshot(ring_id, body) for ring_id, body in rows]

    def ring(self, ring_id: str) -> RingSnapshot | None:
        """Return the stored snapshot of ``ring_id``, or ``None``.

        Raises
        ------
        StorageError
            When the server cannot be read, or the stored ring is damaged.
        """

        def read(conn: psycopg.Connection[tuple[Any, ...]]) -> tuple[Any, ...] | None:
            return conn.execute(self._sql.ring, (_text(ring_id),)).fetchone()

        row = self._run("read a ring", read)
        return None if row is None else self._snapshot(ring_id, row[0])

    def _snapshot(self, ring_id: str, body: str) -> RingSnapshot:
        """Decode a stored ring; a damaged row is a :class:`StorageError`."""
        try:
            return RingSnapshot.from_json(msgspec.json.decode(body))
        except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
            raise StorageError(
                f"the stored ring {ring_id[:80]!r} in PostgreSQL store "
                f"{self.target} (schema {self.schema}) is damaged "
                f"({type(exc).__name__}); hint: a later run that finds the ring "
                "again replaces it"
            ) from None


class _Statements:
    """Every statement of a store, with its schema quoted in."""

    def __init__(self, schema: str) -> None:
        from psycopg import sql

        s = sql.Identifier(schema)

        def q(text: str) -> sql.Composed:
            return sql.SQL(text).format(s=s)

        self.existing = sql.SQL("SELECT {}").format(
            sql.SQL(", ").join(
                sql.SQL("to_regclass({}) IS NOT NULL").format(
                    sql.Literal(f'"{schema}"."{table}"')
                )
                for table in (*_TABLES, VERSION_TABLE)
            )
        )
        self.revision = sql.SQL("SELECT version_num FROM {s}.{v}").format(
            s=s, v=sql.Identifier(VERSION_TABLE)
        )
        self.staged = {
            table: _Staging(sql, s, table, columns)
            for table, columns in (
                ("verdicts", _VERDICT_COLUMNS),
                ("actions", _ACTION_COLUMNS),
                ("dead_letters", _DEAD_LETTER_COLUMNS),
            )
        }
        self.save_checkpoint = q(
            "INSERT INTO {s}.stream_checkpoints "
            "(group_id, partition, offsets, state, saved_at) "
            "VALUES (%s, %s, %s::jsonb, %s, %s) "
            "ON CONFLICT (group_id, partition) DO UPDATE SET "
            "offsets = EXCLUDED.offsets, state = EXCLUDED.state, "
            "saved_at = EXCLUDED.saved_at"
        )
        self.load_checkpoint = q(
            "SELECT offsets, state, saved_at FROM {s}.stream_checkpoints "
            "WHERE group_id = %s AND partition = %s"
        )
        self.delete_checkpoints = q(
            "DELETE FROM {s}.stream_checkpoints WHERE group_id = %s"
        )
        self.counts = {
            table: q(f"SELECT COUNT(*) FROM {{s}}.{table}")
            for table in ("verdicts", "actions", "dead_letters")
        }
        self.decision_counts = q(
            "SELECT decision, COUNT(*) FROM {s}.verdicts GROUP BY decision"
        )
        self.verdicts_first = q(
            "SELECT ts, verdict_id, body FROM {s}.verdicts "
            "ORDER BY ts, verdict_id LIMIT %s"
        )
        self.verdicts_after = q(
            "SELECT ts, verdict_id, body FROM {s}.verdicts "
            "WHERE (ts, verdict_id) > (%s, %s) ORDER BY ts, verdict_id LIMIT %s"
        )
        self.alerts_since = q(
            "SELECT seq, body FROM {s}.verdicts "
            "WHERE seq > %s AND decision <> 'allow' ORDER BY seq LIMIT %s"
        )
        self.alerts_since_scoring = q(
            "SELECT seq, body FROM {s}.verdicts "
            "WHERE seq > %s AND (decision <> 'allow' OR score >= %s) "
            "ORDER BY seq LIMIT %s"
        )
        self.actions_first = q(
            "SELECT created_at, action_id, body FROM {s}.actions "
            "ORDER BY created_at, action_id LIMIT %s"
        )
        self.actions_after = q(
            "SELECT created_at, action_id, body FROM {s}.actions "
            "WHERE (created_at, action_id) > (%s, %s) "
            "ORDER BY created_at, action_id LIMIT %s"
        )
        self.dead_letters = q(
            f"SELECT {_DEAD_LETTER_COLUMNS} FROM {{s}}.dead_letters "
            "ORDER BY seq LIMIT %s"
        )
        self.upsert_ring = q(
            "INSERT INTO {s}.rings (ring_id, method, risk, size, updated, body) "
            "VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (ring_id) DO UPDATE SET method = EXCLUDED.method, "
            "risk = EXCLUDED.risk, size = EXCLUDED.size, "
            "updated = EXCLUDED.updated, body = EXCLUDED.body "
            "WHERE {s}.rings.updated <= EXCLUDED.updated RETURNING ring_id"
        )
        self.delete_ring_members = q(
            "DELETE FROM {s}.ring_members WHERE ring_id = ANY(%s)"
        )
        self.copy_ring_members = q(
            "COPY {s}.ring_members (ring_id, account) FROM STDIN"
        )
        self.ring = q("SELECT body FROM {s}.rings WHERE ring_id = %s")
        self.ring_min_risk = sql.SQL("risk >= %s")
        self.ring_method = sql.SQL("method = %s")
        self.ring_member = q(
            "ring_id IN (SELECT ring_id FROM {s}.ring_members WHERE account = %s)"
        )
        self._rings_from = q("SELECT ring_id, body FROM {s}.rings WHERE ")
        self._rings_order = sql.SQL(
            ' ORDER BY risk DESC, size DESC, ring_id COLLATE "C" LIMIT %s'
        )
        self.dead_letters_by_reason = q(
            f"SELECT {_DEAD_LETTER_COLUMNS} FROM {{s}}.dead_letters "
            "WHERE reason = %s ORDER BY seq LIMIT %s"
        )

    def select_rings(self, conditions: list[Any]) -> Any:
        """The ring query with ``conditions`` joined by ``AND``."""
        from psycopg import sql

        return sql.Composed(
            [self._rings_from, sql.SQL(" AND ").join(conditions), self._rings_order]
        )


class _Staging:
    """The statements that stage a batch for one table and insert the new rows."""

    def __init__(self, sql: Any, schema: Any, table: str, columns: str) -> None:
        staging = sql.Identifier(f"trustwatch_staged_{table}")
        names = sql.SQL(columns)
        target = sql.SQL("{}.{}").format(schema, sql.Identifier(table))
        self.create: psycopg.sql.Composed = sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
            "SELECT 0::bigint AS batch_order, {names} FROM {target} WITH NO DATA"
        ).format(staging=staging, names=names, target=target)
        self.copy: psycopg.sql.Composed = sql.SQL(
            "COPY {staging} (batch_order, {names}) FROM STDIN"
        ).format(staging=staging, names=names)
        self.insert: psycopg.sql.Composed = sql.SQL(
            "INSERT INTO {target} ({names}) SELECT {names} FROM {staging} "
            "ORDER BY batch_order ON CONFLICT DO NOTHING"
        ).format(staging=staging, names=names, target=target)
