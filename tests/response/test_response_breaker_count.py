"""Two dispatchers over one ledger count each action into its rule's breaker
state exactly once, however their passes interleave."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from ledger_backends import CountingAdapter
from response_rig import T0, make_action

from trustwatch.response.config import response_config_from_dict
from trustwatch.response.dispatch import Dispatcher
from trustwatch.response.ledger import DispatchLedger, open_ledger

RULE_ACTOR = make_action(0).actor


def _dispatcher(ledger: DispatchLedger, adapter: CountingAdapter) -> Dispatcher:
    config = response_config_from_dict(
        {
            "adapters": {"platform": {"kind": "log", "path": "unused.jsonl"}},
            "routes": {"default": "platform"},
            # a floor high enough that the runaway check holds nothing
            "breaker": {"rate_floor": 1_000_000},
        },
        "test-response.toml",
    )
    return Dispatcher(ledger, config, {"platform": adapter}, rng=random.Random(5))


def _race(open_one: Callable[[], DispatchLedger], count: int) -> None:
    """Two dispatchers take in the same ``count`` actions at the same time."""
    adapter = CountingAdapter()
    first, second = open_one(), open_one()
    try:
        first.store.write_actions([make_action(n) for n in range(count)])
        dispatchers = [_dispatcher(led, adapter) for led in (first, second)]
        start = threading.Barrier(len(dispatchers))
        failures: list[BaseException] = []

        def work(dispatcher: Dispatcher) -> None:
            try:
                start.wait()
                for second_ in range(3):
                    dispatcher.run_once(T0 + timedelta(seconds=second_))
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(d,)) for d in dispatchers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert failures == []
        state = first.breaker_state(RULE_ACTOR)
        assert state is not None
        assert state["count"] == count
        assert len(adapter.deliveries) == count
        assert max(adapter.deliveries.values()) == 1
    finally:
        first.close()
        second.close()


@pytest.mark.slow
def test_postgres_breaker_counts_each_action_once(postgres_store_target) -> None:
    dsn, schema = postgres_store_target
    _race(lambda: open_ledger(dsn, schema=schema), 200)


@pytest.mark.slow
def test_sqlite_breaker_counts_each_action_once(tmp_path) -> None:
    path = tmp_path / "store.db"
    DispatchLedger(path).close()
    _race(lambda: DispatchLedger(path), 200)


def _first_state_race(ledger: DispatchLedger, rival: DispatchLedger) -> None:
    """The rival saves the rule's first state between our read and our insert."""
    calls: list[dict[str, Any] | None] = []

    def count_one(saved: dict[str, Any] | None) -> dict[str, Any]:
        calls.append(saved)
        if saved is None and len(calls) == 1:
            rival.save_breaker_state(RULE_ACTOR, {"count": 1})
        return {"count": (saved["count"] if saved else 0) + 1}

    state = ledger.update_breaker_state(RULE_ACTOR, count_one)
    # the insert found the rival's row, so the change ran again on it
    assert calls == [None, {"count": 1}]
    assert state == {"count": 2}
    assert ledger.breaker_state(RULE_ACTOR) == {"count": 2}


def test_postgres_first_state_saved_meanwhile_is_counted_on(
    postgres_store_target,
) -> None:
    dsn, schema = postgres_store_target
    ledger = open_ledger(dsn, schema=schema)
    rival = open_ledger(dsn, schema=schema)
    try:
        _first_state_race(ledger, rival)
    finally:
        ledger.close()
        rival.close()
