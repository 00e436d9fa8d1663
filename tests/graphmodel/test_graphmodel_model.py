"""The LightGBM node scorer: aggregates find neighbourhood-only anomalies."""

from dataclasses import replace

import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.graphmodel import (
    LabelledGraph,
    NodeScorer,
    NodeScorerSettings,
    build_adjacency,
    node_features,
    ranking_metrics,
    stratified_split,
)
from trustwatch.graphmodel.model import SEED_STRIDE

FAST = NodeScorerSettings(
    max_rounds=200,
    patience=40,
    learning_rate=0.1,
    min_child_samples=5,
    extra_trees=False,
    n_models=1,
)


def fitted_test_auroc(graph, matrix, settings=FAST):
    split = stratified_split(
        graph.labels, train_fraction=0.4, validation_fraction=0.2, seed=0
    )
    scorer = NodeScorer(settings).fit(
        matrix, graph.labels, split.train, split.validation
    )
    scores = scorer.score(matrix[split.test])
    return ranking_metrics(graph.labels[split.test], scores).auroc, scores


@pytest.fixture
def graph(ring_graph):
    x, edge_index, y = ring_graph()
    return LabelledGraph(
        "ring", x.astype(np.float64), build_adjacency(edge_index, len(y)), y != 0
    )


def test_neighbour_aggregates_find_what_own_features_cannot(graph):
    with_aggregates, _ = fitted_test_auroc(graph, node_features(graph, hops=2).matrix)
    own_only, _ = fitted_test_auroc(graph, graph.features)
    assert with_aggregates > 0.9
    assert own_only < 0.75


def test_training_is_deterministic(graph):
    matrix = node_features(graph, hops=1).matrix
    _, first = fitted_test_auroc(graph, matrix)
    _, again = fitted_test_auroc(graph, matrix)
    assert np.array_equal(first, again)


def test_scores_are_probabilities_and_trees_are_chosen(graph):
    matrix = node_features(graph, hops=1).matrix
    split = stratified_split(
        graph.labels, train_fraction=0.4, validation_fraction=0.2, seed=0
    )
    scorer = NodeScorer(FAST).fit(matrix, graph.labels, split.train, split.validation)
    scores = scorer.score(matrix)
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    assert 1 <= scorer.best_iteration <= FAST.max_rounds


def test_misuse_is_refused(graph):
    matrix = graph.features
    with pytest.raises(ConfigError, match="not fitted"):
        NodeScorer().score(matrix)
    normal_rows = np.flatnonzero(~graph.labels)
    with pytest.raises(ConfigError, match="one class"):
        NodeScorer(FAST).fit(
            matrix, graph.labels, normal_rows[:50], normal_rows[50:100]
        )
    with pytest.raises(ConfigError, match="overlap"):
        NodeScorer(FAST).fit(matrix, graph.labels, np.arange(100), np.arange(50, 150))
    with pytest.raises(ConfigError, match="disagree"):
        NodeScorer(FAST).fit(matrix, graph.labels[:10], np.arange(5), np.arange(5, 10))
    split = stratified_split(
        graph.labels, train_fraction=0.4, validation_fraction=0.2, seed=0
    )
    scorer = NodeScorer(FAST).fit(matrix, graph.labels, split.train, split.validation)
    with pytest.raises(ConfigError, match="columns"):
        scorer.score(matrix[:, :2])


@pytest.mark.parametrize(
    "bad",
    [
        {"learning_rate": 0.0},
        {"feature_fraction": 1.5},
        {"max_rounds": 0},
        {"num_leaves": 1},
        {"n_models": 0},
    ],
)
def test_bad_settings_are_refused(bad):
    with pytest.raises(ConfigError):
        NodeScorerSettings(**bad)


def test_an_ensemble_averages_boosters_seeded_apart(graph):
    matrix = node_features(graph, hops=1).matrix
    split = stratified_split(
        graph.labels, train_fraction=0.4, validation_fraction=0.2, seed=0
    )
    ensemble_settings = replace(FAST, n_models=3, extra_trees=True, seed=7)
    ensemble = NodeScorer(ensemble_settings).fit(
        matrix, graph.labels, split.train, split.validation
    )
    singles = [
        NodeScorer(replace(FAST, extra_trees=True, seed=7 + SEED_STRIDE * model)).fit(
            matrix, graph.labels, split.train, split.validation
        )
        for model in range(3)
    ]
    expected = np.mean([single.score(matrix) for single in singles], axis=0)
    np.testing.assert_allclose(ensemble.score(matrix), expected, rtol=1e-12)
    assert ensemble.trees_per_model == tuple(s.best_iteration for s in singles)
    assert ensemble.best_iteration == round(np.mean(ensemble.trees_per_model))
    # different seeds draw different subsamples, so the boosters differ
    assert not np.array_equal(singles[0].score(matrix), singles[1].score(matrix))


def test_ensemble_scores_do_not_depend_on_the_batch(graph):
    matrix = node_features(graph, hops=1).matrix
    split = stratified_split(
        graph.labels, train_fraction=0.4, validation_fraction=0.2, seed=0
    )
    scorer = NodeScorer(replace(FAST, n_models=2)).fit(
        matrix, graph.labels, split.train, split.validation
    )
    whole = scorer.score(matrix)
    np.testing.assert_array_equal(scorer.score(matrix[5:9]), whole[5:9])
    assert len(scorer.trees_per_model) == 2


def test_extra_trees_reach_lightgbm_and_change_the_model(graph):
    matrix = node_features(graph, hops=1).matrix
    assert NodeScorerSettings(extra_trees=True).lightgbm_params()["extra_trees"]
    assert not NodeScorerSettings(extra_trees=False).lightgbm_params()["extra_trees"]
    auroc_searched, searched = fitted_test_auroc(
        graph, matrix, replace(FAST, extra_trees=False)
    )
    auroc_random, random_cuts = fitted_test_auroc(
        graph, matrix, replace(FAST, extra_trees=True)
    )
    assert not np.array_equal(searched, random_cuts)
    assert auroc_random > 0.9 and auroc_searched > 0.9
