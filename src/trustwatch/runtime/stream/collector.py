"""Short garbage-collection pauses for a worker that holds large state.

A stream worker's detector state is millions of small, long-lived objects
(dicts of counters, windows, graph maps). CPython's cycle collector walks
every object of the generations it collects, at about a microsecond each,
and decides nothing meanwhile: on a worker at 10,000 events/s, one
collection of the middle generation took 0.69 s, more than the run's p99
latency, and a full one grows with the whole state.

:class:`StateCollector` keeps the collector off that state. After each
committed batch it collects the young generations, which hold only what
the batch allocated (a fraction of a millisecond at a few hundred events a
batch; 13 ms at most in the benchmark's runs), and then freezes the
survivors (:func:`gc.freeze`): the collector ignores them from then on, so
its automatic passes during a batch never see more than that batch's
objects. Frozen objects are still freed by reference counting when a
detector drops them; only reference cycles among them would outlive their
use, and the default detectors leave none (a test checks it). As a safety
net for detectors that do, every ``full_interval`` seconds everything is
thawed and collected once, a pause of about a microsecond per live object;
the worker also looks for that moment while idle, and puts it off while a
forked save child shares the state's pages. Between full collections no
collector pass in the parent writes to the frozen objects, so those pages
stay shared with a save child.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

__all__ = ["GC_THRESHOLDS", "StateCollector"]

log = logging.getLogger(__name__)

#: Garbage-collection thresholds while a worker runs. Restoring partition
#: state allocates millions of objects at once; at Python's defaults (700,
#: 10, 10) the collections during it took a third of a worker's time.
GC_THRESHOLDS = (50_000, 50, 100)


class StateCollector:
    """Collect what each batch left behind, then freeze what survived.

    Use it as a context manager around the consume loop; call
    :meth:`settle` before the first batch, :meth:`after_batch` between
    batches, and :meth:`collect_all` while idle once :meth:`full_due`. On
    exit the collector's thresholds are restored, and the objects it froze
    are thawed (unless the process had frozen objects of its own before,
    which stay as they were).

    Parameters
    ----------
    full_interval
        Seconds between full collections over everything, frozen state
        included; 0 for never.
    clock
        Monotonic seconds (a parameter for tests).
    """

    def __init__(
        self, full_interval: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if full_interval < 0:
            raise ValueError("full_interval must be 0 (never) or positive")
        self.full_interval = full_interval
        self._clock = clock
        self._thresholds = gc.get_threshold()
        self._thaw_on_exit = False
        self._last_full = 0.0
        #: full collections run, and the unreachable objects they found
        self.full_collections = 0
        self.cyclic_garbage = 0

    def __enter__(self) -> StateCollector:
        self._thresholds = gc.get_threshold()
        self._thaw_on_exit = gc.get_freeze_count() == 0
        self._last_full = self._clock()
        gc.set_threshold(*GC_THRESHOLDS)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.set_threshold(*self._thresholds)
        if self._thaw_on_exit:
            gc.unfreeze()

    def settle(self) -> None:
        """Collect everything once and freeze what survives.

        Called before the first batch, so that the process's modules and
        warmed-up caches never reach a collector pass (the first such pass
        over them took 0.13 s, and every event that arrived meanwhile
        waited). Garbage found here is the start-up's, not a detector's.
        """
        gc.collect()
        gc.freeze()
        self._last_full = self._clock()

    def after_batch(self, *, full_allowed: bool = True) -> None:
        """Collect the objects allocated since the last call, freeze the rest.

        When the full interval has passed and ``full_allowed`` (the worker
        passes ``False`` while a forked save child is alive: thawing and
        walking the whole state would make the parent copy every page the
        child still shares), everything is collected as well.
        """
        # objects that reached the oldest generation during the batch (an
        # automatic pass of the middle one, or someone's gc.collect()) are
        # not frozen yet, and only a full pass looks at them; it walks the
        # unfrozen objects alone, so it costs no more than the batch's
        gc.collect(2 if gc.get_objects(generation=2) else 1)
        if full_allowed and self.full_due():
            self.collect_all()
            return
        gc.freeze()

    def full_due(self) -> bool:
        """Whether the full interval has passed since the last full collection."""
        return bool(self.full_interval) and (
            self._clock() - self._last_full >= self.full_interval
        )

    def collect_all(self) -> int:
        """Thaw and collect everything, freeze the survivors; return the
        number of unreachable objects among the state that was frozen."""
        started = time.perf_counter()
        gc.collect()  # what was never frozen is not the frozen state's garbage
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        took = time.perf_counter() - started
        self._last_full = self._clock()
        self.full_collections += 1
        self.cyclic_garbage += found
        if found:
            log.warning(
                "full garbage collection: %d unreachable objects in %.2f s; a "
                "detector leaves reference cycles behind, and until this "
                "collection they held their memory",
                found,
                took,
            )
        else:
            log.info("full garbage collection: nothing unreachable, %.2f s", took)
        return found
