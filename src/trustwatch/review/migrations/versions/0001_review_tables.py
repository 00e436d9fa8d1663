"""Cases, their alerts and accounts, labels, the audit log and build cursors.

Revision ID: 0001
Revises:
Create Date: 2026-12-05

The audit log refuses ``UPDATE`` and ``DELETE`` (and ``TRUNCATE`` on
PostgreSQL) with a trigger, so it stays append-only even for a client that
bypasses trustwatch.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade(schema: str | None = None) -> None:
    """Create the review tables in ``schema`` (``None``: the default one)."""
    op.create_table(
        "cases",
        sa.Column("case_id", sa.Text, primary_key=True),
        sa.Column("subject_type", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("priority", sa.Float, nullable=False),
        sa.Column("assignee", sa.Text),
        sa.Column("last_seen", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        schema=schema,
    )
    op.create_index(
        "cases_queue", "cases", ["status", "priority", "last_seen"], schema=schema
    )
    op.create_index(
        "cases_subject", "cases", ["subject_type", "subject"], schema=schema
    )
    op.create_index("cases_assignee", "cases", ["assignee"], schema=schema)
    op.create_table(
        "case_accounts",
        sa.Column("case_id", sa.Text, primary_key=True),
        sa.Column("account", sa.Text, primary_key=True),
        schema=schema,
    )
    op.create_index(
        "case_accounts_account", "case_accounts", ["account"], schema=schema
    )
    op.create_table(
        "case_verdicts",
        sa.Column("verdict_id", sa.Text, primary_key=True),
        sa.Column("case_id", sa.Text, nullable=False),
        schema=schema,
    )
    op.create_index("case_verdicts_case", "case_verdicts", ["case_id"], schema=schema)
    op.create_table(
        "labels",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("label_id", sa.Text, nullable=False, unique=True),
        sa.Column("subject_type", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("case_id", sa.Text),
        sa.Column("labelled_at", _TS, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        schema=schema,
    )
    op.create_index("labels_given", "labels", ["labelled_at", "seq"], schema=schema)
    op.create_table(
        "audit_log",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Text, nullable=False, unique=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("target_type", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        schema=schema,
    )
    op.create_index("audit_log_actor", "audit_log", ["actor", "seq"], schema=schema)
    op.create_table(
        "review_state",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        schema=schema,
    )
    _refuse_audit_changes(schema)


def _refuse_audit_changes(schema: str | None) -> None:
    """Add the triggers that keep the audit log append-only."""
    if op.get_bind().dialect.name == "postgresql":
        table = f'"{schema}".audit_log' if schema else "audit_log"
        function = (
            f'"{schema}".refuse_audit_change' if schema else "refuse_audit_change"
        )
        op.execute(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
        op.execute(
            f"CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


def downgrade(schema: str | None = None) -> None:
    """Drop the review tables (and with them every case, label and entry)."""
    if op.get_bind().dialect.name == "postgresql":
        function = (
            f'"{schema}".refuse_audit_change' if schema else "refuse_audit_change"
        )
        op.execute(f"DROP FUNCTION IF EXISTS {function}() CASCADE")
    for table in (
        "review_state",
        "audit_log",
        "labels",
        "case_verdicts",
        "case_accounts",
        "cases",
    ):
        op.drop_table(table, schema=schema)
