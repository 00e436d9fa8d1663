"""Ledgers on both kinds of decision store, and an adapter that counts."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from trustwatch.response.adapters import AdapterError, Delivery
from trustwatch.response.ledger import DispatchLedger, open_ledger

__all__ = ["CountingAdapter", "any_ledger"]


@pytest.fixture(params=["sqlite", "postgres"])
def any_ledger(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[DispatchLedger]:
    """A ledger over a SQLite store file, then over a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        with DispatchLedger(tmp_path / "store.db") as opened:
            yield opened
        return
    dsn, schema = request.getfixturevalue("postgres_store_target")
    with open_ledger(dsn, schema=schema) as opened:
        yield opened


class CountingAdapter:
    """A platform double: counts each delivery by its idempotency key.

    ``down`` makes it unreachable; ``pause`` (seconds) holds every send a
    moment, so that two dispatchers overlap.
    """

    def __init__(self, name: str = "platform", *, pause: float = 0.0) -> None:
        self.name = name
        self.pause = pause
        self.down = False
        self.deliveries: Counter[str] = Counter()
        self.operations: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def send(self, delivery: Delivery) -> None:
        if self.down:
            raise AdapterError("cannot reach the platform double", unreachable=True)
        if self.pause:
            time.sleep(self.pause)
        with self._lock:
            self.deliveries[delivery.key] += 1
            self.operations.append((delivery.operation, delivery.action.action_id))

    def close(self) -> None:
        return
