"""Digest of every decision a simulated stream gets, to compare two versions.

Speed work on a detector must not change what it decides. This script runs
a simulated stream through a pipeline with the default detectors and policy
(no geolocation), restores the pipeline from its own checkpoint half-way,
and prints a SHA-256 digest of every decision (verdict and actions, as
sorted JSON) and one of the final checkpoint state. Run it on two checkouts
and compare the lines it prints:

    python3 benchmarks/decision_digest.py --events 200000 --seed 11
    PYTHONPATH=/path/to/other/checkout/src python3 benchmarks/decision_digest.py \\
        --events 200000 --seed 11

It uses only interfaces both sides have had for long: the simulator, the
decoder, ``Pipeline``, ``default_detectors`` and the default policy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time

import msgspec

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors import default_detectors
from trustwatch.events.decode import EventDecoder
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.simulation import SimulationConfig, iter_events


def build() -> Pipeline:
    return Pipeline(
        default_detectors(None, None), DecisionEngine(default_policy(), "dry_run")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    encode = msgspec.json.Encoder().encode
    sorted_json = msgspec.json.Encoder(order="sorted").encode
    # as the other benchmarks: about 8 events per account per day
    config = SimulationConfig(
        seed=args.seed, accounts=max(2000, args.events // 14), days=2.0
    )
    lines: list[bytes] = []
    for event in iter_events(config):
        lines.append(encode(event))
        if len(lines) >= args.events:
            break
    decode = EventDecoder().decode
    pipeline = build()
    decisions = hashlib.sha256()
    count = 0
    started = time.perf_counter()
    for n, line in enumerate(lines):
        event = decode(line)
        decision = pipeline.process_one(event, event.ts.timestamp())
        pipeline.failures.clear()
        if decision is not None:
            decisions.update(sorted_json(msgspec.to_builtins(decision)) + b"\n")
            count += 1
        if n == len(lines) // 2:  # a checkpoint round trip must change nothing
            state = json.loads(json.dumps(pipeline.get_state(), default=str))
            pipeline = build()
            pipeline.set_state(state)
    seconds = time.perf_counter() - started
    final = json.dumps(pipeline.get_state(), sort_keys=True, default=str)
    print(f"events: {len(lines):,} simulated (seed {args.seed})")
    print(f"decisions: {count:,}, digest {decisions.hexdigest()[:32]}")
    print(f"final state digest {hashlib.sha256(final.encode()).hexdigest()[:32]}")
    print(f"({len(lines) / seconds:,.0f} events/s, not a benchmark figure)")


if __name__ == "__main__":
    main()
