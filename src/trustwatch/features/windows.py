"""Event-time windowed aggregates with bounded state.

The aggregates here answer "how many, and how many distinct, in the last
``window`` seconds of event time" for many keys at once (accounts, source IPs,
ASNs, file hashes, links). State is bounded twice: each key keeps at most a
fixed amount of data, and the number of keys is capped with least-recently-used
eviction, so a flood of new keys (a botnet's addresses) cannot exhaust memory.

Time is event time: the timestamps passed in, never the wall clock. Events may
arrive slightly out of order; a late event still counts while it falls inside
the window of the newest event seen for its key, and is ignored after that.

:class:`LruDict` is the bounded map underneath, and the one the detectors use
for their own per-account state. Every operation on it is O(1). A plain dict
kept in use order by popping and reinserting keys, evicting
``next(iter(d))``, is not: its deleted slots pile up at the front until the
next resize, and each eviction scans them. At 200,000 keys that pattern costs
22 to 60 us per operation, growing as the run goes on, against a flat 0.3 to
0.5 us here (``benchmarks/bench_bounded_state.py``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["DistinctCounter", "LruDict", "SlidingCounter"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: Values per key above which a DistinctCounter keeps them in an OrderedDict
#: (O(1) expiry from the front); below it a plain dict is smaller and as fast.
_ORDERED_ABOVE = 32


class LruDict(Generic[K, V]):
    """A map of at most ``max_keys`` keys that evicts the least recently used.

    A key is used when it is written (:meth:`put`) or read with :meth:`touch`;
    :meth:`get` reads without changing the order. Iteration runs from the least
    to the most recently used key. Every operation is O(1).

    Parameters
    ----------
    max_keys
        Most keys kept; writing one more evicts the least recently used.
    items
        Initial ``(key, value)`` pairs, least recently used first.

    Examples
    --------
    >>> lru = LruDict(max_keys=2)
    >>> lru.put("a", 1); lru.put("b", 2)
    >>> lru.touch("a")
    1
    >>> lru.put("c", 3)  # evicts b, the least recently used
    >>> list(lru), lru.evicted
    (['a', 'c'], 1)
    """

    __slots__ = ("_data", "evicted", "max_keys")

    def __init__(self, max_keys: int, items: Iterable[tuple[K, V]] = ()) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self.max_keys = max_keys
        self.evicted = 0
        self._data: OrderedDict[K, V] = OrderedDict(items)
        self._evict()

    def get(self, key: K) -> V | None:
        """Return the value of ``key``, or ``None``, leaving the order alone."""
        return self._data.get(key)

    def touch(self, key: K) -> V | None:
        """Return the value of ``key``, or ``None``, and mark the key used."""
        data = self._data
        value = data.get(key)
        if value is not None:
            data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Set ``key`` to ``value``, mark it used, and evict beyond the bound."""
        data = self._data
        data[key] = value
        data.move_to_end(key)
        if len(data) > self.max_keys:
            self._evict()

    def pop(self, key: K) -> V | None:
        """Remove ``key`` and return its value, or ``None`` when absent."""
        return self._data.pop(key, None)

    def items(self) -> Iterator[tuple[K, V]]:
        """Return the ``(key, value)`` pairs, least recently used first."""
        return iter(self._data.items())

    def _evict(self) -> None:
        data = self._data
        while len(data) > self.max_keys:
            data.popitem(last=False)
            self.evicted += 1

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)


class _BoundedKeys(Generic[K]):
    """Per-key state in an :class:`LruDict`, with checkpoints."""

    def __init__(self, max_keys: int) -> None:
        self._state: LruDict[K, Any] = LruDict(max_keys)

    @property
    def max_keys(self) -> int:
        """Most keys kept."""
        return self._state.max_keys

    @property
    def evicted(self) -> int:
        """Keys evicted so far to stay within ``max_keys``."""
        return self._state.evicted

    def __len__(self) -> int:
        return len(self._state._data)

    def __contains__(self, key: object) -> bool:
        return key in self._state._data

    def get_state(self) -> dict[str, Any]:
        """Return the state as serialisable values: ``(key, value)`` pairs.

        The values are the window's own, not copies (a partition's save
        gathers hundreds of thousands of them): encode the state before the
        window changes again.
        """
        return {"evicted": self.evicted, "keys": list(self._state.items())}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`get_state`.

        A state holding more keys than ``max_keys`` keeps the most recently
        used ones.
        """
        restored: LruDict[K, Any] = LruDict(
            self.max_keys, ((_key(k), self._restore(v)) for k, v in state["keys"])
        )
        restored.evicted += int(state["evicted"])
        self._state = restored

    def _restore(self, value: Any) -> Any:
        """Return a key's state from its checkpointed form."""
        return _copy(value)


def _key(key: Any) -> Any:
    # serialisers turn tuple keys into lists; lists cannot be dict keys
    return tuple(key) if isinstance(key, list) else key


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return OrderedDict(value) if len(value) > _ORDERED_ABOVE else dict(value)
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
        buckets = self.buckets
        # the key's LruDict entry is read and marked used in place (as
        # LruDict.touch and LruDict.put would): this runs for every event
        lru = self._state
        data = lru._data
        # one flat list per key: [newest slot, total, slot counts...]
        state = data.get(key)
        if state is None:
            state = [slot, n] + [0] * buckets
            state[2 + slot % buckets] = n
            data[key] = state
            data.move_to_end(key)
            if len(data) > lru.max_keys:
                lru._evict()
            return n
        data.move_to_end(key)
        newest = state[0]
        if slot > newest:
            dropped = 0
            for s in range(newest + 1, min(slot, newest + buckets) + 1):
                i = 2 + s % buckets
                dropped += state[i]
                state[i] = 0
            state[1] -= dropped
            state[0] = slot
        elif slot <= newest - buckets:
            return int(state[1])  # too late for the window: not counted
        state[2 + slot % buckets] += n
        state[1] += n
        return int(state[1])

    def count(self, key: K, t: float) -> int:
        """Return the count for ``key`` in the window ending at ``t``, unchanged."""
        state = self._state._data.get(key)
        if state is None:
            return 0
        newest = state[0]
        slot = int(t // self._width)
        buckets = self.buckets
        if slot - newest >= buckets:
            return 0
        if slot <= newest:
            return int(state[1])
        stale = 0
        for s in range(newest + 1, slot + 1):
            stale += state[2 + s % buckets]
        return int(state[1] - stale)

    def _restore(self, value: Any) -> Any:
        if len(value) == 3 and isinstance(value[1], list):
            newest, ring, total = value  # checkpoints before the flat layout
            return [int(newest), int(total), *map(int, ring)]
        return [int(v) for v in value]

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
        # the key's LruDict entry is read and marked used in place (as
        # LruDict.touch and LruDict.put would): this runs for every event
        lru = self._state
        data = lru._data
        seen: dict[Hashable, float] | None = data.get(key)
        if seen is None:
            data[key] = {value: t}
            data.move_to_end(key)
            if len(data) > lru.max_keys:
                lru._evict()
            return 1
        data.move_to_end(key)
        last = seen.pop(value, None)
        seen[value] = t if last is None or t > last else last
        size = len(seen)
        if size > _ORDERED_ABOVE and type(seen) is dict:
            # a plain dict would slow down expiring from its front, as above;
            # the key is already the most recently used, so no reordering
            seen = OrderedDict(seen)
            data[key] = seen
        horizon = t - self.window
        max_values = self.max_values
        # values are kept in order of last sighting: expire from the front,
        # which usually is still inside the window with nothing to drop
        if size <= max_values:
            for oldest_seen in seen.values():
                if oldest_seen >= horizon:
                    return size
                break
        while seen:
            oldest = next(iter(seen))
            if seen[oldest] >= horizon and len(seen) <= max_values:
                break
            del seen[oldest]
        return len(seen)

    def count(self, key: K, t: float, exclude: Hashable | None = None) -> int:
        """Return the distinct values for ``key`` in the window ending at ``t``.

        Reads without adding, and leaves the key's place in the LRU order.
        ``exclude``, when given and seen in the window, is not counted.
        """
        seen: dict[Hashable, float] | None = self._state._data.get(key)
        if not seen:
            return 0
        horizon = t - self.window
        stale = 0
        # values are kept in order of last sighting: the stale ones lead
        for last in seen.values():
            if last >= horizon:
                break
            stale += 1
        if exclude is not None and seen.get(exclude, horizon - 1.0) >= horizon:
            stale += 1
        return len(seen) - stale

    def values(self, key: K, since: float | None = None) -> list[Hashable]:
        """Return the values remembered for ``key``, oldest first.

        With ``since``, only the values last seen at or after it (a window's
        start) are returned.
        """
        seen: dict[Hashable, float] = self._state.get(key) or {}
        if since is None:
            return list(seen)
        return [value for value, last in seen.items() if last >= since]
