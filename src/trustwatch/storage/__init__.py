"""Stores for verdicts, actions and dead letters."""

from trustwatch.storage.sqlite import SqliteStore, VerdictQuery

__all__ = ["SqliteStore", "VerdictQuery"]
