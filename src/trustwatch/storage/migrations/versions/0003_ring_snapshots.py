"""Ring snapshots: the latest snapshot of each ring, with its members indexed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

The tables mirror the SQLite store's ``rings`` and ``ring_members``: one row
per ring (its filter columns beside the snapshot as JSON text), and one row
per member account, so that the rings of an account are found by index.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_DDL = """
CREATE TABLE IF NOT EXISTS {s}.rings (
    ring_id TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    risk DOUBLE PRECISION NOT NULL,
    size INTEGER NOT NULL,
    updated TIMESTAMPTZ NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rings_risk ON {s}.rings (risk DESC, size DESC);
CREATE TABLE IF NOT EXISTS {s}.ring_members (
    ring_id TEXT NOT NULL REFERENCES {s}.rings (ring_id) ON DELETE CASCADE,
    account TEXT NOT NULL,
    PRIMARY KEY (ring_id, account)
);
CREATE INDEX IF NOT EXISTS ring_members_account ON {s}.ring_members (account);
"""


def upgrade(schema: str) -> None:
    """Create the ring tables in ``schema`` where missing."""
    quoted = '"' + schema.replace('"', '""') + '"'
    for statement in _DDL.format(s=quoted).split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade(schema: str) -> None:
    """Drop the ring tables (and every stored ring snapshot)."""
    quoted = '"' + schema.replace('"', '""') + '"'
    for table in ("ring_members", "rings"):
        op.execute(f"DROP TABLE IF EXISTS {quoted}.{table}")
