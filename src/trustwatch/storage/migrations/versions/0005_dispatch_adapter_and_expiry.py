"""The dispatch ledger records each attempt's adapter and a clamped expiry.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

``action_dispatch.adapter`` names the adapter an action's (or reversal's)
last attempt went through, so that its reversal goes through the same one
even after the routes change. ``action_dispatch.expires_at`` is when an
action ends when that is earlier than its ``actions.expires_at``: an action
whose event is dated ahead of the dispatcher's clock lasts its rule's length
from when it was taken in. Rows stored before hold ``NULL`` (the current
route, and the action's own expiry). Adding nullable columns takes a brief
exclusive lock and rewrites nothing.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_UPGRADE = """
ALTER TABLE {s}.action_dispatch ADD COLUMN IF NOT EXISTS adapter TEXT;
ALTER TABLE {s}.action_dispatch ADD COLUMN IF NOT EXISTS expires_at TIMESTAMPTZ
"""
_DOWNGRADE = """
ALTER TABLE {s}.action_dispatch DROP COLUMN IF EXISTS expires_at;
ALTER TABLE {s}.action_dispatch DROP COLUMN IF EXISTS adapter
"""


def _run(script: str, schema: str) -> None:
    quoted = '"' + schema.replace('"', '""') + '"'
    for statement in script.format(s=quoted).split(";"):
        if statement.strip():
            op.execute(statement)


def upgrade(schema: str) -> None:
    """Add the attempt's adapter and the clamped expiry to ``action_dispatch``."""
    _run(_UPGRADE, schema)


def downgrade(schema: str) -> None:
    """Drop the attempt's adapter and the clamped expiry."""
    _run(_DOWNGRADE, schema)
