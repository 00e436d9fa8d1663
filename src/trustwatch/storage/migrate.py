"""Alembic migrations of the PostgreSQL decision store (verdicts, actions...).

:class:`~trustwatch.storage.postgres.PostgresStore` calls
:func:`upgrade_decision_store` on connect when its tables are missing or
behind :data:`DECISION_SCHEMA_HEAD`, so a store keeps creating itself as it
always did, and a store made before migrations existed is recorded at the
baseline revision. The version is kept in ``decision_schema_version`` inside
the store's schema. SQLAlchemy and Alembic are imported only to migrate.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

__all__ = [
    "DECISION_SCHEMA_HEAD",
    "VERSION_TABLE",
    "decision_store_revision",
    "upgrade_decision_store",
]

log = logging.getLogger(__name__)

#: The newest decision-store revision; a test keeps it equal to the scripts'.
DECISION_SCHEMA_HEAD = "0005"
#: The table in which Alembic keeps the decision store's schema version.
VERSION_TABLE = "decision_schema_version"
#: The advisory lock key workers take before changing a schema's tables.
LOCK_KEY = "trustwatch schema {schema}"
_SCRIPTS = Path(__file__).resolve().parent / "migrations"


def _engine(connect: Any) -> Any:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    return sa.create_engine(
        "postgresql+psycopg://", creator=connect, poolclass=NullPool
    )


def scripts_head() -> str | None:
    """Return the newest revision among the shipped migration scripts."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return ScriptDirectory.from_config(config).get_current_head()


def decision_store_revision(connect: Any, schema: str) -> str | None:
    """Return the store's revision (``None``: never migrated, or no tables).

    ``connect`` opens a new psycopg connection to the store's database.
    """
    from alembic.runtime.migration import MigrationContext

    engine = _engine(connect)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"version_table": VERSION_TABLE, "version_table_schema": schema},
            )
            return context.get_current_revision()
    finally:
        engine.dispose()


def upgrade_decision_store(connect: Any, schema: str, revision: str = "head") -> None:
    """Migrate the decision store in ``schema`` to ``revision`` (the newest).

    The schema is created when missing. Workers starting together take the
    schema's advisory lock, so one migrates and the others find it done.
    """
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    engine = _engine(connect)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": LOCK_KEY.format(schema=schema)},
            )
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            config = Config()
            config.set_main_option("script_location", str(_SCRIPTS))
            config.attributes["connection"] = connection
            config.attributes["schema"] = schema
            command.upgrade(config, revision)
    finally:
        engine.dispose()
    log.info("decision store schema %s at revision %s", schema, revision)
