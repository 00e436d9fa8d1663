"""Dense blocks in an account–object graph that resist camouflage (FRAUDAR).

The input is a bipartite graph given as a sparse matrix: one row per account,
one column per object (a file hash, a link destination, an IP, a device), a
positive weight per edge. A ring shows up as a block of accounts that share
many objects; FRAUDAR (Hooi et al., "FRAUDAR: Bounding Graph Fraud in the Face
of Camouflage", KDD 2016) finds it by greedy peeling:

1. weight each edge by its object's popularity, ``1 / log(d_j + c)`` where
   ``d_j`` is the object's degree, so that edges to popular objects (the
   camouflage a ring adds to look normal) count for little;
2. repeatedly remove the node, account or object, whose weighted degree in
   what remains is smallest, tracking the density ``f(S) / |S|`` (total edge
   weight over the number of nodes left);
3. return the nodes left at the step where the density peaked.

A heap with lazy deletion keeps the smallest degree at hand, so peeling costs
``O(E log V)``. :func:`top_dense_blocks` repeats the search after removing the
accounts of each block found.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from trustwatch.errors import ConfigError

__all__ = [
    "DenseBlock",
    "Weighting",
    "column_weights",
    "densest_block",
    "top_dense_blocks",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Weighting = Literal["log", "none"]
"""``"log"``: FRAUDAR's camouflage-resistant column weights; ``"none"``: raw."""


@dataclass(frozen=True)
class DenseBlock:
    """A block of accounts and objects found by peeling.

    Attributes
    ----------
    accounts
        Sorted row indices of the block's accounts.
    objects
        Sorted column indices of the block's objects.
    density
        Weighted edges inside the block divided by its number of nodes
        (accounts plus objects); 0.0 for an empty block.
    """

    accounts: IntArray
    objects: IntArray
    density: float

    @property
    def size(self) -> int:
        """Number of nodes in the block, accounts plus objects."""
        return int(self.accounts.size + self.objects.size)


def _as_matrix(matrix: sp.spmatrix | sp.sparray | npt.ArrayLike) -> sp.csr_matrix:
    """Validate the input and return it as a float64 CSR matrix, zeros dropped."""
    try:
        if sp.issparse(matrix):
            csr = sp.csr_matrix(matrix, dtype=np.float64)
        else:
            dense = np.asarray(matrix, dtype=np.float64)
            if dense.ndim != 2:
                raise ConfigError(
                    f"the account-object matrix must be 2-D, got {dense.ndim}-D; "
                    "hint: rows are accounts, columns are objects"
                )
            csr = sp.csr_matrix(dense)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"the account-object matrix cannot be read as numbers: {error}"
        ) from error
    csr.sum_duplicates()
    if csr.data.size and not np.all(np.isfinite(csr.data)):
        raise ConfigError("the account-object matrix holds NaN or infinite weights")
    if csr.data.size and csr.data.min() < 0:
        raise ConfigError(
            f"the account-object matrix holds a negative weight ({csr.data.min()}); "
            "hint: edge weights are counts or strengths, >= 0"
        )
    csr.eliminate_zeros()
    return csr


def column_weights(
    matrix: sp.spmatrix | sp.sparray | npt.ArrayLike, c: float = 5.0
) -> FloatArray:
    """Return FRAUDAR's weight per object, ``1 / log(degree + c)``.

    Parameters
    ----------
    matrix
        Accounts x objects; an object's degree is its number of non-zero
        entries.
    c
        Smoothing constant, > 0 (the paper uses 5).

    Returns
    -------
    numpy.ndarray
        One float64 weight per column; columns without edges get
        ``1 / log(c)`` when ``c > 1`` and 0.0 otherwise (they carry no edge).

    Raises
    ------
    ConfigError
        When ``c`` is not a positive finite number or the matrix is invalid.
    """
    if not np.isfinite(c) or c <= 0:
        raise ConfigError(f"the column-weight constant c must be > 0, got {c}")
    csr = _as_matrix(matrix)
    degrees = np.bincount(csr.indices, minlength=csr.shape[1]).astype(np.float64)
    logs = np.log(degrees + c)
    weights = np.zeros(csr.shape[1], dtype=np.float64)
    np.divide(1.0, logs, out=weights, where=logs > 0)
    return weights


def _weighted(csr: sp.csr_matrix, weighting: Weighting, c: float) -> sp.csr_matrix:
    """Return the matrix with each edge multiplied by its column's weight."""
    if weighting == "none":
        return csr
    if weighting != "log":
        raise ConfigError(f"unknown weighting {weighting!r}; use 'log' or 'none'")
    weighted = csr.copy()
    weighted.data = weighted.data * column_weights(csr, c)[csr.indices]
    return weighted


def _peel(weighted: sp.csr_matrix) -> DenseBlock:
    """Greedy peeling of a weighted bipartite matrix; the densest prefix wins."""
    n_accounts, n_objects = weighted.shape
    by_column = weighted.tocsc()

    # One node id space: accounts first, then objects; plain lists are the
    # fastest to index one element at a time in the loop below.
    indptr = [
        weighted.indptr.tolist(),
        by_column.indptr.tolist(),
    ]
    neighbours = [
        (weighted.indices + n_accounts).tolist(),
        by_column.indices.tolist(),
    ]
    edge_weights = [weighted.data.tolist(), by_column.data.tolist()]
    priority: list[float] = np.concatenate(
        [
            np.asarray(weighted.sum(axis=1)).ravel(),
            np.asarray(weighted.sum(axis=0)).ravel(),
        ]
    ).tolist()

    n_nodes = n_accounts + n_objects
    heap = [(p, node) for node, p in enumerate(priority)]
    heapq.heapify(heap)
    removed = [False] * n_nodes
    order: list[int] = []
    total = float(weighted.data.sum())
    best_density, best_step = total / n_nodes, 0
    remaining = n_nodes

    while heap:
        p, node = heapq.heappop(heap)
        if removed[node] or p != priority[node]:
            continue  # a stale entry: the node was removed or its degree fell
        removed[node] = True
        order.append(node)
        remaining -= 1
        total -= p
        side, local = (0, node) if node < n_accounts else (1, node - n_accounts)
        ptr, nbrs, wts = indptr[side], neighbours[side], edge_weights[side]
        for k in range(ptr[local], ptr[local + 1]):
            other = nbrs[k]
            if not removed[other]:
                priority[other] -= wts[k]
                heapq.heappush(heap, (priority[other], other))
        if remaining and total / remaining > best_density:
            best_density, best_step = total / remaining, len(order)

    kept = np.asarray(order[best_step:], dtype=np.int64)
    return _densest_component(
        weighted,
        np.sort(kept[kept < n_accounts]),
        np.sort(kept[kept >= n_accounts] - n_accounts),
    )


def _densest_component(
    weighted: sp.csr_matrix, accounts: IntArray, objects: IntArray
) -> DenseBlock:
    """Split a peeled block into connected parts and keep the densest one.

    Peeling cannot separate disjoint blocks of equal density (their union is
    exactly as dense), so two unrelated rings would come out as one; the
    densest connected part is never less dense than the union.
    """
    sub = weighted[accounts][:, objects]
    n_acc = accounts.size
    bipartite = sp.bmat([[None, sub], [sub.T, None]], format="csr")
    n_parts, part = connected_components(bipartite, directed=False)
    weight = np.bincount(
        part[:n_acc], weights=np.asarray(sub.sum(axis=1)).ravel(), minlength=n_parts
    )
    nodes = np.bincount(part, minlength=n_parts)
    density = weight / nodes
    best = int(np.argmax(density))
    return DenseBlock(
        accounts=accounts[part[:n_acc] == best],
        objects=objects[part[n_acc:] == best],
        density=float(max(0.0, density[best])),
    )


def densest_block(
    matrix: sp.spmatrix | sp.sparray | npt.ArrayLike,
    *,
    weighting: Weighting = "log",
    c: float = 5.0,
) -> DenseBlock:
    """Find the densest block of an account–object graph by greedy peeling.

    Parameters
    ----------
    matrix
        Accounts x objects, non-negative edge weights (1 for a plain link).
    weighting
        ``"log"`` multiplies each edge by ``1 / log(d_j + c)``, the weight that
        resists camouflage; ``"none"`` peels the raw weights.
    c
        Smoothing constant of the log weighting, > 0.

    Returns
    -------
    DenseBlock
        The accounts and objects left when the weighted density peaked; an
        empty block with density 0.0 when the graph has no edges.

    Raises
    ------
    ConfigError
        When the matrix is not 2-D, holds negative or non-finite weights, or
        a setting is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> block = densest_block(np.ones((3, 2)))
    >>> block.accounts.tolist(), block.objects.tolist()
    ([0, 1, 2], [0, 1])
    """
    csr = _as_matrix(matrix)
    weighted = _weighted(csr, weighting, c)
    if weighted.nnz == 0:
        empty = np.zeros(0, dtype=np.int64)
        return DenseBlock(accounts=empty, objects=empty.copy(), density=0.0)
    block = _peel(weighted)
    logger.debug(
        "densest block: %d accounts, %d objects, density %.4f",
        block.accounts.size,
        block.objects.size,
        block.density,
    )
    return block


def top_dense_blocks(
    matrix: sp.spmatrix | sp.sparray | npt.ArrayLike,
    k: int,
    *,
    weighting: Weighting = "log",
    c: float = 5.0,
    min_density: float = 0.0,
) -> list[DenseBlock]:
    """Find up to ``k`` dense blocks, removing each block's accounts in turn.

    Column weights come from the whole graph once, so an object stays as
    popular as it is on the platform while blocks are taken out.

    Parameters
    ----------
    matrix
        Accounts x objects, non-negative edge weights.
    k
        Most blocks to return, >= 1.
    weighting, c
        As in :func:`densest_block`.
    min_density
        Stop when the next block's density falls to or below this.

    Returns
    -------
    list of DenseBlock
        In the order found, densest first as a rule; fewer than ``k`` when
        the edges run out or the density falls to ``min_density``.

    Raises
    ------
    ConfigError
        On invalid input or settings, ``k < 1`` included.
    """
    if k < 1:
        raise ConfigError(f"k must be >= 1 blocks, got {k}")
    weighted = _weighted(_as_matrix(matrix), weighting, c)
    blocks: list[DenseBlock] = []
    while len(blocks) < k and weighted.nnz:
        block = _peel(weighted)
        if block.density <= min_density or block.accounts.size == 0:
            break
        blocks.append(block)

        # Drop the block's accounts (rows) entirely, camouflage edges too.
        keep = np.ones(weighted.shape[0], dtype=np.float64)
        keep[block.accounts] = 0.0
        weighted = sp.csr_matrix(sp.diags(keep) @ weighted)
        weighted.eliminate_zeros()
    logger.info("dense blocks: %d found of %d asked", len(blocks), k)
    return blocks
