"""Stratified splits and the ranking metrics."""

import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.graphmodel import ranking_metrics, stratified_split


def labels(n_nodes=1000, n_anomalies=33):
    y = np.zeros(n_nodes, dtype=bool)
    y[np.random.default_rng(0).choice(n_nodes, n_anomalies, replace=False)] = True
    return y


def test_split_is_disjoint_complete_and_keeps_the_ratio():
    y = labels()
    split = stratified_split(y, train_fraction=0.4, validation_fraction=0.2, seed=1)
    everything = np.concatenate([split.train, split.validation, split.test])
    assert np.array_equal(np.sort(everything), np.arange(y.size))
    assert (split.train.size, split.validation.size, split.test.size) == (400, 200, 400)
    assert [int(y[p].sum()) for p in (split.train, split.validation, split.test)] == [
        13,
        7,
        13,
    ]


def test_split_is_seeded():
    y = labels()
    first = stratified_split(y, train_fraction=0.4, validation_fraction=0.2, seed=4)
    again = stratified_split(y, train_fraction=0.4, validation_fraction=0.2, seed=4)
    other = stratified_split(y, train_fraction=0.4, validation_fraction=0.2, seed=5)
    assert np.array_equal(first.test, again.test)
    assert not np.array_equal(first.test, other.test)


def test_every_part_gets_an_anomaly_when_there_are_only_three():
    y = labels(n_nodes=60, n_anomalies=3)
    split = stratified_split(y, train_fraction=0.4, validation_fraction=0.2, seed=0)
    assert [int(y[p].sum()) for p in (split.train, split.validation, split.test)] == [
        1,
        1,
        1,
    ]


@pytest.mark.parametrize(
    ("train", "validation", "y", "message"),
    [
        (0.5, 0.5, labels(), "test share"),
        (0.0, 0.2, labels(), "positive"),
        (0.4, 0.2, labels(100, 2), "at least 3"),
    ],
)
def test_bad_splits_are_refused(train, validation, y, message):
    with pytest.raises(ConfigError, match=message):
        stratified_split(
            y, train_fraction=train, validation_fraction=validation, seed=0
        )


def test_metrics_of_a_perfect_and_a_reversed_ranking():
    y = np.array([True, False, False, True, False])
    perfect = ranking_metrics(y, y.astype(float))
    assert (perfect.auroc, perfect.auprc, perfect.recall_at_k, perfect.k) == (
        1.0,
        1.0,
        1.0,
        2,
    )
    reversed_ = ranking_metrics(y, -y.astype(float))
    assert reversed_.auroc == 0.0
    assert reversed_.recall_at_k == 0.0


def test_recall_at_k_counts_anomalies_in_the_top_k():
    y = np.array([True, True, True, False, False, False, False])
    scores = np.array([0.9, 0.1, 0.8, 0.95, 0.2, 0.3, 0.0])
    # top 3: nodes 3 (normal), 0 and 2 (anomalies) -> 2 of 3
    assert ranking_metrics(y, scores).recall_at_k == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("y", "scores", "message"),
    [
        (np.array([True, False]), np.array([0.1]), "same length"),
        (np.array([False, False]), np.array([0.1, 0.2]), "both classes"),
        (np.array([True, False]), np.array([np.nan, 0.2]), "NaN"),
    ],
)
def test_bad_metric_inputs_are_refused(y, scores, message):
    with pytest.raises(ConfigError, match=message):
        ranking_metrics(y, scores)
