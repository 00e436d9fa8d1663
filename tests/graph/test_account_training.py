"""Account model training: refusing models that cannot separate, honest figures."""

from __future__ import annotations

import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.graph.account_training import (
    FEATURES_MEASURED,
    _split,
    choose_threshold,
    train_account_scorer,
)
from trustwatch.graphmodel import NodeScorerSettings
from trustwatch.testing.account_model import synthetic_account_labels
from trustwatch.testing.conformance import synthetic_events

_SMALL = NodeScorerSettings(max_rounds=50, patience=10, min_child_samples=2, n_models=1)


def test_threshold_never_flags_every_validation_account() -> None:
    labels = np.array([True, False, True])
    scores = np.array([0.9, 0.8, 0.1])
    # the lowest cut reaches the target precision, but it flags every account
    threshold, rule = choose_threshold(labels, scores, target_precision=0.6)
    assert threshold > scores.min()
    assert (rule, threshold) == ("precision", pytest.approx(0.85))


def test_threshold_of_equal_scores_is_refused() -> None:
    labels = np.array([True, False, True, False])
    with pytest.raises(ConfigError, match="same score"):
        choose_threshold(labels, np.full(4, 0.5))


def test_a_model_without_a_split_is_refused_with_the_labels_needed() -> None:
    # forty labelled accounts: 28 train, fewer than the 20 per leaf each side
    with pytest.raises(ConfigError, match="no booster made a split") as error:
        train_account_scorer(synthetic_events(), synthetic_account_labels())
    assert "not saved" in str(error.value)
    assert "fewer than 28 of each" in str(error.value)


def test_split_holds_out_a_test_part_when_each_class_has_enough() -> None:
    labels = np.array([True] * 20 + [False] * 40)
    train, validation, test = _split(labels, 0.3, seed=3)
    assert len(test) == 3 + 6 and len(validation) == 3 + 6
    assert not set(train) & set(validation) | set(train) & set(test)
    assert not set(validation) & set(test)
    assert sorted([*train, *validation, *test]) == list(range(60))
    again = _split(labels, 0.3, seed=3)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(again, (train, validation, test), strict=True)
    )


def test_split_without_enough_labels_has_no_test_part() -> None:
    labels = np.array([True] * 35 + [False] * 5)
    _, validation, test = _split(labels, 0.4, seed=0)
    assert test.size == 0 and len(validation) == 2 + 14


def test_figures_say_where_they_were_measured() -> None:
    trained = train_account_scorer(
        synthetic_events(),
        synthetic_account_labels(),
        settings=_SMALL,
        validation_fraction=0.4,
    )
    figures = trained.figures
    assert figures["test"] is None and figures["reported_on"] == "validation"
    assert figures["features_measured"] == FEATURES_MEASURED
    assert "hourly sweep" in FEATURES_MEASURED
    assert trained.model.metrics["reported_on"] == "validation"
    assert trained.model.metrics["features_measured"] == FEATURES_MEASURED
