"""Alembic's entry point for the review store: run on a connection we hand it.

:func:`trustwatch.review.migrate.upgrade` opens the connection and puts it,
with the PostgreSQL schema (``None`` for SQLite), in the Alembic config's
``attributes``; nothing here reads a URL, a file or the environment.
"""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the review migrations run through trustwatch only; "
        "hint: trustwatch db upgrade --review-db TARGET"
    )
schema = config.attributes.get("schema")

context.configure(
    connection=connection,
    version_table="review_schema_version",
    version_table_schema=schema,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations(schema=schema)
