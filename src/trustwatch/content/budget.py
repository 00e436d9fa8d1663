"""One allowance of work for reading one uploaded file, shared by every reader.

Byte and count caps alone do not bound the work of reading a file: a few
kilobytes of PDF can hold a content stream of a hundred thousand operators
that every page reuses, and a small zip can inflate to many megabytes of
empty XML elements. :class:`WorkBudget` gives each file a wall-clock deadline,
a number of steps (PDF operators, XML elements, archive members...) and a
number of bytes that may be inflated out of archives. The format modules
charge it between units of work; once it is spent they raise
:class:`WorkLimitReached`, and the file is reported as cut short
(``truncated`` with a ``work_limit`` error) with whatever was read before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NoReturn

from trustwatch.errors import ConfigError

__all__ = [
    "MAX_INFLATED_BYTES",
    "MAX_STEPS",
    "TIME_BUDGET",
    "WorkBudget",
    "WorkLimitReached",
]

TIME_BUDGET = 2.0  # seconds of reading per file
MAX_STEPS = 1_000_000  # PDF operators, XML elements and archive members per file
MAX_INFLATED_BYTES = 32 * 1024 * 1024  # uncompressed bytes read out of archives


class WorkLimitReached(Exception):
    """Raised by :class:`WorkBudget` once the file's allowance is spent.

    The readers let it pass their own error handling so that reading stops;
    :func:`~trustwatch.content.extract_content` records it.
    """


class WorkBudget:
    """The deadline and step and byte allowances for reading one file.

    Parameters
    ----------
    seconds
        Wall-clock time allowed from now, measured with ``clock``.
    max_steps
        Units of parsing work allowed (each reader says what one unit is).
    max_inflated
        Bytes that may be decompressed out of archives, all members together.
    clock
        Returns the current time in seconds; :func:`time.monotonic` unless a
        test needs another.

    Raises
    ------
    trustwatch.errors.ConfigError
        When ``seconds`` is not positive or a count is negative.
    """

    __slots__ = (
        "_clock",
        "_deadline",
        "inflated_left",
        "max_steps",
        "reason",
        "seconds",
        "steps",
    )

    def __init__(
        self,
        seconds: float = TIME_BUDGET,
        max_steps: int = MAX_STEPS,
        max_inflated: int = MAX_INFLATED_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not seconds > 0:
            raise ConfigError(f"time_budget={seconds} must be a positive number")
        if max_steps < 0:
            raise ConfigError(f"max_steps={max_steps} is negative; pass a count >= 0")
        if max_inflated < 0:
            raise ConfigError(f"max_inflated={max_inflated} is negative")
        self.seconds = seconds
        self.max_steps = max_steps
        self.steps = 0
        self.inflated_left = max_inflated
        self.reason = ""
        self._clock = clock
        self._deadline = clock() + seconds

    @property
    def spent(self) -> bool:
        """Whether the budget has already stopped a reader."""
        return bool(self.reason)

    def check(self) -> None:
        """Raise :class:`WorkLimitReached` if the deadline or a limit has passed."""
        if self.reason:
            raise WorkLimitReached(self.reason)
        if self._clock() > self._deadline:
            self._stop(f"time budget of {self.seconds:g} s spent")

    def step(self, count: int = 1) -> None:
        """Charge ``count`` steps, then :meth:`check`."""
        self.steps += count
        if self.steps > self.max_steps:
            self._stop(f"step limit of {self.max_steps} reached")
        self.check()

    def inflate(self, size: int) -> bool:
        """Take ``size`` inflated bytes if that many are left; say whether it did."""
        if size > self.inflated_left:
            return False
        self.inflated_left -= size
        return True

    def stop(self, reason: str) -> NoReturn:
        """Spend the budget now, for ``reason``: raise, as later checks will."""
        self._stop(reason)

    def _stop(self, reason: str) -> NoReturn:
        """Remember why reading stopped and raise; later checks raise the same."""
        if not self.reason:
            self.reason = reason
        raise WorkLimitReached(self.reason)
