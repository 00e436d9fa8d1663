"""Ring membership in real time: accounts acting in lockstep, and who joins them.

Every event feeds a :class:`~trustwatch.graph.RingTracker`: the entity graph
links accounts through what they share (addresses, devices, files, URLs,
recipients, sign-up buckets and email patterns), and accounts whose shared
use of them falls in the same time windows are clustered into rings, each with
a stable id, its evidence and a risk score (see :mod:`trustwatch.graph.rings`).

Signals, all on entity ``account``:

- ``ring_member``: the account belongs to a ring whose risk is at least
  ``risk_threshold``. Raised for every listed member when the ring first
  reaches the threshold, for each account that joins it after, and, with
  ``every_event``, on each later event of a member, so a policy can act on
  a ring as a whole (challenge every login of its members);
- ``ring_attach``: an account first seen less than ``new_account_age`` ago
  attaches to a ring at or above the threshold; it inherits the ring's risk.

The score is the ring's risk; the evidence names the ring, its size and what
its members share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.registry import register
from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext
from trustwatch.features.windows import LruDict
from trustwatch.graph import (
    EntityGraph,
    Ring,
    RingSnapshot,
    RingTracker,
    RingUpdate,
    attribute_kind,
)

__all__ = ["RingDetector"]

#: Shared attributes quoted per signal.
_QUOTED_EVIDENCE = 8


@register
class RingDetector(Detector):
    """Flag accounts that belong to, or newly attach to, a risky lockstep ring.

    Parameters
    ----------
    risk_threshold
        Least ring risk that raises signals.
    new_account_age
        An account first seen less than this many seconds before it joins a
        risky ring raises ``ring_attach``.
    every_event
        Raise ``ring_member`` on every event of a member of a risky ring, not
        only when it joins.
    hub_size, lockstep_window, retention, signup_bucket
        The entity graph's parameters (see
        :class:`~trustwatch.graph.EntityGraph`).
    pair_threshold, min_groups, min_members
        The ring tracker's parameters (see
        :class:`~trustwatch.graph.RingTracker`).
    max_accounts, max_attributes, max_pairs, max_rings
        Bounds on the state kept.
    """

    name = "rings"
    version = "1"
    signal_kinds = ("ring_member", "ring_attach")

    def __init__(
        self,
        risk_threshold: float = 0.6,
        new_account_age: float = 86_400.0,
        every_event: bool = True,
        hub_size: int = 100,
        lockstep_window: float = 3600.0,
        retention: float = 7 * 86_400.0,
        signup_bucket: float = 600.0,
        pair_threshold: float = 2.5,
        min_groups: int = 2,
        min_members: int = 5,
        max_accounts: int = 200_000,
        max_attributes: int = 500_000,
        max_pairs: int = 500_000,
        max_rings: int = 50_000,
    ) -> None:
        if not 0.0 < risk_threshold <= 1.0:
            raise ConfigError(
                f"risk_threshold={risk_threshold}; hint: use a value in (0, 1]"
            )
        if new_account_age < 0:
            raise ConfigError(f"new_account_age={new_account_age}; hint: use >= 0")
        self._params: dict[str, Any] = {
            "risk_threshold": risk_threshold,
            "new_account_age": new_account_age,
            "every_event": every_event,
            "hub_size": hub_size,
            "lockstep_window": lockstep_window,
            "retention": retention,
            "signup_bucket": signup_bucket,
            "pair_threshold": pair_threshold,
            "min_groups": min_groups,
            "min_members": min_members,
            "max_accounts": max_accounts,
            "max_attributes": max_attributes,
            "max_pairs": max_pairs,
            "max_rings": max_rings,
        }
        self.risk_threshold = risk_threshold
        self.new_account_age = new_account_age
        self.every_event = every_event
        graph = EntityGraph(
            hub_size=hub_size,
            lockstep_window=lockstep_window,
            retention=retention,
            signup_bucket=signup_bucket,
            max_attributes=max_attributes,
            max_accounts=max_accounts,
            max_pairs=max_pairs,
        )
        self.tracker = RingTracker(
            graph,
            pair_threshold=pair_threshold,
            min_groups=min_groups,
            min_members=min_members,
            max_rings=max_rings,
        )
        # rings that reached the threshold, and when
        self._announced: LruDict[str, float] = LruDict(max_rings)

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Add the event to the graph; flag members of risky rings it touches."""
        account = event.account
        if not account:
            return ()
        t = ctx.t
        updates = self.tracker.add_event(event, t)
        signals: list[Signal] = []
        flagged: set[str] = set()
        if updates:
            self._flag_joined(event, updates, t, signals, flagged)
        if self.every_event and account not in flagged:
            ring = self.tracker.ring_of(account)
            if (
                ring is not None
                and ring.ring_id in self._announced
                and self.tracker.risk(ring).score >= self.risk_threshold
            ):
                signals.append(
                    self._member_signal(event, account, ring, t, attaching=False)
                )
        return signals

    def _flag_joined(
        self,
        event: EventBase,
        updates: list[RingUpdate],
        t: float,
        signals: list[Signal],
        flagged: set[str],
    ) -> None:
        """Signal the accounts that joined risky rings, and every listed member
        of a ring that has just reached the threshold; add them to ``flagged``."""
        joined_by_ring: dict[str, list[str]] = {}
        for update in updates:
            joined_by_ring.setdefault(update.ring_id, []).append(update.account)
        for ring_id, joined in joined_by_ring.items():
            ring = self.tracker.ring(ring_id)
            if ring is None:
                continue
            risk = self.tracker.risk(ring)
            if risk.score < self.risk_threshold:
                continue
            known = self._announced.touch(ring_id) is not None
            if not known:
                self._announced.put(ring_id, t)
                joined = list(dict.fromkeys([*joined, *ring.members]))
            for member in joined:
                if member not in flagged:
                    flagged.add(member)
                    signals.append(
                        self._member_signal(event, member, ring, t, attaching=known)
                    )

    def _member_signal(
        self, event: EventBase, account: str, ring: Ring, t: float, *, attaching: bool
    ) -> Signal:
        """Build the signal for one member: ``ring_attach`` when a new account
        joins a ring already known to be risky, else ``ring_member``."""
        risk = self.tracker.risk(ring)
        first_seen = self.tracker.graph.first_seen(account)
        new = (
            attaching
            and first_seen is not None
            and t - first_seen < self.new_account_age
        )
        live = self.tracker.live_evidence(ring)
        top = sorted(live.items(), key=lambda kv: (-kv[1], kv[0]))
        by_kind: dict[str, int] = {}
        for attribute in live:
            kind = attribute_kind(attribute)
            by_kind[kind] = by_kind.get(kind, 0) + 1
        evidence = {
            "ring_id": ring.ring_id,
            "ring_size": ring.size,
            "ring_risk": round(risk.score, 4),
            "evidence_by_kind": by_kind,
            "top_evidence": [attr for attr, _ in top[:_QUOTED_EVIDENCE]],
        }
        if new:
            reasons = (
                f"new account attached to ring {ring.ring_id}",
                *risk.reasons,
            )
            return self.signal(
                event,
                kind="ring_attach",
                score=risk.score,
                entity_type="account",
                entity=account,
                reasons=reasons,
                evidence=evidence,
            )
        return self.signal(
            event,
            kind="ring_member",
            score=risk.score,
            entity_type="account",
            entity=account,
            reasons=(f"member of ring {ring.ring_id}", *risk.reasons),
            evidence=evidence,
        )

    def ring_snapshots(self) -> list[RingSnapshot]:
        """Return a snapshot of every announced ring still at or above the threshold."""
        snapshots = []
        for ring_id, _ in list(self._announced.items()):
            ring = self.tracker.ring(ring_id)
            if ring is None:
                continue
            if self.tracker.risk(ring).score >= self.risk_threshold:
                snapshots.append(self.tracker.snapshot(ring))
        return sorted(snapshots, key=lambda s: (-s.risk, -s.size, s.ring_id))

    def get_state(self) -> dict[str, Any]:
        """Return the graph, the rings and the announced rings as plain values."""
        return {
            "tracker": self.tracker.get_state(),
            "announced": [[k, v] for k, v in self._announced.items()],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state`."""
        announced = LruDict(
            self._announced.max_keys,
            ((str(k), float(v)) for k, v in state["announced"]),
        )
        self.tracker.set_state(state["tracker"])
        self._announced = announced
