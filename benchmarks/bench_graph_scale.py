"""Ring clustering at scale: a 10M-edge account-attribute graph, time and memory.

A seeded account-attribute graph (numpy only) of ``--edges`` edges: each
account links to attributes it holds (IPs, devices, file hashes, link
destinations). Most links go to attributes few accounts share, a share goes
to a thousand hub attributes (a carrier NAT, a popular URL), and ``--rings``
planted rings of ``--ring-size`` accounts each hold most of eight ring
attributes. Stages, each timed once in the same run:

1. **baseline**: build the CSR matrix from the edge list, nothing else;
2. **graph**: binarise, drop hub attributes (degree over ``--hub-cap``) and
   compute FRAUDAR's column weights;
3. **projection**: account x account counts of shared attributes
   (``B @ B.T``), keeping pairs that share at least ``--min-shared``;
4. **components**: connected components of the kept pairs
   (``scipy.sparse.csgraph``); a cluster is a component of 3+ accounts;
5. **scores**: each cluster's weighted density (log-weighted links to the
   attributes two or more of its members hold, over members plus those
   attributes);
6. **fraudar** (with ``--fraudar``): greedy peeling of the whole bipartite
   graph, hubs included, for the densest block
   (:func:`trustwatch.graphmodel.dense.densest_block`).

Peak memory is the process's maximum resident set (``resource.getrusage``)
after each stage. Ring-member precision and recall are checked against the
planted answer.

    python3 benchmarks/bench_graph_scale.py --edges 10000000 --fraudar
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from trustwatch.graphmodel.dense import column_weights, densest_block

T = TypeVar("T")
IntArray = npt.NDArray[np.int64]
RING_ATTRIBUTES = 8
N_HUBS = 1000


def max_rss_mib() -> float:
    """Return the process's peak resident memory so far, in MiB (Linux KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage(name: str, timings: dict[str, float], run: Callable[[], T]) -> T:
    """Run one stage, record its wall time and print it with peak memory."""
    start = time.perf_counter()
    result = run()
    timings[name] = time.perf_counter() - start
    print(f"{name:>12}: {timings[name]:7.2f} s   peak RSS {max_rss_mib():8,.0f} MiB")
    return result


def generate(
    n_edges: int, n_rings: int, ring_size: int, seed: int
) -> tuple[IntArray, IntArray, int, int, IntArray]:
    """Return ``(accounts, attributes, n_accounts, n_attributes, ring_of)``.

    ``ring_of[a]`` is the planted ring of account ``a``, -1 for none.
    """
    rng = np.random.default_rng(seed)
    n_accounts = max(n_edges // 10, n_rings * ring_size + 1)
    n_private = max(n_edges // 2, 1)

    # Rings: members hold each of the ring's attributes with probability 0.8.
    members = rng.permutation(n_accounts)[: n_rings * ring_size].reshape(
        n_rings, ring_size
    )
    ring_of = np.full(n_accounts, -1, dtype=np.int64)
    ring_of[members.ravel()] = np.repeat(np.arange(n_rings), ring_size)
    held = rng.random((n_rings, ring_size, RING_ATTRIBUTES)) < 0.8
    ring_idx, member_idx, attr_idx = np.nonzero(held)
    ring_accounts = members[ring_idx, member_idx]
    ring_attrs = n_private + N_HUBS + ring_idx * RING_ATTRIBUTES + attr_idx

    # Background: 90% of links to rarely shared attributes, 10% to hubs.
    n_background = max(n_edges - ring_accounts.size, 0)
    accounts = rng.integers(0, n_accounts, n_background, dtype=np.int64)
    attributes = rng.integers(0, n_private, n_background, dtype=np.int64)
    to_hub = rng.random(n_background) < 0.1
    attributes[to_hub] = n_private + rng.integers(0, N_HUBS, int(to_hub.sum()))

    n_attributes = n_private + N_HUBS + n_rings * RING_ATTRIBUTES
    return (
        np.concatenate([accounts, ring_accounts]),
        np.concatenate([attributes, ring_attrs]),
        n_accounts,
        n_attributes,
        ring_of,
    )


def cluster_scores(
    graph: sp.csr_matrix, weights: npt.NDArray[np.float64], labels: IntArray
) -> npt.NDArray[np.float64]:
    """Weighted density of each cluster over the attributes its members share."""
    coo = graph.tocoo()
    label = labels[coo.row]
    inside = label >= 0
    key = label[inside] * graph.shape[1] + coo.col[inside]
    pairs, counts = np.unique(key, return_counts=True)
    shared = counts >= 2
    pair_label = pairs[shared] // graph.shape[1]
    pair_attr = pairs[shared] % graph.shape[1]
    n_clusters = int(labels.max()) + 1 if labels.size else 0
    weight = np.bincount(
        pair_label, weights=counts[shared] * weights[pair_attr], minlength=n_clusters
    )
    nodes = np.bincount(labels[labels >= 0], minlength=n_clusters) + np.bincount(
        pair_label, minlength=n_clusters
    )
    density: npt.NDArray[np.float64] = weight / np.maximum(nodes, 1)
    return density


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--rings", type=int, default=200)
    parser.add_argument("--ring-size", type=int, default=20)
    parser.add_argument("--hub-cap", type=int, default=200)
    parser.add_argument("--min-shared", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fraudar", action="store_true")
    args = parser.parse_args()

    start = time.perf_counter()
    rows, cols, n_accounts, n_attributes, ring_of = generate(
        args.edges, args.rings, args.ring_size, args.seed
    )
    print(
        f"{rows.size:,} edges, {n_accounts:,} accounts, {n_attributes:,} attributes,"
        f" {args.rings} rings of {args.ring_size}; generated in "
        f"{time.perf_counter() - start:.2f} s (not counted)"
    )
    print(f"{'start':>12}:            peak RSS {max_rss_mib():8,.0f} MiB")
    timings: dict[str, float] = {}
    shape = (n_accounts, n_attributes)

    raw = stage(
        "baseline",
        timings,
        lambda: sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=shape),
    )

    def build() -> tuple[sp.csr_matrix, npt.NDArray[np.float64], sp.csr_matrix]:
        graph = raw.copy()
        graph.sum_duplicates()
        graph.data[:] = 1.0
        weights = column_weights(graph)
        degree = np.bincount(graph.indices, minlength=n_attributes)
        keep = np.flatnonzero(degree <= args.hub_cap)
        return graph, weights, graph[:, keep]

    graph, weights, unhubbed = stage("graph", timings, build)

    def project() -> sp.csr_matrix:
        counts = (unhubbed @ unhubbed.T).tocsr()
        counts.setdiag(0)
        counts.data[counts.data < args.min_shared] = 0
        counts.eliminate_zeros()
        return counts

    linked = stage("projection", timings, project)

    def cluster() -> IntArray:
        _, component = connected_components(linked, directed=False)
        sizes = np.bincount(component)
        big = np.flatnonzero(sizes >= 3)
        relabel = np.full(sizes.size, -1, dtype=np.int64)
        relabel[big] = np.arange(big.size)
        labels: IntArray = relabel[component]
        return labels

    labels = stage("components", timings, cluster)
    scores = stage("scores", timings, lambda: cluster_scores(graph, weights, labels))

    pipeline = sum(timings[s] for s in ("graph", "projection", "components", "scores"))
    print(
        f"{'pipeline':>12}: {pipeline:7.2f} s  (baseline + pipeline "
        f"{pipeline + timings['baseline']:.2f} s; {pipeline / timings['baseline']:.1f}x"
        f" the baseline)"
    )
    flagged = labels >= 0
    truth = ring_of >= 0
    hits = int((flagged & truth).sum())
    print(
        f"clusters: {scores.size:,}, {int(flagged.sum()):,} accounts; ring members "
        f"precision {hits / max(1, int(flagged.sum())):.3f}, recall "
        f"{hits / max(1, int(truth.sum())):.3f}; median score "
        f"{float(np.median(scores)) if scores.size else 0.0:.3f}"
    )

    if args.fraudar:
        block = stage("fraudar", timings, lambda: densest_block(graph))
        in_ring = ring_of[block.accounts]
        top = np.bincount(in_ring[in_ring >= 0]).argmax() if in_ring.max() >= 0 else -1
        print(
            f"densest block: {block.accounts.size} accounts, {block.objects.size} "
            f"attributes, density {block.density:.3f}; "
            f"{int((in_ring == top).sum())} from planted ring {top}"
        )
    print(f"peak RSS: {max_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
