"""What telling repeated events apart costs `trustwatch run`, per event.

``run`` encodes each decoded event as MessagePack and keeps an 8-byte digest
of the last 50,000 (:class:`~trustwatch.events.repeats.RepeatFilter`), so
that an event read twice (a repeated line, a file given twice) is decided
once. This times that step over a simulated stream, next to the baseline of
decoding the same lines into typed events (msgspec, no checks), measured in
the same run.

    python benchmarks/bench_repeats.py
    python benchmarks/bench_repeats.py --events 200000
"""

from __future__ import annotations

import argparse
import time

import msgspec

from trustwatch.events.model import Event
from trustwatch.events.repeats import DEFAULT_WINDOW, RepeatFilter
from trustwatch.simulation import SimulationConfig, iter_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    encode = msgspec.json.Encoder().encode
    config = SimulationConfig(seed=args.seed, accounts=max(2000, args.events // 14))
    lines = []
    for event in iter_events(config):
        lines.append(encode(event))
        if len(lines) >= args.events:
            break

    decode = msgspec.json.Decoder(Event).decode
    started = time.perf_counter()
    events = [decode(line) for line in lines]
    bare = (time.perf_counter() - started) / len(events)

    pack = msgspec.msgpack.Encoder().encode
    seen = RepeatFilter(DEFAULT_WINDOW)
    started = time.perf_counter()
    repeats = sum(seen.is_repeat(pack(event)) for event in events)
    step = (time.perf_counter() - started) / len(events)
    print(f"{len(events):,} simulated events, {repeats:,} repeats among them")
    print(f"  bare typed decode (baseline) : {bare * 1e6:6.2f} µs per event")
    print(f"  encode + repeat lookup       : {step * 1e6:6.2f} µs per event")
    print(f"  ratio to the bare decode     : {step / bare:6.2f}x")


if __name__ == "__main__":
    main()
