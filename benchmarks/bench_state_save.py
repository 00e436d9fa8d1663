"""What saving one partition's state costs, step by step.

A stream worker saves each partition's detector state every
``--checkpoint-interval`` seconds: it gathers the state
(``Pipeline.get_state``), encodes it as JSON and compresses it. This runs
the default detectors over a simulated stream the size of one partition's
share, then times each step, the compression once with zlib at level 1
(the baseline, what states were saved with before) and once with
Zstandard at level 1 (what :func:`encode_state` uses), each the best of
``--repeat`` runs, with the matching decompression a restore pays.

    python benchmarks/bench_state_save.py
    python benchmarks/bench_state_save.py --events 50000
"""

from __future__ import annotations

import argparse
import gc
import time
import zlib
from collections.abc import Callable

import msgspec
import zstandard

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors import default_detectors
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.runtime.stream.worker import decode_state, encode_state
from trustwatch.simulation import SimulationConfig, iter_events


def best_of(repeat: int, step: Callable[[], object]) -> tuple[float, object]:
    """Return the shortest time of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = step()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    pipeline = Pipeline(
        default_detectors(None, None), DecisionEngine(default_policy(), "dry_run")
    )
    # about 8 events per account per day, as the other benchmarks' streams
    config = SimulationConfig(seed=args.seed, accounts=max(500, args.events // 14))
    n = 0
    for event in iter_events(config):
        pipeline.process_one(event, event.ts.timestamp())
        pipeline.failures.clear()
        n += 1
        if n >= args.events:
            break
    gc.collect()
    gc.disable()  # as in the save child: no collector pass inside a timing

    gather, state = best_of(args.repeat, pipeline.get_state)
    encode, raw = best_of(args.repeat, lambda: msgspec.json.encode(state))
    assert isinstance(raw, bytes)
    print(f"one partition: {n:,} events, {len(raw) / 1e6:.1f} MB of JSON state")
    print(f"  gather (get_state)   : {gather * 1e3:7.1f} ms")
    print(f"  encode (JSON)        : {encode * 1e3:7.1f} ms")

    zlib_time, zlib_blob = best_of(args.repeat, lambda: zlib.compress(raw, 1))
    zstd_time, zstd_blob = best_of(
        args.repeat, lambda: zstandard.ZstdCompressor(level=1).compress(raw)
    )
    assert isinstance(zlib_blob, bytes) and isinstance(zstd_blob, bytes)
    unzlib, _ = best_of(args.repeat, lambda: zlib.decompress(zlib_blob))
    unzstd, _ = best_of(
        args.repeat, lambda: zstandard.ZstdDecompressor().decompress(zstd_blob)
    )
    for label, took, blob, back in (
        ("zlib level 1 (baseline)", zlib_time, zlib_blob, unzlib),
        ("zstd level 1", zstd_time, zstd_blob, unzstd),
    ):
        print(
            f"  {label:<24}: {took * 1e3:7.1f} ms, {len(blob) / 1e6:5.2f} MB "
            f"({len(raw) / len(blob):.1f}x); decompress {back * 1e3:6.1f} ms"
        )
    before = gather + encode + zlib_time
    after = gather + encode + zstd_time
    print(
        f"  compression alone: zstd / zlib time {zstd_time / zlib_time:.2f}, "
        f"size {len(zstd_blob) / len(zlib_blob):.2f}"
    )
    print(
        f"  a whole save: {before * 1e3:.0f} ms with zlib, {after * 1e3:.0f} ms "
        f"with zstd ({after / before:.2f})"
    )
    # the worker's own functions, end to end, as a check on the figures
    whole, blob = best_of(args.repeat, lambda: encode_state(state))
    assert isinstance(blob, bytes)
    assert decode_state(blob) == msgspec.json.decode(raw)
    print(f"  encode_state (encode + zstd): {whole * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
