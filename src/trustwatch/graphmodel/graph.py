"""A labelled attributed graph: node features, a symmetric adjacency, labels.

Graphs arrive as ``.npz`` archives with the arrays ``x`` (nodes x features),
``edge_index`` (2 x edges, node ids) and ``y`` (one label per node, non-zero
meaning anomalous), the layout PyG's ``Data`` objects use. Archives are read
with ``allow_pickle=False``: an archive that needs pickle is refused.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from trustwatch.errors import ConfigError

__all__ = ["LabelledGraph", "build_adjacency", "load_npz_graph"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class LabelledGraph:
    """Node features, an undirected unweighted adjacency and binary labels.

    Attributes
    ----------
    name
        A short name for logs and reports (the file stem when loaded).
    features
        ``(n_nodes, n_features)`` float64 matrix.
    adjacency
        ``(n_nodes, n_nodes)`` symmetric CSR matrix of ones, no self-loops.
    labels
        ``(n_nodes,)`` booleans, True for an anomalous node.
    """

    name: str
    features: FloatArray
    adjacency: sp.csr_matrix
    labels: BoolArray

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.features.shape[0])

    @property
    def n_anomalies(self) -> int:
        """Number of nodes labelled anomalous."""
        return int(self.labels.sum())


def build_adjacency(edge_index: npt.ArrayLike, n_nodes: int) -> sp.csr_matrix:
    """Build the undirected, unweighted, loop-free adjacency of an edge list.

    Parameters
    ----------
    edge_index
        ``(2, n_edges)`` integer node ids; direction and duplicates are
        dropped, self-loops removed.
    n_nodes
        Number of nodes; every id must lie in ``[0, n_nodes)``.

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric matrix of float64 ones with sorted indices.

    Raises
    ------
    ConfigError
        When the edge list has the wrong shape or an id out of range.
    """
    edges = np.asarray(edge_index)
    if edges.ndim != 2 or edges.shape[0] != 2:
        raise ConfigError(
            f"edge_index must have shape (2, n_edges), got {edges.shape}; "
            "hint: transpose an (n_edges, 2) list"
        )
    if edges.size and not np.issubdtype(edges.dtype, np.integer):
        raise ConfigError(f"edge_index must hold integer node ids, got {edges.dtype}")
    if n_nodes < 0:
        raise ConfigError(f"n_nodes must be >= 0, got {n_nodes}")
    edges = edges.astype(np.int64, copy=False)
    if edges.size and (edges.min() < 0 or edges.max() >= n_nodes):
        raise ConfigError(
            f"edge_index holds node ids in [{edges.min()}, {edges.max()}], "
            f"outside [0, {n_nodes}) for a graph of {n_nodes} nodes"
        )

    # Both directions, then collapse duplicates to one and drop self-loops.
    rows = np.concatenate([edges[0], edges[1]])
    cols = np.concatenate([edges[1], edges[0]])
    keep = rows != cols
    ones = np.ones(int(keep.sum()), dtype=np.float64)
    matrix = sp.csr_matrix((ones, (rows[keep], cols[keep])), shape=(n_nodes, n_nodes))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    matrix.sort_indices()
    return matrix


def load_npz_graph(path: Path) -> LabelledGraph:
    """Load a labelled graph from an ``.npz`` archive without pickle.

    Parameters
    ----------
    path
        Archive with arrays ``x``, ``edge_index`` and ``y``.

    Returns
    -------
    LabelledGraph
        Features as float64, labels as booleans (``y != 0``).

    Raises
    ------
    ConfigError
        When the file is missing, not an archive, needs pickle, lacks an
        array, or the arrays disagree in size.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {"x", "edge_index", "y"} - set(archive.files)
            if missing:
                raise ConfigError(
                    f"{path} lacks the arrays {sorted(missing)}; a graph archive "
                    "holds x, edge_index and y"
                )
            features = np.asarray(archive["x"], dtype=np.float64)
            edge_index = np.asarray(archive["edge_index"])
            raw_labels = np.asarray(archive["y"])
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ConfigError(f"cannot read graph archive {path}: {error}") from error

    if features.ndim != 2:
        raise ConfigError(f"{path}: x must be 2-D, got shape {features.shape}")
    if not np.isfinite(features).all():
        raise ConfigError(f"{path}: x holds NaN or infinite values")
    if raw_labels.shape != (features.shape[0],):
        raise ConfigError(
            f"{path}: y has shape {raw_labels.shape}, expected "
            f"({features.shape[0]},) to match x"
        )
    adjacency = build_adjacency(edge_index, features.shape[0])
    return LabelledGraph(path.stem, features, adjacency, raw_labels != 0)
