import random

import msgspec
import pytest

from trustwatch.features.windows import DistinctCounter, LruDict, SlidingCounter


def test_sliding_counter_counts_within_window_and_forgets_after():
    counter = SlidingCounter(window=60, buckets=6)
    assert [counter.add("k", t) for t in (0, 5, 30, 59)] == [1, 2, 3, 4]
    assert counter.add("k", 75) == 3  # the slot [0, 10) has left the window
    assert counter.add("k", 500) == 1


def test_sliding_counter_count_reads_without_adding():
    counter = SlidingCounter(window=60, buckets=6)
    counter.add("k", 0)
    counter.add("k", 20)
    assert counter.count("k", 30) == 2
    assert counter.count("k", 65) == 1
    assert counter.count("k", 200) == 0
    assert counter.count("missing", 0) == 0
    assert counter.add("k", 30) == 3


def test_sliding_counter_late_event_counts_inside_window_only():
    counter = SlidingCounter(window=60, buckets=6)
    counter.add("k", 100)
    assert counter.add("k", 95) == 2  # late but inside the window
    assert counter.add("k", 10) == 2  # too late: ignored


def test_keys_are_bounded_with_lru_eviction():
    counter = SlidingCounter(window=60, max_keys=3)
    for key in "abc":
        counter.add(key, 0)
    counter.add("a", 1)  # a becomes most recent
    counter.add("d", 2)  # evicts b, the least recently used
    assert "b" not in counter
    assert {"a", "c", "d"} <= {k for k in "abcd" if k in counter}
    assert len(counter) == 3
    assert counter.evicted == 1


def test_distinct_counter_counts_distinct_values_in_window():
    distinct = DistinctCounter(window=100)
    assert [distinct.add("ip", u, t) for t, u in enumerate("abab")] == [1, 2, 2, 2]
    assert distinct.add("ip", "c", 150) == 1  # a and b expired
    assert distinct.values("ip") == ["c"]


def test_distinct_counter_caps_values_per_key():
    distinct = DistinctCounter(window=1000, max_values=5)
    counts = [distinct.add("ip", f"user{i}", i) for i in range(20)]
    assert max(counts) == 5
    assert distinct.values("ip") == [f"user{i}" for i in range(15, 20)]


def test_state_round_trips_through_json():
    counter: SlidingCounter[tuple[str, str]] = SlidingCounter(window=60)
    counter.add(("198.51.100.7", "alice"), 1)
    distinct = DistinctCounter(window=60)
    distinct.add("198.51.100.7", "alice", 1)
    restored = SlidingCounter(window=60)
    restored.set_state(msgspec.json.decode(msgspec.json.encode(counter.get_state())))
    assert restored.add(("198.51.100.7", "alice"), 2) == 2
    again = DistinctCounter(window=60)
    again.set_state(msgspec.json.decode(msgspec.json.encode(distinct.get_state())))
    assert again.add("198.51.100.7", "bob", 2) == 2


@pytest.mark.parametrize("bad", [{"window": 0}, {"window": 10, "buckets": 0}])
def test_invalid_window_is_rejected(bad):
    with pytest.raises(ValueError, match="positive"):
        SlidingCounter(**bad)


def test_rate_is_count_per_second_of_window():
    counter = SlidingCounter(window=60, buckets=6)
    for t in range(0, 30, 2):
        counter.add("k", t)
    assert counter.rate("k", 30) == pytest.approx(15 / 60)
    assert counter.rate("k", 1000) == 0.0


# ------------------------------------------------------------ LRU order and bounds


class ReferenceLru:
    """Least-recently-used order kept the slow, obvious way: a list."""

    def __init__(self, max_keys):
        self.max_keys = max_keys
        self.order = []
        self.evicted = 0

    def use(self, key):
        if key in self.order:
            self.order.remove(key)
        self.order.append(key)
        while len(self.order) > self.max_keys:
            del self.order[0]
            self.evicted += 1


def test_lru_dict_touch_reorders_and_get_does_not():
    lru = LruDict(max_keys=3)
    for key in "abc":
        lru.put(key, key.upper())
    assert lru.touch("a") == "A"  # a is now the most recent
    assert lru.get("b") == "B"  # a plain read: b stays the oldest
    lru.put("d", "D")
    assert list(lru) == ["c", "a", "d"]
    assert lru.evicted == 1
    assert lru.touch("b") is None and lru.get("b") is None


def test_lru_dict_put_replaces_and_marks_used():
    lru = LruDict(max_keys=2)
    lru.put("a", 1)
    lru.put("b", 2)
    lru.put("a", 3)  # rewritten: now the most recent
    lru.put("c", 4)
    assert list(lru.items()) == [("a", 3), ("c", 4)]
    assert lru.pop("a") == 3 and lru.pop("a") is None
    assert len(lru) == 1 and "c" in lru


def test_lru_dict_restored_past_its_bound_keeps_the_newest():
    lru = LruDict(max_keys=2, items=[("a", 1), ("b", 2), ("c", 3)])
    assert list(lru) == ["b", "c"]
    assert lru.evicted == 1


def test_lru_dict_refuses_an_empty_bound():
    with pytest.raises(ValueError, match="max_keys"):
        LruDict(max_keys=0)


def use_sliding(window, key, t):
    window.add(key, t)


def use_distinct(window, key, t):
    window.add(key, "value", t)


def use_lru(window, key, t):
    if window.touch(key) is None:
        window.put(key, t)


@pytest.mark.parametrize(
    ("make", "use"),
    [
        (lambda bound: SlidingCounter(window=60, max_keys=bound), use_sliding),
        (lambda bound: DistinctCounter(window=60, max_keys=bound), use_distinct),
        (lambda bound: LruDict(max_keys=bound), use_lru),
    ],
    ids=["sliding", "distinct", "lru"],
)
def test_eviction_order_and_bound_match_a_reference_lru(make, use):
    # a long mixed run: new keys, re-used recent and old keys, all past the bound
    rng = random.Random(11)
    bound = 50
    window, reference = make(bound), ReferenceLru(bound)
    for t in range(3000):
        key = rng.choice([t, t - rng.randrange(1, 40), rng.randrange(t + 1)])
        use(window, key, t)
        reference.use(key)
    held = window if isinstance(window, LruDict) else window._state
    assert list(held) == reference.order
    assert len(window) == bound
    assert window.evicted == reference.evicted > 2000


def test_a_full_window_keeps_counting_the_keys_it_holds():
    counter = SlidingCounter(window=600, max_keys=100)
    for i in range(10_000):
        counter.add(f"flood{i}", i * 0.01)
        counter.add("botnet", i * 0.01)  # used on every event: never evicted
    assert counter.count("botnet", 100.0) == 10_000
    assert len(counter) == 100 and counter.evicted == 10_000 - 99


# ------------------------------------------------------------ layouts and reads


def test_a_checkpoint_of_the_nested_sliding_layout_still_restores():
    # before the flat layout a key's state was [newest slot, ring, total]
    old = {"evicted": 2, "keys": [["k", [3, [1, 0, 0, 2, 0, 0], 3]]]}
    counter = SlidingCounter(window=60, buckets=6)
    counter.set_state(old)
    assert counter.count("k", 35) == 3
    assert counter.add("k", 65) == 3  # the slot [0, 10) with 1 has left
    assert counter.evicted == 2


def test_sliding_state_round_trips_in_its_flat_layout():
    counter = SlidingCounter(window=60, buckets=6)
    for t in (0, 5, 30):
        counter.add("k", t)
    state = msgspec.json.decode(msgspec.json.encode(counter.get_state()))
    assert state["keys"] == [["k", [3, 3, 2, 0, 0, 1, 0, 0]]]
    restored = SlidingCounter(window=60, buckets=6)
    restored.set_state(state)
    assert restored.add("k", 61) == 2


def test_many_values_per_key_count_and_expire_as_few_do():
    # past 32 values a key's values move to an OrderedDict: same answers
    distinct = DistinctCounter(window=100, max_values=50)
    counts = [distinct.add("agent", f"user{i}", i) for i in range(120)]
    assert counts[:50] == list(range(1, 51))
    assert set(counts[50:]) == {50}  # capped at max_values
    assert distinct.values("agent") == [f"user{i}" for i in range(70, 120)]
    assert distinct.add("agent", "late", 250) == 1  # everything else expired
    saved = msgspec.msgpack.encode(distinct.get_state())
    assert msgspec.msgpack.decode(saved)["keys"] == [["agent", {"late": 250}]]
    restored = DistinctCounter(window=100, max_values=50)
    restored.set_state(msgspec.msgpack.decode(saved))
    assert restored.values("agent") == ["late"]
    assert restored.add("agent", "later", 260) == 2


def test_distinct_count_and_values_since_read_without_adding():
    distinct = DistinctCounter(window=100)
    for t, user in enumerate("abcd"):
        distinct.add("ip", user, t * 30)  # a at 0, b 30, c 60, d 90
    assert distinct.count("ip", 130) == 3  # a left the window at 100
    assert distinct.count("ip", 500) == 0
    assert distinct.count("missing", 0) == 0
    assert distinct.values("ip", since=50) == ["c", "d"]
    assert distinct.values("ip") == ["a", "b", "c", "d"]  # nothing was removed


# ------------------------------------------------------------ against references


class ReferenceDistinct:
    """One key's distinct values kept the slow, obvious way: a list in order of
    last sighting, each value with the newest time it was seen at."""

    def __init__(self, window, max_values):
        self.window = window
        self.max_values = max_values
        self.seen = []  # [value, newest time], least recently sighted first

    def add(self, value, t):
        newest = t
        for i, (known, last) in enumerate(self.seen):
            if known == value:
                newest = max(t, last)
                del self.seen[i]
                break
        self.seen.append([value, newest])
        horizon = t - self.window
        # expiry stops at the first value still inside the window, even when
        # a late event left an older time behind it
        while self.seen and (
            self.seen[0][1] < horizon or len(self.seen) > self.max_values
        ):
            del self.seen[0]
        return len(self.seen)

    def count(self, t, exclude=None):
        horizon = t - self.window
        stale = 0
        for _, last in self.seen:
            if last >= horizon:
                break
            stale += 1
        if any(value == exclude and last >= horizon for value, last in self.seen):
            stale += 1
        return len(self.seen) - stale


@pytest.mark.parametrize("max_values", [3, 40, 10_000])
def test_distinct_counter_matches_a_reference_with_late_events(max_values):
    # out-of-order times, repeated values, the switch past 32 values and the
    # max_values cap, with counts read in between
    rng = random.Random(max_values)
    distinct = DistinctCounter(window=50, max_values=max_values)
    references = {}
    clock = 0.0
    for _ in range(4000):
        clock += rng.choice([0.0, 0.5, 1.0, 3.0])
        t = clock - rng.choice([0.0, 0.0, 0.0, 10.0, 70.0])
        key = rng.randrange(3)
        value = rng.randrange(60)
        reference = references.setdefault(key, ReferenceDistinct(50, max_values))
        assert distinct.add(key, value, t) == reference.add(value, t)
        exclude = rng.choice([None, value, rng.randrange(60)])
        assert distinct.count(key, clock, exclude) == reference.count(clock, exclude)
    for key, reference in references.items():
        assert distinct.values(key) == [value for value, _ in reference.seen]


class ReferenceSliding:
    """One key's events kept the slow, obvious way: a count per slot."""

    def __init__(self, window, buckets):
        self.width = window / buckets
        self.buckets = buckets
        self.slots = {}
        self.newest = None

    def add(self, t, n):
        slot = int(t // self.width)
        if self.newest is None or slot > self.newest:
            self.newest = slot
        elif slot <= self.newest - self.buckets:
            return self.count(t)  # too late for the window: not counted
        self.slots[slot] = self.slots.get(slot, 0) + n
        return self.count(t)

    def count(self, t):
        end = max(int(t // self.width), self.newest)
        return sum(n for s, n in self.slots.items() if end - self.buckets < s <= end)


def test_sliding_counter_matches_a_reference_with_late_events():
    rng = random.Random(5)
    counter = SlidingCounter(window=60, buckets=6)
    references = {}
    clock = 0.0
    for _ in range(3000):
        clock += rng.choice([0.0, 1.0, 4.0, 25.0])
        t = clock - rng.choice([0.0, 0.0, 15.0, 80.0])
        key = rng.randrange(3)
        n = rng.choice([0, 1, 1, 2])
        reference = references.setdefault(key, ReferenceSliding(60, 6))
        assert counter.add(key, t, n) == reference.add(t, n)
        read_at = clock + rng.choice([0.0, 12.0, 45.0, 90.0])
        assert counter.count(key, read_at) == reference.count(read_at)
