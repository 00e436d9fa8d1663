"""GraphSAGE node scoring: learns through edges, repeatable, optional."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.graphmodel import (
    GraphSageScorer,
    GraphSageSettings,
    NodeScorer,
    NodeScorerSettings,
    build_adjacency,
    gnn_available,
    ranking_metrics,
    stratified_split,
)

SMALL = GraphSageSettings(hidden=16, max_epochs=150, patience=40, learning_rate=0.01)
# Without the degree input, only the neighbours' features can give anomalies away.
NEIGHBOUR_FEATURES_ONLY = GraphSageSettings(**{**SMALL.as_dict(), "log_degree": False})


@pytest.fixture
def hidden_in_neighbours(ring_graph):
    """A graph whose anomalies differ only in their neighbours, and a split."""
    x, edge_index, y = ring_graph(n_nodes=600, n_anomalies=60, seed=11)
    labels = y.astype(bool)
    split = stratified_split(
        labels, train_fraction=0.4, validation_fraction=0.2, seed=4
    )
    return x.astype(np.float64), edge_index, labels, split


@pytest.fixture
def without_torch_geometric(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import torch_geometric`` fail, as on a machine without the extra."""
    monkeypatch.setitem(sys.modules, "torch_geometric", None)
    monkeypatch.setitem(sys.modules, "torch_geometric.nn", None)


@pytest.mark.slow
def test_graphsage_finds_anomalies_visible_only_through_neighbours(
    gnn, hidden_in_neighbours
):
    x, edge_index, labels, split = hidden_in_neighbours
    scorer = GraphSageScorer(NEIGHBOUR_FEATURES_ONLY).fit(
        x, labels, edge_index, split.train, split.validation
    )
    graphsage = ranking_metrics(labels[split.test], scorer.score(split.test))

    edge_blind = NodeScorer(NodeScorerSettings(max_rounds=200, patience=50))
    edge_blind.fit(x, labels, split.train, split.validation)
    own_features_only = ranking_metrics(
        labels[split.test], edge_blind.score(x[split.test])
    )

    assert own_features_only.auroc < 0.7
    assert graphsage.auroc > 0.8
    assert graphsage.auroc > own_features_only.auroc + 0.2
    assert 1 <= scorer.best_epoch <= scorer.epochs_run <= SMALL.max_epochs
    assert 0.0 < scorer.validation_average_precision <= 1.0


@pytest.mark.slow
def test_same_seed_same_scores_and_edges_in_either_form(gnn, hidden_in_neighbours):
    x, edge_index, labels, split = hidden_in_neighbours
    adjacency = build_adjacency(edge_index, x.shape[0])

    def scores(settings: GraphSageSettings, edges) -> np.ndarray:
        scorer = GraphSageScorer(settings)
        scorer.fit(x, labels, edges, split.train, split.validation)
        return scorer.score(np.arange(x.shape[0]))

    first = scores(SMALL, edge_index)
    assert np.array_equal(first, scores(SMALL, edge_index))
    assert np.array_equal(first, scores(SMALL, adjacency))
    other_seed = GraphSageSettings(**{**SMALL.as_dict(), "seed": 1})
    assert not np.array_equal(first, scores(other_seed, edge_index))
    assert np.all(np.isfinite(first))
    assert np.unique(first).size > first.size // 2


@pytest.mark.slow
def test_training_restores_torch_global_settings(gnn, hidden_in_neighbours):
    import torch

    x, edge_index, labels, split = hidden_in_neighbours
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    settings = GraphSageSettings(hidden=8, max_epochs=3, threads=2)
    GraphSageScorer(settings).fit(x, labels, edge_index, split.train, split.validation)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_bad_inputs_are_refused(gnn, hidden_in_neighbours):
    x, edge_index, labels, split = hidden_in_neighbours
    tiny = GraphSageSettings(hidden=4, max_epochs=2)
    with pytest.raises(ConfigError, match="not fitted"):
        GraphSageScorer(tiny).score([0])
    with pytest.raises(ConfigError, match="overlap"):
        GraphSageScorer(tiny).fit(x, labels, edge_index, split.train, split.train)
    one_class = split.train[~labels[split.train]]
    with pytest.raises(ConfigError, match="one class"):
        GraphSageScorer(tiny).fit(x, labels, edge_index, one_class, split.validation)
    with pytest.raises(ConfigError, match="disagree"):
        GraphSageScorer(tiny).fit(
            x, labels[:-1], edge_index, split.train, split.validation
        )
    with pytest.raises(ConfigError, match="shape"):
        GraphSageScorer(tiny).fit(
            x,
            labels,
            build_adjacency(edge_index, x.shape[0])[:-1],
            split.train,
            split.validation,
        )
    fitted = GraphSageScorer(tiny).fit(
        x, labels, edge_index, split.train, split.validation
    )
    with pytest.raises(ConfigError, match="node ids"):
        fitted.score([x.shape[0]])


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"hidden": 0}, "hidden"),
        ({"layers": 0}, "layers"),
        ({"layers": 5}, "layers"),
        ({"dropout": 1.0}, "dropout"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"patience": 0}, "patience"),
        ({"threads": 0}, "threads"),
    ],
)
def test_settings_are_validated(values, match):
    with pytest.raises(ConfigError, match=match):
        GraphSageSettings(**values)


def test_without_torch_geometric_fit_says_how_to_install(
    without_torch_geometric, hidden_in_neighbours
):
    x, edge_index, labels, split = hidden_in_neighbours
    assert gnn_available() is False
    with pytest.raises(ConfigError, match=r"pip install 'trustwatch\[gnn\]'"):
        GraphSageScorer().fit(x, labels, edge_index, split.train, split.validation)


def test_importing_the_graph_model_does_not_import_torch():
    code = (
        "import sys, trustwatch.graphmodel, trustwatch.evaluation.gad; "
        "print('torch' in sys.modules, 'torch_geometric' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]
