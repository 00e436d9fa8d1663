"""Measure EventDecoder.decode against a bare msgspec decode of the same lines.

Run ``python benchmarks/bench_decode.py [lines]``. It writes a JSON Lines file of
generated events (200,000 by default) to a temporary folder, reads it back into
memory, then times three loops over the same lines: ``msgspec.json.decode``
(untyped, the floor), ``EventDecoder.decode`` (all checks), and
:func:`trustwatch.events.read_events` over the file (I/O included). Each loop
runs three times and the best run counts.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from trustwatch.events import (
    Event,
    EventDecoder,
    FileShared,
    FileUploaded,
    LinkAccessed,
    Login,
    UrlPosted,
    read_events,
    write_events_jsonl,
)

_START = datetime(2024, 5, 1, tzinfo=UTC)
_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"


def generate(count: int, seed: int = 7) -> Iterator[Event]:
    """Yield a deterministic mix of the common event types."""
    rng = random.Random(seed)
    for n in range(count):
        ts = _START + timedelta(microseconds=n * 1_337)
        account = f"acct-{rng.randrange(50_000)}"
        ip = f"198.51.100.{rng.randrange(256)}"
        kind = rng.random()
        common = {"event_id": f"evt-{n:012d}", "ts": ts, "account": account, "ip": ip}
        if kind < 0.4:
            yield Login(
                **common,
                user_agent=_AGENT,
                success=rng.random() < 0.9,
                username=account,
            )
        elif kind < 0.6:
            yield FileUploaded(
                **common, file_id=f"f{n}", size=rng.randrange(1 << 32), sha256="ab" * 32
            )
        elif kind < 0.75:
            yield FileShared(
                **common, file_id=f"f{n}", recipients=("a@example.com", "b@example.com")
            )
        elif kind < 0.9:
            yield LinkAccessed(**common, link_id=f"l{n}", file_id=f"f{n}")
        else:
            yield UrlPosted(**common, url=f"https://files.example/s/{n}?dl=1")


def best_rate(loop: Callable[[], int], repeats: int = 3) -> float:
    """Return the best items-per-second of ``repeats`` runs of ``loop``."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        items = loop()
        best = max(best, items / (time.perf_counter() - start))
    return best


def main(count: int) -> None:
    """Generate, write, read back and time the decoders."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        write_events_jsonl(generate(count), path)
        lines = path.read_bytes().splitlines()
        raw = msgspec.json.Decoder().decode
        decode = EventDecoder().decode

        def bare() -> int:
            for line in lines:
                raw(line)
            return len(lines)

        def checked() -> int:
            for line in lines:
                decode(line)
            return len(lines)

        def from_file() -> int:
            return sum(1 for _ in read_events([path]))

        floor, full, files = best_rate(bare), best_rate(checked), best_rate(from_file)
    print(f"lines: {len(lines):,} ({sum(map(len, lines)) / len(lines):.0f} bytes each)")
    print(f"msgspec.json.decode (untyped): {floor:12,.0f} lines/s")
    print(f"EventDecoder.decode:           {full:12,.0f} lines/s")
    print(f"read_events (file, all checks): {files:11,.0f} lines/s")
    print(f"ratio (bare / EventDecoder):   {floor / full:12.2f}x")
    print(f"per line: {1e6 / floor:.2f} us bare, {1e6 / full:.2f} us EventDecoder")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
