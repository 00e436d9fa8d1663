"""URL model scoring speed, next to the cost of parsing alone in the same run.

Reads the URLs of three feeds in place from ``../shared/datasets`` (URLhaus,
PhishTank, ISCX-URL2016 benign), removes duplicates, and times on one core,
best of ``--repeat`` runs, with every enrichment cache cleared before each
run unless noted:

1. ``parse``: :func:`trustwatch.enrichment.urls.parse_url` on every URL, the
   baseline (a URL must be parsed before anything can judge it);
2. ``parse + score``: parsing, then :meth:`UrlModel.score` on the batch;
3. ``score only``: the model on URLs parsed beforehand, and again with the
   per-host caches kept from the previous run (``hosts known``: the steady
   state of a stream, where most links point at hosts seen before);
4. ``explain``: one URL at a time with its reasons, as ``url score`` and
   the pipeline's detector do (their caches aside);

and the parts of a batch score: n-gram hashing, named features, trees.

The URLs are live malicious indicators: they are parsed and scored as strings
only; nothing is resolved or fetched.

    python benchmarks/bench_url_model.py --repeat 3
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from bench_url_parse import DEFAULT_DATASETS, FEEDS
from bench_url_parse import read_urls as read_feed
from trustwatch.brands import impersonation
from trustwatch.enrichment import urls
from trustwatch.enrichment.urls import ParsedUrl
from trustwatch.errors import InvalidUrlError
from trustwatch.urlmodel import features
from trustwatch.urlmodel.model import UrlModel, load_default_model


def read_urls(datasets: Path) -> list[str]:
    """Return the distinct URLs of every feed found, in file order."""
    found: dict[str, None] = {}
    for relative, column in FEEDS.values():
        if (datasets / relative).is_file():
            found.update(dict.fromkeys(read_feed(datasets, relative, column)))
        else:
            print(f"{datasets / relative} is absent, skipped")
    return list(found)


def parse_all(raws: list[str]) -> list[ParsedUrl]:
    """Parse every URL, leaving out those a browser would not load."""
    parsed = []
    for raw in raws:
        try:
            parsed.append(urls.parse_url(raw))
        except InvalidUrlError:
            continue
    return parsed


def clear() -> None:
    """Forget every cached parse, per-host feature and brand lookup."""
    urls.clear_caches()
    features.clear_caches()
    clear_brands = getattr(impersonation, "clear_caches", None)
    if clear_brands is not None:
        clear_brands()


def best_of(repeat: int, run: Callable[[], object], *, cold: bool = True) -> float:
    """Return the shortest wall time of ``repeat`` runs of ``run``.

    Cold runs start with every cache cleared; warm ones keep what the
    previous run left (every host already judged, as in a long stream).
    """
    best = float("inf")
    for _ in range(repeat):
        if cold:
            clear()
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    """Parse arguments, time the four loops and print URLs/s and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--model", type=Path, help="default: the shipped model")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--explain", type=int, default=2000, help="URLs to explain")
    args = parser.parse_args()
    model = UrlModel.load(args.model) if args.model else load_default_model()
    raws = read_urls(args.datasets)
    parsed = parse_all(raws)
    model.score(parsed[:100])  # warm numpy up
    parse_time = best_of(args.repeat, lambda: parse_all(raws))
    both = best_of(args.repeat, lambda: model.score(parse_all(raws)))
    only = best_of(args.repeat, lambda: model.score(parsed))
    warm = best_of(args.repeat, lambda: model.score(parsed), cold=False)
    ngrams = best_of(args.repeat, lambda: model.ngram_scores(parsed))
    named = best_of(args.repeat, lambda: features.dense_feature_matrix(parsed))
    matrix = model.features(parsed)
    trees = best_of(
        args.repeat,
        lambda: model.booster.predict(matrix, raw_score=True, num_threads=1),
    )
    few = parsed[: args.explain]
    explain = best_of(args.repeat, lambda: [model.explain(p) for p in few])
    count = len(raws)
    print(f"{count:,} distinct URLs ({len(parsed):,} parse), model 2**{model.bits}")
    for label, seconds, n in (
        ("parse (baseline)", parse_time, count),
        ("parse + score", both, count),
        ("score only", only, len(parsed)),
        ("score, hosts known", warm, len(parsed)),
        ("explain one by one", explain, len(few)),
        ("  of which n-grams", ngrams, len(parsed)),
        ("  named features", named, len(parsed)),
        ("  trees", trees, len(parsed)),
    ):
        print(
            f"  {label:<20} {n / seconds:>10,.0f} URLs/s "
            f"{seconds / n * 1e6:8.2f} us each "
            f"{(seconds / n) / (parse_time / count):6.2f}x parse"
        )


if __name__ == "__main__":
    main()
