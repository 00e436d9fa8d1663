"""Review-store fixtures: every store test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trustwatch.review.model import Case
from trustwatch.review.store import (
    PostgresReviewStore,
    SqliteReviewStore,
    SqlReviewStore,
)

T0 = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def review_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[SqlReviewStore]:
    """An empty, migrated review store on each backend.

    The PostgreSQL one lives in a fresh schema that the shared
    ``postgres_store_target`` fixture drops afterwards (and skips when no
    server answers, unless ``TRUSTWATCH_REQUIRE_POSTGRES=1``).
    """
    if request.param == "sqlite":
        store: SqlReviewStore = SqliteReviewStore(tmp_path / "review.db")
    else:
        dsn, schema = request.getfixturevalue("postgres_store_target")
        store = PostgresReviewStore(dsn, schema=schema, migrate=True)
    with store:
        yield store


def _make_case(
    case_id: str = "case-1",
    *,
    subject: str = "alice",
    subject_type: str = "account",
    verdicts: tuple[str, ...] = ("v1",),
    accounts: tuple[str, ...] | None = None,
    priority: float = 6.9,
    decision: str = "lock_account",
    minute: int = 0,
) -> Case:
    """A case about ``subject`` whose newest alert is ``minute`` after T0."""
    seen = T0 + timedelta(minutes=minute)
    return Case(
        case_id=case_id,
        subject_type=subject_type,  # type: ignore[arg-type]
        subject=subject,
        status="open",
        priority=priority,
        score=priority % 1,
        decision=decision,
        title=f"{len(verdicts)} alerts on {subject}",
        created_at=seen,
        updated_at=seen,
        first_seen=seen,
        last_seen=seen,
        verdict_ids=verdicts,
        accounts=accounts if accounts is not None else (subject,),
        kinds=("brute_force",),
    )


@pytest.fixture
def make_case() -> object:
    """Build a :class:`Case` (see ``_make_case`` for the arguments)."""
    return _make_case
