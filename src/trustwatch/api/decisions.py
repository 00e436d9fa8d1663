"""Read verdicts, actions and rings from either decision store.

The embedded :class:`~trustwatch.storage.sqlite.SqliteStore` answers
filtered queries with its indexes. :class:`~trustwatch.storage.postgres.PostgresStore`
only streams every verdict and action in order, so this reader filters the
stream, which is fine for a review queue of thousands of alerts and slow for
millions (a known gap: the PostgreSQL store needs indexed queries). Both
stores keep ring snapshots with their members indexed, and answer ring
queries themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trustwatch.decisions.model import Action, Verdict
from trustwatch.errors import ConfigError
from trustwatch.graph.rings import RingSnapshot
from trustwatch.review.model import Case
from trustwatch.storage.sqlite import SqliteStore, VerdictQuery

__all__ = ["DecisionReader", "VerdictFilter", "account_actions"]


@dataclass(frozen=True, slots=True)
class VerdictFilter:
    """What to list: ``None`` means any; ``alerts_only`` leaves out ``allow``.

    ``since`` and ``until`` filter by time; ``after`` (the last verdict id a
    page listed) pages on without loss, as :class:`VerdictQuery` says.
    """

    decision: str | None = None
    alerts_only: bool = True
    account: str | None = None
    ip: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: str | None = None
    limit: int = 50

    def keeps(self, verdict: Verdict) -> bool:
        """Return whether ``verdict`` passes the filter."""
        return (
            (self.decision is None or verdict.decision == self.decision)
            and (not self.alerts_only or verdict.decision != "allow")
            and (self.account is None or verdict.account == self.account)
            and (self.ip is None or verdict.ip == self.ip)
            and (
                self.kind is None
                or any(signal.kind == self.kind for signal in verdict.signals)
            )
            and (self.since is None or verdict.ts >= self.since)
            and (self.until is None or verdict.ts < self.until)
        )


class DecisionReader:
    """Queries over a decision store (one per thread, see :mod:`perthread`).

    Parameters
    ----------
    store
        A :class:`SqliteStore`, a :class:`PostgresStore`, or a proxy of one.
    """

    def __init__(self, store: Any) -> None:
        self.store = store

    def _indexed(self) -> SqliteStore | None:
        found = self.store.get() if hasattr(self.store, "get") else self.store
        return found if isinstance(found, SqliteStore) else None

    def verdicts(self, wanted: VerdictFilter) -> list[Verdict]:
        """Return matching verdicts, newest first, at most ``wanted.limit``.

        Those of one time come by verdict id, highest first, in either store.

        Raises
        ------
        ConfigError
            When ``wanted.after`` is no stored verdict's id.
        """
        indexed = self._indexed()
        if indexed is not None:
            return indexed.verdicts(
                VerdictQuery(
                    decision=wanted.decision,
                    min_decision=wanted.alerts_only,
                    account=wanted.account,
                    ip=wanted.ip,
                    kind=wanted.kind,
                    since=wanted.since,
                    until=wanted.until,
                    after=wanted.after,
                    limit=wanted.limit,
                )
            )
        found: list[Verdict] = []
        after: tuple[datetime, str] | None = None
        for verdict in self.store.iter_verdicts():
            if verdict.verdict_id == wanted.after:
                after = (verdict.ts, verdict.verdict_id)
            if wanted.keeps(verdict):
                found.append(verdict)
        if wanted.after is not None:
            if after is None:
                raise ConfigError(
                    f"no verdict {wanted.after!r} to list on from; hint: page on "
                    "with the id of the last verdict a page listed"
                )
            found = [v for v in found if (v.ts, v.verdict_id) < after]
        found.sort(key=lambda v: (v.ts, v.verdict_id), reverse=True)
        return found[: wanted.limit]

    def verdict(self, verdict_id: str) -> Verdict | None:
        """Return one verdict by its id or its event's id."""
        indexed = self._indexed()
        if indexed is not None:
            return indexed.verdict(verdict_id)
        return next(
            (
                v
                for v in self.store.iter_verdicts()
                if verdict_id in (v.verdict_id, v.event_id)
            ),
            None,
        )

    def actions_for(self, verdict_ids: set[str]) -> list[Action]:
        """Return the actions the given verdicts started, oldest first."""
        indexed = self._indexed()
        if indexed is not None:
            found = [a for vid in sorted(verdict_ids) for a in indexed.actions_for(vid)]
        else:
            found = [
                a for a in self.store.iter_actions() if a.verdict_id in verdict_ids
            ]
        return sorted(found, key=lambda a: (a.created_at, a.action_id))

    def actions(self, limit: int) -> list[Action]:
        """Return the actions of the newest ``limit`` alerts, newest first.

        Actions are taken when their verdict is, so the newest alerts hold
        the newest actions; reading them by alert uses the store's indexes
        instead of reading every action.
        """
        alerts = self.verdicts(VerdictFilter(limit=limit))
        found = self.actions_for({v.verdict_id for v in alerts})
        found.sort(key=lambda a: (a.created_at, a.action_id), reverse=True)
        return found[:limit]

    def rings(
        self, *, min_risk: float, account: str | None, limit: int
    ) -> list[RingSnapshot]:
        """Return stored rings, riskiest first (then largest, then by id)."""
        found: list[RingSnapshot] = self.store.rings(
            min_risk=min_risk, account=account, limit=limit
        )
        return found

    def ring(self, ring_id: str) -> RingSnapshot | None:
        """Return one stored ring, or ``None``."""
        found: RingSnapshot | None = self.store.ring(ring_id)
        return found


def account_actions(
    reader: DecisionReader,
    account: str,
    verdicts: Iterable[Verdict],
    cases: Iterable[Case],
) -> list[Action]:
    """Return the actions about an account's timeline, oldest first.

    Those its own ``verdicts`` started, and those taken on the account by
    analysts resolving its ``cases``: an analyst's action hangs on the
    case's newest alert, which in a ring's case may be another member's.
    """
    own = {v.verdict_id for v in verdicts}
    from_cases = {c.verdict_ids[-1] for c in cases if c.verdict_ids} - own
    return [
        a
        for a in reader.actions_for(own | from_cases)
        if a.verdict_id in own or (a.target_type == "account" and a.target == account)
    ]
