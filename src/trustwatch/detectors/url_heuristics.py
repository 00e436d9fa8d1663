"""The ``url_heuristics`` detector: the rule-weighted URL score on every link.

The rules live in :mod:`trustwatch.urlmodel.heuristic`; this detector applies
them to each URL posted or linked and raises a signal above a threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.registry import register
from trustwatch.events.model import EventBase, LinkCreated, UrlPosted
from trustwatch.features.context import EventContext
from trustwatch.urlmodel.heuristic import url_risk

__all__ = ["UrlHeuristicDetector", "url_risk"]


@register
class UrlHeuristicDetector(Detector):
    """Score every URL posted or linked with :func:`url_risk`.

    Parameters
    ----------
    min_score
        Scores below this raise no signal.
    platform_domains
        Registrable domains of the platform itself, whose links are not scored.
    """

    name = "url_heuristics"
    version = "1"
    event_types = frozenset({UrlPosted, LinkCreated})
    signal_kinds = ("risky_url",)

    def __init__(
        self,
        min_score: float = 0.5,
        platform_domains: tuple[str, ...] = ("trustwatch.example",),
    ) -> None:
        self._params = {"min_score": min_score, "platform_domains": platform_domains}
        self.min_score = min_score
        self.platform_domains = frozenset(platform_domains)

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Score the event's URL, if it has one."""
        parsed = ctx.url()
        if parsed is None or parsed.registrable_domain in self.platform_domains:
            return ()
        score, fired = url_risk(parsed)
        if score < self.min_score:
            return ()
        return (
            self.signal(
                event,
                kind="risky_url",
                score=score,
                entity_type="url",
                entity=parsed.url,
                reasons=tuple(reason for _, reason in fired[:4]),
                evidence={"rules": len(fired), "host": parsed.host},
            ),
        )

    def get_state(self) -> dict[str, Any]:
        """Return an empty state: the rules learn nothing."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Accept the empty state."""
