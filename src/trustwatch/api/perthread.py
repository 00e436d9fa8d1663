"""One connection per worker thread for the stores the API reads.

The stores hold SQLite connections, which Python ties to the thread that
opened them, while FastAPI runs plain (``def``) routes on a pool of worker
threads. :class:`PerThread` opens the store once in each thread that uses it
and passes every attribute through, so routes call it like the store itself.
PostgreSQL stores are opened per thread too: each then runs its own
transactions on its own connection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["PerThread"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class PerThread(Generic[T]):
    """A store opened lazily in each thread that touches it.

    Parameters
    ----------
    opener
        Opens a new store (called once per thread).
    name
        What the store is, for logs.

    Notes
    -----
    The first store is opened at once, in the calling thread, so bad
    settings fail at start-up rather than at the first request.
    """

    def __init__(self, opener: Callable[[], T], name: str) -> None:
        self._opener = opener
        self._name = name
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()
        self.get()

    def get(self) -> T:
        """Return this thread's store, opening it on first use."""
        store: T | None = getattr(self._local, "store", None)
        if store is None:
            store = self._opener()
            self._local.store = store
            with self._lock:
                self._opened.append(store)
            log.debug("opened %s for thread %s", self._name, threading.get_ident())
        return store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)

    def close(self) -> None:
        """Close every store opened so far, as far as each thread allows."""
        with self._lock:
            opened, self._opened = self._opened, []
        for store in opened:
            try:
                store.close()
            except Exception as exc:  # a connection owned by another thread
                log.debug("%s left to the collector: %s", self._name, exc)
        self._local = threading.local()
