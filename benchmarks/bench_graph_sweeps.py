"""Cost of the sweep detectors, per event and per sweep, against the rings detector.

For each ``--accounts`` size, simulates ordinary telemetry (attacks included)
for ``--days`` days with the default injected rings mixed in
(:func:`trustwatch.graph.inject.inject_rings`), then, on one core and in one
run:

1. **per event**: the same events in stream order through
   :class:`~trustwatch.detectors.rings.RingDetector` (the baseline) and through
   each sweep detector with sweeps turned off (``sweep_interval`` longer than
   the stream): microseconds per event, and the ratio to the baseline;
2. **per sweep**: one sweep over the whole graph at the end of the stream,
   split into gathering the shared attributes, the search (projection and
   Leiden, or the matrix and FRAUDAR) and scoring, best of ``--repeat``; and
   what an hourly sweep adds per event at the stream's event rate.

    python3 benchmarks/bench_graph_sweeps.py --accounts 20000 100000 --days 1
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from trustwatch.detectors.base import Detector
from trustwatch.detectors.graph_sweeps import (
    CommunityDetector,
    DenseBlockDetector,
    GraphSweepDetector,
)
from trustwatch.detectors.rings import RingDetector
from trustwatch.evaluation.rings import default_ring_specs
from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext
from trustwatch.graph.communities import shared_attributes
from trustwatch.graph.inject import inject_rings
from trustwatch.simulation import SimulationConfig, simulate


def _feed(detector: Detector, events: Sequence[EventBase]) -> float:
    """Return the seconds ``detector`` takes over ``events``, contexts included."""
    started = time.perf_counter()
    for event in events:
        detector.process_one(event, EventContext(event))
    return time.perf_counter() - started


def _sweep_parts(detector: GraphSweepDetector, now: float) -> tuple[float, ...]:
    """Time one sweep: shared attributes, search, and the whole sweep."""
    started = time.perf_counter()
    shared = shared_attributes(detector.graph, now)
    gathered = time.perf_counter()
    groups = detector.find_groups(shared)
    searched = time.perf_counter()
    detector.sweep(now)
    whole = time.perf_counter() - searched
    del groups
    return gathered - started, searched - gathered, whole


def run(accounts: int, days: float, seed: int, repeat: int) -> None:
    """Print the per-event and per-sweep costs for one population size."""
    started = time.perf_counter()
    benign = simulate(SimulationConfig(accounts=accounts, days=days, seed=seed)).events
    events, _ = inject_rings(benign, default_ring_specs(), seed=seed)
    span = events[-1].ts.timestamp() - events[0].ts.timestamp()
    now = events[-1].ts.timestamp()
    print(
        f"\n== {accounts:,} accounts, {days:g} days: {len(events):,} events "
        f"({time.perf_counter() - started:.1f} s to simulate)"
    )
    baseline = _feed(RingDetector(), events)
    per_event_base = baseline / len(events) * 1e6
    print(f"rings (lockstep, baseline): {per_event_base:7.2f} us/event")
    for cls in (CommunityDetector, DenseBlockDetector):
        detector = cls(sweep_interval=span * 10 + 1)
        seconds = _feed(detector, events)
        per_event = seconds / len(events) * 1e6
        sizes = detector.graph.sizes()
        print(
            f"{cls.name:>12} per event: {per_event:7.2f} us/event "
            f"(x{per_event / per_event_base:.2f} of the rings detector); graph "
            f"{sizes['accounts']:,} accounts, {sizes['attributes']:,} attributes"
        )
        best: tuple[float, ...] | None = None
        for _ in range(repeat):
            parts = _sweep_parts(detector, now)
            if best is None or parts[2] < best[2]:
                best = parts
        if best is None:
            continue
        gather, search, whole = best
        shared = shared_attributes(detector.graph, now)
        rate = len(events) / span if span else 0.0
        hourly = whole / (rate * 3600) * 1e6 if rate else 0.0
        risky = detector.risky_groups()
        print(
            f"{cls.name:>12} per sweep: {whole:7.2f} s (shared attributes "
            f"{gather:.2f} s, search {search:.2f} s) over {len(shared.accounts):,} "
            f"accounts and {len(shared.attributes):,} shared attributes; "
            f"{len(detector.groups())} groups, {len(risky)} risky; an hourly sweep "
            f"adds {hourly:.2f} us/event (x{(per_event + hourly) / per_event_base:.2f} "
            "of the rings detector in all)"
        )


def main() -> None:
    """Parse the arguments and run each size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if args.days * 24 < len(default_ring_specs()) + 1:
        parser.error("--days too short for the injected rings; use at least 0.3")
    for accounts in args.accounts:
        run(accounts, args.days, args.seed, args.repeat)


if __name__ == "__main__":
    main()
