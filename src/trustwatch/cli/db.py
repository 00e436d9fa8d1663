"""``trustwatch db``: bring a review store's tables up to date, or show them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from trustwatch.cli.cases import review_db_option
from trustwatch.cli.render import output_console
from trustwatch.errors import ConfigError

if TYPE_CHECKING:
    from trustwatch.review.store import SqlReviewStore

__all__ = ["db"]

console = output_console()


def _open(target: str, schema: str) -> SqlReviewStore:
    """Open the review store as it is, without migrating or checking it."""
    from trustwatch.review.store import PostgresReviewStore, SqliteReviewStore
    from trustwatch.storage.checkpoints import POSTGRES_SCHEMES, redact_dsn

    if not target.strip():
        raise ConfigError("--review-db is empty; hint: give a file or postgresql://")
    if target.startswith(POSTGRES_SCHEMES):
        return PostgresReviewStore(target, schema=schema, check=False)
    if "://" in target:
        raise ConfigError(
            f"--review-db {redact_dsn(target)!r} is neither a file nor a "
            "postgresql:// address"
        )
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    return SqliteReviewStore(Path(target), migrate=False)


@click.group()
def db() -> None:
    """The review store's schema: migrate it, or show its revision."""


@db.command()
@review_db_option
@click.option(
    "--review-schema",
    default="trustwatch",
    show_default=True,
    help="PostgreSQL schema of the review tables.",
)
def upgrade(review_db: str, review_schema: str) -> None:
    """Migrate the review store to the newest schema (safe to run again)."""
    with _open(review_db, review_schema) as store:
        before = store.revision()
        after = store.upgrade()
    console.print(f"review store at revision {after} (was {before or 'empty'})")


@db.command()
@review_db_option
@click.option(
    "--review-schema",
    default="trustwatch",
    show_default=True,
    help="PostgreSQL schema of the review tables.",
)
def current(review_db: str, review_schema: str) -> None:
    """Show the review store's schema revision and the newest one known."""
    from trustwatch.review.migrate import head_revision

    with _open(review_db, review_schema) as store:
        revision = store.revision()
    head = head_revision()
    state = "up to date" if revision == head else "needs: trustwatch db upgrade"
    console.print(f"revision {revision or 'none'} (newest {head}): {state}")
