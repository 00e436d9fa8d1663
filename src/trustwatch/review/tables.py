"""The review store's tables as SQLAlchemy Core sees them, and its time type.

The tables are created by the Alembic migrations
(:mod:`trustwatch.review.migrations`); these definitions only name the
columns that the store's queries read and write. Times go in and come out as
timezone-aware UTC on both databases.

PostgreSQL text cannot hold NUL, and one NUL in an account name must not stop
every case from being stored: every text column is :class:`NulSafeText`,
which writes NUL as U+FFFD on PostgreSQL, the way the decision store's filter
columns do. The same replacement applies to the values a query compares with
those columns, so a lookup by the exact name still finds the row. The JSON
bodies keep the exact value: msgspec writes NUL as the ``\\u0000`` escape,
which a text column holds.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "NulSafeText",
    "UtcDateTime",
    "audit_log",
    "case_accounts",
    "case_kinds",
    "case_verdicts",
    "cases",
    "labels",
    "review_state",
    "utc",
]


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (kept there as naive UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        moment = utc(value)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else utc(value)


class NulSafeText(sa.types.TypeDecorator[str]):
    """Text that PostgreSQL can hold: NUL goes in as U+FFFD there.

    SQLite keeps NUL as it is. Applied to bound values, so rows written and
    the values queries filter on are replaced alike.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if isinstance(value, str) and "\x00" in value and dialect.name != "sqlite":
            return value.replace("\x00", "\ufffd")
        return value


metadata = sa.MetaData()
cases = sa.Table(
    "cases",
    metadata,
    sa.Column("case_id", NulSafeText, primary_key=True),
    sa.Column("subject_type", NulSafeText),
    sa.Column("subject", NulSafeText),
    sa.Column("status", NulSafeText),
    sa.Column("priority", sa.Float),
    sa.Column("assignee", NulSafeText),
    sa.Column("last_seen", UtcDateTime),
    sa.Column("updated_at", UtcDateTime),
    sa.Column("version", sa.Integer),
    sa.Column("body", NulSafeText),
)
case_accounts = sa.Table(
    "case_accounts",
    metadata,
    sa.Column("case_id", NulSafeText, primary_key=True),
    sa.Column("account", NulSafeText, primary_key=True),
)
case_kinds = sa.Table(
    "case_kinds",
    metadata,
    sa.Column("case_id", NulSafeText, primary_key=True),
    sa.Column("kind", NulSafeText, primary_key=True),
)
case_verdicts = sa.Table(
    "case_verdicts",
    metadata,
    sa.Column("verdict_id", NulSafeText, primary_key=True),
    sa.Column("case_id", NulSafeText),
)
labels = sa.Table(
    "labels",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("label_id", NulSafeText),
    sa.Column("subject_type", NulSafeText),
    sa.Column("subject", NulSafeText),
    sa.Column("kind", NulSafeText),
    sa.Column("case_id", NulSafeText),
    sa.Column("labelled_at", UtcDateTime),
    sa.Column("body", NulSafeText),
)
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("entry_id", NulSafeText),
    sa.Column("at", UtcDateTime),
    sa.Column("actor", NulSafeText),
    sa.Column("action", NulSafeText),
    sa.Column("target_type", NulSafeText),
    sa.Column("target", NulSafeText),
    sa.Column("body", NulSafeText),
)
review_state = sa.Table(
    "review_state",
    metadata,
    sa.Column("name", NulSafeText, primary_key=True),
    sa.Column("value", NulSafeText),
)


def utc(moment: datetime) -> datetime:
    """Return ``moment`` in UTC; a naive time is refused, not guessed."""
    if moment.tzinfo is None:
        raise ValueError(
            f"time {moment.isoformat()} has no timezone; hint: pass an aware "
            "datetime (for example datetime.now(UTC))"
        )
    return moment.astimezone(UTC)
