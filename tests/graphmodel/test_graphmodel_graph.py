"""Loading graph archives and building the adjacency."""

import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.graphmodel import build_adjacency, load_npz_graph


def test_adjacency_is_symmetric_deduplicated_and_loop_free():
    edges = np.array([[0, 1, 1, 2, 3], [1, 0, 2, 2, 1]])
    matrix = build_adjacency(edges, 5).toarray()
    expected = np.zeros((5, 5))
    for a, b in [(0, 1), (1, 2), (1, 3)]:
        expected[a, b] = expected[b, a] = 1.0
    assert np.array_equal(matrix, expected)


@pytest.mark.parametrize(
    ("edges", "n_nodes", "message"),
    [
        (np.array([[0, 1, 2]]), 3, "shape"),
        (np.array([[0, 5], [1, 1]]), 3, "outside"),
        (np.array([[0, -1], [1, 1]]), 3, "outside"),
        (np.array([[0.0, 1.0], [1.0, 0.0]]), 3, "integer"),
    ],
)
def test_bad_edge_lists_are_refused(edges, n_nodes, message):
    with pytest.raises(ConfigError, match=message):
        build_adjacency(edges, n_nodes)


def test_loads_an_archive_with_boolean_labels(tmp_path, write_graph):
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    path = write_graph(
        tmp_path / "tiny.npz", x, np.array([[0, 1], [1, 2]]), np.array([0, 2, 0, 1])
    )
    graph = load_npz_graph(path)
    assert graph.name == "tiny"
    assert graph.features.dtype == np.float64
    assert graph.labels.tolist() == [False, True, False, True]
    assert graph.n_anomalies == 2
    assert graph.adjacency.nnz == 4


def test_refuses_an_archive_that_needs_pickle(tmp_path):
    path = tmp_path / "pickled.npz"
    objects = np.array([{"a": 1}, None], dtype=object)
    np.savez(path, x=objects, edge_index=np.zeros((2, 0), dtype=np.int64), y=objects)
    with pytest.raises(ConfigError, match="cannot read"):
        load_npz_graph(path)


def test_refuses_missing_arrays_mismatched_labels_and_garbage(tmp_path, write_graph):
    np.savez(
        tmp_path / "no_y.npz",
        x=np.zeros((2, 2)),
        edge_index=np.zeros((2, 0), dtype=int),
    )
    with pytest.raises(ConfigError, match=r"lacks the arrays \['y'\]"):
        load_npz_graph(tmp_path / "no_y.npz")

    write_graph(
        tmp_path / "short.npz",
        np.zeros((3, 2)),
        np.zeros((2, 0), dtype=int),
        np.zeros(2),
    )
    with pytest.raises(ConfigError, match="y has shape"):
        load_npz_graph(tmp_path / "short.npz")

    (tmp_path / "junk.npz").write_bytes(b"not an archive")
    with pytest.raises(ConfigError, match="cannot read"):
        load_npz_graph(tmp_path / "junk.npz")

    with pytest.raises(ConfigError, match="cannot read"):
        load_npz_graph(tmp_path / "absent.npz")

    nan = np.array([[np.nan, 0.0]])
    write_graph(tmp_path / "nan.npz", nan, np.zeros((2, 0), dtype=int), np.zeros(1))
    with pytest.raises(ConfigError, match="NaN"):
        load_npz_graph(tmp_path / "nan.npz")
