"""Bulk loading without the cyclic garbage collector in the way.

Loading a feed or a store creates millions of small objects and keeps them.
Every few hundred allocations CPython's cyclic collector runs, and its older
generations walk the ever larger lists being built: about a third of the load
time, for nothing, since indicators hold no reference cycles (their structs
are even declared ``gc=False``). Reference counting still frees everything;
only the cycle search waits until the bulk step ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause cyclic garbage collection for the block, if it was enabled."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
