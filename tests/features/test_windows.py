import msgspec
import pytest

from trustwatch.features.windows import DistinctCounter, SlidingCounter


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
