"""Build review cases in the background while the API serves.

``trustwatch serve`` keeps the review queue current on its own: every
interval a :class:`CaseBuilder` thread runs
:func:`~trustwatch.review.cases.build_cases` from the decision store into the
review store. Builds run one at a time, in that one thread. A failing build
(a store that is down, a damaged row) is logged and tried again at the next
tick; it never stops the server. Building is incremental and idempotent, so
a tick that finds nothing new changes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from trustwatch.errors import ConfigError, TrustwatchError
from trustwatch.review.cases import BuildSummary

__all__ = ["CaseBuilder"]

log = logging.getLogger(__name__)

#: Seconds :meth:`CaseBuilder.stop` waits for a running build to finish.
_STOP_GRACE = 30.0


class CaseBuilder:
    """A background thread that builds cases every ``every`` seconds.

    Parameters
    ----------
    open_decisions
        Opens the decision store; called in the builder's thread, again after
        a failed build (the store may have been what failed).
    build
        Builds cases from an open decision store and returns what it did
        (:func:`~trustwatch.review.cases.build_cases` bound to a review
        store).
    every
        Seconds from the end of one build to the start of the next. The
        first build starts as soon as the thread does.

    Raises
    ------
    ConfigError
        When ``every`` is not a positive number of seconds.

    Examples
    --------
    >>> from trustwatch.review.cases import BuildSummary
    >>> builder = CaseBuilder(
    ...     lambda: None, lambda store: BuildSummary(0, 0, 0, 0, None), every=3600
    ... )
    >>> builder.start()
    >>> builder.wait_for(1, timeout=10)
    True
    >>> builder.stop()
    """

    def __init__(
        self,
        open_decisions: Callable[[], Any],
        build: Callable[[Any], BuildSummary],
        *,
        every: float,
    ) -> None:
        if not every > 0:
            raise ConfigError(
                f"the case build interval {every!r} must be a positive number of "
                "seconds; hint: pass --build-cases-every 60s, or 0 to turn it off"
            )
        self.every = float(every)
        self._open_decisions = open_decisions
        self._build = build
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._thread: threading.Thread | None = None
        self._building = False
        self.ticks = 0
        self.failures = 0
        self.last_summary: BuildSummary | None = None

    @property
    def running(self) -> bool:
        """Whether the builder thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the builder thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._loop, name="trustwatch-case-builder", daemon=True
        )
        self._thread.start()
        log.info("building cases every %.0f s", self.every)

    def request(self) -> int:
        """Ask for a build now, without waiting for the interval.

        Returns the number of ended builds after which a build that started
        after this request has ended: pass it to :meth:`wait_for`. (A build
        in progress may have read the stores before the request.)
        """
        with self._done:
            wanted = self.ticks + (2 if self._building else 1)
            self._wake.set()
        return wanted

    def wait_for(self, tick: int, timeout: float) -> bool:
        """Wait until ``tick`` builds have ended (well or not); return whether."""
        with self._done:
            return self._done.wait_for(lambda: self.ticks >= tick, timeout)

    def stop(self, timeout: float = _STOP_GRACE) -> None:
        """Stop the thread after the build in progress, if any, ends."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning(
                    "the case builder was still building after %.0f s; it stops "
                    "with the process",
                    timeout,
                )

    def _loop(self) -> None:
        store: Any = None
        try:
            while not self._stopping.is_set():
                with self._done:
                    self._building = True
                    self._wake.clear()
                store = self._tick(store)
                with self._done:
                    self._building = False
                    self.ticks += 1
                    self._done.notify_all()
                self._wake.wait(self.every)
        finally:
            _close(store)

    def _tick(self, store: Any) -> Any:
        """Run one build; return the store to reuse (``None`` after a failure)."""
        try:
            if store is None:
                store = self._open_decisions()
            self.last_summary = self._build(store)
            return store
        except TrustwatchError as exc:
            self.failures += 1
            log.warning("case build failed, retrying in %.0f s: %s", self.every, exc)
        except Exception:  # a builder that dies would leave the queue stale
            self.failures += 1
            log.exception("case build failed, retrying in %.0f s", self.every)
        _close(store)
        return None


def _close(store: Any) -> None:
    """Close a store the builder opened; a failing close is only logged."""
    if store is None:
        return
    try:
        store.close()
    except Exception as exc:  # the store is dropped either way
        log.debug("closing the case builder's store failed: %s", type(exc).__name__)
