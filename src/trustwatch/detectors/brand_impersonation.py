"""Brand impersonation in URLs posted or linked on the platform.

Every URL is checked against the brand catalogue
(:mod:`trustwatch.brands`): a brand's name, or something made to look like it,
on a host the brand does not own. The score depends on the technique: look-alike
characters and brand names in subdomains are rarely innocent; a brand named in
a path next to an account word sometimes is (a help page about a brand).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trustwatch.brands import BrandHit, find_impersonation
from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.registry import register
from trustwatch.enrichment.urls import ParsedUrl, load_suffix_list
from trustwatch.events.model import EventBase, LinkCreated, UrlPosted
from trustwatch.features.context import EventContext

__all__ = ["TECHNIQUE_SCORES", "BrandImpersonationDetector"]

#: Most URLs whose hits are kept at once.
_CACHE_SIZE = 65_536

#: Score of each technique, from the false positives measured on benign URLs.
TECHNIQUE_SCORES: dict[str, float] = {
    "homoglyph": 0.95,
    "brand_in_subdomain": 0.9,
    "typosquat": 0.85,
    "combosquat": 0.8,
    # brands own many country domains the catalogue may not list (paypal.com.br)
    "brand_tld_swap": 0.7,
    "brand_in_path": 0.6,
}


@register
class BrandImpersonationDetector(Detector):
    """Raise ``brand_impersonation`` for URLs that imitate a catalogued brand.

    Parameters
    ----------
    platform_domains
        Registrable domains of the platform itself, whose links are not checked.
    """

    name = "brand_impersonation"
    version = "1"
    event_types = frozenset({UrlPosted, LinkCreated})
    signal_kinds = ("brand_impersonation",)

    def __init__(self, platform_domains: tuple[str, ...] = ("trustwatch.example",)):
        self._params = {"platform_domains": platform_domains}
        self.platform_domains = frozenset(platform_domains)
        # raw URL -> (its parse, the catalogue's hits on it)
        self._hits: dict[str, tuple[ParsedUrl, list[BrandHit]]] = {}
        load_suffix_list()

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Check the event's URL, if it has one, against the brand catalogue."""
        parsed = ctx.url()
        if parsed is None or parsed.registrable_domain in self.platform_domains:
            return ()
        # parse_url returns the same object for a repeated URL, and the
        # catalogue reads that object alone: it is checked once
        known = self._hits.get(parsed.raw)
        if known is not None and known[0] is parsed:
            hits = known[1]
        else:
            hits = find_impersonation(parsed)
            if len(self._hits) >= _CACHE_SIZE:
                self._hits.clear()
            self._hits[parsed.raw] = (parsed, hits)
        if not hits:
            return ()
        best = max(hits, key=lambda hit: TECHNIQUE_SCORES[hit.technique])
        return (
            self.signal(
                event,
                kind="brand_impersonation",
                score=TECHNIQUE_SCORES[best.technique],
                entity_type="url",
                entity=parsed.url,
                reasons=tuple(
                    f"imitates {hit.brand}: {hit.technique} ({hit.evidence})"
                    for hit in hits[:3]
                ),
                evidence={"brand": best.brand, "technique": best.technique},
            ),
        )

    def get_state(self) -> dict[str, Any]:
        """Return an empty state: the catalogue is not learned."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Accept the empty state."""
