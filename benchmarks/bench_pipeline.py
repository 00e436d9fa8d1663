"""End-to-end throughput of the embedded pipeline, next to a bare decode loop.

Generates a large simulated stream (platform telemetry with attacks), writes it
to JSON Lines, then times, in the same process and on the same file:

1. baseline: read the lines and decode each into a typed event with msgspec;
2. trustwatch: ``run_embedded`` over the file (decode with all input checks,
   every default detector including intel matching, the policy, and the
   SQLite writes of verdicts and actions), once keying networks by address
   prefix and once with the bundled offline geolocation.

Both run on one core; the ratio says what the pipeline costs over decoding.
``--detectors`` also runs the stream through a bare :class:`Pipeline` (no
intel, no geolocation, no store) with every detector timed on every event,
and prints each detector's share. It runs with a stream worker's collector
thresholds: at Python's defaults full collections land in whichever
detector allocates when they fall due, and blur the shares.

    python benchmarks/bench_pipeline.py --events 1000000
    python benchmarks/bench_pipeline.py --events 200000 --detectors
"""

from __future__ import annotations

import argparse
import gc
import resource
import tempfile
import time
from pathlib import Path

import msgspec

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors import default_detectors
from trustwatch.enrichment.geo import BundledGeo
from trustwatch.enrichment.urls import clear_caches
from trustwatch.events.decode import EventDecoder
from trustwatch.events.model import Event
from trustwatch.runtime.embedded import load_intel, run_embedded
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.runtime.stream.collector import GC_THRESHOLDS
from trustwatch.simulation import SimulationConfig, iter_events, simulate
from trustwatch.storage.sqlite import SqliteStore


def write_stream(path: Path, events: int, seed: int) -> int:
    """Write about ``events`` simulated events to ``path``; return the count."""
    encode = msgspec.json.Encoder().encode
    # the simulator makes about 8 events per account per day
    config = SimulationConfig(seed=seed, accounts=max(2000, events // 14), days=2.0)
    n = 0
    with path.open("wb") as fh:
        for event in iter_events(config):
            fh.write(encode(event) + b"\n")
            n += 1
            if n >= events:
                break
    return n


def detector_times(path: Path) -> None:
    """Print each default detector's time per event and per call over ``path``."""
    clear_caches()  # the runs before must not have parsed its URLs already
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        _time_detectors(path)
    finally:
        gc.set_threshold(*thresholds)


def _time_detectors(path: Path) -> None:
    pipeline = Pipeline(
        default_detectors(None, None),
        DecisionEngine(default_policy(), "dry_run"),
        timed=True,
    )
    decode = EventDecoder().decode
    calls = dict.fromkeys((d.name for d in pipeline.detectors), 0)
    readers = {
        d.name: (None if d.event_types is None else tuple(d.event_types))
        for d in pipeline.detectors
    }
    n = 0
    started = time.perf_counter()
    with path.open("rb") as fh:
        for line in fh:
            event = decode(line)
            pipeline.process_one(event, event.ts.timestamp())
            pipeline.failures.clear()
            n += 1
            for name, types in readers.items():
                if types is None or isinstance(event, types):
                    calls[name] += 1
    total = time.perf_counter() - started
    spent = pipeline.detector_seconds or {}
    print(
        f"bare pipeline, every detector timed: {n / total:,.0f} events/s "
        f"({total / n * 1e6:.1f} µs per event, {sum(spent.values()) / n * 1e6:.1f} "
        "of them in detectors)"
    )
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        per_call = seconds / calls[name] * 1e6 if calls[name] else 0.0
        print(
            f"  {name:<20} {seconds / n * 1e6:6.1f} µs per event, "
            f"{per_call:6.1f} µs per call"
        )


def bare_decode(path: Path) -> float:
    """Return seconds to decode every line of ``path`` into typed events."""
    decode = msgspec.json.Decoder(Event).decode
    started = time.perf_counter()
    with path.open("rb") as fh:
        for line in fh:
            decode(line)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--detectors", action="store_true", help="Also time each detector."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stream = root / "events.jsonl"
        n = write_stream(stream, args.events, args.seed)
        intel = root / "intel.txt"
        sim = simulate(SimulationConfig(seed=args.seed, accounts=500, days=0.5))
        intel.write_text("\n".join(sim.intel) + "\n")
        size = stream.stat().st_size
        print(f"stream: {n:,} events, {size / 1e6:.1f} MB")

        base = bare_decode(stream)
        print(f"bare typed decode       : {n / base:12,.0f} events/s")
        for label, geo in (("prefix networks", None), ("bundled geo/AS", BundledGeo())):
            with SqliteStore(root / f"{label[:6]}.sqlite") as store:
                started = time.perf_counter()
                summary = run_embedded(
                    [stream], store, intel=load_intel([intel]), geo=geo
                )
                full = time.perf_counter() - started
            print(
                f"trustwatch run, {label}: {n / full:12,.0f} events/s per core"
                f"  ({full / base:.1f}x the bare decode time)"
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"  verdicts {summary.verdicts:,}, actions {summary.actions:,}, "
            f"dead letters {summary.dead_letters:,}"
        )
        print(f"peak RSS: {peak:,.0f} MiB")
        if args.detectors:
            detector_times(stream)


if __name__ == "__main__":
    main()
