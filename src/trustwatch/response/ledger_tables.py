"""The dispatch ledger's tables as SQLAlchemy Core sees them.

On SQLite the ledger creates its tables when it opens a store file
(:data:`SQLITE_SCHEMA`, unchanged from the first ledger), then adds the
columns later versions added (:data:`SQLITE_ADDED_COLUMNS`), so older files
open and gain them. On PostgreSQL they come from the decision store's
migrations ``0002`` and ``0005`` (:mod:`trustwatch.storage.migrations`) in
the store's schema. These definitions only name the columns the ledger's
queries read and write.

Times are kept as fixed-width UTC text on SQLite and as ``TIMESTAMPTZ`` on
PostgreSQL; :class:`LedgerTime` hides the difference, so the ledger binds
datetimes and reads back :func:`~trustwatch.storage.sqlite.utc_text` strings
on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from trustwatch.storage.sqlite import utc_text

__all__ = [
    "LEDGER_TABLES",
    "SQLITE_ADDED_COLUMNS",
    "SQLITE_SCHEMA",
    "STATES",
    "LedgerTime",
    "action_dispatch",
    "action_releases",
    "action_reversals",
    "actions",
    "breaker_rules",
    "parse_utc",
]

#: The dispatch states, in the order an action usually meets them.
STATES = ("pending", "held", "dispatched", "failed", "reversed", "expired")
#: The tables the ledger keeps beside the decision store's ``actions``.
LEDGER_TABLES = (
    "action_dispatch",
    "action_reversals",
    "breaker_rules",
    "action_releases",
)

SQLITE_SCHEMA = f"""
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
CREATE TABLE IF NOT EXISTS action_releases (
    release_id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    released_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS action_releases_action
    ON action_releases (action_id, released_at);
"""
#: Columns added to ``action_dispatch`` after the first ledger, with their
#: SQLite types: the adapter an action's (or reversal's) last attempt went
#: through, and when the action ends when that is earlier than its
#: ``actions.expires_at`` (an event dated ahead of the dispatcher's clock).
#: Rows written before they existed hold ``NULL``.
SQLITE_ADDED_COLUMNS = (("adapter", "TEXT"), ("expires_at", "TEXT"))


def parse_utc(text: str) -> datetime:
    """Parse a timestamp written by :func:`~trustwatch.storage.sqlite.utc_text`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class LedgerTime(sa.types.TypeDecorator[str]):
    """A moment: UTC text on SQLite, ``TIMESTAMPTZ`` on PostgreSQL.

    Binds a timezone-aware datetime (or UTC text); always reads back the
    fixed-width UTC text of :func:`~trustwatch.storage.sqlite.utc_text`.
    """

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.DateTime(timezone=True))
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(
        self, value: datetime | str | None, dialect: Dialect
    ) -> datetime | str | None:
        if value is None:
            return None
        moment = parse_utc(value) if isinstance(value, str) else value
        if dialect.name == "postgresql":
            return moment.astimezone(UTC)
        return utc_text(moment)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return utc_text(value if value.tzinfo else value.replace(tzinfo=UTC))
        return str(value)


metadata = sa.MetaData()
#: The decision store's actions (read only; the stores write them).
actions = sa.Table(
    "actions",
    metadata,
    sa.Column("action_id", sa.Text, primary_key=True),
    sa.Column("type", sa.Text),
    sa.Column("mode", sa.Text),
    sa.Column("created_at", LedgerTime),
    sa.Column("expires_at", LedgerTime),
    sa.Column("body", sa.Text),
)
action_dispatch = sa.Table(
    "action_dispatch",
    metadata,
    sa.Column("action_id", sa.Text, primary_key=True),
    sa.Column("state", sa.Text),
    sa.Column("attempts", sa.Integer),
    sa.Column("next_attempt_at", LedgerTime),
    sa.Column("last_error", sa.Text),
    sa.Column("dispatched_at", LedgerTime),
    sa.Column("due_at", LedgerTime),
    sa.Column("reversal_of", sa.Text),
    sa.Column("adapter", sa.Text),
    sa.Column("expires_at", LedgerTime),
)
action_reversals = sa.Table(
    "action_reversals",
    metadata,
    sa.Column("reversal_id", sa.Text, primary_key=True),
    sa.Column("action_id", sa.Text),
    sa.Column("actor", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("requested_at", LedgerTime),
)
breaker_rules = sa.Table(
    "breaker_rules",
    metadata,
    sa.Column("rule", sa.Text, primary_key=True),
    sa.Column("body", sa.Text),
)
action_releases = sa.Table(
    "action_releases",
    metadata,
    sa.Column("release_id", sa.Text, primary_key=True),
    sa.Column("action_id", sa.Text),
    sa.Column("actor", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("released_at", LedgerTime),
)
