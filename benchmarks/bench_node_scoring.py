"""Node scoring speed on the Reddit graph: features, training, scoring.

Reads ``pygod-graphs/reddit.npz`` in place from ``../shared/datasets`` and
times, on one core, best of ``--repeat`` runs:

1. ``load``: the archive into a :class:`~trustwatch.graphmodel.LabelledGraph`;
2. ``features``: own features plus ``--hops`` hops of mean / max / sum
   aggregates and degrees, for every node;
3. ``fit``: LightGBM on one 40 % / 20 % split with early stopping;
4. ``score``: every node with the fitted model;

and reports the peak resident memory of the process.

    python benchmarks/bench_node_scoring.py --repeat 3
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from trustwatch.graphmodel import (
    NodeScorer,
    load_npz_graph,
    node_features,
    stratified_split,
)

DEFAULT_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
T = TypeVar("T")


def best_of(repeat: int, step: Callable[[], T]) -> tuple[float, T]:
    """Run ``step`` ``repeat`` times; the fastest wall time and the last result."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = step()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def main() -> None:
    """Time each stage and print one line per stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hops", type=int, default=3)
    args = parser.parse_args()

    path = args.datasets / "pygod-graphs" / "reddit.npz"
    if not path.is_file():
        raise SystemExit(f"{path} is absent; pass --datasets")
    seconds, graph = best_of(args.repeat, lambda: load_npz_graph(path))
    edges = graph.adjacency.nnz // 2
    print(f"graph: {graph.n_nodes} nodes, {edges} undirected edges")
    print(f"load      {seconds * 1000:8.1f} ms")

    seconds, features = best_of(
        args.repeat, lambda: node_features(graph, hops=args.hops)
    )
    print(f"features  {seconds * 1000:8.1f} ms  ({features.matrix.shape[1]} columns)")
    # baseline: one sparse product of the adjacency with the raw features,
    # the unit of work every hop of aggregation repeats
    base, _ = best_of(args.repeat, lambda: graph.adjacency @ graph.features)
    print(
        f"baseline  {base * 1000:8.1f} ms  (one adjacency x features product; "
        f"features cost {seconds / base:.1f}x it)"
    )

    split = stratified_split(
        graph.labels, train_fraction=0.4, validation_fraction=0.2, seed=0
    )
    seconds, scorer = best_of(
        args.repeat,
        lambda: NodeScorer().fit(
            features.matrix, graph.labels, split.train, split.validation
        ),
    )
    print(f"fit       {seconds * 1000:8.1f} ms  ({scorer.best_iteration} trees kept)")

    seconds, scores = best_of(args.repeat, lambda: scorer.score(features.matrix))
    per_node = seconds / scores.size * 1e6
    print(f"score     {seconds * 1000:8.1f} ms  ({per_node:.2f} us per node)")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS  {peak_mib:8.1f} MiB")


if __name__ == "__main__":
    main()
