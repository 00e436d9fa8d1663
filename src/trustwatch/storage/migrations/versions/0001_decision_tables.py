"""Baseline: verdicts, actions, dead letters and stream checkpoints.

Revision ID: 0001
Revises:
Create Date: 2026-12-05

The tables the store created on connect before it had migrations, with
``IF NOT EXISTS`` throughout: on a store made by an earlier version this
revision changes nothing and only records that the store is at 0001.
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_DDL = """
CREATE TABLE IF NOT EXISTS {s}.verdicts (
    verdict_id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    account TEXT,
    ip TEXT,
    decision TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    kinds TEXT NOT NULL,
    policy TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_ts ON {s}.verdicts (ts, verdict_id);
CREATE INDEX IF NOT EXISTS verdicts_account ON {s}.verdicts (account);
CREATE INDEX IF NOT EXISTS verdicts_decision ON {s}.verdicts (decision);
CREATE TABLE IF NOT EXISTS {s}.actions (
    action_id TEXT PRIMARY KEY,
    verdict_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target TEXT NOT NULL,
    mode TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_verdict ON {s}.actions (verdict_id);
CREATE INDEX IF NOT EXISTS actions_created ON {s}.actions (created_at, action_id);
CREATE TABLE IF NOT EXISTS {s}.dead_letters (
    dead_letter_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    location TEXT NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    raw BYTEA NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX IF NOT EXISTS dead_letters_seq ON {s}.dead_letters (seq);
CREATE TABLE IF NOT EXISTS {s}.stream_checkpoints (
    group_id TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offsets JSONB NOT NULL,
    state BYTEA NOT NULL,
    saved_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (group_id, partition)
);
"""


def upgrade(schema: str) -> None:
    """Create the decision tables in ``schema`` where missing."""
    quoted = '"' + schema.replace('"', '""') + '"'
    for statement in _DDL.format(s=quoted).split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade(schema: str) -> None:
    """Drop the decision tables (and every verdict, action and checkpoint)."""
    quoted = '"' + schema.replace('"', '""') + '"'
    for table in ("stream_checkpoints", "dead_letters", "actions", "verdicts"):
        op.execute(f"DROP TABLE IF EXISTS {quoted}.{table}")
