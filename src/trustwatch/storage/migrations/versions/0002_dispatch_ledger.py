"""Dispatch ledger: dispatch state, reversals, breaker rates and releases.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

The tables :mod:`trustwatch.response.ledger` keeps beside ``actions`` (the
same as on SQLite, with times as ``TIMESTAMPTZ``): one row per enforced
action or reversal and its state, who reversed what, each rule's usual rate
for the breaker, and who released an action the breaker held.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_DDL = """
CREATE TABLE IF NOT EXISTS {s}.action_dispatch (
    action_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN
        ('pending', 'held', 'dispatched', 'failed', 'reversed', 'expired')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    last_error TEXT,
    dispatched_at TIMESTAMPTZ,
    due_at TIMESTAMPTZ NOT NULL,
    reversal_of TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS action_dispatch_due
    ON {s}.action_dispatch (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS action_dispatch_sent
    ON {s}.action_dispatch (dispatched_at);
CREATE TABLE IF NOT EXISTS {s}.action_reversals (
    reversal_id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL UNIQUE,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.breaker_rules (
    rule TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.action_releases (
    release_id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    released_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS action_releases_action
    ON {s}.action_releases (action_id, released_at)
"""


def upgrade(schema: str) -> None:
    """Create the dispatch ledger's tables in ``schema`` where missing."""
    quoted = '"' + schema.replace('"', '""') + '"'
    for statement in _DDL.format(s=quoted).split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade(schema: str) -> None:
    """Drop the ledger's tables (and every dispatch state and reversal)."""
    quoted = '"' + schema.replace('"', '""') + '"'
    for table in (
        "action_releases",
        "breaker_rules",
        "action_reversals",
        "action_dispatch",
    ):
        op.execute(f"DROP TABLE IF EXISTS {quoted}.{table}")
