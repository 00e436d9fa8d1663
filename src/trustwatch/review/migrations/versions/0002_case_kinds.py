"""Index cases by signal kind, so that the queue filters by kind in the database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

``case_kinds`` holds one row per case and signal kind. The store keeps it in
step when it writes cases; this revision fills it for the cases already
stored, from the kinds in each case's JSON body, a page of cases at a time.
"""

from __future__ import annotations

import json
import logging

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

#: Cases read from the stored bodies per backfill step.
_PAGE = 1000


def upgrade(schema: str | None = None) -> None:
    """Create ``case_kinds`` in ``schema`` and fill it from the stored cases."""
    op.create_table(
        "case_kinds",
        sa.Column("case_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        schema=schema,
    )
    op.create_index("case_kinds_kind", "case_kinds", ["kind", "case_id"], schema=schema)
    _backfill(schema)


def _kinds_of(case_id: str, body: str) -> list[str]:
    """The signal kinds listed in a stored case body (none when it is damaged)."""
    try:
        kinds = json.loads(body).get("kinds", [])
    except (ValueError, AttributeError):
        log.warning("case %s has a damaged body; its kinds are not indexed", case_id)
        return []
    return sorted({kind for kind in kinds if isinstance(kind, str)})


def _backfill(schema: str | None) -> None:
    """Index the kinds of every stored case, in pages ordered by case id."""
    db = op.get_bind()
    meta = sa.MetaData(schema=schema)
    cases = sa.Table(
        "cases", meta, sa.Column("case_id", sa.Text), sa.Column("body", sa.Text)
    )
    case_kinds = sa.Table(
        "case_kinds", meta, sa.Column("case_id", sa.Text), sa.Column("kind", sa.Text)
    )
    last: str | None = None
    while True:
        statement = sa.select(cases.c.case_id, cases.c.body)
        if last is not None:
            statement = statement.where(cases.c.case_id > last)
        rows = db.execute(statement.order_by(cases.c.case_id).limit(_PAGE)).all()
        if not rows:
            return
        links = [
            {"case_id": case_id, "kind": kind}
            for case_id, body in rows
            for kind in _kinds_of(case_id, body)
        ]
        if links:
            db.execute(case_kinds.insert(), links)
        last = rows[-1][0]


def downgrade(schema: str | None = None) -> None:
    """Drop the kind index of the cases."""
    op.drop_table("case_kinds", schema=schema)
