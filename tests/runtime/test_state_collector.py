"""The stream worker's collector: young garbage goes, survivors are frozen,
cycles among frozen objects wait for the full collection."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from collections.abc import Iterator

import pytest

from trustwatch.errors import ConfigError
from trustwatch.runtime.stream.collector import GC_THRESHOLDS, StateCollector
from trustwatch.runtime.stream.settings import StreamSettings


class Node:
    """An object that can hold itself: a reference cycle."""

    def __init__(self) -> None:
        self.me: Node | None = self


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    """Every test starts and ends with nothing frozen."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def _cycle() -> weakref.ref[Node]:
    """Make a cycle nobody holds; return a weak reference to it."""
    return weakref.ref(Node())


def _frozen(objects: list[object]) -> bool:
    """Whether every one of ``objects`` is in the permanent generation.

    Checked object by object, not by the freeze count: another thread of
    the process may free frozen objects meanwhile, and the count drops.
    :func:`gc.get_objects` lists the collected generations only, so a
    tracked object missing from it is frozen.
    """
    collected = {id(seen) for seen in gc.get_objects()}
    return all(gc.is_tracked(one) and id(one) not in collected for one in objects)


def test_a_cycle_dropped_within_a_batch_is_collected_after_it() -> None:
    with StateCollector(full_interval=0) as collector:
        collector.settle()
        dropped = _cycle()
        assert dropped() is not None  # reference counting cannot free it
        collector.after_batch()
        assert dropped() is None


def test_survivors_are_frozen_and_the_counts_start_again() -> None:
    with StateCollector(full_interval=0) as collector:
        collector.settle()
        kept = [Node() for _ in range(100)]
        assert not _frozen(kept)
        collector.after_batch()
        young, middle, old = gc.get_count()  # read first: other threads allocate
        assert _frozen(kept)
        assert (middle, old) == (0, 0)
        assert young < len(kept)  # the batch's objects are no longer counted


def test_a_cycle_dropped_after_freezing_waits_for_the_full_collection() -> None:
    clock = Clock()
    with StateCollector(full_interval=60.0, clock=clock) as collector:
        collector.settle()
        held = [Node()]
        watched = weakref.ref(held[0])
        collector.after_batch()  # the cycle is frozen while still in use
        held.clear()
        clock.now += 59.0
        collector.after_batch()
        assert watched() is not None  # frozen: the young collection skips it
        assert collector.full_collections == 0
        clock.now += 1.0
        collector.after_batch()
        assert watched() is None
        assert collector.full_collections == 1
        assert collector.cyclic_garbage >= 1
        # the survivors of the full collection are frozen again
        assert gc.get_freeze_count() > 0


def test_cycles_a_full_pass_mid_batch_moved_on_are_still_collected() -> None:
    with StateCollector(full_interval=0) as collector:
        collector.settle()
        held = [Node()]
        watched = weakref.ref(held[0])
        gc.collect()  # someone's full pass: the cycle reaches the oldest generation
        held.clear()
        collector.after_batch()
        assert watched() is None


def test_a_full_collection_counts_only_what_the_frozen_state_dropped() -> None:
    clock = Clock()
    with StateCollector(full_interval=60.0, clock=clock) as collector:
        collector.settle()
        _cycle()  # short-lived, never frozen: not the frozen state's leak
        clock.now += 60.0
        assert collector.collect_all() == 0  # as an idle worker calls it
        _cycle()
        clock.now += 60.0
        collector.after_batch()
        assert collector.full_collections == 2
        assert collector.cyclic_garbage == 0


def test_a_full_collection_waits_while_it_is_not_allowed() -> None:
    clock = Clock()
    with StateCollector(full_interval=60.0, clock=clock) as collector:
        held = [Node()]
        watched = weakref.ref(held[0])
        collector.after_batch()
        held.clear()
        clock.now += 120.0
        assert collector.full_due()
        collector.after_batch(full_allowed=False)  # a save child is alive
        assert watched() is not None
        assert collector.full_collections == 0
        collector.after_batch()
        assert watched() is None
        assert not collector.full_due()


def test_without_a_full_interval_frozen_cycles_are_kept() -> None:
    clock = Clock()
    with StateCollector(full_interval=0, clock=clock) as collector:
        held = [Node()]
        watched = weakref.ref(held[0])
        collector.after_batch()
        held.clear()
        clock.now += 10 * 86_400
        collector.after_batch()
        assert watched() is not None
    gc.collect()  # thawed on exit: an ordinary collection finds it
    assert watched() is None


def test_leaving_restores_the_thresholds_and_thaws() -> None:
    before = gc.get_threshold()
    with StateCollector() as collector:
        assert gc.get_threshold() == GC_THRESHOLDS
        collector.settle()
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_keeps_them_frozen() -> None:
    own = [Node()]
    gc.freeze()
    assert _frozen(own)
    with StateCollector() as collector:
        collector.after_batch()
    assert _frozen(own)


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="full_interval"):
        StateCollector(full_interval=-1.0)
    with pytest.raises(ConfigError, match="0 for never"):
        StreamSettings(
            bootstrap_servers="127.0.0.1:9092",
            topics=("events",),
            full_collection_interval=-1.0,
        )


def test_the_default_detectors_leave_no_reference_cycles_behind() -> None:
    """Freezing is safe only if state a detector drops is freed by reference
    counting: a cycle among frozen objects holds its memory until the next
    full collection. Over a simulated day, windows expire and per-account
    state is replaced, so state is dropped as well as grown.

    It runs in a process of its own: the full collection counts garbage of
    every thread, and threads left by other tests drop cycles of their own.
    """
    found = subprocess.run(
        [sys.executable, "-c", _CYCLE_CHECK],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["events", "cyclic_garbage=0"], found.stdout


_CYCLE_CHECK = """
from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors import default_detectors
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.runtime.stream.collector import StateCollector
from trustwatch.simulation import SimulationConfig, iter_events

events = list(iter_events(SimulationConfig(seed=7, accounts=1500, days=1.0)))
print("events" if len(events) > 10_000 else f"only {len(events)} events")
pipeline = Pipeline(
    default_detectors(None, None),
    DecisionEngine(default_policy(), "dry_run"),
)
with StateCollector(full_interval=0) as collector:
    collector.settle()
    for start in range(0, len(events), 250):
        for event in events[start : start + 250]:
            pipeline.process_one(event, event.ts.timestamp())
        pipeline.failures.clear()
        collector.after_batch()
    print(f"cyclic_garbage={collector.collect_all()}")
"""
