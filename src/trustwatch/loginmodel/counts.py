"""Bounded, fading counts for the login risk model.

:class:`DecayedCounts` keeps weighted counts per key that fade with a
half-life in event time, for at most ``max_keys`` keys (least recently
updated evicted first). It uses *forward decay* (Cormode et al., "Forward
Decay: A Practical Time Decay Model for Streaming Systems", ICDE 2009): an
observation at time ``t`` adds ``2 ** ((t - t0) / half_life)`` against a
reference time ``t0``, so nothing is touched to age the others; the count at
time ``t`` is the stored value times :meth:`DecayedCounts.scale`. When the
weights grow large the whole table is rescaled once and ``t0`` moves on.
Whatever the time asked, the arithmetic stays finite: a count is never read
above its value at ``t0`` (a time before ``t0`` reads it undecayed), and an
observation far before ``t0`` moves ``t0`` back to it instead of weighing
nothing. Keeping the times given in line with the stream is the caller's
part (:class:`~trustwatch.loginmodel.clock.StreamClock`): a time far ahead
rescales, so it fades everything counted before it.

:class:`FailureEvidence` answers "against how many distinct accounts did this
address, network or user agent fail in the last day, and for how many did it
succeed": the population-level evidence of credential stuffing, weighed in
the model against how widely the value is used with the right password.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from trustwatch.features.windows import DistinctCounter

__all__ = ["DecayedCounts", "FailureEvidence"]

#: Rescale stored weights once they pass 2 ** this.
_RESCALE_EXPONENT = 60.0
#: Counts below this after a rescale are forgotten.
_FORGOTTEN = 1e-9


class DecayedCounts:
    """Counts per integer key that halve every ``half_life`` seconds.

    Parameters
    ----------
    half_life
        Seconds of event time for a count to halve.
    max_keys
        Most keys kept; the least recently updated key is evicted beyond it
        (in O(1): the counts live in an :class:`~collections.OrderedDict`).
    pinned
        Number of extra counters (:attr:`pinned`) that decay the same way but
        are never evicted.

    Examples
    --------
    >>> counts = DecayedCounts(half_life=10.0, max_keys=100)
    >>> counts.add((1, 2), 0.0)
    1.0
    >>> counts.add((1,), 10.0)
    2.0
    >>> round(counts.get(1) * counts.scale(10.0), 3)
    1.5
    """

    __slots__ = ("_counts", "evicted", "half_life", "max_keys", "pinned", "t0")

    def __init__(self, half_life: float, max_keys: int, pinned: int = 0) -> None:
        if not half_life > 0 or max_keys < 1 or pinned < 0:
            raise ValueError(
                f"half_life and max_keys must be positive: {half_life}, {max_keys}"
            )
        self.half_life = float(half_life)
        self.max_keys = max_keys
        self.t0: float | None = None
        self.evicted = 0
        self.pinned = [0.0] * pinned
        self._counts: OrderedDict[int, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._counts)

    def get(self, key: int) -> float:
        """Return the stored (unscaled) count of ``key``; 0 when absent."""
        return self._counts.get(key, 0.0)

    @property
    def table(self) -> dict[int, float]:
        """The stored counts by key, for fast reads; do not modify it."""
        return self._counts

    def scale(self, t: float) -> float:
        """Return the factor that turns stored counts into counts at time ``t``.

        The factor lies in ``[0, 1]``: a time before ``t0`` reads the counts
        as they stood at ``t0``.
        """
        return _fade(self.t0, t, self.half_life)

    def weight(self, t: float) -> float:
        """Return the stored weight of one observation at time ``t``.

        Rescales the table first when the weights would grow too large, and
        moves ``t0`` back to ``t`` (counts unchanged) when ``t`` lies so far
        before it that the observation would weigh nothing.
        """
        if self.t0 is None:
            self.t0 = t
        exponent = (t - self.t0) / self.half_life
        if exponent > _RESCALE_EXPONENT:
            self._rescale(t)
            exponent = 0.0
        elif exponent < -_RESCALE_EXPONENT:
            self.t0 = t
            exponent = 0.0
        return float(2.0**exponent)

    def add(self, keys: Iterable[int], t: float) -> float:
        """Count one observation at ``t`` for each key; return its stored weight."""
        w = self.weight(t)
        self.add_weighted(keys, w)
        return w

    def add_weighted(self, keys: Iterable[int], w: float) -> None:
        """Add the stored weight ``w`` to each key (one that :meth:`weight` gave).

        For a caller that took the observation's weight already and changed
        nothing since: the same as :meth:`add` at that time, without
        reading the clock twice.
        """
        counts = self._counts
        get, to_end = counts.get, counts.move_to_end
        for key in keys:
            counts[key] = get(key, 0.0) + w
            to_end(key)  # ordered by last update, for eviction
        while len(counts) > self.max_keys:
            counts.popitem(last=False)
            self.evicted += 1

    def _rescale(self, t: float) -> None:
        factor = self.scale(t)
        self._counts = OrderedDict(
            (k, v * factor) for k, v in self._counts.items() if v * factor > _FORGOTTEN
        )
        self.pinned = [v * factor for v in self.pinned]
        self.t0 = t

    def get_state(self) -> dict[str, Any]:
        """Return a plain, serialisable copy of the counts."""
        return {
            "t0": self.t0,
            "evicted": self.evicted,
            "pinned": list(self.pinned),
            "counts": [[k, v] for k, v in self._counts.items()],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore counts returned by :meth:`get_state`."""
        t0 = state["t0"]
        pinned = [float(v) for v in state["pinned"]]
        if len(pinned) != len(self.pinned):
            raise ValueError(
                f"state has {len(pinned)} pinned counters, expected {len(self.pinned)}"
            )
        self.t0 = None if t0 is None else float(t0)
        self.evicted = int(state["evicted"])
        self.pinned = pinned
        self._counts = OrderedDict((int(k), float(v)) for k, v in state["counts"])
        while len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
            self.evicted += 1


def _fade(t0: float | None, t: float, half_life: float) -> float:
    """Return ``2 ** ((t0 - t) / half_life)``, at most 1 and never overflowing."""
    if t0 is None or t <= t0:
        return 1.0
    return float(2.0 ** ((t0 - t) / half_life))  # underflows to 0.0, never raises


class FailureEvidence:
    """Distinct accounts failed and succeeded per address, network or user agent.

    Parameters
    ----------
    window
        Event-time window in seconds (a day by default in the model).
    max_keys
        Most keys each window keeps (least recently used evicted).
    max_accounts
        Most distinct accounts remembered per key, on each side; the counts
        saturate there.

    Examples
    --------
    >>> evidence = FailureEvidence(window=86_400.0, max_keys=100, max_accounts=50)
    >>> for name in ("ann", "bob", "cy"):
    ...     evidence.add_failure((7,), name, 0.0)
    >>> evidence.add_success((7,), "ann", 5.0)
    >>> evidence.failing_accounts(7, 10.0), evidence.successful_accounts(7, 10.0)
    (3, 1)
    >>> evidence.failing_accounts(7, 10.0, exclude="ann")
    2
    """

    def __init__(self, window: float, max_keys: int, max_accounts: int) -> None:
        self.window = float(window)
        self.max_accounts = max_accounts
        self._failing = DistinctCounter[int](window, max_accounts, max_keys)
        self._succeeding = DistinctCounter[int](window, max_accounts, max_keys)

    def add_failure(self, keys: Iterable[int], account: str, t: float) -> None:
        """Record a failed login for ``account`` against each key."""
        for key in keys:
            self._failing.add(key, account, t)

    def add_success(self, keys: Iterable[int], account: str, t: float) -> None:
        """Record a successful login of ``account`` against each key."""
        for key in keys:
            self._succeeding.add(key, account, t)

    def has_failures(self, key: int) -> bool:
        """Whether ``key`` has any failure on record (in the window or not)."""
        return key in self._failing

    def failing_accounts(self, key: int, t: float, exclude: str | None = None) -> int:
        """Return the distinct accounts failed against from ``key`` in the window.

        ``exclude`` (the account now logging in) is left out of the count.
        """
        return self._failing.count(key, t, exclude)

    def successful_accounts(
        self, key: int, t: float, exclude: str | None = None
    ) -> int:
        """Return the distinct accounts that logged in from ``key`` in the window.

        ``exclude`` (the account now logging in) is left out of the count.
        """
        return self._succeeding.count(key, t, exclude)

    def accounts(
        self, key: int, t: float, exclude: str | None = None
    ) -> tuple[int, int]:
        """Return :meth:`failing_accounts` and :meth:`successful_accounts` at once.

        The successes are not read (``0``) when nothing failed from ``key``.
        """
        failing = self._failing.count(key, t, exclude)
        if not failing:
            return 0, 0
        return failing, self._succeeding.count(key, t, exclude)

    def get_state(self) -> dict[str, Any]:
        """Return both windows' state."""
        return {
            "failing": self._failing.get_state(),
            "succeeding": self._succeeding.get_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._failing.set_state(state["failing"])
        self._succeeding.set_state(state["succeeding"])
