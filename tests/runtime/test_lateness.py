"""Late events against events whose clock is wrong, in a run over files."""

from __future__ import annotations

import pytest

from trustwatch.runtime.lateness import LateEvents

DAY = 86_400.0


def _count(times, state=None):
    late = LateEvents()
    if state is not None:
        late.set_state(state)
    for i, t in enumerate(times):
        late.observe(t, f"e{i}")
    late.finish()
    return late


@pytest.mark.parametrize(
    ("times", "late", "out_of_line"),
    [
        # newer events first, then five from an hour before: all late
        ([3600, 3601, 0, 1, 2, 3, 4], 5, 0),
        # in time order: nothing
        (list(range(0, 600, 60)), 0, 0),
        # one event dated centuries ahead, between in-order ones
        ([0, 60, 6e9, 120, 180], 0, 1),
        # the day's file after a two-day gap: the stream moved, nobody is late
        ([0, 60, 120, 2 * DAY, 2 * DAY + 60, 2 * DAY + 120, 2 * DAY + 180], 0, 0),
        # the first event is the one with the wrong clock
        ([6e9, 0, 60, 120, 180, 240], 0, 1),
        # two events ahead that the next do not follow
        ([0, 60, 3 * DAY, 3 * DAY + 1, 120], 0, 2),
        # a week older, once the stream's time is settled: late
        ([7 * DAY, 7 * DAY + 1, 7 * DAY + 2, 0, 1, 2], 3, 0),
    ],
)
def test_late_and_out_of_line_events(times, late, out_of_line) -> None:
    counted = _count(times)
    assert (counted.late, counted.out_of_line) == (late, out_of_line)


def test_the_first_out_of_line_event_is_named() -> None:
    counted = _count([0, 60, 6e9, 120])
    assert counted.first_out_of_line == "e2"
    assert _count([6e9, 0, 60, 120]).first_out_of_line == "e0"


def test_a_resumed_run_is_late_against_the_last_runs_newest_time() -> None:
    first = _count([7200, 7201])  # two events: the time is not settled yet
    assert _count([0, 1, 2], first.get_state()).late == 3
    settled = _count([7 * DAY, 7 * DAY + 1, 7 * DAY + 2])
    assert _count([0, 1, 2], settled.get_state()).late == 3
    # a checkpoint from before the count was kept holds only the newest time
    assert _count([0, 1, 2], {"newest": 7 * DAY}).late == 3
    assert _count([0, 1, 2], {"newest": None}).late == 0
