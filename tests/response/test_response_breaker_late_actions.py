"""The runaway check counts a late action in the window of its own time."""

from __future__ import annotations

from datetime import timedelta

from response_rig import T0

from trustwatch.response.breaker import Breaker
from trustwatch.response.config import BreakerSettings
from trustwatch.response.ledger import DispatchLedger

RULE = "policy:test@1#lock-stuffed"


def _breaker(ledger: DispatchLedger) -> Breaker:
    return Breaker(BreakerSettings(rate_floor=5, rate_factor=10), ledger)


def test_a_backfill_of_old_actions_is_not_a_burst_now(
    ledger: DispatchLedger,
) -> None:
    breaker = _breaker(ledger)
    assert breaker.runaway(RULE, T0) is None
    # one action a minute over the last 110 minutes, arriving after T0's
    held = [
        breaker.runaway(RULE, T0 - timedelta(minutes=minutes))
        for minutes in range(10, 110)
    ]
    assert held == [None] * 100
    assert ledger.breaker_state(RULE)["count"] == 1


def test_a_late_burst_in_its_own_window_is_held(ledger: DispatchLedger) -> None:
    breaker = _breaker(ledger)
    assert breaker.runaway(RULE, T0) is None
    late = T0 - timedelta(minutes=3)
    outcomes = [breaker.runaway(RULE, late) for _ in range(51)]

    assert outcomes[:50] == [None] * 50
    assert outcomes[50] is not None and "fired 51 times" in outcomes[50]
    # the newest window's count is its own
    assert ledger.breaker_state(RULE)["count"] == 1


def test_late_counts_carry_over_when_windows_roll(ledger: DispatchLedger) -> None:
    breaker = _breaker(ledger)
    window_start = T0 - timedelta(minutes=2)
    for _ in range(30):
        assert breaker.runaway(RULE, window_start) is None
    assert breaker.runaway(RULE, T0) is None
    # the earlier window keeps its 30: 21 more of it take it over 50
    late = [breaker.runaway(RULE, window_start) for _ in range(21)]
    assert late[:20] == [None] * 20
    assert late[20] is not None and "fired 51 times" in late[20]


def test_windows_too_old_to_keep_are_not_counted(ledger: DispatchLedger) -> None:
    from trustwatch.response.breaker import LATE_WINDOWS

    breaker = _breaker(ledger)
    assert breaker.runaway(RULE, T0) is None
    ancient = T0 - timedelta(minutes=LATE_WINDOWS + 5)
    assert [breaker.runaway(RULE, ancient) for _ in range(200)] == [None] * 200
    kept = ledger.breaker_state(RULE).get("earlier") or {}
    assert all(int(window) >= 0 for window in kept)
    assert len(kept) <= LATE_WINDOWS
