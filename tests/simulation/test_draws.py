"""Helper draws: Poisson counts and ids."""

from __future__ import annotations

from datetime import UTC, datetime
from random import Random
from statistics import fmean

import pytest

from trustwatch.simulation.draws import poisson
from trustwatch.simulation.ids import at, counter, epoch_seconds, link_token


@pytest.mark.parametrize("lam", [0.3, 4.0, 80.0])
def test_poisson_has_the_requested_mean(lam: float) -> None:
    rng = Random(8)
    draws = [poisson(rng, lam) for _ in range(20_000)]
    assert min(draws) >= 0
    assert fmean(draws) == pytest.approx(lam, rel=0.05)


def test_poisson_of_zero_is_zero() -> None:
    assert poisson(Random(1), 0.0) == 0


def test_at_and_epoch_seconds_are_inverse() -> None:
    moment = datetime(2026, 11, 2, 13, 5, 7, 250000, tzinfo=UTC)
    assert at(epoch_seconds(moment)) == moment


def test_counter_hands_out_unique_prefixed_ids() -> None:
    ids = counter("ev-1-")
    issued = [ids() for _ in range(1000)]
    assert len(set(issued)) == 1000
    assert issued[:2] == ["ev-1-1", "ev-1-2"] and issued[-1] == "ev-1-3e8"


def test_link_tokens_are_url_safe() -> None:
    rng = Random(3)
    tokens = {link_token(rng) for _ in range(500)}
    assert len(tokens) == 500
    assert all(
        len(t) == 12 and t.replace("-", "").replace("_", "").isalnum() for t in tokens
    )
