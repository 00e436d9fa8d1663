"""Event-time windowed aggregates with bounded state.

The aggregates here answer "how many, and how many distinct, in the last
``window`` seconds of event time" for many keys at once (accounts, source IPs,
ASNs, file hashes, links). State is bounded twice: each key keeps at most a
fixed amount of data, and the number of keys is capped with least-recently-used
eviction, so a flood of new keys (a botnet's addresses) cannot exhaust memory.

Time is event time: the timestamps passed in, never the wall clock. Events may
arrive slightly out of order; a late event still counts while it falls inside
the window of the newest event seen for its key, and is ignored after that.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Generic, TypeVar

__all__ = ["DistinctCounter", "SlidingCounter"]

K = TypeVar("K", bound=Hashable)


class _BoundedKeys(Generic[K]):
    """A dict of per-key state with least-recently-used eviction of whole keys."""

    def __init__(self, max_keys: int) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self.max_keys = max_keys
        self.evicted = 0
        self._state: dict[K, Any] = {}

    def _touch(self, key: K) -> Any | None:
        # pop and reinsert keeps the dict ordered by last use, cheaply
        state = self._state.pop(key, None)
        if state is not None:
            self._state[key] = state
        return state

    def _insert(self, key: K, state: Any) -> None:
        self._state[key] = state
        if len(self._state) > self.max_keys:
            del self._state[next(iter(self._state))]
            self.evicted += 1

    def __len__(self) -> int:
        return len(self._state)

    def __contains__(self, key: object) -> bool:
        return key in self._state

    def get_state(self) -> dict[str, Any]:
        """Return a plain, serialisable copy of the state."""
        return {"evicted": self.evicted, "keys": list(self._state.items())}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`get_state`."""
        self.evicted = int(state["evicted"])
        self._state = {_key(k): _copy(v) for k, v in state["keys"]}


def _key(key: Any) -> Any:
    # serialisers turn tuple keys into lists; lists cannot be dict keys
    return tuple(key) if isinstance(key, list) else key


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value


class SlidingCounter(_BoundedKeys[K]):
    """Count events per key over a sliding event-time window.

    The window is cut into ``buckets`` equal slots, so the count is exact to
    one slot's width and each key costs a fixed amount of memory.

    Parameters
    ----------
    window
        Length of the window in seconds.
    buckets
        Number of slots the window is cut into.
    max_keys
        Most keys kept; the least recently used key is evicted beyond it.

    Examples
    --------
    >>> c = SlidingCounter(window=60, buckets=6)
    >>> [c.add("198.51.100.7", t) for t in (0, 10, 20)]
    [1, 2, 3]
    >>> c.add("198.51.100.7", 200)
    1
    """

    def __init__(self, window: float, buckets: int = 12, max_keys: int = 200_000):
        super().__init__(max_keys)
        if window <= 0 or buckets < 1:
            raise ValueError(
                f"window and buckets must be positive: {window}, {buckets}"
            )
        self.window = float(window)
        self.buckets = buckets
        self._width = self.window / buckets

    def add(self, key: K, t: float, n: int = 1) -> int:
        """Count ``n`` events for ``key`` at time ``t``; return the count in window."""
        slot = int(t // self._width)
        state = self._touch(key)
        if state is None:
            ring = [0] * self.buckets
            ring[slot % self.buckets] = n
            self._insert(key, [slot, ring, n])
            return n
        newest, ring, total = state
        if slot > newest:
            total -= self._expire(ring, newest, slot)
            state[0] = slot
        elif slot <= newest - self.buckets:
            return int(total)  # too late for the window: not counted
        ring[slot % self.buckets] += n
        state[2] = total + n
        return int(total + n)

    def _expire(self, ring: list[int], newest: int, slot: int) -> int:
        dropped = 0
        for s in range(newest + 1, min(slot, newest + self.buckets) + 1):
            i = s % self.buckets
            dropped += ring[i]
            ring[i] = 0
        return dropped

    def count(self, key: K, t: float) -> int:
        """Return the count for ``key`` in the window ending at ``t``, unchanged."""
        state = self._state.get(key)
        if state is None:
            return 0
        newest, ring, total = state
        slot = int(t // self._width)
        if slot - newest >= self.buckets:
            return 0
        stale = sum(ring[s % self.buckets] for s in range(newest + 1, slot + 1))
        return int(total - stale) if slot > newest else int(total)

    def rate(self, key: K, t: float) -> float:
        """Return events per second for ``key`` over the window ending at ``t``."""
        return self.count(key, t) / self.window


class DistinctCounter(_BoundedKeys[K]):
    """Count distinct values per key over a sliding event-time window.

    Each key remembers when it last saw each value, up to ``max_values`` values
    (the oldest are forgotten first), so the count saturates at ``max_values``.

    Parameters
    ----------
    window
        Length of the window in seconds.
    max_values
        Most distinct values remembered per key.
    max_keys
        Most keys kept; the least recently used key is evicted beyond it.

    Examples
    --------
    >>> d = DistinctCounter(window=600)
    >>> [d.add("198.51.100.7", user, t) for t, user in enumerate("aabc")]
    [1, 1, 2, 3]
    """

    def __init__(
        self, window: float, max_values: int = 10_000, max_keys: int = 200_000
    ) -> None:
        super().__init__(max_keys)
        if window <= 0 or max_values < 1:
            raise ValueError(f"window and max_values must be positive: {window}")
        self.window = float(window)
        self.max_values = max_values

    def add(self, key: K, value: Hashable, t: float) -> int:
        """Record ``value`` for ``key`` at ``t``; return the distinct count."""
        seen: dict[Hashable, float] | None = self._touch(key)
        if seen is None:
            self._insert(key, {value: t})
            return 1
        last = seen.pop(value, None)
        seen[value] = t if last is None or t > last else last
        horizon = t - self.window
        # values are kept in order of last sighting: expire from the front
        while seen:
            oldest = next(iter(seen))
            if seen[oldest] >= horizon and len(seen) <= self.max_values:
                break
            del seen[oldest]
        return len(seen)

    def values(self, key: K) -> list[Hashable]:
        """Return the values currently remembered for ``key``, oldest first."""
        return list(self._state.get(key, {}))
