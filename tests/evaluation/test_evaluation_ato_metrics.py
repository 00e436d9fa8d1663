"""Attacks caught at a challenge budget, with ties split honestly; ROC AUC."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.evaluation.ato_metrics import caught_at, roc_auc


def test_a_perfect_score_catches_everything_at_any_budget() -> None:
    legit = np.linspace(0.0, 0.5, 1000)
    attacks = np.full(40, 0.9)
    for rate in (0.01, 0.05):
        result = caught_at(legit, attacks, rate)
        assert result is not None
        assert result.caught == result.caught_strictly == 1.0
    assert roc_auc(legit, attacks) == 1.0


def test_distinct_scores_spend_the_budget_exactly() -> None:
    legit = np.arange(100, dtype=np.float64)  # 0..99
    attacks = np.array([98.5, 97.5, 50.0, 0.5])
    result = caught_at(legit, attacks, 0.02)  # two legit logins: 99 and 98
    assert result is not None
    assert result.threshold == 97.0
    assert np.count_nonzero(legit > result.threshold) == 2
    assert result.caught == pytest.approx(0.5)  # 98.5 and 97.5


def test_a_tie_at_the_threshold_counts_in_proportion() -> None:
    # 5 of 100 legitimate logins tie at 1: a 1% budget covers one of them.
    legit = np.array([0.0] * 95 + [1.0] * 5)
    attacks = np.array([1.0, 1.0, 0.0, 0.0])
    result = caught_at(legit, attacks, 0.01)
    assert result is not None
    assert result.tied_share == pytest.approx(0.2)
    assert result.caught == pytest.approx(0.2 * 2 / 4)
    assert result.caught_strictly == 0.0
    # At 5% all five fit: both attacks at 1 are caught, none of those at 0.
    wider = caught_at(legit, attacks, 0.05)
    assert wider is not None and wider.caught == pytest.approx(0.5)


def test_a_constant_score_catches_what_chance_would() -> None:
    legit, attacks = np.full(300, 0.5), np.full(30, 0.5)
    for rate in (0.01, 0.05, 0.37):
        result = caught_at(legit, attacks, rate)
        assert result is not None and result.caught == pytest.approx(rate)
    assert roc_auc(legit, attacks) == 0.5


def test_nothing_to_measure_gives_none() -> None:
    empty = np.array([], dtype=np.float64)
    some = np.array([0.1, 0.2])
    assert caught_at(empty, some, 0.01) is None
    assert caught_at(some, empty, 0.01) is None
    assert roc_auc(empty, some) is None


@pytest.mark.parametrize("rate", [0.0, -0.1, 1.5, float("nan")])
def test_a_budget_outside_the_unit_interval_is_refused(rate: float) -> None:
    with pytest.raises(ConfigError):
        caught_at(np.array([0.1]), np.array([0.2]), rate)


def test_auc_matches_counting_every_pair() -> None:
    rng = np.random.default_rng(3)
    legit = rng.integers(0, 6, 120).astype(np.float64) / 5
    attacks = rng.integers(2, 8, 45).astype(np.float64) / 5
    pairs = list(itertools.product(attacks, legit))
    expected = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs)
    assert roc_auc(legit, attacks) == pytest.approx(expected / len(pairs))


def test_catching_is_monotonic_in_the_budget() -> None:
    rng = np.random.default_rng(9)
    legit = rng.integers(0, 4, 500).astype(np.float64)
    attacks = rng.integers(1, 5, 80).astype(np.float64)
    shares = []
    for rate in np.linspace(0.01, 1.0, 40):
        result = caught_at(legit, attacks, float(rate))
        assert result is not None
        shares.append(result.caught)
        challenged = np.count_nonzero(legit > result.threshold)
        tied = np.count_nonzero(legit == result.threshold)
        assert challenged + result.tied_share * tied == pytest.approx(rate * legit.size)
    assert shares == sorted(shares)
