"""Brand impersonation speed on real feeds, next to a bare ``parse_url`` loop.

Reads the URLs of two feeds in place from ``../shared/datasets`` (PhishTank
phishing URLs and ISCX-URL2016 benign URLs), removes duplicates, parses them
once, and times, best of ``--repeat`` runs:

1. ``parse_url cold``: :func:`trustwatch.enrichment.urls.parse_url` after its
   caches are cleared, the cost every URL pays anyway;
2. ``find_impersonation cold``: the brand check over the parsed URLs after its
   per-host cache and the skeleton cache are cleared, so every host is checked;
3. ``find_impersonation warm``: the same again, hosts answered from the cache
   (the usual case: links on a platform repeat their hosts).

The URLs are live malicious indicators: they are handled as strings only;
nothing is resolved or fetched. The target is under 20 us per URL.

    python benchmarks/bench_brands.py --repeat 5
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from trustwatch.brands import find_impersonation, impersonation, load_catalogue
from trustwatch.enrichment import domains, urls
from trustwatch.enrichment.urls import ParsedUrl
from trustwatch.errors import InvalidUrlError

DEFAULT_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
FEEDS = {
    "phishtank": ("phishtank-2021-03/verified_online.csv", "url"),
    "iscx-benign": ("iscx-url2016-benign/benign_urls_dev_hosts.csv", None),
}


def read_urls(datasets: Path, relative: str, column: str | None) -> list[str]:
    """Return the distinct URLs of one feed, in file order."""
    with (datasets / relative).open(encoding="utf-8", newline="") as handle:
        rows: Iterator[str]
        if column is None:
            rows = (line.strip() for line in handle if line.strip())
        else:
            rows = (row[column] for row in csv.DictReader(handle))
        return list(dict.fromkeys(rows))


def parse_all(raws: list[str]) -> list[ParsedUrl]:
    """Parse every URL, leaving out the invalid ones."""
    parsed: list[ParsedUrl] = []
    for raw in raws:
        try:
            parsed.append(urls.parse_url(raw))
        except InvalidUrlError:
            continue
    return parsed


def check_all(parsed: list[ParsedUrl]) -> None:
    """Run the brand check on every parsed URL."""
    for item in parsed:
        find_impersonation(item)


def clear_brand_caches() -> None:
    """Empty the per-host brand results and the skeleton cache."""
    impersonation.clear_caches()
    domains.skeleton.cache_clear()


def best_of(
    repeat: int, run: Callable[[], object], before: Callable[[], None]
) -> float:
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
    parsed = parse_all(raws)
    baseline = best_of(repeat, lambda: parse_all(raws), urls.clear_caches)
    cold = best_of(repeat, lambda: check_all(parsed), clear_brand_caches)
    warm = best_of(repeat, lambda: check_all(parsed), lambda: None)
    flagged = sum(bool(find_impersonation(item)) for item in parsed)
    print(f"{name} ({len(raws):,} distinct URLs, {len(parsed):,} valid)")
    print(f"  flagged as impersonation: {flagged:,} ({flagged / len(parsed):.3%})")
    for label, seconds, count in (
        ("parse_url cold", baseline, len(raws)),
        ("find_impersonation cold", cold, len(parsed)),
        ("find_impersonation warm", warm, len(parsed)),
    ):
        print(
            f"  {label:<24} {count / seconds:>12,.0f} URLs/s "
            f"{seconds / count * 1e6:8.2f} us each "
            f"{seconds / baseline:6.2f}x parse_url"
        )


def main() -> None:
    """Parse arguments and run the benchmark on every feed found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load_catalogue()  # the one-off load and index build are not timed
    find_impersonation(urls.parse_url("https://paypal.com/"))
    for name, (relative, column) in FEEDS.items():
        if not (args.datasets / relative).is_file():
            print(f"{name}: {args.datasets / relative} is absent, skipped")
            continue
        bench_feed(name, read_urls(args.datasets, relative, column), args.repeat)


if __name__ == "__main__":
    main()
