"""What each account's own logins looked like: bounded, fading, evictable.

An :class:`AccountHistory` holds, for one account, a weighted count per
attribute path (see :mod:`trustwatch.loginmodel.attributes`) and, per level,
how often a login brought a value the account had not used under a parent it
knew (its *novelty*), next to how often the population's rates expected it
to, given the time since each login's predecessor; and when it last logged
in. Counts fade with a half-life in event time (forward
decay, as in :class:`~trustwatch.loginmodel.counts.DecayedCounts`), and an
account keeps at most ``max_values`` paths: past it, the weakest paths are
dropped, deepest first, so a parent always outlives its children.

:class:`AccountTable` keeps the histories of at most ``max_accounts``
accounts, the least recently learned evicted first.

The fading is safe for any time: weights are never read above their value at
the history's reference time, and a time far before it moves the reference
back rather than overflowing (see :mod:`trustwatch.loginmodel.counts`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from trustwatch.loginmodel.attributes import LEVELS

__all__ = ["AccountHistory", "AccountTable"]

_RESCALE_EXPONENT = 60.0
_ROOT_LEVEL = 7


class AccountHistory:
    """One account's learned logins.

    Attributes
    ----------
    t0
        Reference time of the stored weights (forward decay).
    total
        Stored weight of every learned login.
    last
        Event time of the last learned login (``t0`` before any).
    since
        Event time from which the account's logins could have been seen:
        its creation when known, else when the model started.
    counts
        Stored weight per path key (chain roots included).
    novel, expected
        Per level: stored weight of learned logins whose value was new under a
        parent the account knew, and the stored weight of such logins the
        population's novelty rates expected (each login whose parent the
        account knew weighted by the population's rate at its gap).
    """

    __slots__ = ("counts", "expected", "last", "novel", "since", "t0", "total")

    def __init__(self, t0: float, since: float | None = None) -> None:
        self.t0 = t0
        self.last = t0
        self.since = t0 if since is None else since
        self.total = 0.0
        self.counts: dict[int, float] = {}
        self.novel = [0.0] * len(LEVELS)
        self.expected = [0.0] * len(LEVELS)

    def scale(self, t: float, half_life: float) -> float:
        """Return the factor turning stored weights into weights at time ``t``.

        At most 1: a time before ``t0`` reads the weights as they stood then.
        """
        if t <= self.t0:
            return 1.0
        return float(2.0 ** ((self.t0 - t) / half_life))  # may underflow to 0.0

    def weight(self, t: float, half_life: float) -> float:
        """Return the stored weight of a login at ``t``, rescaling when needed.

        A time far before ``t0`` moves ``t0`` back to it, weights unchanged.
        """
        exponent = (t - self.t0) / half_life
        if exponent < -_RESCALE_EXPONENT:
            self.t0 = t
            exponent = 0.0
        elif exponent > _RESCALE_EXPONENT:
            factor = self.scale(t, half_life)
            self.counts = {k: v * factor for k, v in self.counts.items()}
            self.novel = [v * factor for v in self.novel]
            self.expected = [v * factor for v in self.expected]
            self.total *= factor
            self.t0 = t
            exponent = 0.0
        return float(2.0**exponent)

    def prune(self, max_values: int) -> int:
        """Drop the weakest paths down to three quarters of ``max_values``.

        Weakest means the smallest weight, the deepest level first on ties, so
        that a parent is never dropped before its children. Chain roots stay.

        Returns
        -------
        int
            The number of paths dropped.
        """
        if len(self.counts) <= max_values:
            return 0
        counts = self.counts
        droppable = sorted(
            (k for k in counts if k & 7 != _ROOT_LEVEL),
            key=lambda k: (counts[k], -(k & 7)),
        )
        excess = len(counts) - max(1, (3 * max_values) // 4)
        for key in droppable[:excess]:
            del counts[key]
        return min(excess, len(droppable))

    def to_state(self) -> list[Any]:
        """Return the history as plain values."""
        return [
            self.t0,
            self.last,
            self.since,
            self.total,
            list(self.novel),
            list(self.expected),
            [[k, v] for k, v in self.counts.items()],
        ]

    @classmethod
    def from_state(cls, state: list[Any]) -> AccountHistory:
        """Rebuild a history from :meth:`to_state`'s values."""
        t0, last, since, total, novel, expected, counts = state
        history = cls(float(t0), float(since))
        history.last = float(last)
        history.total = float(total)
        history.novel = [float(v) for v in novel]
        history.expected = [float(v) for v in expected]
        if len(history.novel) != len(LEVELS) or len(history.expected) != len(LEVELS):
            raise ValueError(f"an account history needs {len(LEVELS)} levels")
        history.counts = {int(k): float(v) for k, v in counts}
        return history


class AccountTable:
    """Account histories by account name, least recently learned evicted first.

    Parameters
    ----------
    max_accounts
        Most accounts kept; evicting one is O(1) (an
        :class:`~collections.OrderedDict` in learning order).
    """

    def __init__(self, max_accounts: int) -> None:
        if max_accounts < 1:
            raise ValueError(f"max_accounts must be at least 1, got {max_accounts}")
        self.max_accounts = max_accounts
        self.evicted = 0
        self._accounts: OrderedDict[str, AccountHistory] = OrderedDict()

    def __len__(self) -> int:
        return len(self._accounts)

    def get(self, account: str) -> AccountHistory | None:
        """Return the account's history without refreshing it, if kept."""
        return self._accounts.get(account)

    @property
    def seen(self) -> int:
        """Return the accounts ever kept, the evicted ones included."""
        return len(self._accounts) + self.evicted

    def touch(
        self, account: str, t: float, since: float | None = None
    ) -> AccountHistory:
        """Return the account's history, created when new, as most recent.

        A new history's logins count from ``since`` (``t`` when not given).
        """
        accounts = self._accounts
        history = accounts.get(account)
        if history is None:
            history = accounts[account] = AccountHistory(t, since)
            if len(accounts) > self.max_accounts:
                accounts.popitem(last=False)
                self.evicted += 1
        else:
            accounts.move_to_end(account)
        return history

    def get_state(self) -> dict[str, Any]:
        """Return every history as plain values, least recent first."""
        return {
            "evicted": self.evicted,
            "accounts": [[name, h.to_state()] for name, h in self._accounts.items()],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore histories returned by :meth:`get_state`."""
        self.evicted = int(state["evicted"])
        self._accounts = OrderedDict(
            (str(name), AccountHistory.from_state(h)) for name, h in state["accounts"]
        )
        while len(self._accounts) > self.max_accounts:
            self._accounts.popitem(last=False)
            self.evicted += 1
