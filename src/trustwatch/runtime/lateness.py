"""Telling late events from events with a wrong clock, in a run over files.

An event is *late* when it comes more than :data:`LATENESS` seconds after a
newer one: the shortest windows no longer count it, and `run` warns. The
newest time seen would be the natural reference, but one event dated far
ahead (an unset or typo'd clock, a forged field) would then make every
event after it late. So the reference moves far ahead (more than a day) only
when :data:`CONFIRMATIONS` events in a row agree that the stream has really
moved there, as the next day's file does after a gap; an event dated far
ahead that the next events do not follow is *out of line* instead, and
counted apart. Events far *behind* are late, except while the reference
itself is not yet confirmed (fewer than :data:`CONFIRMATIONS` events in line
with it): then a run of them shows that the first event was the outlier.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["CONFIRMATIONS", "LATENESS", "MAX_SKEW", "LateEvents"]

#: Events more than this many seconds older than the newest one are late:
#: the shortest windows (ten minutes) no longer count them.
LATENESS = 600.0
#: An event more than this many seconds ahead of the newest is out of line
#: until others confirm it.
MAX_SKEW = 86_400.0
#: Events in a row that confirm a jump of the stream's time.
CONFIRMATIONS = 3


class LateEvents:
    """Counts late and out-of-line events by their times, in reading order.

    Examples
    --------
    >>> late = LateEvents()
    >>> times = [(0, "a"), (60, "b"), (9e9, "typo"), (120, "c"), (-900, "d")]
    >>> for t, event_id in times:
    ...     late.observe(t, event_id)
    >>> late.finish()
    >>> late.late, late.out_of_line, late.first_out_of_line
    (1, 1, 'typo')
    """

    __slots__ = (
        "_held",
        "_newest_id",
        "_settled",
        "first_out_of_line",
        "late",
        "newest",
        "out_of_line",
    )

    def __init__(self) -> None:
        self.newest: float | None = None
        self.late = 0
        self.out_of_line = 0
        self.first_out_of_line: str | None = None
        self._newest_id: str | None = None
        # events in line with the newest since it was set, up to CONFIRMATIONS
        self._settled = 0
        # events out of line in a row, all on one side of the newest
        self._held: list[tuple[float, str]] = []

    def observe(self, t: float, event_id: str) -> None:
        """Count the event at ``t`` (epoch seconds) read next."""
        newest = self.newest
        if newest is None:
            self._set(t, event_id, 1)
            return
        offset = t - newest
        if -MAX_SKEW <= offset <= MAX_SKEW or (
            offset < 0 and self._settled >= CONFIRMATIONS
        ):
            self._drop_held()
            if offset < -LATENESS:
                self.late += 1
            elif offset > 0:
                self.newest, self._newest_id = t, event_id
            self._settled = min(self._settled + 1, CONFIRMATIONS)
            return
        held = self._held
        ahead = offset > 0
        if held and (
            (held[-1][0] > newest) != ahead or abs(t - held[-1][0]) > MAX_SKEW
        ):
            self._drop_held()
        held.append((t, event_id))
        if len(held) < CONFIRMATIONS:
            return
        if not ahead:  # the newest itself was the outlier, read first
            self._note_out_of_line(self._newest_id)
        t_max, id_max = max(held)
        held.clear()
        self._set(t_max, id_max, CONFIRMATIONS)

    def finish(self) -> None:
        """End a run: events still waiting for confirmation are out of line."""
        self._drop_held()

    def _set(self, t: float, event_id: str, settled: int) -> None:
        self.newest, self._newest_id, self._settled = t, event_id, settled

    def _drop_held(self) -> None:
        for _, event_id in self._held:
            self._note_out_of_line(event_id)
        self._held.clear()

    def _note_out_of_line(self, event_id: str | None) -> None:
        self.out_of_line += 1
        if self.first_out_of_line is None:
            self.first_out_of_line = event_id

    def get_state(self) -> dict[str, Any]:
        """Return the reference time as plain values, for ``--resume``."""
        return {"newest": self.newest, "settled": self._settled}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state`; a bare newest time (older checkpoints)
        counts as confirmed."""
        newest = state.get("newest")
        if newest is None or not math.isfinite(float(newest)):
            self.newest, self._settled = None, 0
            return
        self.newest = float(newest)
        self._settled = int(state.get("settled", CONFIRMATIONS))
