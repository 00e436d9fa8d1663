"""Dispatch state beside the store's ``actions`` table.

One row per enforced action (and per reversal) in ``action_dispatch``:

==========  =========================================================
state       meaning
==========  =========================================================
pending     waits for its due time or for its next attempt
held        stopped by the breaker; a ``send_to_review`` went instead
dispatched  the adapter took it
failed      the platform kept refusing it (``last_error`` says how)
reversed    taken back by a person (or never sent, then reversed)
expired     its time ran out; a reversal went out if it had been sent
==========  =========================================================

State changes are guarded by the state they leave, so two dispatchers over
one file cannot send the same action twice: an attempt first claims the row
(a lease until ``next_attempt_at``), and only the claimant records the result.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from trustwatch.decisions.model import Action, stable_id
from trustwatch.errors import ConfigError, StorageError
from trustwatch.storage.sqlite import SqliteStore, utc_text

__all__ = ["STATES", "DispatchLedger", "DispatchRecord", "Reversal", "parse_utc"]

STATES = ("pending", "held", "dispatched", "failed", "reversed", "expired")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS action_dispatch (
    action_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN {STATES!r}),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT,
    dispatched_at TEXT,
    due_at TEXT NOT NULL,
    reversal_of TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS action_dispatch_due
    ON action_dispatch (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS action_reversals (
    reversal_id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL UNIQUE,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS breaker_rules (
    rule TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
"""

_COLUMNS = (
    "action_id, state, attempts, next_attempt_at, last_error, dispatched_at, "
    "due_at, reversal_of"
)
_decode_action = msgspec.json.Decoder(Action).decode


def parse_utc(text: str) -> datetime:
    """Parse a timestamp written by :func:`~trustwatch.storage.sqlite.utc_text`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


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


@dataclass(frozen=True, slots=True)
class Reversal:
    """Who asked for a reversal, why and when."""

    reversal_id: str
    action_id: str
    actor: str
    reason: str
    requested_at: str


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


class DispatchLedger:
    """The dispatch state of a store's enforced actions.

    Parameters
    ----------
    path
        The store file ``trustwatch run`` wrote (created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        if str(path) == ":memory:":
            raise ConfigError("dispatch state needs a store file; hint: pass --db FILE")
        self.store = SqliteStore(path)
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0)
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self.store.close()
            raise StorageError(
                f"cannot open dispatch state in {self.path}: {exc}; hint: check "
                "that the file is a trustwatch store"
            ) from exc

    def close(self) -> None:
        """Close both connections."""
        self._db.close()
        self.store.close()

    def __enter__(self) -> DispatchLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read {self.path}: {exc}") from exc

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        try:
            with self._db:
                return self._db.execute(sql, params).rowcount
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write {self.path}: {exc}") from exc

    # -- reading -----------------------------------------------------------

    def action(self, action_id: str) -> Action | None:
        """Return a stored action by id."""
        rows = self._rows("SELECT body FROM actions WHERE action_id = ?", (action_id,))
        return _decode_action(rows[0][0]) if rows else None

    def record(self, action_id: str) -> DispatchRecord | None:
        """Return the dispatch row of an action or reversal."""
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM action_dispatch WHERE action_id = ?", (action_id,)
        )
        return DispatchRecord(*rows[0]) if rows else None

    def reversal(self, reversal_id: str) -> Reversal | None:
        """Return who reversed what, by reversal id."""
        rows = self._rows(
            "SELECT reversal_id, action_id, actor, reason, requested_at "
            "FROM action_reversals WHERE reversal_id = ?",
            (reversal_id,),
        )
        return Reversal(*rows[0]) if rows else None

    def reversal_of(self, action_id: str) -> Reversal | None:
        """Return the reversal asked for an action, if any."""
        rows = self._rows(
            "SELECT reversal_id FROM action_reversals WHERE action_id = ?", (action_id,)
        )
        return self.reversal(rows[0][0]) if rows else None

    def untaken(self, limit: int = 10_000) -> list[Action]:
        """Return enforced actions that have no dispatch row yet, oldest first."""
        rows = self._rows(
            "SELECT a.body FROM actions a LEFT JOIN action_dispatch d "
            "ON d.action_id = a.action_id WHERE a.mode = 'enforce' "
            "AND d.action_id IS NULL ORDER BY a.created_at, a.action_id LIMIT ?",
            (limit,),
        )
        return [_decode_action(row[0]) for row in rows]

    def due(self, now: datetime, limit: int = 1000) -> list[DispatchRecord]:
        """Return pending rows whose next attempt is due, earliest first."""
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM action_dispatch WHERE state = 'pending' "
            "AND next_attempt_at <= ? ORDER BY next_attempt_at, action_id LIMIT ?",
            (utc_text(now), limit),
        )
        return [DispatchRecord(*row) for row in rows]

    def expiring(self, now: datetime) -> list[DispatchRecord]:
        """Return action rows (not reversals) whose action expired by ``now``."""
        rows = self._rows(
            f"SELECT {', '.join('d.' + c for c in _COLUMNS.split(', '))} "
            "FROM action_dispatch d JOIN actions a ON a.action_id = d.action_id "
            "WHERE d.reversal_of IS NULL "
            "AND d.state IN ('pending', 'held', 'failed', 'dispatched') "
            "AND a.expires_at IS NOT NULL AND a.expires_at <= ? "
            "AND NOT EXISTS (SELECT 1 FROM action_reversals r "
            "WHERE r.action_id = d.action_id) ORDER BY a.expires_at",
            (utc_text(now),),
        )
        return [DispatchRecord(*row) for row in rows]

    def dispatched_since(self, action_type: str, since: datetime) -> int:
        """Count actions of ``action_type`` dispatched at or after ``since``."""
        rows = self._rows(
            "SELECT COUNT(*) FROM action_dispatch d JOIN actions a "
            "ON a.action_id = d.action_id WHERE d.reversal_of IS NULL "
            "AND a.type = ? AND d.dispatched_at >= ?",
            (action_type, utc_text(since)),
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
        sql = (
            f"SELECT {', '.join('d.' + c for c in _COLUMNS.split(', '))}, a.body "
            "FROM action_dispatch d JOIN actions a "
            "ON a.action_id = COALESCE(d.reversal_of, d.action_id) WHERE 1 = 1"
        )
        params: list[Any] = []
        if state:
            sql += " AND d.state = ?"
            params.append(state)
        if action_type:
            sql += " AND a.type = ?"
            params.append(action_type)
        sql += " ORDER BY d.due_at DESC, d.action_id LIMIT ?"
        params.append(limit)
        rows = self._rows(sql, tuple(params))
        found = [(DispatchRecord(*row[:8]), _decode_action(row[8])) for row in rows]
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
    ) -> bool:
        """Take an action in; return whether it was new."""
        due = utc_text(due_at)
        return (
            self._write(
                "INSERT OR IGNORE INTO action_dispatch (action_id, state, attempts, "
                "next_attempt_at, last_error, due_at) VALUES (?, ?, 0, ?, ?, ?)",
                (action_id, state, due, last_error, due),
            )
            == 1
        )

    def claim(self, action_id: str, now: datetime, lease_until: datetime) -> bool:
        """Claim a due pending row for one attempt; only one claimant wins."""
        return (
            self._write(
                "UPDATE action_dispatch SET attempts = attempts + 1, "
                "next_attempt_at = ? WHERE action_id = ? AND state = 'pending' "
                "AND next_attempt_at <= ?",
                (utc_text(lease_until), action_id, utc_text(now)),
            )
            == 1
        )

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
        marks = ",".join("?" * len(leaving))
        return (
            self._write(
                "UPDATE action_dispatch SET state = ?, "
                "last_error = COALESCE(?, last_error), "
                "dispatched_at = COALESCE(?, dispatched_at) "
                f"WHERE action_id = ? AND state IN ({marks})",
                (
                    state,
                    error,
                    utc_text(dispatched_at) if dispatched_at else None,
                    action_id,
                    *leaving,
                ),
            )
            == 1
        )

    def retry_later(self, action_id: str, at: datetime, error: str) -> None:
        """Leave a row pending with its error, to be tried again at ``at``."""
        self._write(
            "UPDATE action_dispatch SET next_attempt_at = ?, last_error = ? "
            "WHERE action_id = ? AND state = 'pending'",
            (utc_text(at), error, action_id),
        )

    def add_reversal(
        self, action_id: str, actor: str, reason: str, now: datetime, *, send: bool
    ) -> str:
        """Record a reversal of ``action_id``; queue it for sending when ``send``.

        Returns the reversal's id (derived from the action's, so an action is
        reversed at most once). Raises :class:`ConfigError` if it already was.
        """
        reversal_id = stable_id("rev", action_id)
        try:
            with self._db:
                self._db.execute(
                    "INSERT INTO action_reversals VALUES (?, ?, ?, ?, ?)",
                    (reversal_id, action_id, actor, reason, utc_text(now)),
                )
                if send:
                    self._db.execute(
                        "INSERT INTO action_dispatch (action_id, state, attempts, "
                        "next_attempt_at, due_at, reversal_of) "
                        "VALUES (?, 'pending', 0, ?, ?, ?)",
                        (reversal_id, utc_text(now), utc_text(now), action_id),
                    )
        except sqlite3.IntegrityError:
            raise ConfigError(
                f"action {action_id} is already reversed or being reversed; "
                f"hint: `trustwatch actions show {action_id}`"
            ) from None
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write {self.path}: {exc}") from exc
        return reversal_id

    def queue_reversal(self, action_id: str, now: datetime) -> None:
        """Queue the sending of an action's recorded reversal (once)."""
        found = self.reversal_of(action_id)
        if found is None:
            return
        self._write(
            "INSERT OR IGNORE INTO action_dispatch (action_id, state, attempts, "
            "next_attempt_at, due_at, reversal_of) VALUES (?, 'pending', 0, ?, ?, ?)",
            (found.reversal_id, utc_text(now), utc_text(now), action_id),
        )

    def breaker_state(self, rule: str) -> dict[str, Any] | None:
        """Return the saved rate state of one rule."""
        rows = self._rows("SELECT body FROM breaker_rules WHERE rule = ?", (rule,))
        return msgspec.json.decode(rows[0][0]) if rows else None

    def save_breaker_state(self, rule: str, state: dict[str, Any]) -> None:
        """Save the rate state of one rule."""
        self._write(
            "INSERT OR REPLACE INTO breaker_rules VALUES (?, ?)",
            (rule, msgspec.json.encode(state).decode()),
        )
