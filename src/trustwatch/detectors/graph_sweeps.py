"""Ring detection by periodic sweeps of the whole entity graph.

Lockstep rings (:mod:`trustwatch.detectors.rings`) are built link by link as
events arrive. The detectors here look at everything the graph remembers at
once, every ``sweep_interval`` seconds of stream time, and so find rings whose
members never acted inside one lockstep window:

- :class:`CommunityDetector` (``communities``): Leiden communities (Constant
  Potts Model) of the weighted account projection — accounts linked by the
  attributes they share, hubs left out
  (:func:`~trustwatch.graph.communities.leiden_communities`);
- :class:`DenseBlockDetector` (``dense_blocks``): FRAUDAR's dense blocks of
  the accounts x attributes matrix, with column weights
  ``1 / log(degree + c)`` that make camouflage edges to popular attributes
  count for little (:func:`~trustwatch.graphmodel.dense.top_dense_blocks`).

Each sweep yields *groups*: members, the attributes they share (evidence) and
a risk score with reasons (:meth:`GraphSweepDetector.group_risk`). A group
keeps its id from sweep to sweep: it takes the id of the previous group whose
members overlap it most, when their Jaccard similarity is at least
``match_jaccard``; otherwise it gets a new id.

Signals, all on entity ``account``, of the detector's one kind
(``ring_community`` or ``ring_dense_block``): raised for every member when a
group first reaches ``risk_threshold``, for each account that a later sweep
adds to a group already announced, and, with ``every_event``, on each event of
a member of a risky group. The score is the group's risk.

Per event, a sweep detector only adds the event to its graph and looks up the
account's group; the cost of the search is paid once per sweep.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any, ClassVar

from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.registry import register
from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext
from trustwatch.graph import EntityGraph, RingSnapshot, attribute_kind
from trustwatch.graph.communities import (
    LEIDEN_ENGINES,
    SharedAttributes,
    account_attribute_matrix,
    account_projection,
    leiden_communities,
    shared_attributes,
)

__all__ = [
    "EVIDENCE_CLASSES",
    "CommunityDetector",
    "DenseBlockDetector",
    "GraphSweepDetector",
    "GroupRisk",
    "SweepGroup",
]

#: The class of evidence each attribute kind is, for the risk's breadth part.
EVIDENCE_CLASSES: dict[str, str] = {
    "ip": "network",
    "net": "network",
    "uaip": "network",
    "device": "device",
    "signup": "sign-up",
    "email": "sign-up",
    "file": "file",
    "url": "url",
    "recipient": "content",
    "target": "content",
}

_CLASS_WORDS = {
    "network": "source addresses or networks",
    "device": "devices",
    "sign-up": "sign-up time buckets or email patterns",
    "file": "uploaded files",
    "url": "posted or linked URLs",
    "content": "share recipients or opened files",
}

#: Shared attributes kept per group as its evidence, and quoted per signal.
_MAX_EVIDENCE = 32
_QUOTED_EVIDENCE = 8

#: Members, evidence and member holdings kept per ring snapshot.
_SNAPSHOT_MEMBERS = 1000
_SNAPSHOT_EVIDENCE = 16
_SNAPSHOT_HOLDINGS = 60


@dataclass(frozen=True, slots=True)
class GroupRisk:
    """A group's risk in ``[0, 1]``, the reasons for it and its figures."""

    score: float
    reasons: tuple[str, ...]
    density: float
    kinds: tuple[str, ...]
    young: int


@dataclass(slots=True)
class SweepGroup:
    """A group of accounts one sweep found, with its evidence and risk.

    Attributes
    ----------
    group_id
        Stable id, kept while later sweeps find mostly the same members.
    found
        Stream time (epoch seconds) of the sweep that first found it.
    members
        Member accounts, sorted.
    evidence
        Shared attributes held by at least two members, with how many hold
        each, most held first (at most 32).
    risk, reasons, density
        The group's risk, the reasons for it and its mean pair weight.
    """

    group_id: str
    found: float
    members: tuple[str, ...]
    evidence: dict[str, int]
    risk: float
    reasons: tuple[str, ...]
    density: float

    @property
    def size(self) -> int:
        """Number of member accounts."""
        return len(self.members)

    def to_json(self) -> dict[str, Any]:
        """Return the group as plain JSON values."""
        return {
            "group_id": self.group_id,
            "found": self.found,
            "members": list(self.members),
            "evidence": [[a, n] for a, n in self.evidence.items()],
            "risk": self.risk,
            "reasons": list(self.reasons),
            "density": self.density,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> SweepGroup:
        """Rebuild a group from :meth:`to_json`."""
        return cls(
            group_id=str(value["group_id"]),
            found=float(value["found"]),
            members=tuple(str(m) for m in value["members"]),
            evidence={str(a): int(n) for a, n in value["evidence"]},
            risk=float(value["risk"]),
            reasons=tuple(str(r) for r in value["reasons"]),
            density=float(value["density"]),
        )


class GraphSweepDetector(Detector):
    """Base class of detectors that sweep their own entity graph for groups.

    Every event goes into the detector's bounded
    :class:`~trustwatch.graph.EntityGraph`; once ``sweep_interval`` seconds
    of stream time have passed since the last sweep, :meth:`find_groups`
    (the subclass's search) runs over the graph's shared attributes and the
    groups it returns are matched to the previous sweep's, scored and
    announced.

    Parameters
    ----------
    risk_threshold
        Least group risk that raises signals.
    sweep_interval
        Seconds of stream time between sweeps.
    min_size
        Groups of fewer accounts are left out.
    min_members
        Group size at which the size part of the risk is 0.5.
    max_group_size
        Groups of more accounts are left out: a cluster that large is the
        platform's structure (a campus, an office), not a ring.
    cohesion_scale
        Mean pair weight at which the cohesion part of the risk is full
        (2.5: what a lockstep link needs, see
        :class:`~trustwatch.graph.RingTracker`).
    core_share
        Share of members that must hold an attribute for its kind to count in
        the breadth part of the risk.
    match_jaccard
        Least Jaccard similarity of members for a group to keep the id of a
        group of the previous sweep.
    every_event
        Raise a signal on each event of a member of a risky group.
    max_attribute_members
        Attributes of more accounts are left out of the sweep (the graph's
        ``hub_size`` when omitted).
    max_groups
        Most groups kept per sweep, riskiest first.
    hub_size, lockstep_window, retention, signup_bucket
        The entity graph's parameters (see
        :class:`~trustwatch.graph.EntityGraph`).
    max_accounts, max_attributes, max_pairs
        Bounds on the graph.
    """

    #: Signal kind raised for members (set by subclasses).
    signal_kind: ClassVar[str]
    #: Prefix of group ids.
    group_prefix: ClassVar[str]
    #: What a group is, in words (``"Leiden community"``).
    group_words: ClassVar[str]

    def __init__(
        self,
        risk_threshold: float = 0.6,
        sweep_interval: float = 3600.0,
        min_size: int = 4,
        min_members: int = 5,
        max_group_size: int = 1000,
        cohesion_scale: float = 2.5,
        core_share: float = 0.25,
        match_jaccard: float = 0.5,
        every_event: bool = True,
        max_attribute_members: int | None = None,
        max_groups: int = 1000,
        hub_size: int = 100,
        lockstep_window: float = 3600.0,
        retention: float = 7 * 86_400.0,
        signup_bucket: float = 600.0,
        max_accounts: int = 200_000,
        max_attributes: int = 500_000,
        max_pairs: int = 500_000,
    ) -> None:
        if not 0.0 < risk_threshold <= 1.0:
            raise ConfigError(
                f"risk_threshold={risk_threshold}; hint: use a value in (0, 1]"
            )
        if not sweep_interval > 0:
            raise ConfigError(
                f"sweep_interval={sweep_interval}; hint: use a positive duration"
            )
        if min_size < 2 or min_members < 2:
            raise ConfigError(
                f"min_size={min_size}, min_members={min_members}; hint: use at "
                "least 2 accounts"
            )
        if max_group_size < min_size or max_groups < 1:
            raise ConfigError(
                f"max_group_size={max_group_size}, max_groups={max_groups}; hint: "
                "max_group_size at least min_size, max_groups at least 1"
            )
        if not cohesion_scale > 0:
            raise ConfigError(f"cohesion_scale={cohesion_scale}; hint: use > 0")
        for label, value in (
            ("core_share", core_share),
            ("match_jaccard", match_jaccard),
        ):
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"{label}={value}; hint: use a value in (0, 1]")
        if max_attribute_members is not None and max_attribute_members < 2:
            raise ConfigError(
                f"max_attribute_members={max_attribute_members}; hint: use at least 2"
            )
        self._params: dict[str, Any] = {
            "risk_threshold": risk_threshold,
            "sweep_interval": sweep_interval,
            "min_size": min_size,
            "min_members": min_members,
            "max_group_size": max_group_size,
            "cohesion_scale": cohesion_scale,
            "core_share": core_share,
            "match_jaccard": match_jaccard,
            "every_event": every_event,
            "max_attribute_members": max_attribute_members,
            "max_groups": max_groups,
            "hub_size": hub_size,
            "lockstep_window": lockstep_window,
            "retention": retention,
            "signup_bucket": signup_bucket,
            "max_accounts": max_accounts,
            "max_attributes": max_attributes,
            "max_pairs": max_pairs,
        }
        self.risk_threshold = risk_threshold
        self.sweep_interval = float(sweep_interval)
        self.min_size = min_size
        self.min_members = min_members
        self.max_group_size = max_group_size
        self.cohesion_scale = cohesion_scale
        self.core_share = core_share
        self.match_jaccard = match_jaccard
        self.every_event = every_event
        self.max_attribute_members = max_attribute_members
        self.max_groups = max_groups
        self.graph = EntityGraph(
            hub_size=hub_size,
            lockstep_window=lockstep_window,
            retention=retention,
            signup_bucket=signup_bucket,
            max_attributes=max_attributes,
            max_accounts=max_accounts,
            max_pairs=max_pairs,
        )
        self._groups: dict[str, SweepGroup] = {}
        self._group_of: dict[str, str] = {}
        # risky groups announced, and when
        self._announced: dict[str, float] = {}
        self._last_sweep: float | None = None

    # ------------------------------------------------------------ search

    @abc.abstractmethod
    def find_groups(self, shared: SharedAttributes) -> list[list[int]]:
        """Return groups of account indices (into ``shared.accounts``)."""

    # ------------------------------------------------------------ stream

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Add the event to the graph, sweep when due, flag members of risky groups."""
        account = event.account
        if not account:
            return ()
        t = ctx.t
        self.graph.add_event(event, t)
        signals: list[Signal] = []
        flagged: set[str] = set()
        if self._last_sweep is None:
            self._last_sweep = t
        elif t - self._last_sweep >= self.sweep_interval:
            for group, accounts in self.sweep(t):
                for member in accounts:
                    if member not in flagged:
                        flagged.add(member)
                        signals.append(self._signal(event, member, group, joined=True))
        if self.every_event and account not in flagged:
            current = self.group_of(account)
            if (
                current is not None
                and current.group_id in self._announced
                and current.risk >= self.risk_threshold
            ):
                signals.append(self._signal(event, account, current, joined=False))
        return signals

    def sweep(self, t: float) -> list[tuple[SweepGroup, list[str]]]:
        """Search the whole graph now; return each risky group's new members.

        A group reaching the threshold for the first time lists all its
        members; a group announced before lists the accounts it did not have
        at the previous sweep.
        """
        self._last_sweep = t
        shared = shared_attributes(
            self.graph, t, max_attribute_members=self.max_attribute_members
        )
        found = [
            g
            for g in self.find_groups(shared)
            if self.min_size <= len(g) <= self.max_group_size
        ]
        scored = self._score_all(shared, found)
        scored.sort(key=lambda item: (-item[1].score, item[0][0]))
        scored = scored[: self.max_groups]
        previous = self._groups
        previous_of = self._group_of
        groups: dict[str, SweepGroup] = {}
        taken: set[str] = set()
        announcements: list[tuple[SweepGroup, list[str]]] = []
        for members, risk, evidence in scored:
            matched = self._match(members, previous, previous_of, taken)
            if matched is None:
                seed = "\x00".join([*members, repr(t)])
                group_id = (
                    self.group_prefix
                    + blake2b(seed.encode(), digest_size=8).hexdigest()
                )
                found_at = t
                before: frozenset[str] = frozenset()
            else:
                taken.add(matched.group_id)
                group_id, found_at = matched.group_id, matched.found
                before = frozenset(matched.members)
            group = SweepGroup(
                group_id=group_id,
                found=found_at,
                members=members,
                evidence=evidence,
                risk=risk.score,
                reasons=risk.reasons,
                density=risk.density,
            )
            groups[group_id] = group
            if risk.score < self.risk_threshold:
                continue
            if group_id not in self._announced:
                self._announced[group_id] = t
                announcements.append((group, list(members)))
            else:
                joined = [m for m in members if m not in before]
                if joined:
                    announcements.append((group, joined))
        self._groups = groups
        self._group_of = {m: g.group_id for g in groups.values() for m in g.members}
        self._announced = {k: v for k, v in self._announced.items() if k in groups}
        return announcements

    def _match(
        self,
        members: tuple[str, ...],
        previous: dict[str, SweepGroup],
        previous_of: dict[str, str],
        taken: set[str],
    ) -> SweepGroup | None:
        """Return the previous group most like ``members`` (Jaccard), if close."""
        overlap = Counter(previous_of[m] for m in members if m in previous_of)
        best: tuple[float, str] | None = None
        for group_id, common in overlap.items():
            if group_id in taken:
                continue
            union = len(members) + previous[group_id].size - common
            jaccard = common / union
            if jaccard >= self.match_jaccard and (
                best is None or (jaccard, group_id) > best
            ):
                best = (jaccard, group_id)
        return None if best is None else previous[best[1]]

    # ------------------------------------------------------------ risk

    def _score_all(
        self, shared: SharedAttributes, found: list[list[int]]
    ) -> list[tuple[tuple[str, ...], GroupRisk, dict[str, int]]]:
        """Score every group in one pass over the shared attributes."""
        group_of = {i: g for g, indices in enumerate(found) for i in indices}
        held: list[dict[str, int]] = [{} for _ in found]
        weights: list[dict[str, float]] = [{} for _ in found]
        for attribute, holders, weight in zip(
            shared.attributes, shared.members, shared.weights, strict=True
        ):
            counts = Counter(group_of[h] for h in holders if h in group_of)
            for g, count in counts.items():
                if count >= 2:
                    held[g][attribute] = count
                    weights[g][attribute] = weight
        scored = []
        for g, indices in enumerate(found):
            members = tuple(sorted(shared.accounts[i] for i in indices))
            young = sum(
                1
                for m in members
                if any(a.startswith("signup:") for a in self.graph.attributes(m))
            )
            risk = self.group_risk(len(members), held[g], weights[g], young)
            top = sorted(held[g].items(), key=lambda kv: (-kv[1], kv[0]))
            scored.append((members, risk, dict(top[:_MAX_EVIDENCE])))
        return scored

    def group_risk(
        self,
        size: int,
        held: dict[str, int],
        weights: dict[str, float],
        young: int,
    ) -> GroupRisk:
        """Score a group: its size, breadth, cohesion and youth.

        ``size_part * (0.3 + 0.3 * breadth + 0.2 * cohesion + 0.2 * youth)``:

        - ``size_part = 1 - 0.5 ** (size / min_members)``, 0.5 at
          ``min_members`` accounts, rising towards 1;
        - ``breadth = min(1, kinds / 3)``, ``kinds`` the classes of evidence
          (network, device, sign-up, file, URL, other content) of the
          attributes at least ``core_share`` of the members hold;
        - ``cohesion = min(1, density / cohesion_scale)``, ``density`` the
          mean pair weight inside the group: the sum over shared attributes
          of ``weight * C(holders, 2)``, divided by ``C(size, 2)``;
        - ``youth``: the share of members whose sign-up the graph saw.

        A group with no attribute held by ``core_share`` of its members is
        tied by nothing in common and scores 0.
        """
        pairs = size * (size - 1) / 2
        density = (
            sum(weights[a] * n * (n - 1) / 2 for a, n in held.items()) / pairs
            if pairs
            else 0.0
        )
        core = max(2.0, self.core_share * size)
        core_kinds = Counter(
            EVIDENCE_CLASSES.get(attribute_kind(a), "content")
            for a, n in held.items()
            if n >= core
        )
        kinds = tuple(sorted(core_kinds))
        if not kinds:
            alone = (
                f"{size} accounts in one {self.group_words}, no attribute shared "
                f"by {self.core_share:.0%} of them",
            )
            return GroupRisk(0.0, alone, density, kinds, young)
        size_part = 1.0 - 0.5 ** (size / self.min_members)
        breadth = min(1.0, len(kinds) / 3)
        cohesion = min(1.0, density / self.cohesion_scale)
        youth = young / size
        score = size_part * (0.3 + 0.3 * breadth + 0.2 * cohesion + 0.2 * youth)
        reasons = [f"{size} accounts in one {self.group_words}"]
        for kind, count in sorted(core_kinds.items(), key=lambda kv: (-kv[1], kv[0])):
            reasons.append(f"share {count} {_CLASS_WORDS[kind]}")
        reasons.append(f"each pair shares {density:.2f} in attribute weight on average")
        if young:
            reasons.append(f"{young} of {size} signed up recently")
        return GroupRisk(min(1.0, score), tuple(reasons), density, kinds, young)

    # ------------------------------------------------------------ reads

    def groups(self) -> list[SweepGroup]:
        """Return the last sweep's groups, riskiest first."""
        return sorted(self._groups.values(), key=lambda g: (-g.risk, g.group_id))

    def risky_groups(self) -> list[SweepGroup]:
        """Return the last sweep's groups at or above ``risk_threshold``."""
        return [g for g in self.groups() if g.risk >= self.risk_threshold]

    def ring_snapshots(self) -> list[RingSnapshot]:
        """Return a snapshot of every announced group at or above the threshold.

        The snapshot's method is the detector's name; ``updated`` is the last
        sweep's time and the evidence counts members holding each attribute.
        """
        snapshots = []
        for group in self.risky_groups():
            if group.group_id not in self._announced:
                continue
            evidence = tuple(list(group.evidence.items())[:_SNAPSHOT_EVIDENCE])
            listed = {attribute for attribute, _ in evidence}
            members = group.members[:_SNAPSHOT_MEMBERS]
            holdings = {
                member: tuple(a for a in self.graph.attributes(member) if a in listed)
                for member in members[:_SNAPSHOT_HOLDINGS]
            }
            snapshots.append(
                RingSnapshot(
                    ring_id=group.group_id,
                    method=self.name,
                    size=group.size,
                    risk=group.risk,
                    reasons=group.reasons,
                    founded=group.found,
                    updated=self._last_sweep or group.found,
                    members=members,
                    evidence=evidence,
                    holdings=holdings,
                    evidence_kinds=dict(
                        Counter(attribute_kind(a) for a in group.evidence)
                    ),
                )
            )
        return sorted(snapshots, key=lambda s: (-s.risk, -s.size, s.ring_id))

    def group_of(self, account: str) -> SweepGroup | None:
        """Return the last sweep's group holding ``account``, or ``None``."""
        group_id = self._group_of.get(account)
        return None if group_id is None else self._groups.get(group_id)

    def _signal(
        self, event: EventBase, account: str, group: SweepGroup, *, joined: bool
    ) -> Signal:
        by_kind = Counter(attribute_kind(a) for a in group.evidence)
        evidence = {
            "group_id": group.group_id,
            "group_size": group.size,
            "group_risk": round(group.risk, 4),
            "density": round(group.density, 4),
            "evidence_by_kind": dict(sorted(by_kind.items())),
            "top_evidence": list(group.evidence)[:_QUOTED_EVIDENCE],
        }
        lead = (
            f"found in {self.group_words} {group.group_id}"
            if joined
            else f"member of {self.group_words} {group.group_id}"
        )
        return self.signal(
            event,
            kind=self.signal_kind,
            score=group.risk,
            entity_type="account",
            entity=account,
            reasons=(lead, *group.reasons),
            evidence=evidence,
        )

    # ------------------------------------------------------------ state

    def get_state(self) -> dict[str, Any]:
        """Return the graph, the groups and the announced groups as plain values."""
        return {
            "graph": self.graph.get_state(),
            "groups": [group.to_json() for group in self._groups.values()],
            "announced": [[k, v] for k, v in self._announced.items()],
            "last_sweep": self._last_sweep,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state`."""
        groups = [SweepGroup.from_json(g) for g in state["groups"]]
        announced = {str(k): float(v) for k, v in state["announced"]}
        last = state["last_sweep"]
        last_sweep = None if last is None else float(last)
        self.graph.set_state(state["graph"])
        self._groups = {g.group_id: g for g in groups}
        self._group_of = {m: g.group_id for g in groups for m in g.members}
        self._announced = announced
        self._last_sweep = last_sweep


@register
class CommunityDetector(GraphSweepDetector):
    """Flag accounts of risky Leiden communities of the account projection.

    Parameters
    ----------
    resolution
        CPM resolution: the least mean pair weight inside a community (see
        :func:`~trustwatch.graph.communities.leiden_communities`).
    seed
        Seed of the Leiden algorithm.
    leiden_iterations
        Leiden iterations per sweep (negative: until stable).
    max_edges
        Most pair incidences summed into the projection (see
        :func:`~trustwatch.graph.communities.account_projection`).
    engine
        Leiden implementation, ``"igraph"`` or ``"leidenalg"`` (see
        :func:`~trustwatch.graph.communities.leiden_communities`).
    **params
        As :class:`GraphSweepDetector`.
    """

    name = "communities"
    version = "1"
    signal_kinds = ("ring_community",)
    signal_kind = "ring_community"
    group_prefix = "community-"
    group_words = "Leiden community"

    def __init__(
        self,
        resolution: float = 1.0,
        seed: int = 7,
        leiden_iterations: int = 2,
        max_edges: int = 4_000_000,
        engine: str = "igraph",
        **params: Any,
    ) -> None:
        if not resolution > 0:
            raise ConfigError(f"resolution={resolution}; hint: use a positive weight")
        if engine not in LEIDEN_ENGINES:
            raise ConfigError(
                f"engine={engine!r}; hint: use one of {', '.join(LEIDEN_ENGINES)}"
            )
        if max_edges < 1:
            raise ConfigError(f"max_edges={max_edges}; hint: use at least 1")
        super().__init__(**params)
        self._params.update(
            resolution=resolution,
            seed=seed,
            leiden_iterations=leiden_iterations,
            max_edges=max_edges,
            engine=engine,
        )
        self.engine = engine
        self.resolution = resolution
        self.seed = seed
        self.leiden_iterations = leiden_iterations
        self.max_edges = max_edges

    def find_groups(self, shared: SharedAttributes) -> list[list[int]]:
        """Return the Leiden communities of the shared attributes' projection."""
        projection = account_projection(shared, max_edges=self.max_edges)
        return leiden_communities(
            projection,
            resolution=self.resolution,
            seed=self.seed,
            iterations=self.leiden_iterations,
            min_size=self.min_size,
            engine=self.engine,
        )


@register
class DenseBlockDetector(GraphSweepDetector):
    """Flag accounts of risky dense blocks (FRAUDAR) of accounts x attributes.

    Parameters
    ----------
    max_blocks
        Most blocks searched per sweep (each search peels the whole matrix
        left after removing the blocks before it).
    c
        Smoothing constant of the camouflage-resistant column weights
        ``1 / log(degree + c)``.
    min_density
        Stop when the next block is no denser than this (weighted edges per
        node, accounts plus attributes).
    **params
        As :class:`GraphSweepDetector`.
    """

    name = "dense_blocks"
    version = "1"
    signal_kinds = ("ring_dense_block",)
    signal_kind = "ring_dense_block"
    group_prefix = "block-"
    group_words = "dense block"

    def __init__(
        self,
        max_blocks: int = 20,
        c: float = 5.0,
        min_density: float = 0.5,
        **params: Any,
    ) -> None:
        if max_blocks < 1:
            raise ConfigError(f"max_blocks={max_blocks}; hint: use at least 1")
        if not c > 0:
            raise ConfigError(f"c={c}; hint: use a positive constant (FRAUDAR: 5)")
        if min_density < 0:
            raise ConfigError(f"min_density={min_density}; hint: use >= 0")
        super().__init__(**params)
        self._params.update(max_blocks=max_blocks, c=c, min_density=min_density)
        self.max_blocks = max_blocks
        self.c = c
        self.min_density = min_density

    def find_groups(self, shared: SharedAttributes) -> list[list[int]]:
        """Return the accounts of the matrix's densest blocks, in order found."""
        if not shared.attributes:
            return []
        from trustwatch.graphmodel.dense import top_dense_blocks

        blocks = top_dense_blocks(
            account_attribute_matrix(shared),
            self.max_blocks,
            weighting="log",
            c=self.c,
            min_density=self.min_density,
        )
        return [sorted(int(i) for i in block.accounts) for block in blocks]
