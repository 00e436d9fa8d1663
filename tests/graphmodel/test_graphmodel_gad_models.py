"""The GADBench-style evaluation with both node scorers on the same splits."""

from __future__ import annotations

import json
import sys

import pytest

from trustwatch.errors import ConfigError
from trustwatch.evaluation.gad import GAD_MODELS, evaluate_gad
from trustwatch.graphmodel import GraphSageSettings, NodeScorerSettings

FAST_TREES = NodeScorerSettings(
    max_rounds=100, patience=30, learning_rate=0.1, min_child_samples=5
)
FAST_GNN = GraphSageSettings(hidden=16, max_epochs=120, patience=30, learning_rate=0.01)


@pytest.fixture
def two_graphs(tmp_path, ring_graph, write_graph):
    folder = tmp_path / "pygod-graphs"
    folder.mkdir()
    write_graph(folder / "reddit.npz", *ring_graph(n_nodes=500, n_anomalies=50, seed=5))
    write_graph(folder / "books.npz", *ring_graph(n_nodes=300, n_anomalies=15, seed=6))
    return tmp_path


@pytest.fixture
def without_torch_geometric(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch_geometric", None)
    monkeypatch.setitem(sys.modules, "torch_geometric.nn", None)


@pytest.mark.slow
def test_both_models_share_splits_and_are_reported_side_by_side(gnn, two_graphs):
    evaluation = evaluate_gad(
        two_graphs,
        seeds=(0, 1),
        names=("reddit", "books"),
        hops=2,
        settings=FAST_TREES,
        models=("graphsage", "trees"),
        gnn_settings=FAST_GNN,
    )
    assert evaluation.models == GAD_MODELS
    assert [(r.dataset, r.model) for r in evaluation.results] == [
        ("reddit", "trees"),
        ("reddit", "graphsage"),
        ("books", "trees"),
        ("books", "graphsage"),
    ]
    trees = evaluation.result("reddit", "trees")
    graphsage = evaluation.result("reddit", "graphsage")
    for seed in (0, 1):
        assert graphsage.per_seed[seed].k == trees.per_seed[seed].k == 20
    assert graphsage.summary("auroc").mean > 0.75
    assert sorted(graphsage.epochs) == [0, 1] and graphsage.trees == {}
    assert sorted(trees.trees) == [0, 1] and trees.epochs == {}

    lines = evaluation.render().splitlines()
    reddit_rows = [i for i, line in enumerate(lines) if line.startswith("| reddit")]
    assert [lines[i].split(" | ")[0] for i in reddit_rows] == [
        "| reddit",
        "| reddit, GraphSAGE",
        "| reddit, GADBench best of its models",
    ]
    assert lines[reddit_rows[0]].startswith("| reddit | 500 | 50 | ")
    assert f"{graphsage.summary('auprc').mean:.3f} ±" in lines[reddit_rows[1]]
    assert sum(line.startswith("| books") for line in lines) == 2
    for model, label in (("trees", "LightGBM"), ("graphsage", "GraphSAGE")):
        beats = evaluation.reddit_beats_published(model)
        assert beats is not None
        verdict = ", ".join(
            f"{name} {'beats' if beats[key] else 'does not beat'}"
            for key, name in (
                ("auroc", "AUROC"),
                ("auprc", "AUPRC"),
                ("recall_at_k", "Rec@K"),
            )
        )
        assert f"Reddit, {label}, against GADBench's best: {verdict}." in lines
    assert "one split" not in evaluation.render()

    as_dict = json.loads(json.dumps(evaluation.to_dict()))
    assert as_dict["models"] == ["trees", "graphsage"]
    assert as_dict["graphsage"] == FAST_GNN.as_dict()
    reddit = as_dict["datasets"]["reddit"]
    assert set(reddit["models"]) == {"trees", "graphsage"}
    assert reddit["auroc"] == reddit["models"]["trees"]["auroc"]
    gnn_seed = reddit["models"]["graphsage"]["per_seed"]["1"]
    assert gnn_seed["auroc"] == graphsage.per_seed[1].auroc
    assert gnn_seed["epochs"] == graphsage.epochs[1] and "trees" not in gnn_seed
    by_model = as_dict["reddit_beats_published_by_model"]
    assert by_model["graphsage"] == evaluation.reddit_beats_published("graphsage")
    assert as_dict["reddit_beats_published"] == by_model["trees"]


def test_trees_alone_reports_no_graphsage(two_graphs):
    evaluation = evaluate_gad(
        two_graphs,
        seeds=(0,),
        names=("reddit",),
        hops=1,
        settings=FAST_TREES,
        models=("trees",),
    )
    table = evaluation.render()
    assert "GraphSAGE" not in table
    assert "| reddit | 500 | 50 |" in table
    assert "one split: no spread, so not a comparison" in table
    as_dict = evaluation.to_dict()
    assert as_dict["models"] == ["trees"] and "graphsage" not in as_dict
    assert list(as_dict["datasets"]["reddit"]["models"]) == ["trees"]
    with pytest.raises(ConfigError, match="graphsage model"):
        evaluation.result("reddit", "graphsage")
    assert evaluation.reddit_beats_published("graphsage") is None


def test_model_choices_are_checked_before_any_work(two_graphs):
    with pytest.raises(ConfigError, match="unknown models"):
        evaluate_gad(two_graphs, seeds=(0,), models=("forest",))
    with pytest.raises(ConfigError, match="at least one model"):
        evaluate_gad(two_graphs, seeds=(0,), models=())


def test_without_torch_geometric_graphsage_is_refused_and_not_the_default(
    without_torch_geometric, two_graphs
):
    with pytest.raises(ConfigError, match=r"pip install 'trustwatch\[gnn\]'"):
        evaluate_gad(two_graphs, seeds=(0,), names=("books",), models=("graphsage",))
    evaluation = evaluate_gad(
        two_graphs, seeds=(0,), names=("books",), hops=1, settings=FAST_TREES
    )
    assert evaluation.models == ("trees",)
