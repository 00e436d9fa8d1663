"""Threat-intel matches: URLs, hosts, domains, addresses and file hashes.

The detector looks up what each event carries in an
:class:`~trustwatch.intel.store.IndicatorStore`: the URL of a posted or linked
URL (exact canonical URL, then host and registrable domain, plus any host a
parser trick hides), the event's source address, and an upload's hashes. A match
becomes a signal whose score is the indicator's confidence and whose
provenance names every feed and record that listed it.

When the store holds STIX pattern indicators, an upload that has a hash
(its hashes, name, size and MIME type), a posted or linked URL (the URL,
its host name or address) and the event's source address are also matched
as observations against them
(:meth:`~trustwatch.intel.store.IndicatorStore.match_observation`); a hit
raises ``intel_hash``, ``intel_url`` or ``intel_ip`` naming the feed and the
STIX id. Stores without patterns pay nothing for this.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from trustwatch.detectors.base import Detector, IndicatorRef, Signal
from trustwatch.detectors.registry import register
from trustwatch.enrichment.urls import ParsedUrl
from trustwatch.events.model import EventBase, FileUploaded, LinkCreated, UrlPosted
from trustwatch.features.context import EventContext
from trustwatch.intel.indicators import Indicator
from trustwatch.intel.store import IndicatorStore, IntelMatch, url_observation

__all__ = ["IntelMatchDetector"]

# a listed address is a source when the event comes from it, a host in a URL
_SOURCE_KIND = {"ip": "intel_ip", "cidr": "intel_ip"}
_URL_KIND = {
    "url": "intel_url",
    "host": "intel_host",
    "domain": "intel_domain",
    "ip": "intel_host",
    "cidr": "intel_host",
}
_HASH_KIND = "intel_hash"


def _feeds(indicator: Indicator) -> tuple[str, ...]:
    """Return every feed that listed the indicator, first feed first."""
    names = [indicator.feed, *(source.feed for source in indicator.sources)]
    return tuple(dict.fromkeys(names))


def _ref(match: IntelMatch) -> IndicatorRef:
    ind = match.indicator
    return IndicatorRef(
        type=ind.type,
        value=ind.value,
        feeds=_feeds(ind),
        confidence=ind.confidence,
        reference=ind.reference,
        matched_on=match.matched_on,
    )


def _observation(
    event: EventBase, parsed: ParsedUrl | None
) -> tuple[dict[str, Any] | None, str, str]:
    """Return (STIX observation, signal kind, entity type) of an event.

    Uploads without any hash and events without a URL give no observation.
    """
    if type(event) is FileUploaded:
        if not (event.sha256 or event.sha1 or event.md5):
            return None, _HASH_KIND, "file"
        return (
            {
                "file:hashes.'SHA-256'": event.sha256,
                "file:hashes.'SHA-1'": event.sha1,
                "file:hashes.MD5": event.md5,
                "file:name": event.name,
                "file:size": event.size,
                "file:mime_type": event.mime_type,
            },
            _HASH_KIND,
            "file",
        )
    if parsed is None or type(event) not in (UrlPosted, LinkCreated):
        return None, "intel_url", "url"
    return url_observation(parsed), "intel_url", "url"


def _source_observation(ip: str) -> dict[str, Any] | None:
    """Return an event's source address as a STIX observation, if it is one."""
    try:
        address = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        return None
    path = "ipv6-addr:value" if address.version == 6 else "ipv4-addr:value"
    return {path: str(address)}


@register
class IntelMatchDetector(Detector):
    """Raise a signal for every intel match on an event's URL, address or hash.

    Parameters
    ----------
    store
        The indicators to match against.
    match_source_ip
        Also match the source address of every event (logins from listed
        infrastructure).
    """

    name = "intel_match"
    version = "1"
    signal_kinds = ("intel_url", "intel_host", "intel_domain", "intel_ip", "intel_hash")

    def __init__(
        self,
        store: IndicatorStore,
        match_source_ip: bool = True,
        cache_size: int = 200_000,
    ) -> None:
        self._params = {"match_source_ip": match_source_ip, "cache_size": cache_size}
        self.store = store
        self.match_source_ip = match_source_ip
        self.cache_size = cache_size
        # addresses known to match nothing, valid while the store is unchanged
        self._unlisted: set[str] = set()
        self._generation = store.generation

    def _match_source(self, ip: str, at: datetime) -> list[IntelMatch]:
        if self._generation != self.store.generation:
            self._unlisted.clear()
            self._generation = self.store.generation
        if ip in self._unlisted:
            return []
        found = self.store.match_ip(ip, at=at)
        if not found:
            if len(self._unlisted) >= self.cache_size:
                self._unlisted.clear()
            self._unlisted.add(ip)
        return found

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Look the event's URL, source address and hashes up in the store."""
        # indicators expire in event time, so replays decide the same way
        at = event.ts
        signals: list[Signal] = []
        parsed = ctx.url()
        if parsed is not None:
            for match in self.store.match_url(parsed, at=at):
                kind = _URL_KIND.get(match.matched_on, "intel_host")
                signals.append(self._signal(event, match, kind, "url", parsed.url))
        if type(event) is FileUploaded:
            for algo in ("sha256", "sha1", "md5"):
                value = getattr(event, algo)
                for match in self.store.match_hash(value, at=at) if value else ():
                    value = match.indicator.value
                    signals.append(
                        self._signal(event, match, _HASH_KIND, "file", value)
                    )
        patterns = len(self.store.patterns) > 0
        if patterns:
            observation, kind, entity_type = _observation(event, parsed)
            if observation is not None:
                signals += self._pattern_signals(
                    event, observation, kind, entity_type, at
                )
        if self.match_source_ip and event.ip:
            for match in self._match_source(event.ip, at):
                kind = _SOURCE_KIND[match.matched_on]
                value = match.indicator.value
                signals.append(self._signal(event, match, kind, "ip", value))
            if patterns:
                source = _source_observation(event.ip)
                if source is not None:
                    signals += self._pattern_signals(
                        event, source, "intel_ip", "ip", at
                    )
        return signals

    def _pattern_signals(
        self,
        event: EventBase,
        observation: dict[str, Any],
        kind: str,
        entity_type: str,
        at: datetime,
    ) -> list[Signal]:
        """Match an observation of the event against pattern indicators."""
        signals = []
        for match in self.store.match_observation(observation, at, plain=False):
            pattern = match.pattern
            if pattern is None:
                continue
            reason = f"STIX pattern {pattern.name or pattern.id} of {pattern.feed}"
            if pattern.threat:
                reason += f" as {pattern.threat}"
            signals.append(
                self.signal(
                    event,
                    kind=kind,
                    score=pattern.confidence / 100,
                    entity_type=entity_type,
                    entity=match.observed,
                    reasons=(reason,),
                    evidence={"observed": match.observed, "pattern": pattern.pattern},
                    indicators=(
                        IndicatorRef(
                            type="stix_pattern",
                            value=pattern.pattern,
                            feeds=(pattern.feed,),
                            confidence=pattern.confidence,
                            reference=pattern.id,
                            matched_on="pattern",
                        ),
                    ),
                )
            )
        return signals

    def _signal(
        self,
        event: EventBase,
        match: IntelMatch,
        kind: str,
        entity_type: str,
        entity: str,
    ) -> Signal:
        ind = match.indicator
        feeds = ", ".join(_feeds(ind))
        what = (
            ind.type
            if ind.type == match.matched_on
            else f"{ind.type} {match.matched_on}"
        )
        reason = f"{what} listed by {feeds}"
        if ind.threat:
            reason += f" as {ind.threat}"
        return self.signal(
            event,
            kind=kind,
            score=ind.confidence / 100,
            entity_type=entity_type,
            entity=entity,
            reasons=(reason,),
            evidence={"observed": match.observed},
            indicators=(_ref(match),),
        )

    def get_state(self) -> dict[str, Any]:
        """Return an empty state: the indicators live in the store."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Accept the empty state."""
