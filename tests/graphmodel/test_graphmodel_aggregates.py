"""Neighbourhood aggregates checked against hand-computed values."""

import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.graphmodel import (
    LabelledGraph,
    build_adjacency,
    neighbour_max,
    node_features,
)


def path_graph() -> LabelledGraph:
    """0 - 1 - 2, and node 3 alone; one feature equal to 1, 2, 4, 8."""
    x = np.array([[1.0], [2.0], [4.0], [8.0]])
    adjacency = build_adjacency(np.array([[0, 1], [1, 2]]), 4)
    return LabelledGraph("path", x, adjacency, np.array([False, True, False, False]))


def column(features, name):
    return features.matrix[:, features.names.index(name)]


def test_one_hop_mean_max_sum_and_degrees():
    features = node_features(path_graph(), hops=1)
    assert column(features, "hop1_mean_x0").tolist() == [2.0, 2.5, 2.0, 0.0]
    assert column(features, "hop1_max_x0").tolist() == [2.0, 4.0, 2.0, 0.0]
    assert column(features, "hop1_sum_x0").tolist() == [2.0, 5.0, 2.0, 0.0]
    assert column(features, "dev_mean_x0").tolist() == [-1.0, -0.5, 2.0, 8.0]
    assert column(features, "degree").tolist() == [1.0, 2.0, 1.0, 0.0]
    assert column(features, "neighbour_degree_sum").tolist() == [2.0, 2.0, 2.0, 0.0]


def test_two_hops_aggregate_the_one_hop_aggregates():
    features = node_features(path_graph(), hops=2)
    # mean of the neighbours' means; max of maxes; sum of sums
    assert column(features, "hop2_mean_x0").tolist() == [2.5, 2.0, 2.5, 0.0]
    assert column(features, "hop2_max_x0").tolist() == [4.0, 2.0, 4.0, 0.0]
    assert column(features, "hop2_sum_x0").tolist() == [5.0, 4.0, 5.0, 0.0]
    assert features.matrix.shape == (4, 1 * (2 + 3 * 2) + 2)
    assert len(set(features.names)) == len(features.names)


def test_neighbour_max_handles_empty_rows_anywhere():
    adjacency = build_adjacency(np.array([[1, 1], [3, 4]]), 6)
    values = np.arange(12, dtype=np.float64).reshape(6, 2)
    out = neighbour_max(adjacency, values)
    assert out[0].tolist() == [0.0, 0.0]
    assert out[1].tolist() == [8.0, 9.0]
    assert out[3].tolist() == [2.0, 3.0]
    assert out[5].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("hops", [0, 5])
def test_hops_out_of_range_are_refused(hops):
    with pytest.raises(ConfigError, match="hops"):
        node_features(path_graph(), hops=hops)
