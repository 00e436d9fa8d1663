"""The login model's own event-time clock, which one bad timestamp cannot drag.

Everything the login model learns fades with event time, so one login dated
far ahead of the stream (a producer's unset clock, a typo'd year, a forged
field) would, if learned, move every fading count's reference time with it:
counts learned before would fade to nothing at once, and every later login
would look like one from long ago. :class:`StreamClock` keeps the stream's
time instead: the newest event time that is *in line*, within ``max_skew``
seconds of the clock (late or early). An event out of line is scored at the
clock's time and not learned, and the clock stays where it was, unless
``confirmations`` events in a row agree that the stream has really moved (a
gap after an outage, a replay of another period): then the clock follows
them. So one outlier never moves the clock, a stream that starts with one
is not ruled by it, and a real jump costs the learning of
``confirmations - 1`` logins.
"""

from __future__ import annotations

from typing import Any

__all__ = ["StreamClock"]


class StreamClock:
    """Event time of the stream, moved only by events in line with it.

    Parameters
    ----------
    max_skew
        Seconds an event may lie ahead of, or behind, the clock and still be
        in line.
    confirmations
        Out-of-line events in a row that move the clock to the last of them:
        all on the same side of the clock (ahead or behind), each no earlier
        than ``max_skew`` before the one before it. The very first event
        also needs them: a fresh clock has no time to compare with.

    Examples
    --------
    >>> clock = StreamClock(max_skew=86_400.0, confirmations=2)
    >>> clock.place(1_000.0), clock.place(1_060.0), clock.now
    (False, True, 1060.0)
    >>> clock.place(9e9), clock.now  # one login dated centuries ahead
    (False, 1060.0)
    >>> clock.place(1_120.0), clock.now
    (True, 1120.0)
    """

    __slots__ = ("_held", "_run", "confirmations", "max_skew", "now")

    # _held: the time of the last out-of-line event; _run: how many in a row

    def __init__(self, max_skew: float, confirmations: int = 2) -> None:
        if not max_skew > 0 or confirmations < 1:
            raise ValueError(
                f"max_skew and confirmations must be positive: {max_skew}, "
                f"{confirmations}"
            )
        self.max_skew = float(max_skew)
        self.confirmations = confirmations
        self.now: float | None = None
        self._held: float | None = None
        self._run = 0

    def in_line(self, t: float) -> bool:
        """Whether ``t`` lies within ``max_skew`` of the clock (never when unset)."""
        now = self.now
        return now is not None and -self.max_skew <= t - now <= self.max_skew

    def read(self, t: float) -> float:
        """Return the time to read an event at ``t`` by: its own when in line.

        An event out of line is read at the clock's time, so that its forged or
        broken time changes nothing; before the clock is set, at its own.
        """
        now = self.now
        if now is None or self.in_line(t):
            return t
        return now

    def offset(self, t: float) -> float:
        """Return how far ``t`` lies ahead of the clock (negative: behind)."""
        return 0.0 if self.now is None else t - self.now

    def place(self, t: float) -> bool:
        """Count the stream's event at ``t``; return whether it is in line.

        An in-line event moves the clock forward to it (never back). An event
        out of line joins a run of such events; a run of ``confirmations``
        moves the clock to its last event, which is then in line.
        """
        now = self.now
        if now is not None and -self.max_skew <= t - now <= self.max_skew:
            self.now = max(t, now)
            self._held, self._run = None, 0
            return True
        held = self._held
        agrees = (
            held is not None
            and t >= held - self.max_skew
            and (now is None or (t > now) == (held > now))
        )
        self._run = self._run + 1 if agrees else 1
        self._held = t
        if self._run < self.confirmations:
            return False
        self.now, self._held, self._run = t, None, 0
        return True

    def get_state(self) -> list[Any]:
        """Return the clock as plain values."""
        return [self.now, self._held, self._run]

    def set_state(self, state: list[Any]) -> None:
        """Restore a clock returned by :meth:`get_state`."""
        now, held, run = state
        self.now = None if now is None else float(now)
        self._held = None if held is None else float(held)
        self._run = int(run)
