"""The GADBench-style evaluation: small written graphs, then the real ones."""

import json

import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.evaluation.gad import GADBENCH_REDDIT_BEST, evaluate_gad
from trustwatch.graphmodel import NodeScorerSettings

FAST = NodeScorerSettings(
    max_rounds=100, patience=30, learning_rate=0.1, min_child_samples=5
)


@pytest.fixture
def graphs_dir(tmp_path, ring_graph, write_graph):
    folder = tmp_path / "pygod-graphs"
    folder.mkdir()
    write_graph(folder / "reddit.npz", *ring_graph(seed=1))
    write_graph(folder / "books.npz", *ring_graph(n_nodes=200, n_anomalies=10, seed=2))
    return tmp_path


def test_evaluates_each_graph_over_each_seed(graphs_dir):
    evaluation = evaluate_gad(
        graphs_dir,
        seeds=(0, 1, 2),
        names=("reddit", "books"),
        hops=2,
        settings=FAST,
        models=("trees",),
    )
    reddit = evaluation.result("reddit")
    assert (reddit.n_nodes, reddit.n_anomalies) == (400, 40)
    assert sorted(reddit.per_seed) == [0, 1, 2]
    assert all(m.k == 16 for m in reddit.per_seed.values())
    assert reddit.summary("auroc").mean > 0.9
    assert evaluation.result("books").summary("auroc").std >= 0.0

    table = evaluation.render()
    assert "| dataset | nodes | anomalies | AUROC | AUPRC | Rec@K |" in table
    assert (
        "| reddit, GADBench best of its models | | | 0.702 | 0.083 | 0.143 |" in table
    )
    assert f"{reddit.summary('auprc').mean:.3f} ±" in table
    assert "AUROC beats" in table

    as_dict = json.loads(json.dumps(evaluation.to_dict()))
    assert as_dict["protocol"]["train_fraction"] == 0.4
    assert as_dict["protocol"]["test_fraction"] == 0.4
    assert as_dict["published_reddit_best"] == GADBENCH_REDDIT_BEST
    assert as_dict["reddit_beats_published"]["auroc"] is True
    per_seed = as_dict["datasets"]["reddit"]["per_seed"]["1"]
    assert per_seed["auroc"] == reddit.per_seed[1].auroc
    assert per_seed["trees"] >= 1


def test_is_repeatable_and_accepts_the_graphs_folder_itself(graphs_dir):
    first = evaluate_gad(
        graphs_dir,
        seeds=(5,),
        names=("books",),
        hops=1,
        settings=FAST,
        models=("trees",),
    )
    again = evaluate_gad(
        graphs_dir / "pygod-graphs",
        seeds=(5,),
        names=("books",),
        hops=1,
        settings=FAST,
        models=("trees",),
    )
    assert first.to_dict() == again.to_dict()
    assert first.reddit_beats_published() is None
    assert "against GADBench" not in first.render()


def test_bad_calls_are_refused(graphs_dir, write_graph, ring_graph):
    with pytest.raises(ConfigError, match="absent"):
        evaluate_gad(graphs_dir, seeds=(0,), names=("enron",))
    with pytest.raises(ConfigError, match="at least one seed"):
        evaluate_gad(graphs_dir, seeds=())
    with pytest.raises(ConfigError, match="repeat"):
        evaluate_gad(graphs_dir, seeds=(1, 1))
    x, edges, y = ring_graph(n_nodes=50, n_anomalies=2)
    write_graph(graphs_dir / "pygod-graphs" / "tiny.npz", x, edges, y)
    with pytest.raises(ConfigError, match="at least 3"):
        evaluate_gad(
            graphs_dir, seeds=(0,), names=("tiny",), settings=FAST, models=("trees",)
        )
    with pytest.raises(ConfigError, match="not evaluated"):
        evaluate_gad(graphs_dir, seeds=(0,), names=("books",), settings=FAST).result(
            "x"
        )


@pytest.mark.datasets
@pytest.mark.slow
def test_real_graphs_rank_anomalies_above_chance(datasets_dir):
    """Three splits of the real graphs with the shipped settings."""
    evaluation = evaluate_gad(
        datasets_dir, seeds=(0, 1, 2), names=("reddit", "books"), models=("trees",)
    )
    reddit = evaluation.result("reddit")
    assert (reddit.n_nodes, reddit.n_anomalies) == (10984, 366)
    base_rate = reddit.n_anomalies / reddit.n_nodes
    assert reddit.summary("auroc").mean > 0.66
    assert reddit.summary("auprc").mean > 2 * base_rate
    assert evaluation.result("books").summary("auroc").mean > 0.6
    assert np.isfinite(reddit.summary("recall_at_k").std)
