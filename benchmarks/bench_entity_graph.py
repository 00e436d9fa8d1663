"""Entity graph and lockstep rings: streaming update cost per event, and memory.

Simulated benign telemetry (``--accounts``, ``--days``) with lockstep rings
injected (:func:`trustwatch.graph.inject.inject_rings`), decoded once, then
timed on one core, each pass over the same events in the same run:

1. **baseline**: the same attribute extraction
   (:func:`~trustwatch.graph.event_attributes`) written into a plain
   ``dict[account, dict[attribute, time]]``: the least a graph update costs;
2. **graph**: :meth:`EntityGraph.add_event` (bounded maps, hub check,
   lockstep pairs);
3. **rings**: :meth:`RingTracker.add_event` (the graph plus pair scoring and
   clustering);
4. **detector**: :class:`~trustwatch.detectors.rings.RingDetector` through
   ``process_one`` (everything, plus signals).

Then the peak memory the ring tracker's state takes (``tracemalloc`` on a
separate pass, so the timings are not slowed by it) and the rings found
against the injected answer key.

    python3 benchmarks/bench_entity_graph.py --accounts 5000 --days 3
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from collections.abc import Callable, Sequence

from trustwatch.detectors.rings import RingDetector
from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext
from trustwatch.graph import EntityGraph, RingTracker, event_attributes
from trustwatch.graph.inject import RingSpec, inject_rings
from trustwatch.simulation import SimulationConfig, simulate


def baseline(events: Sequence[EventBase]) -> None:
    """The same attributes into a plain dict: no bounds, no links."""
    table: dict[str, dict[str, float]] = {}
    for event in events:
        attributes = event_attributes(event)
        if attributes and event.account:
            own = table.setdefault(event.account, {})
            t = event.ts.timestamp()
            for attribute in attributes:
                own[attribute] = t


def graph_pass(events: Sequence[EventBase]) -> None:
    """Update the entity graph only."""
    graph = EntityGraph()
    for event in events:
        graph.add_event(event)


def rings_pass(events: Sequence[EventBase]) -> None:
    """Update the graph and the rings."""
    tracker = RingTracker()
    for event in events:
        tracker.add_event(event)


def detector_pass(events: Sequence[EventBase]) -> None:
    """Run the rings detector as the stream runtime does."""
    detector = RingDetector()
    for event in events:
        detector.process_one(event, EventContext(event))


def timed(
    run: Callable[[Sequence[EventBase]], None], events: Sequence[EventBase]
) -> float:
    """Return the best of three runs' events per second."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        run(events)
        best = min(best, time.perf_counter() - start)
    return len(events) / best


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--rings", type=int, default=6)
    args = parser.parse_args()
    benign = simulate(
        SimulationConfig(accounts=args.accounts, days=args.days, attacks=())
    ).events
    specs = [
        RingSpec(members=10 + 10 * (i % 5), proxies=1 + i % 4, late_joiners=i % 3)
        for i in range(args.rings)
    ]
    events, key = inject_rings(benign, specs)
    print(
        f"{len(events):,} events ({len(events) - len(benign):,} from "
        f"{len(specs)} injected rings), {args.accounts:,} accounts, {args.days:g} days"
    )
    rates = {}
    for name, run in (
        ("baseline dict update", baseline),
        ("entity graph", graph_pass),
        ("graph + rings", rings_pass),
        ("rings detector", detector_pass),
    ):
        rates[name] = timed(run, events)
        per_event = 1e6 / rates[name]
        print(f"{name:>22}: {rates[name]:>10,.0f} events/s  {per_event:6.1f} us/event")
    print(
        f"{'graph / baseline':>22}: "
        f"{rates['baseline dict update'] / rates['entity graph']:.1f}x the cost"
    )

    tracemalloc.start()
    tracker = RingTracker()
    for event in events:
        tracker.add_event(event)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak traced memory of graph + rings: {peak / 2**20:,.1f} MiB")
    print(f"sizes: {tracker.graph.sizes()}, rings kept: {len(tracker.rings())}")
    print(
        f"process max RSS: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"
    )
    truth = {m for ring in key for m in ring.members}
    flagged = {
        m
        for ring in tracker.rings()
        if tracker.risk(ring).score >= 0.6
        for m in ring.members
    }
    hits = len(flagged & truth)
    print(
        f"ring members: precision {hits / max(1, len(flagged)):.3f}, "
        f"recall {hits / len(truth):.3f} ({hits} of {len(truth)})"
    )


if __name__ == "__main__":
    main()
