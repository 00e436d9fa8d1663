"""Warming a pipeline's lazy parts up before real events arrive.

Several parts of the detectors load on first use: the user-agent parser
compiles its regular expressions at the first login, the public-suffix list
is parsed at the first URL, the content detectors build their tables at the
first download. In a batch run that costs nothing worth noting; in a stream
worker it lands on the first events, whose decisions then come hundreds of
milliseconds late. A worker therefore runs a few hundred simulated events of
every type through a throwaway pipeline before it joins its group.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from trustwatch.events.model import EVENT_TYPES
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.simulation import SimulationConfig, iter_events

__all__ = ["warm_up"]

log = logging.getLogger(__name__)

#: Enough simulated events to meet every event type and every lazy load.
WARM_UP_EVENTS = 400


def warm_up(
    build_pipeline: Callable[[], Pipeline], events: int = WARM_UP_EVENTS
) -> float:
    """Run simulated events through a throwaway pipeline; return the seconds.

    At least ``events`` events, and on until every event type has come.

    Nothing the throwaway pipeline decides leaves this function, and its
    state is dropped; only what detectors load once per process stays
    loaded.
    """
    started = time.perf_counter()
    pipeline = build_pipeline()
    config = SimulationConfig(seed=1, accounts=50, days=2.0)
    unseen = set(EVENT_TYPES.values())
    for event in iter_events(config):
        if pipeline.events_seen >= events and not unseen:
            break
        unseen.discard(type(event))
        pipeline.process_one(event)
    pipeline.failures.clear()
    spent = time.perf_counter() - started
    log.info(
        "pipeline warmed up with %d simulated events in %.2f s",
        pipeline.events_seen,
        spent,
    )
    return spent
