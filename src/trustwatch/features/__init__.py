"""Features derived from events: event-time windows and per-event context."""

from trustwatch.features.context import EventContext
from trustwatch.features.windows import DistinctCounter, SlidingCounter

__all__ = ["DistinctCounter", "EventContext", "SlidingCounter"]
