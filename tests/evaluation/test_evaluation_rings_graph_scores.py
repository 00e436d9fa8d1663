"""The supervised graph_scores method in the injected-ring evaluation."""

from __future__ import annotations

import json

import pytest

from trustwatch.errors import ConfigError
from trustwatch.evaluation.rings import (
    TRAINING_SEED_OFFSET,
    evaluate_injected_rings,
    training_ring_sizes,
)


@pytest.mark.slow
def test_graph_scores_trains_elsewhere_and_finds_the_rings() -> None:
    sizes = (8, 12, 20, 30)
    run = evaluate_injected_rings(
        accounts=600, days=2.0, seed=5, sizes=sizes, methods=("graph_scores",)
    )
    assert [m.method for m in run.methods] == ["lockstep", "graph_scores"]
    scored = run.method("graph_scores")
    assert scored.truth == sum(sizes)
    assert scored.recall >= 0.9 and scored.precision >= 0.9
    assert all(ring.recall >= 0.8 for ring in scored.per_ring)
    # trained on other telemetry: another seed, rings of other sizes
    assert scored.training["seed"] == 5 + TRAINING_SEED_OFFSET
    assert not set(scored.training["ring_sizes"]) & set(sizes)
    assert scored.training["validation"]["auroc"] >= 0.99
    assert scored.risk_threshold == pytest.approx(scored.training["threshold"])
    payload = run.to_dict()["methods"]["graph_scores"]
    assert payload["training"]["ring_sizes"] == list(training_ring_sizes(sizes))
    json.dumps(payload)
    assert "| graph_scores |" in run.render()


def test_unknown_methods_name_graph_scores_in_the_hint() -> None:
    with pytest.raises(ConfigError, match="graph_scores"):
        evaluate_injected_rings(methods=("louvain",))


def test_training_rings_differ_from_the_evaluated_ones() -> None:
    assert training_ring_sizes((8, 12, 20, 30, 50, 80)) == (6, 9, 15, 22, 37, 60)
    assert training_ring_sizes((4, 3)) == (3, 3)
    for sizes in ((8, 6), (12, 9, 6), (40, 30)):
        assert not set(training_ring_sizes(sizes)) & set(sizes)
