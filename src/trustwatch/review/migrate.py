"""Bring a review store's tables up to date with Alembic.

The migration scripts ship inside the package (``migrations/versions``), so a
plain install can upgrade a store without an ``alembic.ini``: we build the
Alembic config here and hand it an open connection and, on PostgreSQL, the
schema that holds the tables. The version is kept in the table
``review_schema_version``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine

__all__ = ["VERSION_TABLE", "current_revision", "head_revision", "upgrade"]

log = logging.getLogger(__name__)

#: The table in which Alembic keeps the store's schema version.
VERSION_TABLE = "review_schema_version"
_SCRIPTS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def head_revision() -> str:
    """Return the newest schema revision this version of trustwatch knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no review migrations found in {_SCRIPTS}")
    return head


def current_revision(engine: Engine, schema: str | None = None) -> str | None:
    """Return the store's schema revision, or ``None`` when it has no tables."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"version_table": VERSION_TABLE, "version_table_schema": schema},
        )
        return context.get_current_revision()


def upgrade(engine: Engine, schema: str | None = None, revision: str = "head") -> str:
    """Migrate the store to ``revision`` (the newest by default); return it.

    Running it again on an up-to-date store changes nothing. On PostgreSQL the
    schema is created first when missing, and an advisory lock keeps two
    migrators (two workers starting together) from racing.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # one migrator at a time: a second waits, then finds the tables
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"trustwatch.review:{schema}"},
            )
        if schema is not None:
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        config = _config()
        config.attributes["connection"] = connection
        config.attributes["schema"] = schema
        command.upgrade(config, revision)
    reached = current_revision(engine, schema)
    log.info("review store schema at revision %s", reached)
    return reached or ""
