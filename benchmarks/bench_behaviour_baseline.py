"""Speed, memory and catch rate of the behaviour baseline, and the river options.

Simulates a platform's ordinary users (``trustwatch.simulation``, no attacks)
for ``--days`` days, then, on one core and in one run:

1. **speed**: over the same events in stream order, a plain dict update per
   event (building each event's context and counting it per account: the
   floor of any per-event Python work) against
   :class:`BehaviourBaselineDetector`; best of ``--repeat`` runs. Prints events
   per second and the cost per event.
2. **alerts on ordinary users**: the signals raised on the benign stream.
3. **catch rate**: the same stream with a download burst injected into
   ``--victims`` accounts that have at least a warm-up's history (at a random
   time in the last quarter of the run), per burst size: the share flagged,
   and whether each flagged account's baseline stayed where it was.
4. **memory and checkpoints**: bytes per account (tracemalloc) with a full
   window, and the JSON checkpoint's size per account.
5. **river** (when installed): whether :func:`window_quantile` agrees with
   ``river.stats.RollingQuantile``; memory (RSS growth, as river keeps its
   quantiles in Rust) of the four per-account quantiles as
   ``RollingQuantile`` and as the P² ``Quantile``; what restoring a damaged
   checkpoint of a river quantile does; the P² estimate's error on short
   histories; half-space trees' memory per account and cost per event.

    python3 benchmarks/bench_behaviour_baseline.py --accounts 2000 --days 30
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec

from trustwatch.detectors.behaviour_baseline import (
    VOLUMES,
    BehaviourBaselineDetector,
    window_quantile,
)
from trustwatch.events.model import EventBase, FileDownloaded
from trustwatch.features.context import EventContext
from trustwatch.simulation import SimulationConfig, iter_events

BURST_SIZES = (60, 120, 300, 1000)


def benign_stream(accounts: int, days: float, seed: int) -> list[EventBase]:
    """Return a simulated platform's ordinary events, in stream order."""
    config = SimulationConfig(seed=seed, accounts=accounts, days=days, attacks=())
    return list(iter_events(config))


def dict_update(events: list[EventBase]) -> None:
    """Build each event's context and count it per account in a dict."""
    counts: dict[str | None, int] = {}
    for event in events:
        ctx = EventContext(event)
        counts[event.account] = counts.get(event.account, 0) + int(ctx.t > 0)


def detector_run(events: list[EventBase]) -> None:
    """Run a fresh detector over the events."""
    detector = BehaviourBaselineDetector()
    for event in events:
        detector.process_one(event, EventContext(event))


def best_of(repeat: int, run: Callable[[list[EventBase]], None], events) -> float:
    """Return the fastest of ``repeat`` timed runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        run(events)
        best = min(best, time.perf_counter() - started)
    return best


def with_bursts(
    events: list[EventBase], victims: list[str], size: int, rng: random.Random
) -> tuple[list[EventBase], dict[str, float]]:
    """Return the events with one download burst per victim, and burst times."""
    first, last = events[0].ts, events[-1].ts
    span = (last - first).total_seconds()
    added: list[EventBase] = []
    when: dict[str, float] = {}
    for account in victims:
        start = first + timedelta(seconds=span * rng.uniform(0.75, 0.98))
        when[account] = start.timestamp()
        spacing = 1800 / size  # the burst takes half an hour
        added += [
            FileDownloaded(
                event_id=f"burst-{size}-{account}-{i}",
                ts=start + timedelta(seconds=i * spacing),
                account=account,
                file_id=f"burst-{i}",
            )
            for i in range(size)
        ]
    return sorted(events + added, key=lambda e: e.ts), when


def catch_rate(events: list[EventBase], victims: int, seed: int) -> None:
    """Print the share of injected bursts flagged, per burst size."""
    rng = random.Random(seed)
    warm = BehaviourBaselineDetector()
    cut = events[0].ts + (events[-1].ts - events[0].ts) * 0.7
    for event in events:
        if event.ts > cut:
            break
        warm.process_one(event, EventContext(event))
    state = warm.get_state()["accounts"]
    ready = [name for name, s in state if s["learned"] >= warm.warmup]
    chosen = rng.sample(sorted(ready), min(victims, len(ready)))
    print(f"  {len(ready)} accounts warm at 70% of the run; {len(chosen)} victims")
    for size in BURST_SIZES:
        stream, when = with_bursts(events, chosen, size, rng)
        detector = BehaviourBaselineDetector()
        flagged: set[str] = set()
        before: dict[str, float] = {}
        for event in stream:
            account = event.account or ""
            starts = when.get(account)
            if (
                starts is not None
                and account not in before
                and event.ts.timestamp() >= starts
            ):
                usual = detector.baseline(account) or {}
                before[account] = usual.get("downloads", 0.0)
            for signal in detector.process_one(event, EventContext(event)):
                if signal.event_id.startswith(f"burst-{size}-"):
                    flagged.add(signal.entity)
        unmoved = sum(
            (detector.baseline(a) or {}).get("downloads", -1.0) <= before[a] * 1.5 + 1
            for a in flagged
        )
        print(
            f"  burst of {size:5d} downloads in 30 min: flagged "
            f"{len(flagged)}/{len(chosen)} ({len(flagged) / max(1, len(chosen)):.0%}); "
            f"baseline not raised after: {unmoved}/{len(flagged)}"
        )


def memory_per_account(
    history: int, start: datetime, accounts: int = 2000
) -> tuple[float, float]:
    """Return bytes per account with a full window, and JSON checkpoint bytes."""
    detector = BehaviourBaselineDetector(history=history)
    events: list[EventBase] = []
    for a in range(accounts):
        for hour in range(history + 2):
            events.append(
                FileDownloaded(
                    event_id=f"m{a}-{hour}",
                    ts=start + timedelta(hours=hour),
                    account=f"account-{a:06d}",
                    device_id=f"device-{hour % 8}",
                    file_id="f",
                )
            )
    events.sort(key=lambda e: e.ts)
    gc.collect()
    tracemalloc.start()
    for event in events:
        detector.process_one(event, EventContext(event))
    gc.collect()
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    checkpoint = len(msgspec.json.encode(detector.get_state()))
    return used / accounts, checkpoint / accounts


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def river_comparison(history: int, accounts: int = 5000) -> None:
    """Compare with river's quantiles and half-space trees, when installed."""
    try:
        import river
        from river import anomaly, stats
    except ImportError:
        print("river: not installed (pip install river) - comparison skipped")
        return
    rng = random.Random(1)
    agree = 0
    for _ in range(1000):
        values = [rng.randrange(200) for _ in range(rng.randrange(1, 3 * history))]
        rolling = stats.RollingQuantile(0.95, history)
        for v in values:
            rolling.update(v)
        agree += abs(rolling.get() - window_quantile(values[-history:], 0.95)) < 1e-9
    print(f"river {river.__version__}: RollingQuantile agrees on {agree}/1000 windows")

    for name, make in (
        ("RollingQuantile", lambda: stats.RollingQuantile(0.95, history)),
        ("Quantile (P2)", lambda: stats.Quantile(0.95)),
    ):
        gc.collect()
        start = _rss()
        kept = []
        for _ in range(accounts):
            per_account = [make() for _ in VOLUMES]
            for q in per_account:
                for _ in range(history):
                    q.update(rng.randrange(20))
            kept.append(per_account)
        gc.collect()
        grown = (_rss() - start) / accounts
        print(f"  {name} x{len(VOLUMES)}: {grown:,.0f} B/account (RSS)")
        del kept

    # checkpoints: river's Rust quantiles save as opaque bytes
    saved = stats.Quantile(0.95)
    for v in range(30):
        saved.update(v)
    blob = saved._quantile.__getstate__()
    try:
        stats.Quantile(0.95)._quantile.__setstate__(blob[: len(blob) // 2])
        outcome = "accepted"
    except BaseException as exc:  # a Rust panic is not an Exception
        outcome = f"{type(exc).__name__} (an Exception: {isinstance(exc, Exception)})"
    print(
        f"  Quantile checkpoint: {len(blob)} opaque bytes; restoring a cut "
        f"checkpoint raised {outcome}"
    )

    errors = []
    for _ in range(1000):
        values = [rng.choice((0, 0, 1, 2, 3, 5, 8, 13)) for _ in range(20)]
        p2 = stats.Quantile(0.95)
        for v in values:
            p2.update(v)
        errors.append(abs(p2.get() - window_quantile(values, 0.95)))
    errors.sort()
    print(
        f"  Quantile (P2) after 20 small counts: median error {errors[500]:.2f}, "
        f"90th percentile {errors[900]:.2f} (exact: 0)"
    )

    limits = {v: (0.0, 200.0) for v in VOLUMES}
    gc.collect()
    tracemalloc.start()
    trees = anomaly.HalfSpaceTrees(
        n_trees=10, height=8, window_size=history, limits=limits, seed=1
    )
    for _ in range(history):
        trees.learn_one({v: rng.randrange(20) for v in VOLUMES})
    hst_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    x = {v: 5 for v in VOLUMES}
    started = time.perf_counter()
    for _ in range(5000):
        trees.score_one(x)
        trees.learn_one(x)
    per_event = (time.perf_counter() - started) / 5000 * 1e6
    print(
        f"  HalfSpaceTrees (10 trees, height 8): {hst_bytes:,.0f} B/account, "
        f"{per_event:.1f} us per score and learn"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--victims", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    events = benign_stream(args.accounts, args.days, args.seed)
    detector = BehaviourBaselineDetector()
    print(f"{len(events):,} events, {args.accounts} accounts, {args.days:g} days")

    floor = best_of(args.repeat, dict_update, events)
    cost = best_of(args.repeat, detector_run, events)
    n = len(events)
    print(f"dict update:        {n / floor:12,.0f} events/s  {floor / n * 1e6:6.2f} us")
    print(f"behaviour_baseline: {n / cost:12,.0f} events/s  {cost / n * 1e6:6.2f} us")
    print(f"  cost over the dict update: {cost / floor:.1f}x")

    signals = detector.process(events)
    accounts = {s.entity for s in signals}
    print(
        f"ordinary users: {len(signals)} signals on {len(accounts)} accounts "
        f"({len(accounts) / args.accounts:.2%} of accounts in {args.days:g} days)"
    )
    for signal in signals[:3]:
        print("  e.g.", "; ".join(signal.reasons))

    print("catch rate:")
    catch_rate(events, args.victims, args.seed)

    per_account, checkpoint = memory_per_account(detector.history, events[0].ts)
    print(
        f"memory: {per_account:,.0f} B/account with a full window "
        f"(history {detector.history}); checkpoint {checkpoint:,.0f} B/account "
        f"of JSON; {detector.max_accounts:,} accounts at most by default"
    )
    river_comparison(detector.history)


if __name__ == "__main__":
    main()
