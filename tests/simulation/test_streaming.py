"""``iter_events`` streams long runs without holding them."""

from __future__ import annotations

import inspect
import tracemalloc

import pytest

from trustwatch.simulation import SimulationConfig, iter_events


@pytest.mark.slow
def test_iter_events_streams_200k_events_in_bounded_memory() -> None:
    # About 17k events a day for 2,000 accounts: two weeks pass 200k events.
    config = SimulationConfig(seed=5, accounts=2000, days=14.0)
    assert inspect.isgenerator(iter_events(config))
    stream = iter_events(config)

    tracemalloc.start()
    try:
        count = 0
        last = None
        for count, event in enumerate(stream, 1):
            if last is not None:
                assert event.ts >= last
            last = event.ts
            if count == 100_000:
                early_peak = tracemalloc.get_traced_memory()[1]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert count >= 200_000
    # Holding 200k events would take well over 100 MB; the stream keeps the
    # population (whose recent-file lists fill up over the first days) and a
    # few hours of follow-ups, so its peak levels off.
    assert peak < 40_000_000
    assert peak < 1.35 * early_peak
