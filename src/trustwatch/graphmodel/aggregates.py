"""Node features plus neighbourhood aggregates, for tree models on graphs.

The representation GADBench (Tang et al., NeurIPS 2023) found strongest for
supervised graph anomaly detection is a tree ensemble on a node's own
features concatenated with aggregates of its neighbours' features over one or
more hops (their "RF-Graph" and "XGB-Graph"). This module builds that matrix
with sparse products:

- the node's own features, and its deviation from its neighbours' mean;
- hop 1: mean, max and sum of the neighbours' features;
- hop 2: the same aggregate applied to the hop-1 aggregate of each
  neighbour (mean of means, max of maxes, sum of sums);
- structure: degree, and the summed degree of the neighbours.

A node without neighbours gets zeros for every aggregate.

:func:`label_features` adds what the known labels say about a node's
neighbourhood (transductive training): how many of its one- and two-hop
neighbours are labelled, how many of those are anomalous, and the share,
and how likely short random walks from it are to end on a known anomaly.
Only the labels of the given training nodes are read, and a training node's
own features come from the other folds' labels, never its own.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from trustwatch.errors import ConfigError
from trustwatch.graphmodel.graph import LabelledGraph

__all__ = [
    "AGGREGATIONS",
    "LABEL_FEATURE_NAMES",
    "NodeFeatures",
    "label_features",
    "neighbour_max",
    "node_features",
]

FloatArray = npt.NDArray[np.float64]

AGGREGATIONS = ("mean", "max", "sum")
"""Neighbour aggregations, in column order."""

#: Steps of the random walks whose landing on known anomalies is counted.
WALK_STEPS = (2, 3, 4)

LABEL_FEATURE_NAMES = tuple(
    f"hop{hop}_{what}"
    for hop in (1, 2)
    for what in ("labelled", "anomalous", "anomalous_share")
) + tuple(
    f"walk{steps}_{what}"
    for steps in WALK_STEPS
    for what in ("anomalous", "anomalous_share")
)
"""Columns of :func:`label_features`, in order."""


class NodeFeatures:
    """A feature matrix with one name per column.

    Parameters
    ----------
    matrix
        ``(n_nodes, n_columns)`` float64 values.
    names
        One name per column, e.g. ``"hop1_mean_x3"``.
    """

    def __init__(self, matrix: FloatArray, names: tuple[str, ...]) -> None:
        if matrix.ndim != 2 or matrix.shape[1] != len(names):
            raise ConfigError(
                f"feature matrix shape {matrix.shape} does not match "
                f"{len(names)} column names"
            )
        self.matrix = matrix
        self.names = names


def neighbour_max(adjacency: sp.csr_matrix, values: FloatArray) -> FloatArray:
    """Column-wise maximum of each node's neighbours' values.

    Parameters
    ----------
    adjacency
        CSR adjacency; row ``i`` lists the neighbours of node ``i``.
    values
        ``(n_nodes, n_columns)`` values to aggregate.

    Returns
    -------
    numpy.ndarray
        ``(n_nodes, n_columns)``; zeros for nodes without neighbours.
    """
    out = np.zeros((adjacency.shape[0], values.shape[1]), dtype=np.float64)
    starts = adjacency.indptr[:-1]
    has_neighbours = adjacency.indptr[1:] > starts
    if has_neighbours.any():
        # Empty rows are skipped so that each reduceat segment is one row.
        gathered = values[adjacency.indices]
        out[has_neighbours] = np.maximum.reduceat(
            gathered, starts[has_neighbours], axis=0
        )
    return out


def _aggregate(
    adjacency: sp.csr_matrix, degree: FloatArray, values: FloatArray, how: str
) -> FloatArray:
    """One hop of aggregation ``how`` over each node's neighbours."""
    if how == "max":
        return neighbour_max(adjacency, values)
    summed = np.asarray(adjacency @ values, dtype=np.float64)
    if how == "sum":
        return summed
    return summed / np.maximum(degree, 1.0)[:, None]


def node_features(graph: LabelledGraph, *, hops: int = 2) -> NodeFeatures:
    """Own features, neighbourhood aggregates over ``hops`` hops, and degrees.

    Parameters
    ----------
    graph
        The graph whose nodes to describe.
    hops
        Number of aggregation hops, 1 to 4 (GADBench searched 1-4 layers).

    Returns
    -------
    NodeFeatures
        ``d * (2 + 3 * hops) + 2`` columns for ``d`` raw features.

    Raises
    ------
    ConfigError
        When ``hops`` is outside 1 to 4.
    """
    if not 1 <= hops <= 4:
        raise ConfigError(f"hops must be between 1 and 4, got {hops}")
    raw = graph.features
    adjacency = graph.adjacency
    n_raw = raw.shape[1]
    degree = np.asarray(adjacency.sum(axis=1), dtype=np.float64).ravel()

    blocks: list[FloatArray] = [raw]
    names: list[str] = [f"x{j}" for j in range(n_raw)]
    hop1_mean = _aggregate(adjacency, degree, raw, "mean")
    blocks.append(raw - hop1_mean)
    names += [f"dev_mean_x{j}" for j in range(n_raw)]

    # Each aggregation feeds its own next hop: mean of means, max of maxes...
    for how in AGGREGATIONS:
        current = raw
        for hop in range(1, hops + 1):
            current = _aggregate(adjacency, degree, current, how)
            blocks.append(current)
            names += [f"hop{hop}_{how}_x{j}" for j in range(n_raw)]

    neighbour_degree = np.asarray(adjacency @ degree, dtype=np.float64)
    blocks.append(np.column_stack([degree, neighbour_degree]))
    names += ["degree", "neighbour_degree_sum"]
    return NodeFeatures(np.hstack(blocks), tuple(names))


def _label_counts(
    hops: tuple[sp.csr_matrix, sp.csr_matrix],
    walk: sp.csr_matrix,
    known: npt.NDArray[np.int64],
    labels: npt.NDArray[np.bool_],
    n_nodes: int,
) -> FloatArray:
    """Counts and shares of labelled and anomalous neighbours, and the chance
    that random walks end on them, from the labels of ``known`` only."""
    labelled = np.zeros(n_nodes)
    labelled[known] = 1.0
    anomalous = np.zeros(n_nodes)
    anomalous[known] = labels[known].astype(np.float64)
    columns = []
    for reach in hops:
        n_labelled = reach @ labelled
        n_anomalous = reach @ anomalous
        columns += [n_labelled, n_anomalous, n_anomalous / np.maximum(n_labelled, 1.0)]
    on_labelled, on_anomalous = labelled, anomalous
    for steps in range(1, max(WALK_STEPS) + 1):
        on_labelled = walk @ on_labelled
        on_anomalous = walk @ on_anomalous
        if steps in WALK_STEPS:
            share = on_anomalous / np.maximum(on_labelled, 1e-12)
            columns += [on_anomalous, np.where(on_labelled > 0, share, 0.0)]
    return np.column_stack(columns)


def label_features(
    adjacency: sp.csr_matrix,
    labels: npt.NDArray[np.bool_],
    train: npt.NDArray[np.int64],
    *,
    folds: int = 5,
    seed: int = 0,
) -> FloatArray:
    """Return what the training labels say about each node's neighbourhood.

    Columns (:data:`LABEL_FEATURE_NAMES`): for the one-hop neighbours and for
    the nodes two hops away (each counted once per two-step path that reaches
    it, so a node sharing many neighbours counts more; the node itself left
    out), how many are training nodes, how many of those are anomalous, and
    the anomalous share; then, for random walks of 2, 3 and 4 steps from the
    node (each step to a neighbour chosen uniformly), the chance of ending on
    a known anomaly and that chance over the chance of ending on any
    training node. A walk can come back to where it started, which is why a
    training node's own features must come from the other folds.

    Parameters
    ----------
    adjacency
        The graph's adjacency (any positive weights; treated as unweighted).
    labels
        Every node's label; only the entries of ``train`` are read.
    train
        The training nodes, whose labels may be used.
    folds
        Training nodes are split into this many folds at random; each one's
        features use the labels of the other folds only, so no node ever sees
        its own label. Other nodes use every training label.
    seed
        Seed of the fold assignment.

    Raises
    ------
    ConfigError
        When ``folds`` is below 2, or the labels do not match the adjacency.
    """
    if folds < 2:
        raise ConfigError(f"folds={folds}; hint: use 2 or more")
    n_nodes = adjacency.shape[0]
    if labels.shape != (n_nodes,):
        raise ConfigError(
            f"{labels.shape[0]} labels for {n_nodes} nodes; hint: one label per node"
        )
    one_hop = sp.csr_matrix(adjacency, dtype=np.float64, copy=True)
    one_hop.data[:] = 1.0
    two_hop = (one_hop @ one_hop).tocsr()
    two_hop.setdiag(0.0)
    two_hop.eliminate_zeros()
    reach = (one_hop, two_hop)
    degree = np.asarray(one_hop.sum(axis=1)).ravel()
    walk = (sp.diags(1.0 / np.maximum(degree, 1.0)) @ one_hop).tocsr()
    train = np.asarray(train, dtype=np.int64)
    features = _label_counts(reach, walk, train, labels, n_nodes)
    fold_of = np.random.default_rng(seed).integers(0, folds, size=train.size)
    for fold in range(folds):
        inside = train[fold_of == fold]
        if inside.size:
            others = train[fold_of != fold]
            counted = _label_counts(reach, walk, others, labels, n_nodes)
            features[inside] = counted[inside]
    return features
