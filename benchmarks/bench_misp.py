"""MISP event load speed, next to loading the same values as a plain list.

Builds one synthetic MISP event in memory (43,000 attributes by default: URLs,
domains, hostnames, addresses, ``ip-dst|port``, ``domain|ip``, hashes and
``filename|sha256``; one in ten not marked ``to_ids``, one in a hundred
deleted, a few ``text`` and ``regkey`` attributes, a tenth of the values in
``file`` objects), writes it and a plain list of the same indicator values to
a temporary folder, and times ``load_feed`` on each (best of five runs: the
machine may be shared). With ``--allowlist PATH`` (repeatable) it also times
:meth:`AllowList.reason` over the loaded indicators.

Values are made up: hosts under ``.example``/``.test``, addresses in the
documentation ranges 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
2001:db8::/32, random digests; nothing is resolved or contacted.

    python benchmarks/bench_misp.py --attributes 43000
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from trustwatch.intel import load_feed
from trustwatch.intel.allowlists import AllowList

_DOC_NETS = ("192.0.2", "198.51.100", "203.0.113")
_WORDS = ("login", "secure", "account", "verify", "update", "portal", "files")


def _host(rng: random.Random) -> str:
    """A made-up host name."""
    label = f"{rng.choice(_WORDS)}-{rng.getrandbits(32):08x}"
    return f"{label}.{rng.choice(('example', 'test', 'example.com'))}"


def _ip(rng: random.Random) -> str:
    """A made-up documentation address (IPv4 mostly, some IPv6)."""
    if rng.random() < 0.1:
        return f"2001:db8::{rng.getrandbits(16):x}:{rng.getrandbits(16):x}"
    return f"{rng.choice(_DOC_NETS)}.{rng.randrange(1, 255)}"


def _digest(rng: random.Random, bits: int) -> str:
    """A random hex digest."""
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _attribute(rng: random.Random) -> tuple[dict[str, Any], list[str]]:
    """One attribute, and the indicator values it holds."""
    roll = rng.random()
    if roll < 0.30:
        url = f"http://{_host(rng)}/{rng.choice(_WORDS)}/{rng.getrandbits(24):x}.php"
        kind, value, values = "url", url, [url]
    elif roll < 0.45:
        kind, value = "domain", _host(rng)
        values = [value]
    elif roll < 0.50:
        kind, value = "hostname", _host(rng)
        values = [value]
    elif roll < 0.65:
        kind, value = "ip-dst", _ip(rng)
        values = [value]
    elif roll < 0.70:
        address = _ip(rng)
        kind, value, values = "ip-dst|port", f"{address}|443", [address]
    elif roll < 0.75:
        host, address = _host(rng), _ip(rng)
        kind, value, values = "domain|ip", f"{host}|{address}", [host, address]
    elif roll < 0.83:
        kind, value = "md5", _digest(rng, 128)
        values = [value]
    elif roll < 0.88:
        kind, value = "sha1", _digest(rng, 160)
        values = [value]
    elif roll < 0.97:
        kind, value = "sha256", _digest(rng, 256)
        values = [value]
    else:
        digest = _digest(rng, 256)
        kind, value, values = "filename|sha256", f"sample.exe|{digest}", [digest]
    attribute: dict[str, Any] = {
        "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
        "type": kind,
        "category": "Network activity",
        "value": value,
        "to_ids": True,
        "deleted": False,
        "timestamp": str(1_700_000_000 + rng.randrange(10_000_000)),
        "comment": "",
    }
    chance = rng.random()
    if chance < 0.10:
        attribute["to_ids"] = False
        values = []
    elif chance < 0.11:
        attribute["deleted"] = True
        values = []
    elif chance < 0.12:
        attribute["type"], attribute["value"] = "text", "analyst note"
        values = []
    return attribute, values


def build_event(count: int, seed: int) -> tuple[dict[str, Any], list[str]]:
    """Return a MISP event of ``count`` attributes and its indicator values."""
    rng = random.Random(seed)
    attributes: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    values: list[str] = []
    while len(attributes) + 3 * len(objects) < count:
        if rng.random() < 0.033:
            members = [_attribute(rng) for _ in range(3)]
            objects.append(
                {
                    "name": "file",
                    "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
                    "deleted": False,
                    "Attribute": [attribute for attribute, _ in members],
                }
            )
            for _, found in members:
                values += found
            continue
        attribute, found = _attribute(rng)
        attributes.append(attribute)
        values += found
    event = {
        "Event": {
            "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
            "info": "Synthetic benchmark event",
            "published": True,
            "threat_level_id": "2",
            "timestamp": "1700000000",
            "Tag": [{"name": "tlp:clear"}, {"name": 'misp-galaxy:tool="Demo"'}],
            "Attribute": attributes,
            "Object": objects,
        }
    }
    return event, values


def _best(runs: int, action: Callable[[], Any]) -> tuple[float, Any]:
    """Return the shortest time of ``runs`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attributes", type=int, default=43_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--allowlist", action="append", default=[])
    args = parser.parse_args()

    event, values = build_event(args.attributes, args.seed)
    with tempfile.TemporaryDirectory() as folder:
        event_path = Path(folder) / "event.json"
        plain_path = Path(folder) / "values.txt"
        event_path.write_bytes(msgspec.json.encode(event))
        plain_path.write_text("\n".join(values) + "\n", encoding="utf-8")
        size = event_path.stat().st_size
        misp_s, misp = _best(args.runs, lambda: load_feed(event_path))
        plain_s, plain = _best(args.runs, lambda: load_feed(plain_path))

    attributes = len(event["Event"]["Attribute"]) + sum(
        len(obj["Attribute"]) for obj in event["Event"]["Object"]
    )
    print(f"event: {attributes:,} attributes, {size / 1e6:.1f} MB")
    print(
        f"misp_event load: {misp_s * 1000:.0f} ms, {len(misp.indicators):,} "
        f"indicators, {len(misp.rejects)} rejects, skipped {misp.skipped}"
    )
    print(
        f"plain list of the same values: {plain_s * 1000:.0f} ms, "
        f"{len(plain.indicators):,} indicators"
    )
    print(f"ratio misp_event / plain: {misp_s / plain_s:.2f}")
    if args.allowlist:
        load_s, allowlist = _best(1, lambda: AllowList.from_paths(args.allowlist))
        indicators = misp.indicators
        check_s, listed = _best(
            args.runs,
            lambda: sum(allowlist.reason(ind) is not None for ind in indicators),
        )
        print(
            f"allow-lists: {allowlist.entries:,} entries in {len(allowlist.names)} "
            f"lists loaded in {load_s * 1000:.0f} ms; reason() over "
            f"{len(indicators):,} indicators {check_s * 1000:.0f} ms "
            f"({check_s / len(indicators) * 1e6:.2f} us each), {listed} listed"
        )


if __name__ == "__main__":
    main()
