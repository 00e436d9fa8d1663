"""The default budget: a burst of sends in one pass is held, whatever the
actions' dates; breaker numbers that would hold everything are refused."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from response_rig import T0, log_config, make_action

from trustwatch.errors import ConfigError
from trustwatch.response.adapters import build_adapters
from trustwatch.response.config import DEFAULT_BUDGET, response_config_from_dict
from trustwatch.response.dispatch import Dispatcher
from trustwatch.response.ledger import DispatchLedger

BASE = {"adapters": {"audit": {"kind": "log"}}, "routes": {"default": "audit"}}


def _dispatcher(ledger: DispatchLedger, log: Path, **breaker) -> Dispatcher:
    config = log_config(log, breaker=breaker) if breaker else log_config(log)
    return Dispatcher(ledger, config, build_adapters(config), rng=random.Random(2))


def _replayed_history(count: int):
    """One rule's actions spread over days of event time, a few an hour, so
    that the runaway check (which counts in event time) holds none."""
    return [
        make_action(n, created_at=T0 - timedelta(hours=count - n)) for n in range(count)
    ]


def test_one_pass_over_a_replayed_history_sends_no_more_than_the_default_budget(
    ledger, tmp_path
) -> None:
    limit, period = DEFAULT_BUDGET
    count = limit + 40
    ledger.store.write_actions(_replayed_history(count))
    dispatcher = _dispatcher(ledger, tmp_path / "actions.jsonl")
    summary = dispatcher.run_once(T0)
    assert (summary.dispatched, summary.held) == (limit, count - limit)
    held = ledger.listing(state="held")
    assert all("default_budget" in (record.last_error or "") for record, _ in held)
    # each held action went to review, as budget holds do
    reviews = [a for a in ledger.store.iter_actions() if a.type == "send_to_review"]
    assert len(reviews) == count - limit
    # the next period has room again, for new actions only
    ledger.store.write_actions([make_action(count, created_at=T0)])
    later = dispatcher.run_once(T0 + period + timedelta(seconds=1))
    assert later.dispatched == 1 + len(reviews)


def test_a_budget_named_for_a_type_overrides_the_default_budget(
    ledger, tmp_path
) -> None:
    count = DEFAULT_BUDGET[0] + 40
    ledger.store.write_actions(_replayed_history(count))
    dispatcher = _dispatcher(
        ledger, tmp_path / "actions.jsonl", budgets={"lock_account": "1000 per minute"}
    )
    summary = dispatcher.run_once(T0)
    assert (summary.dispatched, summary.held) == (count, 0)


def test_the_default_budget_can_be_set(ledger, tmp_path) -> None:
    ledger.store.write_actions(_replayed_history(12))
    dispatcher = _dispatcher(
        ledger, tmp_path / "actions.jsonl", default_budget="5 per hour"
    )
    summary = dispatcher.run_once(T0)
    assert (summary.dispatched, summary.held) == (5, 7)


@pytest.mark.parametrize(
    ("breaker", "message"),
    [
        ({"rate_floor": 0}, r"rate_floor = 0 must be in \(0, 1e\+09\].*hint"),
        ({"rate_floor": -1}, r"rate_floor = -1 must be in.*hint"),
        ({"rate_floor": 0.05}, r"lets no rule fire even once.*hint: rate_floor = 5"),
        ({"rate_factor": 0.5}, r"rate_factor = 0.5 must be in \[1, 1e\+06\].*hint"),
        ({"decay": 1}, r"decay = 1 must be in \[0, 0.999\].*hint"),
        ({"default_budget": "0 per minute"}, r"default_budget.*hint"),
        ({"default_budget": "lots"}, r"default_budget.*hint"),
    ],
)
def test_breaker_numbers_out_of_range_are_refused_with_a_hint(breaker, message) -> None:
    with pytest.raises(ConfigError, match=message):
        response_config_from_dict(BASE | {"breaker": breaker}, "r.toml")


def test_breaker_numbers_in_range_load() -> None:
    config = response_config_from_dict(
        BASE
        | {
            "breaker": {
                "rate_floor": 0.1,
                "rate_factor": 10,
                "default_budget": "20 per second",
            }
        },
        "r.toml",
    )
    assert config.breaker.rate_floor == 0.1
    assert config.breaker.default_budget == (20, timedelta(seconds=1))
    assert config.breaker.budget_for("send_to_review") is None
    assert config.breaker.budget_for("disable_link") == (20, timedelta(seconds=1))
