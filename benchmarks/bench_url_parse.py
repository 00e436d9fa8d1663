"""URL parsing speed on real feeds, next to a bare ``urlsplit`` loop in the same run.

Reads the URLs of three feeds in place from ``../shared/datasets`` (URLhaus
malware URLs, PhishTank phishing URLs, ISCX-URL2016 benign URLs), removes
duplicates within each feed, and times, best of ``--repeat`` runs:

1. ``urlsplit``: :func:`urllib.parse.urlsplit` without its LRU cache, the bare
   baseline (it neither validates hosts nor canonicalises anything);
2. ``parse_url cold``: :func:`trustwatch.enrichment.urls.parse_url` after all
   enrichment caches are cleared, so every URL is parsed;
3. ``parse_url cached``: the same URLs again, answered from the cache.

The URLs are live malicious indicators: they are parsed as strings only; nothing
is resolved or fetched.

    python benchmarks/bench_url_parse.py --repeat 5
"""

from __future__ import annotations

import argparse
import csv
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

from trustwatch.enrichment import urls
from trustwatch.errors import InvalidUrlError

DEFAULT_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
FEEDS = {
    "urlhaus": ("urlhaus-2025-04-21/urlhaus.csv", "url"),
    "phishtank": ("phishtank-2021-03/verified_online.csv", "url"),
    "iscx-benign": ("iscx-url2016-benign/benign_urls_dev_hosts.csv", None),
}
_bare_urlsplit: Callable[[str], object] = getattr(
    urllib.parse.urlsplit, "__wrapped__", urllib.parse.urlsplit
)


def read_urls(datasets: Path, relative: str, column: str | None) -> list[str]:
    """Return the distinct URLs of one feed, in file order."""
    with (datasets / relative).open(encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        rows: Iterator[str]
        if column is None:
            rows = (line.strip() for line in lines if line.strip())
        else:
            rows = (row[column] for row in csv.DictReader(lines))
        return list(dict.fromkeys(rows))


def split_all(raws: list[str]) -> None:
    """The baseline: split every URL, nothing else."""
    for raw in raws:
        _bare_urlsplit(raw)


def parse_all(raws: list[str]) -> None:
    """Parse every URL, counting invalid ones as parsed."""
    for raw in raws:
        # try/except rather than contextlib.suppress: no per-URL context manager
        # in the timed loop.
        try:  # noqa: SIM105
            urls.parse_url(raw)
        except InvalidUrlError:
            pass


def best_of(repeat: int, run: Callable[[], None], before: Callable[[], None]) -> float:
    """Return the shortest wall time of ``repeat`` runs of ``run``."""
    best = float("inf")
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def bench_feed(name: str, raws: list[str], repeat: int) -> None:
    """Time the three loops on one feed and print URLs/s and ratios."""
    baseline = best_of(repeat, lambda: split_all(raws), lambda: None)
    cold = best_of(repeat, lambda: parse_all(raws), urls.clear_caches)
    parse_all(raws)  # fill the cache once
    cached = best_of(repeat, lambda: parse_all(raws), lambda: None)
    count = len(raws)
    print(f"{name} ({count:,} distinct URLs)")
    for label, seconds in (
        ("urlsplit (no cache)", baseline),
        ("parse_url cold", cold),
        ("parse_url cached", cached),
    ):
        print(
            f"  {label:<22} {count / seconds:>12,.0f} URLs/s "
            f"{seconds / count * 1e6:8.2f} us each "
            f"{seconds / baseline:6.2f}x urlsplit"
        )


def main() -> None:
    """Parse arguments and run the benchmark on every feed found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, (relative, column) in FEEDS.items():
        if not (args.datasets / relative).is_file():
            print(f"{name}: {args.datasets / relative} is absent, skipped")
            continue
        bench_feed(name, read_urls(args.datasets, relative, column), args.repeat)


if __name__ == "__main__":
    main()
