"""Dispatch state beside the decision store's ``actions`` table.

One row per enforced action (and per reversal) in ``action_dispatch``:

==========  =========================================================
state       meaning
==========  =========================================================
pending     waits for its due time or for its next attempt
held        stopped by the breaker; a ``send_to_review`` went instead
dispatched  the adapter took it, or an attempt may have reached the
            platform and its reversal is not confirmed yet: in force
failed      the platform kept refusing it (``last_error`` says how)
reversed    taken back by a person (or never sent, then reversed)
expired     its time ran out; a reversal went out if it had been sent
==========  =========================================================

State changes are guarded by the state they leave, so two dispatchers over
one store cannot send the same action twice: an attempt first claims the row
(a lease until ``next_attempt_at``), and only the claimant records the result.
A held action waits for a person: :meth:`DispatchLedger.release` sends it
after all, :meth:`DispatchLedger.drop` keeps it from ever being sent.

One implementation over SQLAlchemy Core serves both kinds of decision store:
:class:`DispatchLedger` keeps its tables in the SQLite store file (created on
open), its subclass
:class:`~trustwatch.response.ledger_postgres.PostgresDispatchLedger` in the
PostgreSQL store's schema (created by the store's migrations).
:func:`open_ledger` picks by address.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine

from trustwatch.decisions.model import Action, stable_id
from trustwatch.errors import ConfigError, StorageError
from trustwatch.response.ledger_tables import (
    SQLITE_ADDED_COLUMNS,
    SQLITE_SCHEMA,
    STATES,
    LedgerTime,
    parse_utc,
)
from trustwatch.response.ledger_tables import action_dispatch as _dispatch
from trustwatch.response.ledger_tables import action_releases as _releases
from trustwatch.response.ledger_tables import action_reversals as _reversals
from trustwatch.response.ledger_tables import actions as _actions
from trustwatch.response.ledger_tables import breaker_rules as _breaker_rules
from trustwatch.storage.checkpoints import (
    POSTGRES_SCHEMES,
    DecisionStore,
    check_not_keyword_dsn,
    redact_dsn,
    scrub,
)
from trustwatch.storage.sqlite import SqliteStore, utc_text
from trustwatch.text import shows_something

__all__ = [
    "STATES",
    "DispatchLedger",
    "DispatchRecord",
    "Release",
    "Reversal",
    "open_ledger",
    "parse_utc",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_decode_action = msgspec.json.Decoder(Action).decode
_RECORD_COLUMNS = (
    _dispatch.c.action_id,
    _dispatch.c.state,
    _dispatch.c.attempts,
    _dispatch.c.next_attempt_at,
    _dispatch.c.last_error,
    _dispatch.c.dispatched_at,
    _dispatch.c.due_at,
    _dispatch.c.reversal_of,
    _dispatch.c.adapter,
    _dispatch.c.expires_at,
)
_REVERSAL_COLUMNS = (
    _reversals.c.reversal_id,
    _reversals.c.action_id,
    _reversals.c.actor,
    _reversals.c.reason,
    _reversals.c.requested_at,
)

# The statements of the dispatcher's every step, built once: each call then
# only binds its values (building a statement costs more than running it).
_P = sa.bindparam
_ACTION = sa.select(_actions.c.body).where(_actions.c.action_id == _P("action_id"))
_RECORD = sa.select(*_RECORD_COLUMNS).where(_dispatch.c.action_id == _P("action_id"))
_REVERSAL = sa.select(*_REVERSAL_COLUMNS).where(
    _reversals.c.reversal_id == _P("reversal_id")
)
_REVERSAL_OF = sa.select(*_REVERSAL_COLUMNS).where(
    _reversals.c.action_id == _P("action_id")
)
_DUE = (
    sa.select(*_RECORD_COLUMNS)
    .where(_dispatch.c.state == "pending", _dispatch.c.next_attempt_at <= _P("now"))
    .order_by(_dispatch.c.next_attempt_at, _dispatch.c.action_id)
    .limit(_P("limit", type_=sa.Integer))
)
_DISPATCHED_SINCE = (
    sa.select(sa.func.count())
    .select_from(
        _dispatch.join(_actions, _actions.c.action_id == _dispatch.c.action_id)
    )
    .where(
        _dispatch.c.reversal_of.is_(None),
        _actions.c.type == _P("type"),
        _dispatch.c.dispatched_at >= _P("since"),
    )
)
_DISPATCHED_AMONG = sa.select(_dispatch.c.action_id).where(
    _dispatch.c.action_id.in_(_P("ids", expanding=True)),
    _dispatch.c.state == "dispatched",
)
#: How long a budget slot is held at most: longer than any send, so that
#: only an attempt whose dispatcher died while sending reaches it.
HOLD_AT_MOST = timedelta(hours=1)
_CLAIM = (
    _dispatch.update()
    .where(
        _dispatch.c.action_id == _P("b_action_id"),
        _dispatch.c.state == "pending",
        _dispatch.c.next_attempt_at <= _P("now"),
    )
    .values(
        attempts=_dispatch.c.attempts + 1,
        next_attempt_at=_P("lease_until"),
        adapter=sa.func.coalesce(_P("b_adapter", type_=sa.Text), _dispatch.c.adapter),
    )
    .returning(_dispatch.c.attempts)
)
_SET_STATE = (
    _dispatch.update()
    .where(
        _dispatch.c.action_id == _P("b_action_id"),
        _dispatch.c.state.in_(_P("leaving", expanding=True)),
    )
    .values(
        state=_P("b_state"),
        last_error=sa.func.coalesce(_P("error", type_=sa.Text), _dispatch.c.last_error),
        dispatched_at=sa.func.coalesce(
            _P("b_dispatched_at", type_=LedgerTime()), _dispatch.c.dispatched_at
        ),
    )
)
_RETRY_LATER = (
    _dispatch.update()
    .where(_dispatch.c.action_id == _P("b_action_id"), _dispatch.c.state == "pending")
    .values(next_attempt_at=_P("at"), last_error=_P("error"))
)
_BREAKER_STATE = sa.select(_breaker_rules.c.body).where(
    _breaker_rules.c.rule == _P("rule")
)


@dataclass(frozen=True, slots=True)
class DispatchRecord:
    """One row of ``action_dispatch``."""

    action_id: str
    state: str
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    dispatched_at: str | None
    due_at: str
    reversal_of: str | None
    #: The adapter the row's last attempt went through (``None``: not
    #: attempted, or attempted before the ledger recorded it).
    adapter: str | None = None
    #: When the action ends, when earlier than its own ``expires_at`` (its
    #: event was dated ahead of the dispatcher's clock).
    expires_at: str | None = None


@dataclass(frozen=True, slots=True)
class Reversal:
    """Who asked for a reversal, why and when."""

    reversal_id: str
    action_id: str
    actor: str
    reason: str
    requested_at: str


@dataclass(frozen=True, slots=True)
class Release:
    """Who released an action the breaker held, why and when."""

    release_id: str
    action_id: str
    actor: str
    reason: str
    released_at: str


def _record(row: Any) -> DispatchRecord:
    return DispatchRecord(*tuple(row)[:10])


def _untaken_record(action: Action) -> DispatchRecord:
    """The row an enforced action will get when a dispatcher takes it in."""
    return DispatchRecord(
        action_id=action.action_id,
        state="pending",
        attempts=0,
        next_attempt_at=None,
        last_error="not taken in yet: run `trustwatch dispatch`",
        dispatched_at=None,
        due_at=utc_text(action.created_at),
        reversal_of=None,
    )


def _check_person(actor: str, reason: str, flags: str) -> None:
    if not shows_something(actor) or not shows_something(reason):
        raise ConfigError(f"a person and a reason are required; hint: {flags}")


#: A requeued row's attempts: one when it had any (an earlier attempt may have
#: reached the platform), else none.
_MAY_HAVE_REACHED: Final = sa.case((_dispatch.c.attempts > 0, 1), else_=0)


class DispatchLedger:
    """The dispatch state of a decision store's enforced actions.

    The constructor opens the ledger inside a SQLite store file;
    :class:`~trustwatch.response.ledger_postgres.PostgresDispatchLedger`
    opens the same ledger in a PostgreSQL store, and :func:`open_ledger`
    picks by address.

    Parameters
    ----------
    path
        The store file ``trustwatch run`` wrote (created if missing). The
        ledger's tables are created in it when missing; files made by
        earlier versions open as they are.

    Attributes
    ----------
    store
        The decision store itself (its ``write_actions`` records the
        breaker's ``send_to_review`` actions); closed with the ledger.
    path
        The store's location as shown in messages (a DSN without password).

    Raises
    ------
    ConfigError
        When ``path`` is ``":memory:"``.
    StorageError
        When the file cannot be opened or is not a trustwatch store.
    """

    def __init__(self, path: str | Path) -> None:
        if str(path) == ":memory:":
            raise ConfigError("dispatch state needs a store file; hint: pass --db FILE")
        store = SqliteStore(path)
        engine = sa.create_engine(
            sa.engine.URL.create("sqlite", database=str(path)),
            connect_args={"timeout": 30.0, "check_same_thread": False},
        )
        self._attach(engine, store, target=str(path))
        try:
            raw = engine.raw_connection()
            try:
                connection = raw.driver_connection
                assert isinstance(connection, sqlite3.Connection)
                connection.executescript(SQLITE_SCHEMA)
                _add_missing_columns(connection)
            finally:
                raw.close()
        except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
            self.close()
            raise StorageError(
                f"cannot open dispatch state in {path}: {exc}; hint: check "
                "that the file is a trustwatch store"
            ) from exc

    def _attach(
        self, engine: Engine, store: DecisionStore, *, target: str, dsn: str = ""
    ) -> None:
        """Use ``engine`` for the ledger's tables beside ``store``.

        ``dsn`` is the PostgreSQL address whose password is scrubbed from
        error messages; the ledger disposes of ``engine`` and closes
        ``store`` on :meth:`close`.
        """
        self._engine = engine
        self.store = store
        self.path = target
        self._dsn = dsn
        self._built: dict[str, Any] = {}

    # -- life cycle -------------------------------------------------------

    def close(self) -> None:
        """Release the ledger's connections and close the store."""
        self._engine.dispose()
        self.store.close()

    def __enter__(self) -> DispatchLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _guard(self, step: str, call: Callable[[], _T]) -> _T:
        """Run ``call``; turn a database failure into a :class:`StorageError`."""
        try:
            return call()
        except sa.exc.SQLAlchemyError as exc:
            detail = str(getattr(exc, "orig", None) or exc)
            detail = scrub(detail, self._dsn) if self._dsn else detail
            first = detail.strip().splitlines()[0] if detail.strip() else ""
            raise StorageError(
                f"cannot {step} in the dispatch ledger of {self.path}: "
                f"{type(exc).__name__}: {first}"
            ) from exc

    def _read(
        self, step: str, statement: Any, params: dict[str, Any] | None = None
    ) -> list[Any]:
        def read() -> list[Any]:
            with self._engine.connect() as db:
                return list(db.execute(statement, params or {}).all())

        return self._guard(step, read)

    def _change(
        self, step: str, statement: Any, params: dict[str, Any] | None = None
    ) -> int:
        """Run one guarded write in its own transaction; return rows changed."""

        def write() -> int:
            with self._engine.begin() as db:
                return int(db.execute(statement, params or {}).rowcount)

        return self._guard(step, write)

    def _insert(self, table: sa.Table) -> Any:
        """An ``INSERT`` on the store's dialect (for ``ON CONFLICT`` clauses)."""
        if self._engine.dialect.name == "postgresql":
            return pg_dialect.insert(table)
        return sqlite_dialect.insert(table)

    def _statement(self, name: str, build: Callable[[], Any]) -> Any:
        """Return a dialect-specific statement, built on first use."""
        found = self._built.get(name)
        if found is None:
            found = self._built[name] = build()
        return found

    # -- reading -----------------------------------------------------------

    def action(self, action_id: str) -> Action | None:
        """Return a stored action by id."""
        rows = self._read("read an action", _ACTION, {"action_id": action_id})
        return _decode_action(rows[0][0]) if rows else None

    def record(self, action_id: str) -> DispatchRecord | None:
        """Return the dispatch row of an action or reversal."""
        rows = self._read("read a dispatch row", _RECORD, {"action_id": action_id})
        return _record(rows[0]) if rows else None

    def reversal(self, reversal_id: str) -> Reversal | None:
        """Return who reversed what, by reversal id."""
        rows = self._read("read a reversal", _REVERSAL, {"reversal_id": reversal_id})
        return Reversal(*tuple(rows[0])) if rows else None

    def reversal_of(self, action_id: str) -> Reversal | None:
        """Return the reversal asked for an action, if any."""
        rows = self._read("read a reversal", _REVERSAL_OF, {"action_id": action_id})
        return Reversal(*tuple(rows[0])) if rows else None

    def releases(self, action_id: str) -> list[Release]:
        """Return who released ``action_id`` from the breaker's hold, oldest first."""
        rows = self._read(
            "read releases",
            sa.select(
                _releases.c.release_id,
                _releases.c.action_id,
                _releases.c.actor,
                _releases.c.reason,
                _releases.c.released_at,
            )
            .where(_releases.c.action_id == action_id)
            .order_by(_releases.c.released_at, _releases.c.release_id),
        )
        return [Release(*tuple(row)) for row in rows]

    def untaken(self, limit: int = 10_000) -> list[Action]:
        """Return enforced actions that have no dispatch row yet, oldest first."""
        statement = (
            sa.select(_actions.c.body)
            .select_from(
                _actions.outerjoin(
                    _dispatch, _dispatch.c.action_id == _actions.c.action_id
                )
            )
            .where(_actions.c.mode == "enforce", _dispatch.c.action_id.is_(None))
            .order_by(_actions.c.created_at, _actions.c.action_id)
            .limit(limit)
        )
        rows = self._read("read untaken actions", statement)
        return [_decode_action(row[0]) for row in rows]

    def due(self, now: datetime, limit: int = 1000) -> list[DispatchRecord]:
        """Return pending rows whose next attempt is due, earliest first."""
        rows = self._read("read due actions", _DUE, {"now": now, "limit": limit})
        return [_record(row) for row in rows]

    def expiring(self, now: datetime) -> list[DispatchRecord]:
        """Return action rows (not reversals) whose action expired by ``now``
        (at the row's ``expires_at`` when it has one, else the action's)."""
        reversed_already = sa.exists().where(
            _reversals.c.action_id == _dispatch.c.action_id
        )
        ends = sa.func.coalesce(_dispatch.c.expires_at, _actions.c.expires_at)
        statement = (
            sa.select(*_RECORD_COLUMNS)
            .select_from(
                _dispatch.join(_actions, _actions.c.action_id == _dispatch.c.action_id)
            )
            .where(
                _dispatch.c.reversal_of.is_(None),
                _dispatch.c.state.in_(("pending", "held", "failed", "dispatched")),
                ends.is_not(None),
                ends <= now,
                ~reversed_already,
            )
            .order_by(ends, _dispatch.c.action_id)
        )
        return [_record(row) for row in self._read("read expiring actions", statement)]

    def stuck(self, state: str, error: str, limit: int = 10_000) -> list[Action]:
        """Return the actions whose rows are in ``state`` with ``last_error``
        exactly ``error`` (a step that was cut off half-way), oldest first."""
        statement = (
            sa.select(_actions.c.body)
            .select_from(
                _dispatch.join(_actions, _actions.c.action_id == _dispatch.c.action_id)
            )
            .where(
                _dispatch.c.reversal_of.is_(None),
                _dispatch.c.state == state,
                _dispatch.c.last_error == error,
            )
            .order_by(_actions.c.created_at, _actions.c.action_id)
            .limit(limit)
        )
        rows = self._read("read actions cut off half-way", statement)
        return [_decode_action(row[0]) for row in rows]

    def dispatched_since(self, action_type: str, since: datetime) -> int:
        """Count actions of ``action_type`` dispatched at or after ``since``."""
        rows = self._read(
            "count dispatched actions",
            _DISPATCHED_SINCE,
            {"type": action_type, "since": since},
        )
        return int(rows[0][0])

    def listing(
        self, state: str | None = None, action_type: str | None = None, limit: int = 100
    ) -> list[tuple[DispatchRecord, Action]]:
        """Return dispatch rows with their actions, newest due first.

        A reversal is listed with the action it reverses. Enforced actions no
        dispatcher has taken in yet are listed as ``pending`` (no attempts,
        due at their creation) after the others, so that nothing waiting is
        out of sight.
        """
        statement = sa.select(*_RECORD_COLUMNS, _actions.c.body).select_from(
            _dispatch.join(
                _actions,
                _actions.c.action_id
                == sa.func.coalesce(_dispatch.c.reversal_of, _dispatch.c.action_id),
            )
        )
        if state:
            statement = statement.where(_dispatch.c.state == state)
        if action_type:
            statement = statement.where(_actions.c.type == action_type)
        statement = statement.order_by(
            _dispatch.c.due_at.desc(), _dispatch.c.action_id
        ).limit(limit)
        rows = self._read("list dispatch rows", statement)
        found = [(_record(row), _decode_action(row[10])) for row in rows]
        if state in (None, "pending") and len(found) < limit:
            waiting = [
                action
                for action in self.untaken(limit)
                if action_type is None or action.type == action_type
            ]
            found.extend((_untaken_record(action), action) for action in waiting)
        return found[:limit]

    # -- writing -----------------------------------------------------------

    def add(
        self,
        action_id: str,
        due_at: datetime,
        *,
        state: str = "pending",
        last_error: str | None = None,
        expires_at: datetime | None = None,
    ) -> bool:
        """Take an action in; return whether it was new.

        ``expires_at`` is given when the action ends earlier than its own
        ``expires_at`` says (see :attr:`DispatchRecord.expires_at`).
        """
        statement = self._statement(
            "add",
            lambda: (
                self._insert(_dispatch)
                .values(
                    action_id=_P("b_action_id"),
                    state=_P("b_state"),
                    attempts=0,
                    next_attempt_at=_P("b_due_at"),
                    last_error=_P("b_last_error"),
                    due_at=_P("b_due_at"),
                    expires_at=_P("b_expires_at", type_=LedgerTime()),
                )
                .on_conflict_do_nothing()
                .returning(_dispatch.c.action_id)
            ),
        )
        params = {
            "b_action_id": action_id,
            "b_state": state,
            "b_due_at": due_at,
            "b_last_error": last_error,
            "b_expires_at": expires_at,
        }

        def write() -> bool:
            # RETURNING, not rowcount: psycopg reports no count for this INSERT
            with self._engine.begin() as db:
                return db.execute(statement, params).first() is not None

        return self._guard("take an action in", write)

    def claim(
        self,
        action_id: str,
        now: datetime,
        lease_until: datetime,
        adapter: str | None = None,
    ) -> int | None:
        """Claim a due pending row for one attempt; only one claimant wins.

        ``adapter`` is recorded as the one the attempt goes through (a
        reversal goes through the adapter its action's attempt went through).
        Returns the attempt's number (1 for the first), or ``None`` when the
        row was not there to claim.
        """
        params = {
            "b_action_id": action_id,
            "now": now,
            "lease_until": lease_until,
            "b_adapter": adapter,
        }

        def write() -> int | None:
            with self._engine.begin() as db:
                row = db.execute(_CLAIM, params).first()
            return None if row is None else int(row[0])

        return self._guard("claim an action", write)

    def set_state(
        self,
        action_id: str,
        state: str,
        *,
        leaving: tuple[str, ...],
        error: str | None = None,
        dispatched_at: datetime | None = None,
    ) -> bool:
        """Move a row to ``state`` if it is in one of ``leaving``."""
        params = {
            "b_action_id": action_id,
            "leaving": list(leaving),
            "b_state": state,
            "error": error,
            "b_dispatched_at": dispatched_at,
        }
        return self._change(f"mark an action {state}", _SET_STATE, params) == 1

    def retry_later(
        self, action_id: str, at: datetime, error: str, *, counted: bool = True
    ) -> None:
        """Leave a row pending with its error, to be tried again at ``at``.

        With ``counted`` false the attempt just made is taken off the row's
        count (the platform asked to slow down and applied nothing): it
        counts neither towards the retry limit nor as one that may have
        reached the platform.
        """
        params = {"b_action_id": action_id, "at": at, "error": error}
        statement = (
            _RETRY_LATER if counted else _RETRY_LATER.values(attempts=self._one_less())
        )
        self._change("schedule a retry", statement, params)

    def hold_unsent(self, action_id: str, error: str) -> bool:
        """Hold a claimed ``pending`` row whose attempt sent nothing.

        The attempt is taken off the row's count, so that the row does not
        read as possibly received by the platform. Returns whether it moved.
        """
        statement = (
            _dispatch.update()
            .where(_dispatch.c.action_id == action_id, _dispatch.c.state == "pending")
            .values(state="held", last_error=error, attempts=self._one_less())
        )
        return self._change("hold an action", statement) == 1

    def _one_less(self) -> Any:
        """The row's attempts less one, never below zero."""
        least = (
            sa.func.max if self._engine.dialect.name == "sqlite" else sa.func.greatest
        )
        return least(_dispatch.c.attempts - 1, 0)

    def add_reversal(
        self,
        action_id: str,
        actor: str,
        reason: str,
        now: datetime,
        *,
        send: bool,
        due: datetime | None = None,
    ) -> str:
        """Record a reversal of ``action_id``; queue it for sending when ``send``.

        A queued reversal is due at ``due`` (``now`` when not given). Returns
        the reversal's id (derived from the action's, so an action is
        reversed at most once). Raises :class:`ConfigError` if it already was.
        """
        reversal_id = stable_id("rev", action_id)
        due = due or now

        def write() -> None:
            with self._engine.begin() as db:
                self._write_reversal(db, reversal_id, action_id, actor, reason, now)
                if send:
                    db.execute(
                        _dispatch.insert().values(
                            action_id=reversal_id,
                            state="pending",
                            attempts=0,
                            next_attempt_at=due,
                            due_at=due,
                            reversal_of=action_id,
                        )
                    )

        self._guard_reversal(action_id, write)
        return reversal_id

    @staticmethod
    def _write_reversal(
        db: Connection,
        reversal_id: str,
        action_id: str,
        actor: str,
        reason: str,
        now: datetime,
    ) -> None:
        db.execute(
            _reversals.insert().values(
                reversal_id=reversal_id,
                action_id=action_id,
                actor=actor,
                reason=reason,
                requested_at=now,
            )
        )

    def _guard_reversal(self, action_id: str, write: Callable[[], None]) -> None:
        """Run ``write``; a second reversal of one action is a ConfigError."""
        try:
            self._guard("record a reversal", write)
        except StorageError as exc:
            if isinstance(exc.__cause__, sa.exc.IntegrityError):
                raise ConfigError(
                    f"action {action_id} is already reversed or being reversed; "
                    f"hint: `trustwatch actions show {action_id}`"
                ) from None
            raise

    def queue_reversal(self, action_id: str, now: datetime) -> None:
        """Queue the sending of an action's recorded reversal (once)."""
        found = self.reversal_of(action_id)
        if found is None:
            return
        self._change(
            "queue a reversal",
            self._insert(_dispatch)
            .values(
                action_id=found.reversal_id,
                state="pending",
                attempts=0,
                next_attempt_at=now,
                due_at=now,
                reversal_of=action_id,
            )
            .on_conflict_do_nothing(),
        )

    # -- held actions --------------------------------------------------------

    def release(self, action_id: str, actor: str, reason: str, now: datetime) -> str:
        """Send a held action after all: ``held`` becomes ``pending``, due now.

        Its attempts start again (from one if an earlier attempt may have
        reached the platform), and who released it and why is
        recorded (see :meth:`releases`). It still goes through its type's
        budget when it is sent. Returns what happens, in words.

        Raises
        ------
        ConfigError
            When the actor or reason is empty, or the action is not held.
        """
        _check_person(actor, reason, "--as NAME --reason TEXT")
        write = self._requeue(
            action_id,
            (_dispatch.c.state == "held", _dispatch.c.reversal_of.is_(None)),
            stable_id("rel", action_id, utc_text(now)),
            f"released by {actor}",
            actor,
            reason,
            now,
        )
        if not self._guard("release a held action", write):
            raise self._not_held(action_id, "released")
        log.info("held action %s released", action_id)
        return "released: it is sent on the next dispatch pass"

    def _requeue(
        self,
        action_id: str,
        leaving: tuple[Any, ...],
        record_id: str,
        why: str,
        actor: str,
        reason: str,
        now: datetime,
    ) -> Callable[[], bool]:
        """The write that makes a row ``pending`` again, due now with its
        attempts counted anew, when it matches ``leaving``; who asked and why
        is recorded with the releases. It returns whether the row moved.

        A row with attempts keeps one, the mark of an attempt that may have
        reached the platform, so that taking it back still sends a reversal;
        the retry limit then allows one attempt fewer."""

        def write() -> bool:
            with self._engine.begin() as db:
                moved = db.execute(
                    _dispatch.update()
                    .where(_dispatch.c.action_id == action_id, *leaving)
                    .values(
                        state="pending",
                        attempts=_MAY_HAVE_REACHED,
                        next_attempt_at=now,
                        last_error=f"{why}: {reason}",
                    )
                ).rowcount
                if moved != 1:
                    return False
                db.execute(
                    _releases.insert().values(
                        release_id=record_id,
                        action_id=action_id,
                        actor=actor,
                        reason=reason,
                        released_at=now,
                    )
                )
                return True

        return write

    def retry(self, action_id: str, actor: str, reason: str, now: datetime) -> str:
        """Try a failed action or reversal again: ``failed`` becomes ``pending``.

        It is due now with its attempts counted anew (from one if an earlier
        attempt may have reached the platform); who asked and why is
        recorded with the releases (see :meth:`releases`). An action that
        went through its type's budget goes through it again. Returns what
        happens, in words.

        Raises
        ------
        ConfigError
            When the actor or reason is empty, or the row is not failed.
        """
        _check_person(actor, reason, "--as NAME --reason TEXT")
        write = self._requeue(
            action_id,
            (_dispatch.c.state == "failed",),
            stable_id("rty", action_id, utc_text(now)),
            f"retried by {actor}",
            actor,
            reason,
            now,
        )
        if not self._guard("retry a failed action", write):
            record = self.record(action_id)
            where = (
                f"is {record.state}, not failed"
                if record is not None
                else "has no dispatch row"
            )
            raise ConfigError(
                f"{action_id} {where}, so it cannot be retried; hint: "
                "`trustwatch actions list --state failed`"
            )
        log.info("failed row %s queued again", action_id)
        return "queued again: it is sent on the next dispatch pass"

    def drop(self, action_id: str, actor: str, reason: str, now: datetime) -> str:
        """Keep a held action from ever being sent: ``held`` becomes ``reversed``.

        A reversal naming ``actor`` and ``reason`` is recorded. Nothing goes
        to the platform when nothing was attempted; when an earlier attempt
        may have reached it (the row counts attempts), the reversal is sent
        too, and the action counts as ``dispatched`` (in force) until the
        platform confirms the reversal. Returns what happened.

        Raises
        ------
        ConfigError
            When the actor or reason is empty, or the action is not held.
        """
        _check_person(actor, reason, "--as NAME --reason TEXT")
        reversal_id = stable_id("rev", action_id)
        moved: list[int] = []

        def write() -> None:
            with self._engine.begin() as db:
                changed = db.execute(
                    _dispatch.update()
                    .where(
                        _dispatch.c.action_id == action_id,
                        _dispatch.c.state == "held",
                        _dispatch.c.reversal_of.is_(None),
                    )
                    .values(
                        state=sa.case(
                            (_dispatch.c.attempts > 0, "dispatched"), else_="reversed"
                        ),
                        last_error=sa.case(
                            (
                                _dispatch.c.attempts > 0,
                                f"dropped by {actor}: {reason}; an earlier attempt "
                                "may have reached the platform, so it counts as in "
                                "force until the platform confirms its reversal",
                            ),
                            else_=f"dropped by {actor}: {reason}",
                        ),
                    )
                    .returning(_dispatch.c.attempts)
                ).first()
                if changed is None:
                    return
                self._write_reversal(db, reversal_id, action_id, actor, reason, now)
                if int(changed[0] or 0) > 0:
                    db.execute(
                        _dispatch.insert().values(
                            action_id=reversal_id,
                            state="pending",
                            attempts=0,
                            next_attempt_at=now,
                            due_at=now,
                            reversal_of=action_id,
                        )
                    )
                moved.append(int(changed[0] or 0))

        self._guard_reversal(action_id, write)
        if not moved:
            raise self._not_held(action_id, "dropped")
        log.info("held action %s dropped", action_id)
        if moved[0] > 0:
            return (
                "dropped: an earlier attempt may have reached the platform, so "
                "a reversal is sent on the next dispatch pass (it counts as "
                "dispatched until the platform confirms the reversal)"
            )
        return "dropped: it stays unsent, recorded as reversed"

    def _not_held(self, action_id: str, verb: str) -> ConfigError:
        """The error for releasing or dropping an action that is not held."""
        record = self.record(action_id)
        if record is None:
            where = (
                "is not in the store"
                if self.action(action_id) is None
                else ("has not been taken in by a dispatcher")
            )
            return ConfigError(
                f"action {action_id} {where}, so it cannot be {verb}; hint: "
                "`trustwatch actions list --state held`"
            )
        if record.reversal_of is not None:
            return ConfigError(
                f"{action_id} is a reversal, so it cannot be {verb}; hint: only "
                "actions the breaker held can be"
            )
        return ConfigError(
            f"action {action_id} is {record.state}, not held, so it cannot be "
            f"{verb}; hint: `trustwatch actions show {action_id}`"
        )

    # -- breaker -----------------------------------------------------------

    def breaker_state(self, rule: str) -> dict[str, Any] | None:
        """Return the saved rate state of one rule."""
        rows = self._read("read breaker state", _BREAKER_STATE, {"rule": rule})
        return msgspec.json.decode(rows[0][0]) if rows else None

    def save_breaker_state(self, rule: str, state: dict[str, Any]) -> None:
        """Save the rate state of one rule."""
        statement = self._statement(
            "save_breaker_state",
            lambda: (
                self._insert(_breaker_rules)
                .values(rule=_P("b_rule"), body=_P("b_body"))
                .on_conflict_do_update(
                    index_elements=["rule"], set_={"body": _P("b_body")}
                )
            ),
        )
        body = msgspec.json.encode(state).decode()
        self._change("save breaker state", statement, {"b_rule": rule, "b_body": body})

    def update_breaker_state(
        self,
        rule: str,
        change: Callable[[dict[str, Any] | None], dict[str, Any]],
    ) -> dict[str, Any]:
        """Read, change and save one rule's rate state as one step; return it.

        ``change`` gets the saved state (``None`` at first) and returns the
        new one. Dispatchers sharing the ledger never lose each other's
        counts: on PostgreSQL the rule's row is locked (``FOR UPDATE``) from
        the read to the write, on SQLite the write lock is taken first
        (``BEGIN IMMEDIATE``). ``change`` may run more than once (when a
        first state is saved by someone else at the same moment), so it must
        not act on anything but its argument.
        """
        return self._locked_change(
            "update breaker state", rule, lambda _db, saved: change(saved)
        )

    def _locked_change(
        self,
        step_name: str,
        rule: str,
        change: Callable[[Connection, dict[str, Any] | None], dict[str, Any]],
    ) -> dict[str, Any]:
        """:meth:`update_breaker_state`, with ``change`` given the connection
        holding the lock, to read more under it."""
        insert = self._statement(
            "insert_breaker_state",
            lambda: (
                self._insert(_breaker_rules)
                .values(rule=_P("b_rule"), body=_P("b_body"))
                .on_conflict_do_nothing(index_elements=["rule"])
                .returning(_breaker_rules.c.rule)
            ),
        )
        update = _breaker_rules.update().where(_breaker_rules.c.rule == _P("b_rule"))

        def step() -> dict[str, Any]:
            with self._engine.connect() as db:
                if db.dialect.name == "sqlite":
                    db.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    found = _change_breaker_row(
                        db, rule, lambda saved: change(db, saved), insert, update
                    )
                except BaseException:
                    db.rollback()
                    raise
                db.commit()
                return found

        return self._guard(step_name, step)

    def reserve_dispatch(
        self,
        action_type: str,
        action_id: str,
        attempt: int,
        *,
        limit: int,
        since: datetime,
        now: datetime,
    ) -> int | None:
        """Take one of ``limit`` dispatch slots of ``action_type`` for an attempt.

        The slots in use are the actions of the type dispatched at or after
        ``since`` plus the other actions whose attempts hold a slot; they are
        counted and the slot is taken as one step under the lock of the
        type's budget row, so dispatchers sharing the ledger never take more
        than ``limit`` between them. A slot is held until
        :meth:`release_dispatch`, until its action is dispatched (it then
        counts by itself), or for :data:`HOLD_AT_MOST` (an attempt whose
        dispatcher died while sending). An action's own earlier attempts
        never count against it. Returns ``None`` when the slot was taken,
        else how many slots were in use.
        """
        holder = _holder(action_id, attempt)
        in_use: list[int] = []
        oldest = (now - HOLD_AT_MOST).timestamp()

        def take(db: Connection, saved: dict[str, Any] | None) -> dict[str, Any]:
            holds: dict[str, list[Any]] = {
                key: held
                for key, held in ((saved or {}).get("holds") or {}).items()
                if held[1] >= oldest
            }
            if holds:
                done = {
                    row[0]
                    for row in db.execute(
                        _DISPATCHED_AMONG,
                        {"ids": sorted({held[0] for held in holds.values()})},
                    )
                }
                holds = {k: v for k, v in holds.items() if v[0] not in done}
            others = {held[0] for held in holds.values()} - {action_id}
            sent = db.execute(
                _DISPATCHED_SINCE, {"type": action_type, "since": since}
            ).scalar_one()
            in_use[:] = [int(sent) + len(others)]
            if in_use[0] < limit:
                holds[holder] = [action_id, now.timestamp()]
            return {"holds": holds}

        state = self._locked_change(
            "reserve a dispatch slot", _budget_key(action_type), take
        )
        return None if holder in state["holds"] else in_use[0]

    def release_dispatch(self, action_type: str, action_id: str, attempt: int) -> None:
        """Give up the slot :meth:`reserve_dispatch` took for an attempt (sent,
        failed or retried later); a dispatched action counts by itself."""
        holder = _holder(action_id, attempt)

        def give_up(db: Connection, saved: dict[str, Any] | None) -> dict[str, Any]:
            holds = dict((saved or {}).get("holds") or {})
            holds.pop(holder, None)
            return {"holds": holds}

        self._locked_change(
            "release a dispatch slot", _budget_key(action_type), give_up
        )


def _holder(action_id: str, attempt: int) -> str:
    """The key of the slot one attempt at an action holds."""
    return f"{action_id}#{attempt}"


def _budget_key(action_type: str) -> str:
    """The breaker-state row holding the dispatch slots of ``action_type``."""
    return f"budget:{action_type}"


def _change_breaker_row(
    db: Connection,
    rule: str,
    change: Callable[[dict[str, Any] | None], dict[str, Any]],
    insert: Any,
    update: Any,
) -> dict[str, Any]:
    """Apply ``change`` to the locked state row of ``rule`` (or create it)."""
    locked = _BREAKER_STATE.with_for_update()
    for _ in range(2):
        row = db.execute(locked, {"rule": rule}).first()
        if row is not None:
            state = change(msgspec.json.decode(row[0]))
            body = msgspec.json.encode(state).decode()
            db.execute(
                update.values(body=_P("b_body")), {"b_rule": rule, "b_body": body}
            )
            return state
        state = change(None)
        body = msgspec.json.encode(state).decode()
        # RETURNING, not rowcount: on PostgreSQL a Core INSERT reports -1
        # rows, which would read as "inserted" when the row was already there
        if db.execute(insert, {"b_rule": rule, "b_body": body}).first() is not None:
            return state
        # another dispatcher saved a first state meanwhile: change that one
    raise StorageError(f"the breaker state of rule {rule} keeps changing")


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    """Add to ``action_dispatch`` the columns a file from an older version
    lacks (:data:`~trustwatch.response.ledger_tables.SQLITE_ADDED_COLUMNS`)."""
    present = {
        row[1] for row in connection.execute("PRAGMA table_info(action_dispatch)")
    }
    for name, kind in SQLITE_ADDED_COLUMNS:
        if name in present:
            continue
        try:
            connection.execute(f"ALTER TABLE action_dispatch ADD COLUMN {name} {kind}")
        except sqlite3.OperationalError as exc:
            # another process opening the same file added it first
            if "duplicate column" not in str(exc):
                raise
    connection.commit()


def open_ledger(target: str | Path, *, schema: str = "trustwatch") -> DispatchLedger:
    """Open the dispatch ledger of the decision store at a path or address.

    Parameters
    ----------
    target
        A SQLite store file, or a ``postgresql://`` (``postgres://``) DSN.
    schema
        The PostgreSQL schema of the decision store; unused for SQLite.

    Raises
    ------
    ConfigError
        When the target is empty or names another kind of address.
    StorageError
        When the store cannot be opened.
    """
    text = str(target)
    if not text.strip():
        raise ConfigError(
            "the dispatch ledger's store is empty; hint: pass --db FILE or "
            "--db postgresql://user@host/db"
        )
    if text.startswith(POSTGRES_SCHEMES):
        from trustwatch.response.ledger_postgres import PostgresDispatchLedger

        return PostgresDispatchLedger(text, schema=schema)
    if "://" in text:
        raise ConfigError(
            f"store {redact_dsn(text)!r} is neither a file path nor a "
            "postgresql:// address; hint: give the store file `trustwatch run` wrote"
        )
    check_not_keyword_dsn(text)
    return DispatchLedger(target)
