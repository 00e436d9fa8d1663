"""Lockstep rings: accounts that do the same things to the same targets together.

In the spirit of SynchroTrap (CCS 2014) and CopyCatch (WWW 2013): two accounts
are *linked* when the attributes they used within the same time window (see
:class:`~trustwatch.graph.entity_graph.EntityGraph`) weigh at least
``pair_threshold`` and come from at least ``min_groups`` evidence groups
(network, device, content, sign-up), so coworkers behind one office address
(one group) or two fans of one popular file are not a ring. Linked accounts
are clustered incrementally, union-find style: a link between two accounts
outside any ring founds one, a link to a ring member attaches the other
account, and a link between two rings merges the smaller into the larger.

Each ring has a stable id (a hash of its founding pair and the evidence that
linked them; a merged ring keeps the larger ring's id), its members, the
shared evidence (attributes and how many links cited each) and a risk score
with reasons (:meth:`RingTracker.risk`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase
from trustwatch.features.windows import LruDict
from trustwatch.graph.entity_graph import (
    ATTRIBUTE_KINDS,
    EntityGraph,
    attribute_kind,
    event_attributes,
)

__all__ = ["Ring", "RingRisk", "RingSnapshot", "RingTracker", "RingUpdate"]

#: Shared attributes remembered per ring as its evidence.
_MAX_EVIDENCE = 64
#: Stale attributes the cited set may hold beyond its live ones before it is
#: rebuilt from the rings kept.
_CITED_SLACK = 4096


@dataclass(slots=True)
class Ring:
    """A cluster of accounts acting in lockstep.

    Attributes
    ----------
    ring_id
        Stable id: a hash of the founding pair and their shared evidence.
    founded
        Event time (epoch seconds) the ring was founded.
    members
        Member accounts, with the time each joined, first joined first (at
        most ``max_members`` kept; ``size`` counts them all).
    size
        Number of member accounts.
    evidence
        Shared attribute keys, with how many links cited each.
    """

    ring_id: str
    founded: float
    members: dict[str, float]
    size: int
    evidence: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        """Return the ring as plain JSON values."""
        return {
            "ring_id": self.ring_id,
            "founded": self.founded,
            "members": dict(self.members),
            "size": self.size,
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Ring:
        """Rebuild a ring from :meth:`to_json`."""
        return cls(
            ring_id=str(value["ring_id"]),
            founded=float(value["founded"]),
            members={str(k): float(v) for k, v in dict(value["members"]).items()},
            size=int(value["size"]),
            evidence={str(k): int(v) for k, v in dict(value["evidence"]).items()},
        )

    def evidence_by_kind(self) -> dict[str, int]:
        """Return how many distinct shared attributes of each kind the ring has."""
        return dict(Counter(attribute_kind(a) for a in self.evidence))


@dataclass(frozen=True, slots=True)
class RingRisk:
    """A ring's risk in ``[0, 1]`` and the reasons for it."""

    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RingSnapshot:
    """What an analyst sees of one ring at one moment: members, evidence, risk.

    Built by :meth:`RingTracker.snapshot` (and by any other detector that
    groups accounts); the store keeps the latest snapshot of each ring, and
    pictures are drawn from it.

    Attributes
    ----------
    ring_id, method
        The ring's id, and how it was found (``"lockstep"``, ...).
    size, risk, reasons
        Member count, risk in ``[0, 1]`` and the reasons for it.
    founded, updated
        Event times (epoch seconds): when the ring was founded, and when its
        newest listed member joined.
    members
        Member ids, first joined first (at most ``max_members``).
    evidence
        Shared attributes with how many links cited each, most cited first
        (hubs left out; at most ``max_evidence``).
    holdings
        For the first listed members (at most ``max_holdings``), the listed
        evidence each holds.
    evidence_kinds
        How many distinct shared attributes of each kind the ring has, over
        all its evidence, not only the listed part (empty when unknown).
    """

    ring_id: str
    method: str
    size: int
    risk: float
    reasons: tuple[str, ...]
    founded: float
    updated: float
    members: tuple[str, ...]
    evidence: tuple[tuple[str, int], ...]
    holdings: dict[str, tuple[str, ...]]
    evidence_kinds: dict[str, int] = field(default_factory=dict)

    def kinds(self) -> dict[str, int]:
        """Return the distinct shared attributes per kind, all evidence counted
        when known, else the listed evidence."""
        if self.evidence_kinds:
            return dict(self.evidence_kinds)
        return dict(Counter(attribute_kind(a) for a, _ in self.evidence))

    def to_json(self) -> dict[str, Any]:
        """Return the snapshot as plain JSON values."""
        return {
            "ring_id": self.ring_id,
            "method": self.method,
            "size": self.size,
            "risk": self.risk,
            "reasons": list(self.reasons),
            "founded": self.founded,
            "updated": self.updated,
            "members": list(self.members),
            "evidence": [[a, n] for a, n in self.evidence],
            "holdings": {m: list(h) for m, h in self.holdings.items()},
            "evidence_kinds": dict(self.evidence_kinds),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> RingSnapshot:
        """Rebuild a snapshot from :meth:`to_json`."""
        return cls(
            ring_id=str(value["ring_id"]),
            method=str(value["method"]),
            size=int(value["size"]),
            risk=float(value["risk"]),
            reasons=tuple(str(r) for r in value["reasons"]),
            founded=float(value["founded"]),
            updated=float(value["updated"]),
            members=tuple(str(m) for m in value["members"]),
            evidence=tuple((str(a), int(n)) for a, n in value["evidence"]),
            holdings={
                str(m): tuple(str(a) for a in h)
                for m, h in dict(value["holdings"]).items()
            },
            evidence_kinds={
                str(k): int(n) for k, n in dict(value.get("evidence_kinds", {})).items()
            },
        )


@dataclass(frozen=True, slots=True)
class RingUpdate:
    """One account's change of ring, from one event.

    ``joined`` is ``"founded"`` (the account founded the ring with a partner),
    ``"attached"`` (it joined an existing ring) or ``"merged"`` (its ring was
    merged into this one).
    """

    account: str
    ring_id: str
    joined: str


_KIND_WORDS = {
    "ip": "source addresses",
    "net": "networks (/24 or /64)",
    "uaip": "user agent and address pairs",
    "device": "device ids",
    "file": "uploaded file hashes",
    "url": "posted or linked URLs",
    "recipient": "share recipients",
    "target": "downloaded or opened files",
    "signup": "sign-up time buckets",
    "email": "sign-up email patterns",
}


class RingTracker:
    """Cluster lockstep-linked accounts into rings as events arrive.

    Parameters
    ----------
    graph
        The entity graph that holds attributes and pair evidence; a fresh
        :class:`EntityGraph` when omitted.
    pair_threshold
        Least pair score (sum of shared attribute weights) that links two
        accounts.
    min_groups
        Least number of evidence groups a link needs.
    min_members
        Ring size at which the size part of the risk is 0.5.
    max_rings, max_members
        Bounds on the rings kept and the members listed per ring.
    """

    def __init__(
        self,
        graph: EntityGraph | None = None,
        pair_threshold: float = 2.5,
        min_groups: int = 2,
        min_members: int = 5,
        max_rings: int = 50_000,
        max_members: int = 5_000,
    ) -> None:
        if pair_threshold <= 0:
            raise ConfigError(f"pair_threshold={pair_threshold}; hint: use > 0")
        groups = {group for _, group in ATTRIBUTE_KINDS.values()}
        if not 1 <= min_groups <= len(groups):
            raise ConfigError(f"min_groups={min_groups}; hint: use 1 to {len(groups)}")
        if min_members < 2 or max_rings < 1 or max_members < 2:
            raise ConfigError(
                "min_members and max_members must be at least 2, max_rings 1"
            )
        self.graph = graph if graph is not None else EntityGraph()
        self.pair_threshold = pair_threshold
        self.min_groups = min_groups
        self.min_members = min_members
        self.max_members = max_members
        self._rings: LruDict[str, Ring] = LruDict(max_rings)
        self._ring_of: LruDict[str, str] = LruDict(self.graph.max_accounts)
        # Every attribute cited as evidence by a ring kept (and some by rings
        # since merged or evicted): an event none of whose attributes is in
        # here cannot attach its account to a ring, and most events are such.
        self._cited: set[str] = set()
        self._cited_limit = _CITED_SLACK

    # ------------------------------------------------------------ updates

    def add_event(self, event: EventBase, t: float | None = None) -> list[RingUpdate]:
        """Add an event to the graph and return the ring changes it causes."""
        account = event.account
        if not account:
            return []
        when = event.ts.timestamp() if t is None else t
        attributes = event_attributes(event, self.graph.signup_bucket)
        if not attributes:
            return []
        updates: list[RingUpdate] = []
        graph = self.graph
        threshold, min_groups = self.pair_threshold, self.min_groups
        for partner in graph.add(account, attributes, when):
            evidence = graph.linked_pair(account, partner, threshold, min_groups)
            if evidence is not None:
                updates += self._union(account, partner, evidence.attributes, when)
        if not updates:
            cited = self._cited
            for attribute in attributes:
                if attribute in cited:  # else no ring's evidence is shared
                    if self.ring_of(account) is None:
                        updates = self._attach_by_evidence(attributes, account, when)
                    break
        return updates

    def _attach_by_evidence(
        self, attributes: list[str], account: str, t: float
    ) -> list[RingUpdate]:
        """Attach an account outside any ring to a ring whose evidence it shares.

        A ring's evidence outlives its lockstep window: an account that turns
        up a day later on the ring's proxies, files and URLs joins it when the
        attributes it shares with the ring's evidence pass the same bar as a
        pair link (``pair_threshold`` and ``min_groups``).
        """
        graph = self.graph
        # the members and ring maps are read as LruDict.get would, without
        # copying each attribute's members into a list
        member_sets = graph._members._data
        ring_ids = self._ring_of._data
        rings = self._rings._data
        cited = self._cited
        candidates: dict[str, Ring] = {}
        for attribute in attributes:
            if attribute not in cited:  # no ring cites it
                continue
            members = member_sets.get(attribute)
            if not members:
                continue
            for member in members:
                ring_id = ring_ids.get(member)
                if ring_id is None or member == account:
                    continue
                ring = rings.get(ring_id)
                if ring is not None and attribute in ring.evidence:
                    candidates[ring.ring_id] = ring
        if not candidates:
            return []
        own = graph.attributes(account)
        best: tuple[float, str] | None = None
        for ring in candidates.values():
            shared = {a: graph.attribute_weight(a) for a in own if a in ring.evidence}
            shared = {a: w for a, w in shared.items() if w > 0}
            score = sum(shared.values())
            groups = {ATTRIBUTE_KINDS[attribute_kind(a)][1] for a in shared}
            passes = score >= self.pair_threshold and len(groups) >= self.min_groups
            if passes and (best is None or (score, ring.ring_id) > best):
                best = (score, ring.ring_id)
        if best is None:
            return []
        ring = candidates[best[1]]
        self._rings.touch(ring.ring_id)
        self._join(ring, account, t)
        return [RingUpdate(account, ring.ring_id, "attached")]

    def _union(
        self, a: str, b: str, shared: dict[str, float], t: float
    ) -> list[RingUpdate]:
        ring_a, ring_b = self.ring_of(a), self.ring_of(b)
        if ring_a is None and ring_b is None:
            first, second = sorted((a, b))
            seed = "\x00".join([first, second, *sorted(shared)])
            ring_id = "ring-" + blake2b(seed.encode(), digest_size=8).hexdigest()
            ring = Ring(ring_id, t, {first: t, second: t}, 2, {})
            self._cite(ring, shared)
            self._rings.put(ring_id, ring)
            self._ring_of.put(first, ring_id)
            self._ring_of.put(second, ring_id)
            return [
                RingUpdate(a, ring_id, "founded"),
                RingUpdate(b, ring_id, "founded"),
            ]
        if ring_a is not None and ring_b is not None:
            self._rings.touch(ring_a.ring_id)
            if ring_a.ring_id == ring_b.ring_id:
                self._cite(ring_a, shared)
                return []
            return self._merge(ring_a, ring_b, shared, t)
        joined = ring_a if ring_a is not None else ring_b
        newcomer = b if ring_a is not None else a
        if joined is None:  # unreachable: one of the two is a ring here
            return []
        self._rings.touch(joined.ring_id)
        self._join(joined, newcomer, t)
        self._cite(joined, shared)
        return [RingUpdate(newcomer, joined.ring_id, "attached")]

    def _merge(
        self, one: Ring, other: Ring, shared: dict[str, float], t: float
    ) -> list[RingUpdate]:
        keep, gone = (
            (one, other)
            if (one.size, other.ring_id)
            >= (
                other.size,
                one.ring_id,
            )
            else (other, one)
        )
        updates = []
        for member in gone.members:
            self._join(keep, member, t)
            updates.append(RingUpdate(member, keep.ring_id, "merged"))
        keep.size += gone.size - len(gone.members)  # members beyond the list
        for attribute, count in gone.evidence.items():
            self._cite(keep, {attribute: 0.0}, count)
        self._cite(keep, shared)
        self._rings.pop(gone.ring_id)
        return updates

    def _join(self, ring: Ring, account: str, t: float) -> None:
        if account not in ring.members:
            ring.size += 1
            if len(ring.members) < self.max_members:
                ring.members[account] = t
        self._ring_of.put(account, ring.ring_id)

    def _cite(self, ring: Ring, shared: dict[str, float], count: int = 1) -> None:
        evidence = ring.evidence
        for attribute in shared:
            if attribute in evidence:
                evidence[attribute] += count
            elif len(evidence) < _MAX_EVIDENCE:
                evidence[attribute] = count
                self._cited.add(attribute)
        if len(self._cited) > self._cited_limit:
            self._recount_cited()
            self._cited.update(evidence)  # a ring being founded is not kept yet

    def _recount_cited(self) -> None:
        """Rebuild the cited set from the rings kept, dropping stale entries.

        The next rebuild waits until as many entries were added as the
        rebuild read, so its cost spreads over the citations that caused it.
        """
        cited: set[str] = set()
        read = 0
        for _, ring in self._rings.items():
            cited.update(ring.evidence)
            read += len(ring.evidence)
        self._cited = cited
        self._cited_limit = len(cited) + read + _CITED_SLACK

    # ------------------------------------------------------------ reads

    def ring_of(self, account: str) -> Ring | None:
        """Return the ring ``account`` belongs to, or ``None``."""
        ring_id = self._ring_of.get(account)
        if ring_id is None:
            return None
        return self._rings.get(ring_id)

    def ring(self, ring_id: str) -> Ring | None:
        """Return the ring with id ``ring_id``, or ``None``."""
        return self._rings.get(ring_id)

    def rings(self, min_size: int = 2) -> list[Ring]:
        """Return the rings of at least ``min_size`` members, largest first."""
        found = [r for _, r in self._rings.items() if r.size >= min_size]
        return sorted(found, key=lambda r: (-r.size, r.ring_id))

    def live_evidence(self, ring: Ring) -> dict[str, int]:
        """Return the ring's evidence without the attributes grown into hubs.

        A ring tied only by attributes that later turned out to be hubs (a
        carrier NAT, a viral URL) has no live evidence and no risk.
        """
        return {a: n for a, n in ring.evidence.items() if not self.graph.is_hub(a)}

    def risk(self, ring: Ring) -> RingRisk:
        """Score a ring: its size, and how many kinds of evidence tie it.

        ``threshold_score(size, min_members)`` (0.5 at ``min_members``
        accounts, rising towards 1) times ``0.5 + 0.5 * min(1, groups / 3)``
        for the evidence groups (network, device, content, sign-up) its links
        cite, hubs left out (no live evidence, no risk): a large ring sharing
        addresses, files and sign-up patterns scores near 1, a pair sharing
        one proxy and one file low.
        """
        live = self.live_evidence(ring)
        if not live:
            return RingRisk(0.0, (f"{ring.size} accounts, tied only by hubs",))
        size_part = 1.0 - 0.5 ** (ring.size / self.min_members)
        by_kind = dict(Counter(attribute_kind(a) for a in live))
        groups = {ATTRIBUTE_KINDS[k][1] for k in by_kind if k in ATTRIBUTE_KINDS}
        score = size_part * (0.5 + 0.5 * min(1.0, len(groups) / 3))
        reasons = [f"{ring.size} accounts acting in lockstep"]
        for kind, count in sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0])):
            reasons.append(f"share {count} {_KIND_WORDS.get(kind, kind)}")
        return RingRisk(min(1.0, score), tuple(reasons))

    def snapshot(
        self,
        ring: Ring,
        max_members: int = 1000,
        max_holdings: int = 60,
        max_evidence: int = 16,
    ) -> RingSnapshot:
        """Return what an analyst sees of ``ring`` now (see :class:`RingSnapshot`)."""
        risk = self.risk(ring)
        live = self.live_evidence(ring)
        evidence = sorted(live.items(), key=lambda kv: (-kv[1], kv[0]))[:max_evidence]
        listed = {attribute for attribute, _ in evidence}
        members = tuple(ring.members)[:max_members]
        holdings = {
            member: tuple(a for a in self.graph.attributes(member) if a in listed)
            for member in members[:max_holdings]
        }
        return RingSnapshot(
            ring_id=ring.ring_id,
            method="lockstep",
            size=ring.size,
            risk=risk.score,
            reasons=risk.reasons,
            founded=ring.founded,
            updated=max(ring.members.values(), default=ring.founded),
            members=members,
            evidence=tuple(evidence),
            holdings=holdings,
            evidence_kinds=dict(Counter(attribute_kind(a) for a in live)),
        )

    # ------------------------------------------------------------ state

    def get_state(self) -> dict[str, Any]:
        """Return the graph and the rings as plain JSON values."""
        return {
            "graph": self.graph.get_state(),
            "rings": [ring.to_json() for _, ring in self._rings.items()],
            "ring_of": [[k, v] for k, v in self._ring_of.items()],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state`."""
        rings = LruDict(
            self._rings.max_keys,
            ((r["ring_id"], Ring.from_json(r)) for r in state["rings"]),
        )
        ring_of = LruDict(
            self._ring_of.max_keys, ((str(k), str(v)) for k, v in state["ring_of"])
        )
        self.graph.set_state(state["graph"])
        self._rings, self._ring_of = rings, ring_of
        self._recount_cited()
