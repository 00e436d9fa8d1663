"""Threat-intel load and lookup speed, next to bare baselines in the same run.

Generates synthetic indicators (URLs on IP and name hosts, domains, IPv4 and
IPv6 addresses, networks, MD5/SHA-1/SHA-256 digests; a few percent written in
upper case or defanged) into a plain list and a URLhaus-layout CSV of URLs in
a temporary folder, then times:

1. plain list: reading its lines into a set (baseline) against
   ``load_feed`` + ``IndicatorStore.add_many``;
2. CSV: ``csv.reader`` over the rows (baseline) against the same;
3. persistence: reading the store's Parquet file back into indicators against
   reading the same records from SQLite (the other candidate), and
   ``IndicatorStore.load`` (read + reindex);
4. lookups, half hits: probing a set of strings (baseline) against
   ``match_url`` on parsed URLs, ``match_host``, ``match_ip`` and
   ``match_hash`` (best of three runs: the machine may be shared);
5. with ``--urlhaus PATH`` (a URLhaus CSV or JSON dump, or a folder holding
   one, read in place): ingesting the whole dump into a store, file to ready
   store, against a synthetic plain list of as many values loaded the same
   way in the same run (best of three runs each).

Hosts are made up (``*.example``, ``*.test``, 100.64.0.0/10, 2001:db8::/32);
nothing is resolved or contacted.

    python benchmarks/bench_intel.py --count 1000000 --lookups 100000
    python benchmarks/bench_intel.py --urlhaus ../shared/datasets/urlhaus-2025-04-21
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import TrustwatchError
from trustwatch.intel import (
    FeedLoad,
    Indicator,
    IndicatorStore,
    _parquet,
    load_feed,
    resolve_feed_paths,
    sniff_format,
)
from trustwatch.intel._bulk import paused_gc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TLDS = ("example", "test", "example.com", "example.net")
WORDS = ("login", "secure", "account", "verify", "update", "portal", "files")


# --- synthetic values --------------------------------------------------------------


def _ipv4(rng: random.Random) -> str:
    """A made-up address in 100.64.0.0/10."""
    value = (100 << 24) | (64 << 16) | rng.getrandbits(22)
    return ".".join(str((value >> shift) & 255) for shift in (24, 16, 8, 0))


def _ipv6(rng: random.Random) -> str:
    """A made-up address in 2001:db8::/32."""
    groups = [rng.getrandbits(16) for _ in range(6)]
    return "2001:db8:" + ":".join(f"{g:x}" for g in groups)


def _host(rng: random.Random) -> str:
    """A made-up host name, sometimes a tenant of a shared platform."""
    name = f"{rng.choice(WORDS)}-{rng.getrandbits(32):x}"
    if rng.random() < 0.3:
        return f"{name}.sites.{rng.choice(TLDS)}"
    return f"{name}.{rng.choice(TLDS)}"


def _url(rng: random.Random) -> str:
    """A URLhaus-like (IP host, port) or phishing-like (name host, path) URL."""
    if rng.random() < 0.5:
        port = rng.randrange(1024, 65535)
        return f"http://{_ipv4(rng)}:{port}/{rng.choice(('i', 'bin.sh', 'Mozi.m'))}"
    path = f"/{rng.choice(WORDS)}/{rng.getrandbits(40):x}/index.php"
    query = f"?id={rng.getrandbits(24)}" if rng.random() < 0.3 else ""
    return f"https://{_host(rng)}{path}{query}"


def _digest(rng: random.Random) -> str:
    """A made-up MD5, SHA-1 or SHA-256 digest."""
    return f"{rng.getrandbits(256):064x}"[-rng.choice((32, 40, 64)) :]


MAKERS: dict[str, Callable[[random.Random], str]] = {
    "url": _url,
    "domain": _host,
    "ip": _ipv4,
    "ipv6": _ipv6,
    "cidr": lambda rng: f"{_ipv4(rng)}/{rng.choice((16, 20, 24, 28))}",
    "hash": _digest,
}
SHARES: tuple[tuple[str, float], ...] = (
    ("url", 0.40),
    ("domain", 0.20),
    ("ip", 0.12),
    ("ipv6", 0.03),
    ("cidr", 0.05),
    ("hash", 0.20),
)


def _value(rng: random.Random) -> str:
    """One indicator value of a random type, mostly in canonical form."""
    roll, chosen = rng.random(), "hash"
    for kind, share in SHARES:
        roll -= share
        if roll < 0:
            chosen = kind
            break
    return _uglify(rng, MAKERS[chosen](rng))


def _uglify(rng: random.Random, value: str) -> str:
    """Write a few percent of values the way feeds do: upper case, defanged."""
    roll = rng.random()
    if roll < 0.02:
        return value.upper() if "://" not in value else value.replace("http", "hxxp")
    if roll < 0.04:
        return value.replace(".", "[.]", 1)
    return value


def _write_files(folder: Path, count: int, seed: int) -> tuple[Path, Path]:
    """Write the plain list and the URLhaus-layout CSV."""
    rng = random.Random(seed)
    plain = folder / "synthetic.txt"
    plain.write_text("\n".join(_value(rng) for _ in range(count)) + "\n")
    table = folder / "synthetic_urlhaus.csv"
    with table.open("w", newline="") as handle:
        handle.write("# id,dateadded,url,url_status,last_online,threat,tags,")
        handle.write("urlhaus_link,reporter\n")
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
        for row_id in range(count):
            when = f"2025-04-{1 + row_id % 28:02d} 12:{row_id % 60:02d}:06"
            link = f"https://urlhaus.example/url/{row_id}/"
            writer.writerow(
                [
                    row_id,
                    when,
                    _url(rng),
                    "online",
                    when,
                    "malware_download",
                    "elf,Mozi",
                    link,
                    "bench",
                ]
            )
    return plain, table


# --- timing --------------------------------------------------------------------------


def _timed(label: str, action: Callable[[], Any], runs: int = 1) -> tuple[float, Any]:
    """Run ``action``; print and return the best wall time of ``runs`` and a result."""
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    note = f" (best of {runs})" if runs > 1 else ""
    print(f"  {label:<44} {best:8.3f} s{note}")
    return best, result


def _bench_load(path: Path, fmt: str, baseline: Callable[[], Any]) -> IndicatorStore:
    """Time a feed load + indexing against a bare read of the same file."""
    print(f"{path.name} ({fmt})")
    with paused_gc():  # as load_feed and add_many do
        base, _ = _timed("baseline: read the lines / rows", baseline)
    parse, load = _timed(
        "load_feed (read, detect, normalise)", lambda: load_feed(path, format=fmt)
    )
    store = IndicatorStore()
    index, _ = _timed(
        "add_many (merge, index)", lambda: store.add_many(load.indicators)
    )
    total = parse + index
    print(f"  {'file to ready store (load_feed + add_many)':<44} {total:8.3f} s")
    print(
        f"  {load.accepted:,} indicators, {load.rejected:,} rejects, "
        f"{len(store):,} distinct; {load.accepted / total:,.0f} /s; "
        f"{total / base:.1f}x baseline"
    )
    return store


def _micros(when: datetime | None) -> int | None:
    """Return UTC microseconds since the epoch."""
    return None if when is None else (when - EPOCH) // timedelta(microseconds=1)


def _sqlite_read(store: IndicatorStore, path: Path) -> float:
    """Write the store's records to SQLite; time reading them back as indicators.

    The same work as the Parquet reader: every column, times as shared aware
    datetimes, tags decoded, garbage collection paused; the index rebuild
    (identical for both) is left out.
    """
    rows = [
        (
            i.type,
            i.value,
            i.feed,
            _micros(i.first_seen),
            _micros(i.last_seen),
            i.confidence,
            msgspec.json.encode(i.tags),
            i.threat,
            i.reference,
            _micros(i.expires_at),
        )
        for i in store
    ]
    with sqlite3.connect(path) as db:
        db.execute(
            "create table ind (type, value, feed, first_seen, last_seen, "
            "confidence, tags, threat, reference, expires_at)"
        )
        db.executemany("insert into ind values (?,?,?,?,?,?,?,?,?,?)", rows)
    times: dict[int, datetime] = {}
    decode = msgspec.json.Decoder(tuple[str, ...]).decode

    def when(value: int | None) -> datetime | None:
        if value is None:
            return None
        found = times.get(value)
        if found is None:
            found = times[value] = EPOCH + timedelta(microseconds=value)
        return found

    start = time.perf_counter()
    with sqlite3.connect(path) as db, paused_gc():
        [
            Indicator(
                type=r[0],
                value=r[1],
                feed=r[2],
                first_seen=when(r[3]),
                last_seen=when(r[4]),
                confidence=r[5],
                tags=decode(r[6]),
                threat=r[7],
                reference=r[8],
                expires_at=when(r[9]),
            )
            for r in db.execute("select * from ind")
        ]
    return time.perf_counter() - start


def _bench_persistence(store: IndicatorStore, folder: Path) -> None:
    """Time Parquet save/read/load and the SQLite alternative."""
    print("persistence")
    target = folder / "intel.parquet"
    _timed("IndicatorStore.save (Parquet)", lambda: store.save(target))
    read, _ = _timed("read Parquet into indicators", lambda: _parquet.read(target, "1"))
    sqlite = _sqlite_read(store, folder / "intel.sqlite")
    print(f"  {'read SQLite into indicators':<44} {sqlite:8.3f} s")
    _timed("IndicatorStore.load (read + reindex)", lambda: IndicatorStore.load(target))
    print(
        f"  Parquet {target.stat().st_size / 1e6:.1f} MB, SQLite "
        f"{(folder / 'intel.sqlite').stat().st_size / 1e6:.1f} MB; "
        f"Parquet reads {sqlite / read:.1f}x faster"
    )


def _probes(store: IndicatorStore, lookups: int, seed: int) -> dict[str, list[str]]:
    """Return lookup values per matcher: half known to the store, half fresh."""
    rng = random.Random(seed + 1)
    known: dict[str, list[str]] = {"url": [], "domain": [], "ip": [], "hash": []}
    for indicator in store:
        kind = "hash" if indicator.type in ("md5", "sha1", "sha256") else indicator.type
        if kind in known:
            known[kind].append(indicator.value)
    makers = {"url": _url, "domain": _host, "ip": _ipv4, "hash": _digest}
    share = {"url": 0.4, "domain": 0.25, "ip": 0.15, "hash": 0.2}
    return {
        kind: [
            rng.choice(values) if rng.random() < 0.5 else makers[kind](rng)
            for _ in range(int(lookups * share[kind]))
        ]
        for kind, values in known.items()
    }


def _bench_lookups(store: IndicatorStore, lookups: int, seed: int) -> None:
    """Time mixed hit/miss lookups against probing a set of the same strings."""
    probes = _probes(store, lookups, seed)
    everything = [value for values in probes.values() for value in values]
    known = {indicator.value for indicator in store}
    print(f"lookups ({len(everything):,}, half hits)")
    base, _ = _timed(
        "baseline: probe a set of strings",
        lambda: sum(value in known for value in everything),
        runs=3,
    )
    parsed = [parse_url(url) for url in probes["url"]]
    total = 0.0
    for label, values, match in (
        ("match_url (parsed URL)", parsed, store.match_url),
        ("match_host", probes["domain"], store.match_host),
        ("match_ip", probes["ip"], store.match_ip),
        ("match_hash", probes["hash"], store.match_hash),
    ):
        seconds, hits = _timed(
            f"{label} x {len(values):,}",
            lambda v=values, m=match: sum(bool(m(x)) for x in v),  # type: ignore[misc]
            runs=3,
        )
        total += seconds
        print(f"    {seconds / max(len(values), 1) * 1e6:.2f} us each, {hits:,} hits")
    print(
        f"  all matchers {total / len(everything) * 1e6:.2f} us per lookup; "
        f"{total / base:.1f}x the set probe"
    )


def _urlhaus_files(path: Path) -> list[tuple[Path, str]]:
    """Return the URLhaus dump files at ``path`` (a file or folder), with formats.

    Other files beside the dump (its ``SOURCE.txt``, a licence) are skipped;
    a path that holds no dump ends the run with a message.
    """
    found: list[tuple[Path, str]] = []
    try:
        candidates = resolve_feed_paths([path])
    except TrustwatchError as exc:
        raise SystemExit(f"--urlhaus: {exc}") from exc
    for candidate in candidates:
        try:
            fmt = sniff_format(candidate)
        except TrustwatchError:
            continue
        if fmt.startswith("urlhaus"):
            found.append((candidate, fmt))
    if not found:
        raise SystemExit(f"--urlhaus: no URLhaus CSV or JSON dump at {path}")
    return found


def _ingest(files: list[tuple[Path, str]]) -> tuple[list[FeedLoad], IndicatorStore]:
    """Load every file and index its indicators into one new store."""
    store = IndicatorStore()
    loads = [load_feed(file, format=fmt) for file, fmt in files]
    for load in loads:
        store.add_many(load.indicators)
    return loads, store


def _bench_urlhaus(
    path: Path, files: list[tuple[Path, str]], folder: Path, seed: int
) -> None:
    """Time ingesting a whole URLhaus dump against a plain list of as many values."""
    names = ", ".join(f"{file.name} ({fmt})" for file, fmt in files)
    print(f"URLhaus dump {path}: {names}")
    seconds, (loads, store) = _timed(
        "file to ready store (load_feed + add_many)", lambda: _ingest(files), runs=3
    )
    accepted = sum(load.accepted for load in loads)
    records = sum(load.records for load in loads)
    rng = random.Random(seed + 2)
    plain = folder / "urlhaus_sized.txt"
    plain.write_text("\n".join(_value(rng) for _ in range(records)) + "\n")
    base, _ = _timed(
        f"plain list of {records:,} values, the same way",
        lambda: _ingest([(plain, "plain")]),
        runs=3,
    )
    print(
        f"  {accepted:,} indicators, {records - accepted:,} rejects, "
        f"{len(store):,} distinct; {accepted / seconds:,.0f} indicators/s; "
        f"{seconds / base:.2f}x the plain list"
    )


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--urlhaus",
        type=Path,
        metavar="PATH",
        help="also time ingesting this URLhaus dump (file or folder), in place",
    )
    args = parser.parse_args()
    urlhaus = None if args.urlhaus is None else _urlhaus_files(args.urlhaus)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"generating {args.count:,} indicators ...")
        plain, table = _write_files(folder, args.count, args.seed)
        store = _bench_load(plain, "plain", lambda: set(plain.read_text().splitlines()))
        _bench_load(
            table, "urlhaus_csv", lambda: list(csv.reader(table.open(newline="")))
        )
        _bench_persistence(store, folder)
        _bench_lookups(store, args.lookups, args.seed)
        if urlhaus is not None:
            _bench_urlhaus(args.urlhaus, urlhaus, folder, args.seed)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:,.0f} MB")


if __name__ == "__main__":
    main()
