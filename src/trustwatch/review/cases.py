"""Build review cases from a decision store's alerts, and gather their evidence.

An *alert* is a verdict an analyst should see: any decision but ``allow``, or,
when a review threshold is set, an ``allow`` whose score reaches it. Alerts
about an account that a stored ring snapshot lists as a member go into the
ring's case; the others into a case per account (or per source address when
an event has no account). A case's priority is its strongest decision's
severity (:data:`~trustwatch.decisions.model.ACTION_SEVERITY`) plus its
highest score, so locks come before reviews and sure before unsure.

Building is incremental. The decision stores number verdicts in the order
they were stored (:meth:`~trustwatch.storage.sqlite.SqliteStore.alerts_since`),
and the review store keeps a cursor: the mark of the last alert a build put
in a case. A build reads on from there a page at a time, writes the page's
cases, then moves the cursor, so its cost follows the new alerts, not the
store, and a build that stops half way resumes where it stopped. Alerts that
arrive late (an older event stored after newer ones) come after the cursor
like any other. On PostgreSQL, where concurrent writers may commit rows out of
number order, a build starts a window of marks below the cursor
(``alert_mark_overlap``) and skips the alerts already in a case: the review
store keeps which case holds each alert. The cursor names the decision store
and the review threshold it was made with; for another store or threshold, or
when the alert at the cursor is gone (a store replaced by a new run), the
build reads the whole store again, as ``full=True`` does.

New alerts about a subject whose case is resolved open a new case, whose id
counts the subject's earlier resolved cases.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import msgspec

from trustwatch.decisions.model import ACTION_SEVERITY, Action, Verdict, stable_id
from trustwatch.graph.rings import RingSnapshot
from trustwatch.response.ledger import DispatchLedger
from trustwatch.review.model import (
    Case,
    Label,
    LabelKind,
    SubjectType,
)
from trustwatch.review.store import SqlReviewStore

__all__ = [
    "BuildCursor",
    "BuildSummary",
    "CaseEvidence",
    "VerdictSource",
    "build_cases",
    "case_evidence",
    "case_id_for",
    "label_features",
    "resolve_case",
]

log = logging.getLogger(__name__)

_encode = msgspec.json.Encoder().encode

#: Build-state key of the cursor (see :class:`BuildCursor`).
CURSOR_KEY = "cases.alert_cursor"
#: Alerts read from the decision store, and put into cases, per page.
PAGE_SIZE = 20_000
#: Most rings read when mapping accounts to rings.
_MAX_RINGS = 100_000
#: Tries at putting a page's alerts into cases while analysts resolve them.
_CASE_TRIES = 3


class VerdictSource(Protocol):
    """What case building needs of a decision store (SQLite or PostgreSQL)."""

    #: Marks below the cursor read again, for rows committed out of order.
    alert_mark_overlap: int

    def iter_verdicts(self) -> Iterator[Verdict]: ...

    def alerts_since(
        self, mark: int | None, *, min_score: float | None = None, limit: int = 5000
    ) -> list[tuple[int, Verdict]]: ...


class BuildCursor(msgspec.Struct, frozen=True, kw_only=True):
    """Where case building stopped in a decision store, kept in the review store.

    Attributes
    ----------
    source
        The decision store (its file, or its DSN without password and schema).
    mark
        The mark of the last alert put into a case.
    verdict_id
        That alert's id, to tell that the store still holds it there.
    review_threshold
        The review threshold the alerts were read with.
    """

    source: str
    mark: int
    verdict_id: str
    review_threshold: float | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class BuildSummary:
    """What one build did.

    Attributes
    ----------
    verdicts
        Alerts read from the decision store: those after the cursor (and, on
        PostgreSQL, the overlap window below it), or all with ``full=True``.
    alerts
        New alerts (not yet in a case) put into cases.
    cases_changed
        Cases created or given new alerts.
    cases_opened
        Of those, the new cases.
    last_verdict
        The last alert read (``None`` when none was).
    mark
        The cursor's mark after the build (``None``: nothing read yet).
    """

    verdicts: int
    alerts: int
    cases_changed: int
    cases_opened: int
    last_verdict: str | None
    mark: int | None = None


class CaseEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """Everything an analyst needs to work one case, in one place.

    Attributes
    ----------
    case
        The case itself.
    verdicts
        Its alerts, oldest first: events, signals (reasons, evidence,
        indicators) and the rules that matched.
    intel_matches
        Every threat-intel record a signal matched, with the alert and signal
        it came with.
    rings
        Snapshots of the rings the case's accounts belong to.
    actions
        Actions the policy took or recorded for the alerts.
    dispatch
        Dispatch state by action id, when a ledger was given.
    missing_verdicts
        Alert ids the decision store no longer holds.
    """

    case: Case
    verdicts: tuple[Verdict, ...] = ()
    intel_matches: tuple[dict[str, Any], ...] = ()
    rings: tuple[dict[str, Any], ...] = ()
    actions: tuple[Action, ...] = ()
    dispatch: dict[str, dict[str, Any]] = {}
    missing_verdicts: tuple[str, ...] = ()


@dataclasses.dataclass(slots=True)
class _Group:
    """New alerts about one subject, as they are collected."""

    subject_type: SubjectType
    subject: str
    accounts: tuple[str, ...]
    verdict_ids: list[str] = dataclasses.field(default_factory=list)
    kinds: set[str] = dataclasses.field(default_factory=set)
    decision: str = "allow"
    score: float = 0.0
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    def add(self, verdict: Verdict) -> None:
        self.verdict_ids.append(verdict.verdict_id)
        self.kinds.update(signal.kind for signal in verdict.signals)
        if _severity(verdict.decision) > _severity(self.decision):
            self.decision = verdict.decision
        self.score = max(self.score, verdict.score)
        self.first_seen = min(self.first_seen or verdict.ts, verdict.ts)
        self.last_seen = max(self.last_seen or verdict.ts, verdict.ts)


def _severity(decision: str) -> int:
    return ACTION_SEVERITY.get(decision, 0)


def priority_of(decision: str, score: float) -> float:
    """Return a case's priority: severity, then score (below the next severity).

    Examples
    --------
    >>> priority_of("lock_account", 0.9) > priority_of("challenge", 1.0)
    True
    """
    return round(_severity(decision) + 0.99 * min(max(score, 0.0), 1.0), 4)


def case_id_for(subject_type: str, subject: str, resolved_before: int) -> str:
    """Return the id of a subject's case after ``resolved_before`` resolved ones."""
    if resolved_before == 0:
        return stable_id("case", subject_type, subject)
    return stable_id("case", subject_type, subject, str(resolved_before))


def _title(
    case_type: str,
    subject: str,
    accounts: int,
    alerts: int,
    decision: str,
    kinds: Iterable[str],
) -> str:
    """A one-line summary: subject, alert count, strongest decision, kinds."""
    who = (
        f"ring {subject} ({accounts} accounts)"
        if case_type == "ring"
        else (f"{case_type} {subject}")
    )
    plural = "alert" if alerts == 1 else "alerts"
    kind_text = ", ".join(sorted(kinds)) or "no signals"
    return f"{who}: {alerts} {plural}, {decision} ({kind_text})"


def _ring_index(decisions: object) -> dict[str, RingSnapshot]:
    """Map each account to the riskiest stored ring that lists it."""
    read_rings = getattr(decisions, "rings", None)
    if read_rings is None:
        return {}
    index: dict[str, RingSnapshot] = {}
    for snapshot in read_rings(limit=_MAX_RINGS):
        for member in snapshot.members:
            index.setdefault(member, snapshot)
    return index


def _subject_of(
    verdict: Verdict, rings: dict[str, RingSnapshot]
) -> tuple[SubjectType, str, tuple[str, ...]] | None:
    """The case subject of an alert: its account's ring, its account, or its IP."""
    if verdict.account is not None:
        ring = rings.get(verdict.account)
        if ring is not None:
            return "ring", ring.ring_id, ring.members
        return "account", verdict.account, (verdict.account,)
    if verdict.ip is not None:
        return "ip", verdict.ip, ()
    return None


def build_cases(
    decisions: VerdictSource,
    review: SqlReviewStore,
    *,
    review_threshold: float | None = None,
    full: bool = False,
    page_size: int = PAGE_SIZE,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BuildSummary:
    """Put the decision store's new alerts into cases in the review store.

    Parameters
    ----------
    decisions
        A decision store: :class:`~trustwatch.storage.sqlite.SqliteStore` or
        :class:`~trustwatch.storage.postgres.PostgresStore` (the ring
        snapshots of either group accounts).
    review
        The review store the cases go to.
    review_threshold
        Also treat ``allow`` verdicts scoring at least this as alerts.
    full
        Read every alert of the decision store, not only those after the
        saved cursor (alerts already in a case are still skipped).
    page_size
        Alerts read, and put into cases, per step; the cursor moves after
        each page's cases are written.
    clock
        Returns "now" for the cases' creation and update times.

    Returns
    -------
    BuildSummary
        Counts of what was read and written.
    """
    rings = _ring_index(decisions)
    source = _source_name(decisions)
    saved = None if full else _saved_cursor(decisions, review, source, review_threshold)
    after = None
    if saved is not None:
        after = max(saved.mark - decisions.alert_mark_overlap, 0) or None
    totals = _Totals()
    cursor = saved
    while True:
        page = decisions.alerts_since(
            after, min_score=review_threshold, limit=max(1, page_size)
        )
        if not page:
            break
        totals.read += len(page)
        done = _case_page(page, review, rings, clock(), totals)
        if done is not None and (cursor is None or done[0] > cursor.mark):
            cursor = BuildCursor(
                source=source,
                mark=done[0],
                verdict_id=done[1],
                review_threshold=review_threshold,
            )
            review.set_state(CURSOR_KEY, _encode(cursor).decode())
        if done != (page[-1][0], page[-1][1].verdict_id):
            break  # alerts left out of cases: the next build starts at them
        after = page[-1][0]
        if len(page) < page_size:
            break
    log.info(
        "case build: %d alerts read, %d new, %d cases changed (%d new)",
        totals.read,
        totals.alerts,
        len(totals.changed),
        totals.opened,
    )
    return BuildSummary(
        totals.read,
        totals.alerts,
        len(totals.changed),
        totals.opened,
        totals.last,
        None if cursor is None else cursor.mark,
    )


@dataclasses.dataclass(slots=True)
class _Totals:
    """What a build did so far, over its pages."""

    read: int = 0
    alerts: int = 0
    opened: int = 0
    last: str | None = None
    changed: set[str] = dataclasses.field(default_factory=set)


def _source_name(decisions: object) -> str:
    """Name the decision store for the cursor: its file, or its DSN and schema."""
    path = getattr(decisions, "path", None)
    if path is not None:
        return "sqlite " + str(Path(str(path)).resolve())
    target = getattr(decisions, "target", type(decisions).__name__)
    return f"{target} schema {getattr(decisions, 'schema', '')}"


def _saved_cursor(
    decisions: VerdictSource,
    review: SqlReviewStore,
    source: str,
    review_threshold: float | None,
) -> BuildCursor | None:
    """Return the saved cursor when it still holds for this store, else ``None``."""
    text = review.state(CURSOR_KEY)
    if text is None:
        return None
    try:
        cursor = msgspec.json.decode(text, type=BuildCursor)
    except msgspec.DecodeError:
        log.warning("the case build cursor is damaged; reading every alert again")
        return None
    if cursor.source != source or cursor.review_threshold != review_threshold:
        log.info(
            "the case build cursor is for another store or review threshold; "
            "reading every alert again"
        )
        return None
    at_mark = decisions.alerts_since(
        cursor.mark - 1, min_score=review_threshold, limit=1
    )
    if not at_mark or (at_mark[0][0], at_mark[0][1].verdict_id) != (
        cursor.mark,
        cursor.verdict_id,
    ):
        log.warning(
            "the decision store no longer holds alert %s at mark %d (was it "
            "replaced?); reading every alert again",
            cursor.verdict_id,
            cursor.mark,
        )
        return None
    return cursor


def _case_page(
    page: list[tuple[int, Verdict]],
    review: SqlReviewStore,
    rings: dict[str, RingSnapshot],
    now: datetime,
    totals: _Totals,
) -> tuple[int, str] | None:
    """Put a page's alerts that are in no case yet into cases.

    Returns the mark and id of the last alert up to which every alert of the
    page is in a case (``None``: not even the first). An analyst resolving a
    case while its alerts are added makes the store leave them out; they are
    tried again, into the subject's new case.
    """
    pending = [v for _, v in page if _subject_of(v, rings) is not None]
    first_try = True
    for _ in range(_CASE_TRIES):
        cased = review.cased_verdicts(v.verdict_id for v in pending)
        pending = [v for v in pending if v.verdict_id not in cased]
        if not pending:
            break
        if first_try:
            totals.alerts += len(pending)
            first_try = False
        _write_cases(pending, review, rings, now, totals)
    else:
        cased = review.cased_verdicts(v.verdict_id for v in pending)
        pending = [v for v in pending if v.verdict_id not in cased]
    totals.last = page[-1][1].verdict_id
    left_out = {v.verdict_id for v in pending}
    done: tuple[int, str] | None = None
    for mark, verdict in page:
        if verdict.verdict_id in left_out:
            log.warning(
                "alert %s could not be put into a case; the next build tries again",
                verdict.verdict_id,
            )
            break
        done = (mark, verdict.verdict_id)
    return done


def _write_cases(
    alerts: list[Verdict],
    review: SqlReviewStore,
    rings: dict[str, RingSnapshot],
    now: datetime,
    totals: _Totals,
) -> None:
    """Group alerts per subject and write them into the subjects' cases."""
    groups: dict[tuple[str, str], _Group] = {}
    for verdict in alerts:
        subject = _subject_of(verdict, rings)
        if subject is None:
            continue
        subject_type, name, accounts = subject
        group = _Group(subject_type, name, accounts)
        groups.setdefault((subject_type, name), group).add(verdict)
    earlier = review.subject_cases(groups)
    cases = []
    for key, group in groups.items():
        case, is_new = _case_for(earlier[key], group, now)
        cases.append(case)
        totals.opened += is_new
    review.upsert_cases(cases)
    totals.changed.update(case.case_id for case in cases)


def _case_for(earlier: list[Case], group: _Group, now: datetime) -> tuple[Case, bool]:
    """The case the group's alerts go to: the subject's open one, or a new one.

    ``earlier`` holds the subject's stored cases.
    """
    open_case = next((c for c in earlier if c.status != "resolved"), None)
    resolved = sum(1 for c in earlier if c.status == "resolved")
    decision, score = group.decision, group.score
    verdict_ids = tuple(group.verdict_ids)
    kinds = set(group.kinds)
    accounts = group.accounts
    first_seen = group.first_seen or now
    last_seen = group.last_seen or now
    if open_case is not None:
        if _severity(open_case.decision) > _severity(decision):
            decision = open_case.decision
        score = max(score, open_case.score)
        verdict_ids = tuple(dict.fromkeys([*open_case.verdict_ids, *verdict_ids]))
        kinds |= set(open_case.kinds)
        accounts = tuple(dict.fromkeys([*open_case.accounts, *accounts]))
        first_seen = min(first_seen, open_case.first_seen)
        last_seen = max(last_seen, open_case.last_seen)
    case_id = (
        open_case.case_id
        if open_case is not None
        else case_id_for(group.subject_type, group.subject, resolved)
    )
    title = _title(
        group.subject_type,
        group.subject,
        len(accounts),
        len(verdict_ids),
        decision,
        kinds,
    )
    case = Case(
        case_id=case_id,
        subject_type=group.subject_type,
        subject=group.subject,
        status=open_case.status if open_case is not None else "open",
        priority=priority_of(decision, score),
        score=score,
        decision=decision,
        title=title,
        created_at=open_case.created_at if open_case is not None else now,
        updated_at=now,
        first_seen=first_seen,
        last_seen=last_seen,
        verdict_ids=verdict_ids,
        accounts=accounts,
        kinds=tuple(sorted(kinds)),
        assignee=open_case.assignee if open_case is not None else None,
    )
    return case, open_case is None


# -- evidence ---------------------------------------------------------------


def _verdicts(decisions: object, verdict_ids: tuple[str, ...]) -> list[Verdict]:
    """Read the given verdicts, by id where the store can, else by one scan."""
    lookup = getattr(decisions, "verdict", None)
    if lookup is not None:
        found = (lookup(verdict_id) for verdict_id in verdict_ids)
        return [v for v in found if v is not None]
    wanted = set(verdict_ids)
    scan: Iterator[Verdict] = decisions.iter_verdicts()  # type: ignore[attr-defined]
    return [v for v in scan if v.verdict_id in wanted]


def _actions(decisions: object, verdict_ids: tuple[str, ...]) -> list[Action]:
    """Read the actions taken for the given verdicts."""
    lookup = getattr(decisions, "actions_for", None)
    if lookup is not None:
        return [a for verdict_id in verdict_ids for a in lookup(verdict_id)]
    scan = getattr(decisions, "iter_actions", None)
    if scan is None:
        return []
    wanted = set(verdict_ids)
    return [a for a in scan() if a.verdict_id in wanted]


def _rings_of(decisions: object, case: Case) -> list[RingSnapshot]:
    """The ring snapshots the case is about, or that list its accounts."""
    if case.subject_type == "ring":
        read_ring = getattr(decisions, "ring", None)
        snapshot = read_ring(case.subject) if read_ring is not None else None
        return [snapshot] if snapshot is not None else []
    read_rings = getattr(decisions, "rings", None)
    if read_rings is None:
        return []
    found: dict[str, RingSnapshot] = {}
    for account in case.accounts:
        for snapshot in read_rings(account=account):
            found.setdefault(snapshot.ring_id, snapshot)
    return list(found.values())


def _intel_matches(verdicts: Iterable[Verdict]) -> list[dict[str, Any]]:
    return [
        {
            "verdict_id": verdict.verdict_id,
            "event_id": verdict.event_id,
            "signal_kind": signal.kind,
            "detector": signal.detector,
            "entity_type": signal.entity_type,
            "entity": signal.entity,
            "indicator": msgspec.to_builtins(indicator),
        }
        for verdict in verdicts
        for signal in verdict.signals
        for indicator in signal.indicators
    ]


def case_evidence(
    case: Case,
    decisions: VerdictSource,
    *,
    ledger: DispatchLedger | None = None,
) -> CaseEvidence:
    """Gather a case's alerts, intel matches, rings and actions in one record.

    Parameters
    ----------
    case
        The case to explain.
    decisions
        The decision store its alerts came from.
    ledger
        The dispatch ledger of that store, to add each action's dispatch
        state (pending, dispatched, failed, reversed...).
    """
    verdicts = sorted(_verdicts(decisions, case.verdict_ids), key=lambda v: v.ts)
    present = {v.verdict_id for v in verdicts}
    actions = _actions(decisions, case.verdict_ids)
    dispatch: dict[str, dict[str, Any]] = {}
    if ledger is not None:
        for action in actions:
            record = ledger.record(action.action_id)
            if record is not None:
                dispatch[action.action_id] = dataclasses.asdict(record)
    return CaseEvidence(
        case=case,
        verdicts=tuple(verdicts),
        intel_matches=tuple(_intel_matches(verdicts)),
        rings=tuple(ring.to_json() for ring in _rings_of(decisions, case)),
        actions=tuple(actions),
        dispatch=dispatch,
        missing_verdicts=tuple(v for v in case.verdict_ids if v not in present),
    )


# -- labels -----------------------------------------------------------------


def label_features(verdicts: Iterable[Verdict]) -> dict[str, Any]:
    """Return what the models saw in each alert, keyed by verdict id.

    For every alert: its event's type, time, account and address, the decision
    and score, and each signal's detector (with version), kind, score,
    entity, reasons and evidence (the detector's features).
    """
    return {
        "alerts": {
            verdict.verdict_id: {
                "event_id": verdict.event_id,
                "event_type": verdict.event_type,
                "ts": verdict.ts.isoformat(),
                "account": verdict.account,
                "ip": verdict.ip,
                "decision": verdict.decision,
                "score": verdict.score,
                "policy": verdict.policy,
                "signals": [
                    {
                        "detector": signal.detector,
                        "detector_version": signal.detector_version,
                        "kind": signal.kind,
                        "score": signal.score,
                        "entity_type": signal.entity_type,
                        "entity": signal.entity,
                        "reasons": list(signal.reasons),
                        "evidence": msgspec.to_builtins(signal.evidence),
                    }
                    for signal in verdict.signals
                ],
            }
            for verdict in verdicts
        }
    }


def resolve_case(
    review: SqlReviewStore,
    case_id: str,
    *,
    label: LabelKind,
    analyst: str,
    decisions: VerdictSource | None = None,
    action: str | None = None,
    note: str = "",
    at: datetime | None = None,
    take_over: bool = False,
) -> tuple[Case, Label]:
    """Resolve a case, storing with its label the features its alerts carried.

    The features hold the case's accounts (a ring label applies to each) and,
    when ``decisions`` is given, :func:`label_features` of its alerts.
    ``take_over`` resolves a case another analyst holds.
    """
    features: dict[str, Any] = {}
    case = review.case(case_id)
    if case is not None:
        features["accounts"] = list(case.accounts)
    if decisions is not None and case is not None:
        features.update(label_features(_verdicts(decisions, case.verdict_ids)))
    return review.resolve(
        case_id,
        label=label,
        analyst=analyst,
        action=action,
        note=note,
        features=features,
        at=at,
        take_over=take_over,
    )
