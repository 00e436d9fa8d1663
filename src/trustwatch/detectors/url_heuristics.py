"""The ``url_heuristics`` detector: the rule-weighted URL score on every link.

The rules live in :mod:`trustwatch.urlmodel.heuristic`; this detector applies
them to each URL posted or linked and raises a signal above a threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.registry import register
from trustwatch.enrichment.urls import ParsedUrl, load_suffix_list
from trustwatch.events.model import EventBase, LinkCreated, UrlPosted
from trustwatch.features.context import EventContext
from trustwatch.urlmodel.heuristic import url_risk

__all__ = ["UrlHeuristicDetector", "url_risk"]

#: Most URLs whose score is kept at once.
_CACHE_SIZE = 65_536
#: The rules that fired on a URL, as (weight, reason), heaviest first.
_Fired = tuple[tuple[float, str], ...]


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
        # raw URL -> (its parse, the score and rules that fired)
        self._scores: dict[str, tuple[ParsedUrl, float, _Fired]] = {}
        load_suffix_list()

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Score the event's URL, if it has one."""
        parsed = ctx.url()
        if parsed is None or parsed.registrable_domain in self.platform_domains:
            return ()
        # parse_url returns the same object for a repeated URL, and the rules
        # read that object alone: its score is worked out once
        known = self._scores.get(parsed.raw)
        if known is not None and known[0] is parsed:
            _, score, fired = known
        else:
            score, fired = url_risk(parsed)
            if len(self._scores) >= _CACHE_SIZE:
                self._scores.clear()
            self._scores[parsed.raw] = (parsed, score, fired)
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
