"""Bounded state at its bound: per-event cost and memory once every key is full.

Two parts, each printing the cost per operation in successive blocks, so that
a cost that grows as the run goes on shows:

1. **the LRU map alone**: :class:`~trustwatch.features.windows.LruDict`
   against the pattern it replaced (a plain dict kept in use order by pop and
   reinsert, evicting ``next(iter(d))``), timed in the same run on the same
   operations: writes of new keys, each followed by a read of a recent one,
   ``--max-keys`` writes per block;
2. **credential_attacks on a flood**: failed logins each from a new random
   address, username and user agent (a stuffing botnet, the input that fills
   every window), with the detector's windows bounded at ``--max-keys``; then
   the memory each window holds at the bound.

Each block adds about ``--max-keys`` new keys to every window, so the first
block is the baseline (it fills the maps) and every later one evicts on each
new key: with O(1) eviction their cost stays flat.

    python3 benchmarks/bench_bounded_state.py --max-keys 50000
    python3 benchmarks/bench_bounded_state.py --max-keys 200000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Hashable
from datetime import UTC, datetime, timedelta
from typing import Any

from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.enrichment.geo import BundledGeo
from trustwatch.events.model import Login
from trustwatch.features.context import EventContext
from trustwatch.features.windows import LruDict

T0 = datetime(2026, 5, 1, tzinfo=UTC)


class PlainDictLru:
    """The replaced pattern: a plain dict kept in use order, evicting its front."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._data: dict[Hashable, Any] = {}

    def touch(self, key: Hashable) -> Any | None:
        value = self._data.pop(key, None)
        if value is not None:
            self._data[key] = value
        return value

    def put(self, key: Hashable, value: Any) -> None:
        self._data.pop(key, None)
        self._data[key] = value
        if len(self._data) > self.max_keys:
            del self._data[next(iter(self._data))]


def lru_blocks(
    factory: Callable[[int], Any], max_keys: int, blocks: int
) -> list[float]:
    """Return the microseconds per operation in each block of ``max_keys`` writes."""
    lru = factory(max_keys)
    rng = random.Random(7)
    recent = 1000
    per_block: list[float] = []
    key = 0
    for _ in range(blocks):
        started = time.perf_counter()
        for _ in range(max_keys):
            lru.put(key, key)
            lru.touch(key - rng.randrange(recent) if key >= recent else 0)
            key += 1
        per_block.append((time.perf_counter() - started) / (2 * max_keys) * 1e6)
    return per_block


def flood(rng: random.Random, first: int, n: int) -> list[Login]:
    """Return ``n`` failed logins, each from a new address, name and agent."""
    return [
        Login(
            event_id=f"b{i}",
            ts=T0 + timedelta(seconds=i * 0.2),
            account=f"u{rng.randrange(10**7)}",
            ip=".".join(str(rng.randrange(1, 224)) for _ in range(4)),
            user_agent=f"Mozilla/5.0 ({rng.getrandbits(64):016x}) Firefox/120.0",
            success=False,
        )
        for i in range(first, first + n)
    ]


def detector_blocks(
    detector: CredentialAttackDetector, size: int, blocks: int, seed: int
) -> list[float]:
    """Return the microseconds per event in each block of ``size`` flood events."""
    geo = BundledGeo()
    rng = random.Random(seed)
    per_block: list[float] = []
    for b in range(blocks):
        block = flood(rng, b * size, size)  # built outside the timing
        contexts = [EventContext(e, geo) for e in block]
        started = time.perf_counter()
        for event, ctx in zip(block, contexts, strict=True):
            detector.process_one(event, ctx)
        per_block.append((time.perf_counter() - started) / size * 1e6)
    return per_block


def deep_size(obj: Any, seen: set[int]) -> int:
    """Return the bytes ``obj`` holds with everything it references, once each."""
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(deep_size(item, seen) for item in obj)
    elif hasattr(obj, "__slots__") or hasattr(obj, "__dict__"):
        names = list(getattr(obj, "__dict__", {}))
        for cls in type(obj).__mro__:
            names += [s for s in getattr(cls, "__slots__", ()) if s != "__weakref__"]
        size += sum(deep_size(getattr(obj, n), seen) for n in names if hasattr(obj, n))
    return size


def show(name: str, blocks: list[float]) -> None:
    cells = "  ".join(f"{b:7.2f}" for b in blocks)
    print(f"  {name:<24}{cells}   (last/first {blocks[-1] / blocks[0]:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-keys", type=int, default=50_000)
    parser.add_argument(
        "--max-agent-keys",
        type=int,
        default=None,
        help="per-user-agent bound (default: the detector's own)",
    )
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    keys, blocks = args.max_keys, args.blocks

    print(f"1. LRU map, {keys:,} keys, us per operation in {blocks} blocks")
    show("LruDict", lru_blocks(LruDict, keys, blocks))
    show("plain dict (replaced)", lru_blocks(PlainDictLru, keys, blocks))

    bounds = {"max_keys": keys}
    if args.max_agent_keys is not None:
        bounds["max_agent_keys"] = args.max_agent_keys
    detector = CredentialAttackDetector(**bounds)
    print(
        f"2. credential_attacks, {blocks * keys:,} failed logins from new sources, "
        f"{bounds}, us per event in {blocks} blocks"
    )
    show("credential_attacks", detector_blocks(detector, keys, blocks, args.seed))

    print("   memory held at the end, per window (deep size)")
    total_seen: set[int] = set()
    total = 0
    for name, window in detector._windows().items():
        alone = deep_size(window, set())
        total += deep_size(window, total_seen)
        print(f"   {name:<22}{len(window):>9,} keys {alone / 1e6:8.1f} MB")
    print(f"   {'all windows':<22}{'':>14} {total / 1e6:8.1f} MB (strings shared)")


if __name__ == "__main__":
    main()
