"""STIX 2.1 bundle load speed, next to a plain list of the same values.

Generates one bundle of synthetic indicators (by default 100,000: 80 % simple
patterns on URLs, domains, IPv4 addresses and SHA-256 digests, 20 % compound
patterns such as ``[file:hashes.'SHA-256' = '…' AND file:size > N]`` or
``[domain-name:value = '…' AND url:value LIKE '%/…%']``, with relationships
to a few malware objects) and a plain list holding the value each indicator
is about, in a temporary folder, then times in the same run:

1. ``load_feed`` of the plain list (the baseline);
2. ``load_feed`` of the bundle (JSON decode, versions, relationships,
   patterns; simple patterns read by the exact-form recogniser, other
   pattern shapes parsed by the ``stix2-patterns`` grammar once each);
3. the same on a sample of the indicators (``--grammar-sample``), scaled to
   the full count: with the recogniser off (every pattern through the shape
   cache), and with both off (the grammar parses every pattern);
4. building an ``IndicatorStore`` (plain indicators and patterns), and
   ``match_observation`` on upload observations, half of them hits.

Each figure is the best of ``--repeat`` runs. Hosts are made up
(``*.example``, 100.64.0.0/10); nothing is resolved or contacted.

    python benchmarks/bench_stix.py --count 100000
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import msgspec

from trustwatch.intel import IndicatorStore, load_feed, stix_patterns

STAMP = "2025-03-01T00:00:00.000Z"


def _uuid(rng: random.Random) -> str:
    digits = f"{rng.getrandbits(128):032x}"
    return (
        f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-8{digits[17:20]}-{digits[20:]}"
    )


def _ipv4(rng: random.Random) -> str:
    value = (100 << 24) | (64 << 16) | rng.getrandbits(22)
    return ".".join(str((value >> shift) & 255) for shift in (24, 16, 8, 0))


def _host(rng: random.Random, number: int) -> str:
    return f"h{number}x{rng.getrandbits(20):x}.example"


def _digest(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def generate(count: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[str]]:
    """Return (STIX objects, the value each indicator is about)."""
    rng = random.Random(seed)
    objects: list[dict[str, Any]] = []
    values: list[str] = []
    malware = [
        {"type": "malware", "id": f"malware--{_uuid(rng)}", "name": f"family{n}"}
        for n in range(20)
    ]
    for number in range(count):
        kind = number % 10
        if kind in (0, 1, 2):
            value = f"http://{_host(rng, number)}/dl/{number}.bin"
            pattern = f"[url:value = '{value}']"
        elif kind in (3, 4):
            value = _host(rng, number)
            pattern = f"[domain-name:value = '{value}']"
        elif kind == 5:
            value = _ipv4(rng)
            pattern = f"[ipv4-addr:value = '{value}']"
        elif kind in (6, 7):
            value = _digest(rng)
            pattern = f"[file:hashes.'SHA-256' = '{value}']"
        elif kind == 8:
            value = _digest(rng)
            pattern = (
                f"[file:hashes.'SHA-256' = '{value}' AND file:size > {number % 5000}]"
            )
        else:
            value = _host(rng, number)
            pattern = (
                f"[domain-name:value = '{value}' AND url:value LIKE '%/p{number}/%']"
            )
        ident = f"indicator--{_uuid(rng)}"
        objects.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": ident,
                "created": STAMP,
                "modified": STAMP,
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": STAMP,
                "indicator_types": ["malicious-activity"],
                "confidence": 80,
            }
        )
        values.append(value)
        if number % 4 == 0:
            objects.append(
                {
                    "type": "relationship",
                    "id": f"relationship--{_uuid(rng)}",
                    "relationship_type": "indicates",
                    "source_ref": ident,
                    "target_ref": malware[number % len(malware)]["id"],
                }
            )
    return objects + malware, values


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """Return the shortest time of ``repeat`` runs and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    """Generate the files, time the loads and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--grammar-sample", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    objects, values = generate(args.count)
    with tempfile.TemporaryDirectory() as folder:
        bundle_path = Path(folder) / "bundle.json"
        bundle = {"type": "bundle", "id": "bundle--1", "objects": objects}
        bundle_path.write_bytes(msgspec.json.encode(bundle))
        plain_path = Path(folder) / "values.txt"
        plain_path.write_text("\n".join(values) + "\n", encoding="utf-8")
        size_mb = bundle_path.stat().st_size / 1e6

        plain_s, plain = best_of(args.repeat, lambda: load_feed(plain_path))
        stix_s, loaded = best_of(
            args.repeat, lambda: load_feed(bundle_path, format="stix21")
        )

        sample = args.grammar_sample
        sample_path = Path(folder) / "sample.json"
        sample_objects = [o for o in objects if o["type"] == "indicator"][:sample]
        sample_path.write_bytes(msgspec.json.encode(sample_objects))
        scale = args.count / max(1, len(sample_objects))
        with mock.patch.object(stix_patterns, "_fast_equalities", lambda _: None):
            shapes_s, shapes = best_of(
                1, lambda: load_feed(sample_path, format="stix21")
            )
            with mock.patch.object(stix_patterns, "_template", lambda _: None):
                grammar_s, grammar = best_of(
                    1, lambda: load_feed(sample_path, format="stix21")
                )
        assert len(shapes.indicators) == len(grammar.indicators)
        assert len(shapes.patterns) == len(grammar.patterns)

        def build() -> IndicatorStore:
            store = IndicatorStore(loaded.indicators)
            store.add_patterns(loaded.patterns)
            return store

        build_s, store = best_of(args.repeat, build)
        compound = [p for p in loaded.patterns if "file:size" in p.pattern]
        rng = random.Random(3)
        observations = []
        for number in range(args.lookups):
            if number % 2 == 0 and compound:
                anchor = next(iter(rng.choice(compound).anchors or ()))
                digest = str(anchor[1])
            else:
                digest = _digest(rng)
            observations.append(
                {"file:hashes.'SHA-256'": digest, "file:size": 10_000, "file:name": "x"}
            )
        match_s, hits = best_of(
            args.repeat,
            lambda: sum(
                len(store.match_observation(o, plain=False)) for o in observations
            ),
        )

    stats = store.patterns.stats()
    print(f"bundle: {args.count:,} indicators, {size_mb:.1f} MB JSON")
    print(
        f"loaded: {len(loaded.indicators):,} plain indicators, "
        f"{len(loaded.patterns):,} patterns ({stats.anchored:,} anchored, "
        f"{stats.unanchored:,} unanchored), {len(loaded.rejects):,} rejects"
    )
    print(
        f"plain list load_feed:          {plain_s:8.3f} s "
        f"({args.count / plain_s:,.0f}/s, {len(plain.indicators):,} indicators)"
    )
    print(
        f"stix21 load_feed:              {stix_s:8.3f} s "
        f"({args.count / stix_s:,.0f}/s)  ratio to plain: {stix_s / plain_s:.1f}x"
    )
    for label, seconds in (
        ("recogniser off", shapes_s),
        ("grammar for every pattern", grammar_s),
    ):
        print(
            f"stix21, {label}: {seconds:.3f} s for {len(sample_objects):,} "
            f"indicators; scaled to {args.count:,}: {seconds * scale:.1f} s, "
            f"ratio to plain: {seconds * scale / plain_s:.1f}x"
        )
    print(f"store build (add_many + add_patterns): {build_s:.3f} s")
    print(
        f"match_observation: {args.lookups:,} uploads in {match_s:.3f} s "
        f"({match_s / args.lookups * 1e6:.1f} us each), {hits:,} pattern hits"
    )


if __name__ == "__main__":
    main()
