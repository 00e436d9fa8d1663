"""Small graphs written by the tests; nothing is copied from the datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from trustwatch.graphmodel import gnn_available


def _ring_graph(n_nodes: int = 400, n_anomalies: int = 40, seed: int = 3) -> tuple:
    """A graph whose anomalies are marked only through their neighbours.

    Every node has random features; each anomaly is linked to three
    "accomplice" nodes whose feature 0 is shifted up, while its own features
    are drawn like everyone else's. Normal nodes link to random others.
    Returns ``(x, edge_index, y)``.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_nodes, 4))
    y = np.zeros(n_nodes, dtype=np.uint8)
    anomalies = rng.choice(n_nodes, size=n_anomalies, replace=False)
    y[anomalies] = 1
    normal = np.flatnonzero(y == 0)
    accomplices = rng.choice(normal, size=n_anomalies, replace=False)
    x[accomplices, 0] += 4.0
    edges = []
    for anomaly, accomplice in zip(anomalies, accomplices, strict=True):
        edges.append((anomaly, accomplice))
        for other in rng.choice(normal, size=2, replace=False):
            edges.append((anomaly, other))
    for node in normal:
        for other in rng.choice(normal, size=2, replace=False):
            edges.append((node, other))
    return x.astype(np.float32), np.asarray(edges, dtype=np.int64).T, y


def _write_graph(
    path: Path, x: np.ndarray, edge_index: np.ndarray, y: np.ndarray
) -> Path:
    """Write an ``.npz`` graph archive and return its path."""
    np.savez(path, x=x, edge_index=edge_index, y=y)
    return path


@pytest.fixture
def ring_graph():
    """The :func:`_ring_graph` factory."""
    return _ring_graph


@pytest.fixture
def write_graph():
    """The :func:`_write_graph` writer."""
    return _write_graph


@pytest.fixture
def gnn() -> None:
    """Skip without torch_geometric; fail instead under TRUSTWATCH_REQUIRE_GNN=1."""
    if gnn_available():
        return
    reason = "torch and torch_geometric are not installed (trustwatch[gnn])"
    if os.environ.get("TRUSTWATCH_REQUIRE_GNN") == "1":
        pytest.fail(f"{reason}, and TRUSTWATCH_REQUIRE_GNN=1 requires them")
    pytest.skip(reason)
