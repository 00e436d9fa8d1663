"""What saving one partition's state costs, step by step.

A stream worker saves each partition's detector state every
``--checkpoint-interval`` seconds: it gathers the state
(``Pipeline.get_state``), encodes it and compresses it. This runs the
default detectors over a simulated stream the size of one partition's
share, then times each step, each the best of ``--repeat`` runs: the
encoding once as JSON (the baseline, what states were saved as before) and
once as MessagePack (what :func:`encode_state` uses); the compression of
the JSON once with zlib at level 1 and once with Zstandard at level 1, and
of the MessagePack with Zstandard; with the matching decoding a restore
pays.

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
    packing, packed = best_of(args.repeat, lambda: msgspec.msgpack.encode(state))
    assert isinstance(raw, bytes) and isinstance(packed, bytes)
    print(f"one partition: {n:,} events, {len(raw) / 1e6:.1f} MB of JSON state")
    print(f"  gather (get_state)   : {gather * 1e3:7.1f} ms")
    print(f"  encode, JSON         : {encode * 1e3:7.1f} ms, {len(raw) / 1e6:5.2f} MB")
    print(
        f"  encode, MessagePack  : {packing * 1e3:7.1f} ms, {len(packed) / 1e6:5.2f} MB"
        f" ({packing / encode:.2f} of JSON's time)"
    )

    def zstd(data: bytes) -> Callable[[], bytes]:
        return lambda: zstandard.ZstdCompressor(level=1).compress(data)

    zlib_time, zlib_blob = best_of(args.repeat, lambda: zlib.compress(raw, 1))
    zstd_time, zstd_blob = best_of(args.repeat, zstd(raw))
    packed_time, packed_blob = best_of(args.repeat, zstd(packed))
    assert isinstance(zlib_blob, bytes) and isinstance(zstd_blob, bytes)
    assert isinstance(packed_blob, bytes)
    unzlib, _ = best_of(args.repeat, lambda: zlib.decompress(zlib_blob))
    unzstd, _ = best_of(
        args.repeat, lambda: zstandard.ZstdDecompressor().decompress(zstd_blob)
    )
    unpacked, _ = best_of(
        args.repeat, lambda: zstandard.ZstdDecompressor().decompress(packed_blob)
    )
    for label, took, blob, back in (
        ("JSON, zlib level 1", zlib_time, zlib_blob, unzlib),
        ("JSON, zstd level 1", zstd_time, zstd_blob, unzstd),
        ("MessagePack, zstd 1", packed_time, packed_blob, unpacked),
    ):
        print(
            f"  {label:<24}: {took * 1e3:7.1f} ms, {len(blob) / 1e6:5.2f} MB; "
            f"decompress {back * 1e3:6.1f} ms"
        )
    read_json, _ = best_of(args.repeat, lambda: msgspec.json.decode(raw))
    read_packed, _ = best_of(args.repeat, lambda: msgspec.msgpack.decode(packed))
    print(
        f"  decode on restore    : JSON {read_json * 1e3:.1f} ms, "
        f"MessagePack {read_packed * 1e3:.1f} ms ({read_packed / read_json:.2f})"
    )
    zlib_save = gather + encode + zlib_time
    json_save = gather + encode + zstd_time
    packed_save = gather + packing + packed_time
    print(
        f"  a whole save: {zlib_save * 1e3:.0f} ms as JSON with zlib, "
        f"{json_save * 1e3:.0f} ms as JSON with zstd, {packed_save * 1e3:.0f} ms "
        f"as MessagePack with zstd ({packed_save / json_save:.2f} of JSON with "
        f"zstd, {packed_save / zlib_save:.2f} of JSON with zlib)"
    )
    # the worker's own functions, end to end, as a check on the figures
    whole, blob = best_of(args.repeat, lambda: encode_state(state))
    assert isinstance(blob, bytes)
    assert decode_state(blob) == msgspec.json.decode(raw)
    print(f"  encode_state (encode + zstd): {whole * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
