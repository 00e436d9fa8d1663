"""Two dispatchers over one ledger count each action into its rule's breaker
state exactly once, however their passes interleave."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from ledger_backends import CountingAdapter
from response_rig import T0, make_action

from trustwatch.response.config import response_config_from_dict
from trustwatch.response.dispatch import Dispatcher
from trustwatch.response.ledger import HOLD_AT_MOST, DispatchLedger, open_ledger

RULE_ACTOR = make_action(0).actor


def _dispatcher(
    ledger: DispatchLedger, adapter: CountingAdapter, budget: str | None = None
) -> Dispatcher:
    # a floor high enough that the runaway check holds nothing
    breaker: dict[str, Any] = {"rate_floor": 1_000_000}
    if budget is not None:
        breaker["budgets"] = {"lock_account": budget}
    config = response_config_from_dict(
        {
            "adapters": {"platform": {"kind": "log", "path": "unused.jsonl"}},
            "routes": {"default": "platform"},
            "breaker": breaker,
        },
        "test-response.toml",
    )
    return Dispatcher(ledger, config, {"platform": adapter}, rng=random.Random(5))


def _dispatch_together(
    open_one: Callable[[], DispatchLedger],
    adapter: CountingAdapter,
    budget: str | None = None,
) -> None:
    """Two dispatchers make three passes each at the same time.

    Each opens its own ledger in its own thread, as dispatcher processes do
    (holding an action writes a review action to the store).
    """
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            with open_one() as ledger:
                dispatcher = _dispatcher(ledger, adapter, budget)
                start.wait()
                for second_ in range(3):
                    dispatcher.run_once(T0 + timedelta(seconds=second_))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def _race(open_one: Callable[[], DispatchLedger], count: int) -> None:
    """Two dispatchers take in the same ``count`` actions at the same time."""
    adapter = CountingAdapter()
    with open_one() as setup:
        setup.store.write_actions([make_action(n) for n in range(count)])

    _dispatch_together(open_one, adapter)

    with open_one() as ledger:
        state = ledger.breaker_state(RULE_ACTOR)
    assert state is not None
    assert state["count"] == count
    assert len(adapter.deliveries) == count
    assert max(adapter.deliveries.values()) == 1


def _budget_race(open_one: Callable[[], DispatchLedger], count: int) -> None:
    """Two dispatchers send ``count`` locks against a budget of 10 a minute,
    each send taking a moment, so that both look at the budget while the
    other is sending."""
    adapter = CountingAdapter(pause=0.005)
    with open_one() as setup:
        setup.store.write_actions([make_action(n) for n in range(count)])

    _dispatch_together(open_one, adapter, "10 per minute")

    # the held locks went to review instead (those deliveries are reviews)
    locks = [a for a in adapter.deliveries if a.startswith("act-lock-stuffed-")]
    assert len(locks) == 10
    assert max(adapter.deliveries.values()) == 1
    with open_one() as ledger:
        assert len(ledger.listing(state="held", limit=1000)) == count - 10
        # every slot was given back: the budget counts what was sent alone
        assert ledger.breaker_state("budget:lock_account") == {"holds": {}}


@pytest.fixture(params=["sqlite", "postgres"])
def open_one(request: pytest.FixtureRequest, tmp_path) -> Callable[[], DispatchLedger]:
    """Open another dispatch ledger over one store, on each backend."""
    if request.param == "postgres":
        dsn, schema = request.getfixturevalue("postgres_store_target")
        return lambda: open_ledger(dsn, schema=schema)
    path = tmp_path / "store.db"
    DispatchLedger(path).close()
    return lambda: DispatchLedger(path)


@pytest.mark.slow
def test_the_breaker_counts_each_action_once(open_one) -> None:
    _race(open_one, 200)


@pytest.mark.slow
def test_dispatchers_share_one_budget(open_one) -> None:
    _budget_race(open_one, 60)


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


def _pending_actions(ledger: DispatchLedger, count: int) -> list[str]:
    """``count`` actions taken in as pending rows; their ids."""
    actions = [make_action(n) for n in range(count)]
    ledger.store.write_actions(actions)
    for action in actions:
        assert ledger.add(action.action_id, T0)
    return [action.action_id for action in actions]


def _reserve(
    ledger: DispatchLedger, action_id: str, attempt: int = 1, at: datetime = T0
) -> int | None:
    return ledger.reserve_dispatch(
        "lock_account",
        action_id,
        attempt,
        limit=2,
        since=at - timedelta(hours=1),
        now=at,
    )


def test_a_slot_is_held_until_given_back_dispatched_or_too_old(open_one) -> None:
    with open_one() as ledger:
        first, second, third, fourth = _pending_actions(ledger, 4)
        assert _reserve(ledger, first) is None
        assert _reserve(ledger, second) is None
        # both attempts are sending (or died sending): no slot is free
        assert _reserve(ledger, third) == 2
        # reversed by hand mid-send: the send may still go out, the slot stays
        assert ledger.set_state(second, "reversed", leaving=("pending",))
        assert _reserve(ledger, third) == 2
        # the first was recorded as dispatched: it counts by itself, once
        assert ledger.set_state(
            first, "dispatched", leaving=("pending",), dispatched_at=T0
        )
        assert _reserve(ledger, third) == 2
        # the second attempt's dispatcher died: its slot goes after an hour
        later = T0 + HOLD_AT_MOST + timedelta(seconds=1)
        assert _reserve(ledger, fourth, at=later) is None


def test_an_actions_own_earlier_attempt_does_not_count_against_it(open_one) -> None:
    with open_one() as ledger:
        first, second, third = _pending_actions(ledger, 3)
        assert _reserve(ledger, first, attempt=1) is None
        assert _reserve(ledger, second) is None
        # the first attempt's slot was never given back; a retry still fits
        assert _reserve(ledger, first, attempt=2) is None
        # ...but both of the first action's attempts hold one action's slot
        assert _reserve(ledger, third) == 2


def test_giving_back_one_attempt_keeps_another_attempts_slot(open_one) -> None:
    with open_one() as ledger:
        first, second, third = _pending_actions(ledger, 3)
        assert _reserve(ledger, first, attempt=1) is None
        # the first attempt's lease ran out; another dispatcher tries again
        assert _reserve(ledger, first, attempt=2) is None
        assert _reserve(ledger, second) is None
        ledger.release_dispatch("lock_account", first, 1)  # the late first attempt
        assert _reserve(ledger, third) == 2  # attempt 2 still holds the slot
        ledger.release_dispatch("lock_account", first, 2)
        assert _reserve(ledger, third) is None


def test_a_send_that_could_not_be_recorded_keeps_its_slot(
    tmp_path, monkeypatch
) -> None:
    from trustwatch.errors import StorageError

    adapter = CountingAdapter()
    with DispatchLedger(tmp_path / "store.db") as ledger:
        ledger.store.write_actions([make_action(1), make_action(2)])
        dispatcher = _dispatcher(ledger, adapter, "1 per hour")
        marking = ledger.set_state

        def store_down(action_id: str, state: str, **kwargs: Any) -> bool:
            if state == "dispatched":
                raise StorageError("database is locked")
            return marking(action_id, state, **kwargs)

        monkeypatch.setattr(ledger, "set_state", store_down)
        with pytest.raises(StorageError):
            dispatcher.run_once(T0)  # the first lock went out, unrecorded
        monkeypatch.setattr(ledger, "set_state", marking)
        dispatcher.run_once(T0 + timedelta(seconds=1))

    assert sorted(adapter.deliveries)[:1] == ["act-lock-stuffed-00001"]
    # the second lock found the budget's one slot taken: held, not sent
    assert "act-lock-stuffed-00002" not in adapter.deliveries


def test_a_live_pass_stamps_each_send_with_the_time_it_went(tmp_path) -> None:
    adapter = CountingAdapter(pause=0.05)
    with DispatchLedger(tmp_path / "store.db") as ledger:
        ledger.store.write_actions([make_action(1), make_action(2)])
        _dispatcher(ledger, adapter, "10 per hour").run_once()  # the clock's time
        sent = sorted(
            record.dispatched_at
            for record, _ in ledger.listing(state="dispatched")
            if record.dispatched_at is not None
        )
    assert len(sent) == 2
    # the second send is stamped after the first one's pause, not at the start
    first, second = (datetime.fromisoformat(stamp) for stamp in sent)
    assert (second - first).total_seconds() >= 0.04


class _ExpiringMidSend(CountingAdapter):
    """A platform double during whose send another dispatcher expires the row."""

    def __init__(self, ledger: DispatchLedger) -> None:
        super().__init__()
        self.ledger = ledger

    def send(self, delivery: Any) -> None:
        if delivery.operation == "apply":
            assert self.ledger.set_state(
                delivery.action.action_id, "expired", leaving=("pending",)
            )
        super().send(delivery)


def test_an_action_sent_while_it_expired_is_recorded_and_reversed(tmp_path) -> None:
    with DispatchLedger(tmp_path / "store.db") as ledger:
        action = make_action(1, expires=timedelta(minutes=5))
        ledger.store.write_actions([action])
        adapter = _ExpiringMidSend(ledger)
        dispatcher = _dispatcher(ledger, adapter)
        dispatcher.run_once(T0)
        record = ledger.record(action.action_id)
        assert record is not None and record.state == "dispatched"
        # past its expiry, the next pass takes the lock back
        dispatcher.run_once(T0 + timedelta(minutes=6))
        assert ("reverse", action.action_id) in adapter.operations
