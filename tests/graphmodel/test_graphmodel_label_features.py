"""What the training labels say about a node's neighbourhood, without leaks."""

import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.graphmodel import LABEL_FEATURE_NAMES, build_adjacency, label_features

#: A star: hub 0 linked to 1..4, and 4 - 5 beyond; node 6 alone.
EDGES = np.array([[0, 0, 0, 0, 4], [1, 2, 3, 4, 5]])
LABELS = np.array([False, True, True, False, False, True, False])


def star():
    return build_adjacency(EDGES, 7)


def named(features, name):
    return features[:, LABEL_FEATURE_NAMES.index(name)]


def test_nodes_outside_training_see_every_training_label():
    train = np.array([1, 2, 3, 5])
    features = label_features(star(), LABELS, train, folds=2, seed=0)
    assert features.shape == (7, len(LABEL_FEATURE_NAMES))
    # node 0 (not trained on): neighbours 1, 2, 3 labelled, 1 and 2 anomalous
    assert named(features, "hop1_labelled")[0] == 3
    assert named(features, "hop1_anomalous")[0] == 2
    assert named(features, "hop1_anomalous_share")[0] == pytest.approx(2 / 3)
    # node 4: one hop to 0 and 5 (5 anomalous); two hops to 1, 2, 3 via 0
    assert named(features, "hop1_anomalous")[4] == 1
    assert named(features, "hop2_labelled")[4] == 3
    assert named(features, "hop2_anomalous")[4] == 2
    # walks of two steps from node 4: via 0 (half the time) to 1, 2, 3 or 4
    assert named(features, "walk2_anomalous")[4] == pytest.approx(0.25)
    assert named(features, "walk2_anomalous_share")[4] == pytest.approx(2 / 3)
    # node 6 has no neighbours: zeros, and a share of 0, not a division error
    assert features[6].tolist() == [0.0] * len(LABEL_FEATURE_NAMES)


def folds_of(train, folds, seed):
    """The fold of each training node, drawn as label_features draws it."""
    drawn = np.random.default_rng(seed).integers(0, folds, size=len(train))
    return dict(zip(train.tolist(), drawn.tolist(), strict=True))


def test_a_training_node_never_sees_its_own_label():
    train = np.arange(7)
    flipped = LABELS.copy()
    flipped[1] = not flipped[1]
    before = label_features(star(), LABELS, train, folds=3, seed=4)
    after = label_features(star(), flipped, train, folds=3, seed=4)
    assert before[1].tolist() == after[1].tolist()
    fold = folds_of(train, 3, 4)
    # node 2 reaches node 1 in two hops: it sees the flip only from another fold
    changed = before[2].tolist() != after[2].tolist()
    assert changed == (fold[2] != fold[1])
    # node 0 (a training node too) is node 1's neighbour
    assert (before[0].tolist() != after[0].tolist()) == (fold[0] != fold[1])


def test_labels_outside_training_are_never_read():
    train = np.array([1, 2, 3])
    changed = LABELS.copy()
    changed[[0, 4, 5, 6]] = ~changed[[0, 4, 5, 6]]
    assert np.array_equal(
        label_features(star(), LABELS, train, seed=1),
        label_features(star(), changed, train, seed=1),
    )


def test_training_rows_use_the_other_folds_only():
    train = np.array([1, 2, 3, 5])
    for seed in range(6):
        features = label_features(star(), LABELS, train, folds=2, seed=seed)
        fold = folds_of(train, 2, seed)
        for node in (1, 2, 3):
            # hub 0 is not a training node; two hops reach the two siblings
            siblings = [s for s in (1, 2, 3) if s != node]
            others = [s for s in siblings if fold[s] != fold[node]]
            assert named(features, "hop1_labelled")[node] == 0
            assert named(features, "hop2_labelled")[node] == len(others)
            assert named(features, "hop2_anomalous")[node] == sum(
                LABELS[s] for s in others
            )


def test_bad_calls_are_refused():
    with pytest.raises(ConfigError, match="folds"):
        label_features(star(), LABELS, np.array([1]), folds=1)
    with pytest.raises(ConfigError, match="one label per node"):
        label_features(star(), LABELS[:3], np.array([1]))
