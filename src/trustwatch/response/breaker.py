"""The breaker: enforcement stops where it would run away, and people look instead.

Two checks, each naming itself in the reason it gives:

* **Budgets** per action type (``lock_account = "100 per minute"``): a
  dispatch that would exceed the count over the trailing period of dispatch
  (clock) time is held. Every enforcing type has one: those ``budgets``
  does not name get ``default_budget``, so a pass that would send a whole
  replay of history at once (which the runaway check, counting in event
  time, lets through) sends no more than that. The actions sent and the
  slots other dispatchers hold for sends in progress are counted together,
  so several dispatchers share one budget.
* **Runaway rules**: each rule's actions are counted in windows of event time
  (``created_at``). A rule's usual rate is a decaying average of its past
  windows, never below a floor; an action that takes its window's count over
  ``rate_factor`` times the usual rate is held. A window in which a rule ran
  away is not learned, so a rule gone wrong cannot teach the breaker that its
  new rate is normal. An action that arrives late (its window is before the
  rule's newest) counts in its own window: the last :data:`LATE_WINDOWS`
  windows keep their counts; older ones are not counted at all (a backfill
  of old actions is not a burst now).

The dispatcher holds the action (state ``held``) and records a
``send_to_review`` action by the actor ``breaker`` instead.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from trustwatch.response.config import BreakerSettings
from trustwatch.response.ledger import DispatchLedger

__all__ = ["BREAKER_ACTOR", "LATE_WINDOWS", "Breaker"]

#: The actor of the ``send_to_review`` actions the breaker records.
BREAKER_ACTOR = "breaker"
#: How many windows before a rule's newest keep their counts for late actions.
LATE_WINDOWS = 60


class Breaker:
    """Budgets per action type and the runaway check per rule.

    Parameters
    ----------
    settings
        Budgets, window, factor, floor and decay.
    ledger
        Where dispatch counts are read and rule rates are kept.
    """

    def __init__(self, settings: BreakerSettings, ledger: DispatchLedger) -> None:
        self.settings = settings
        self._ledger = ledger

    def has_budget(self, action_type: str) -> bool:
        """Whether dispatches of ``action_type`` are limited by a budget."""
        return self.settings.budget_for(action_type) is not None

    def take_budget(
        self, action_type: str, action_id: str, attempt: int, now: datetime
    ) -> str | None:
        """Take a slot of ``action_type``'s budget for one attempt to send now.

        Return why it would exceed the budget, or ``None`` when it fits (the
        slot is then held until :meth:`give_back` or the action is
        dispatched) or the type has no budget. Dispatchers sharing the ledger
        count and take slots one at a time, so together they never send more
        than the budget.
        """
        budget = self.settings.budget_for(action_type)
        if budget is None:
            return None
        count, period = budget
        in_use = self._ledger.reserve_dispatch(
            action_type, action_id, attempt, limit=count, since=now - period, now=now
        )
        if in_use is None:
            return None
        which = "" if action_type in self.settings.budgets else " (default_budget)"
        return (
            f"budget: {action_type} is limited to {count} per "
            f"{_period_text(period)}{which} and {in_use} went out in the last one"
        )

    def give_back(self, action_type: str, action_id: str, attempt: int) -> None:
        """Give up the budget slot :meth:`take_budget` took for an attempt."""
        self._ledger.release_dispatch(action_type, action_id, attempt)

    def runaway(self, rule: str, created_at: datetime) -> str | None:
        """Count one action of ``rule``; return why it is held, or ``None``."""
        window_s = self.settings.window.total_seconds()
        window = math.floor(created_at.timestamp() / window_s)
        held = False
        counted = 0

        def count_one(saved: dict[str, Any] | None) -> dict[str, Any]:
            nonlocal held, counted
            state = dict(saved) if saved else _fresh(window)
            if window > state["window"]:
                state = self._roll(state, window)
            limit = self.settings.rate_factor * max(
                state["usual"], self.settings.rate_floor
            )
            if window == state["window"]:
                state["count"] += 1
                counted = int(state["count"])
                held = counted > limit
                if held:
                    state["tripped"] = True
                return state
            # late: counted in its own window while that window is kept
            if state["window"] - window > LATE_WINDOWS:
                counted, held = 0, False
                return state
            earlier = dict(state.get("earlier") or {})
            counted = int(earlier.get(str(window), 0)) + 1
            earlier[str(window)] = counted
            state["earlier"] = earlier
            held = counted > limit
            return state

        # read, count and save in one step: dispatchers sharing the ledger
        # would otherwise overwrite each other's counts
        state = self._ledger.update_breaker_state(rule, count_one)
        if not held:
            return None
        return (
            f"rate: rule {rule} fired {counted} times in a "
            f"{_period_text(self.settings.window)} window, over "
            f"{self.settings.rate_factor:g}x its usual {state['usual']:.1f} "
            f"(floor {self.settings.rate_floor:g})"
        )

    def _roll(self, state: dict[str, Any], window: int) -> dict[str, Any]:
        """Close the windows before ``window``: learn the last one unless it
        tripped, and let the empty ones in between decay the usual rate. The
        closed windows' counts are kept for late actions."""
        decay = self.settings.decay
        usual = float(state["usual"])
        last = int(state["window"])
        if not state["tripped"]:
            usual = decay * usual + (1 - decay) * int(state["count"])
        usual *= decay ** max(0, window - last - 1)
        earlier = {
            key: count
            for key, count in (state.get("earlier") or {}).items()
            if window - int(key) <= LATE_WINDOWS
        }
        if window - last <= LATE_WINDOWS and state["count"]:
            earlier[str(last)] = int(state["count"])
        return {
            "window": window,
            "count": 0,
            "usual": usual,
            "tripped": False,
            "earlier": earlier,
        }


def _fresh(window: int) -> dict[str, Any]:
    """The rate state of a rule seen for the first time, in ``window``."""
    return {"window": window, "count": 0, "usual": 0.0, "tripped": False}


def _period_text(period: timedelta) -> str:
    seconds = int(period.total_seconds())
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return name if count == 1 else f"{count} {name}s"
    return f"{seconds} s"
