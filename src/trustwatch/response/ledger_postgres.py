"""The dispatch ledger in a PostgreSQL decision store's schema.

The same ledger as on SQLite
(:class:`~trustwatch.response.ledger.DispatchLedger`, whose queries it
inherits), over a pooled SQLAlchemy engine on the decision store's schema.
Its tables come from the store's migration ``0002``
(:mod:`trustwatch.storage.migrate`), which opening the store applies when
the schema is behind. Claims, state changes and reversals are single guarded
statements or transactions under PostgreSQL's default READ COMMITTED
isolation: a second claimant's ``UPDATE`` waits for the first to commit, then
finds the row no longer due and changes nothing.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from trustwatch.errors import StorageError
from trustwatch.response.ledger import DispatchLedger
from trustwatch.response.ledger_tables import LEDGER_TABLES
from trustwatch.storage.checkpoints import redact_dsn
from trustwatch.storage.migrate import VERSION_TABLE

__all__ = ["PostgresDispatchLedger"]

_CONNECT_TIMEOUT_S = 10


class PostgresDispatchLedger(DispatchLedger):
    """The dispatch ledger in a PostgreSQL decision store's schema.

    Opening it opens the :class:`~trustwatch.storage.postgres.PostgresStore`,
    which migrates the schema to the newest revision when it is behind
    (revision ``0002`` adds the ledger's tables).

    Parameters
    ----------
    dsn
        A libpq connection string (``postgresql://user@host:5432/db``); without
        ``connect_timeout`` the ledger waits 10 seconds for the server.
    schema
        The decision store's schema.

    Raises
    ------
    ConfigError
        When psycopg is missing or the DSN or schema name is invalid.
    StorageError
        When the server cannot be reached, or the ledger's tables are missing.
    """

    def __init__(self, dsn: str, *, schema: str = "trustwatch") -> None:
        from trustwatch.storage.postgres import PostgresStore

        store = PostgresStore(dsn, schema=schema)
        import psycopg

        params = psycopg.conninfo.conninfo_to_dict(dsn)
        timeout = None if "connect_timeout" in params else _CONNECT_TIMEOUT_S

        def connect() -> Any:
            if timeout is None:
                return psycopg.connect(dsn)
            return psycopg.connect(dsn, connect_timeout=timeout)

        engine = sa.create_engine(
            "postgresql+psycopg://",
            creator=connect,
            pool_size=2,
            max_overflow=2,
            pool_pre_ping=True,
            execution_options={"schema_translate_map": {None: schema}},
        )
        self._attach(engine, store, target=redact_dsn(dsn), dsn=dsn)
        self.schema = schema
        try:
            self._require_tables()
        except StorageError:
            self.close()
            raise

    def _require_tables(self) -> None:
        """Refuse a schema whose ledger tables are missing (dropped by hand)."""

        def missing() -> list[str]:
            with self._engine.connect() as db:
                names = set(sa.inspect(db).get_table_names(schema=self.schema))
            return [table for table in LEDGER_TABLES if table not in names]

        lacking = self._guard("find the ledger's tables", missing)
        if lacking:
            raise StorageError(
                f"PostgreSQL store {self.path} (schema {self.schema}) lacks "
                f"{', '.join(lacking)}; hint: restore the tables from a backup, or "
                f"drop the schema's {VERSION_TABLE} table to have the store "
                "recreate what is missing"
            )
