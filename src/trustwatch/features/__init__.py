"""Features derived from events: event-time windows and per-event context."""

from trustwatch.features.context import EventContext
from trustwatch.features.windows import DistinctCounter, LruDict, SlidingCounter

__all__ = ["DistinctCounter", "EventContext", "LruDict", "SlidingCounter"]
