"""Alembic's entry point for the decision store: run on a connection we hand it.

:func:`trustwatch.storage.migrate.upgrade_decision_store` opens the
connection and puts it, with the schema, in the Alembic config's
``attributes``; nothing here reads a URL, a file or the environment.
"""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the decision store migrations run through trustwatch only; "
        "hint: open the store with trustwatch.storage.postgres.PostgresStore"
    )
schema = config.attributes["schema"]

context.configure(
    connection=connection,
    version_table="decision_schema_version",
    version_table_schema=schema,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations(schema=schema)
