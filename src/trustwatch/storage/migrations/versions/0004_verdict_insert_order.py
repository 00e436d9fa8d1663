"""Verdicts numbered in insertion order, for readers that resume from a mark.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

``verdicts.seq`` is an identity column: each new verdict gets the next
number when it is inserted, and the verdicts already stored are numbered
when the column is added (in the table's physical order, close to the order
they were written). :meth:`~trustwatch.storage.postgres.PostgresStore.alerts_since`
reads by it, through a unique index.

Adding the column rewrites the table under an exclusive lock: on a large
store, run the upgrade when no worker writes (it takes seconds per million
verdicts).
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_UPGRADE = """
ALTER TABLE {s}.verdicts
    ADD COLUMN IF NOT EXISTS seq BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX IF NOT EXISTS verdicts_seq ON {s}.verdicts (seq);
"""
_DOWNGRADE = """
DROP INDEX IF EXISTS {s}.verdicts_seq;
ALTER TABLE {s}.verdicts DROP COLUMN IF EXISTS seq;
"""


def _run(script: str, schema: str) -> None:
    quoted = '"' + schema.replace('"', '""') + '"'
    for statement in script.format(s=quoted).split(";"):
        if statement.strip():
            op.execute(statement)


def upgrade(schema: str) -> None:
    """Number the verdicts in ``schema`` and index the numbers."""
    _run(_UPGRADE, schema)


def downgrade(schema: str) -> None:
    """Drop the verdicts' insertion numbers."""
    _run(_DOWNGRADE, schema)
