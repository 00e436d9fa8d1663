"""The JSON API under ``/api/v1``: cases, alerts, timelines, rings, intel,
policy, actions, audit log and tokens.

Reads need the ``viewer`` role; assigning and resolving cases, and reversing,
releasing and dropping actions need ``analyst``; the audit log and tokens
need ``admin``. Every change is written to the audit log with who did it and
from where. Error messages never repeat the id that was asked for, nor paths
or hosts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import AfterValidator

from trustwatch.api.auth import (
    Principal,
    audit,
    require_admin,
    require_analyst,
    require_viewer,
)
from trustwatch.api.decisions import DecisionReader, VerdictFilter, account_actions
from trustwatch.api.ring_svg import render_ring_svg
from trustwatch.api.schemas import (
    ID_PATTERN,
    MAX_ID,
    ActionOut,
    AssignRequest,
    AuditOut,
    CaseDetail,
    CaseOut,
    CasePage,
    CorrectionRequest,
    DispatchOut,
    IndicatorOut,
    PolicyOut,
    ReleaseRequest,
    ReleaseResult,
    ResolvedCaseOut,
    ResolveRequest,
    ReverseRequest,
    ReverseResult,
    RingDetail,
    RingOut,
    RuleOut,
    TimelineEntry,
    TokenCreated,
    TokenOut,
    TokenRequest,
    VerdictDetail,
    VerdictOut,
    WhoAmI,
)
from trustwatch.api.strict_json import StrictJsonRoute
from trustwatch.api.tokens import LastAdminToken, TokenExists
from trustwatch.decisions.model import Action, ActionType, Verdict
from trustwatch.errors import ConfigError
from trustwatch.graph.rings import RingSnapshot
from trustwatch.review.actions import ActionNotApplicable, resolve_with_action
from trustwatch.review.audit import taken_from
from trustwatch.review.cases import case_evidence
from trustwatch.review.model import (
    Case,
    CaseConflictError,
    CaseHeldError,
    CaseQuery,
    CaseStatus,
    SubjectType,
)

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)

Viewer = Annotated[Principal, Depends(require_viewer)]
Analyst = Annotated[Principal, Depends(require_analyst)]
Admin = Annotated[Principal, Depends(require_admin)]
PathId = Annotated[str, Path(min_length=1, max_length=MAX_ID, pattern=ID_PATTERN)]
QueryId = Annotated[
    str | None, Query(min_length=1, max_length=MAX_ID, pattern=ID_PATTERN)
]


def _one_kind(kind: str | None) -> str | None:
    if kind is not None and any(c.isspace() for c in kind):
        raise ValueError("a signal kind holds no spaces: give one kind")
    return kind


#: One signal kind (``brute_force``): kinds hold no spaces, and text with one
#: would read as two kinds to a store that joins them with spaces.
KindQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_ID, pattern=ID_PATTERN),
    AfterValidator(_one_kind),
]
#: An account name as the stores keep it: any text (NUL and bidi characters
#: included, since hostile data holds them), matched exactly.
AccountQuery = Annotated[str | None, Query(min_length=1, max_length=MAX_ID)]
AccountPath = Annotated[str, Path(min_length=1, max_length=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
DecisionName = ActionType
DispatchState = Literal[
    "pending", "held", "dispatched", "failed", "reversed", "expired"
]


def _not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no such {what}")


def _reader(request: Request) -> DecisionReader:
    found: DecisionReader = request.app.state.reader
    return found


# -- conversions -------------------------------------------------------------


def case_out(case: Case) -> CaseOut:
    """Return a case as its response body."""
    return CaseOut.model_validate(msgspec.to_builtins(case))


def verdict_out(verdict: Verdict) -> VerdictOut:
    """Return a verdict as its response body."""
    body = msgspec.to_builtins(verdict)
    return VerdictOut(
        verdict_id=verdict.verdict_id,
        event_id=verdict.event_id,
        event_type=verdict.event_type,
        ts=verdict.ts,
        account=verdict.account,
        ip=verdict.ip,
        decision=verdict.decision,
        score=verdict.score,
        kinds=sorted({signal.kind for signal in verdict.signals}),
        policy=verdict.policy,
        signals=body["signals"],
        rules=body["rules"],
    )


def action_out(action: Action, request: Request) -> ActionOut:
    """Return an action with its dispatch state, when a ledger is configured."""
    dispatch = None
    ledger = request.app.state.ledger
    if ledger is not None and action.mode == "enforce":
        record = ledger.record(action.action_id)
        if record is not None:
            dispatch = DispatchOut(
                dispatch_id=record.action_id,
                state=record.state,
                attempts=record.attempts,
                last_error=record.last_error,
                dispatched_at=record.dispatched_at,
                due_at=record.due_at,
                reversal_of=record.reversal_of,
            )
    return ActionOut(
        action_id=action.action_id,
        verdict_id=action.verdict_id,
        type=action.type,
        target_type=action.target_type,
        target=action.target,
        mode=action.mode,
        actor=action.actor,
        reason=action.reason,
        created_at=action.created_at,
        expires_at=action.expires_at,
        dispatch=dispatch,
    )


def ring_out(ring: RingSnapshot) -> RingOut:
    """Return a ring's summary."""
    return RingOut(
        ring_id=ring.ring_id,
        method=ring.method,
        size=ring.size,
        risk=ring.risk,
        reasons=list(ring.reasons),
        founded=datetime.fromtimestamp(ring.founded, UTC),
        updated=datetime.fromtimestamp(ring.updated, UTC),
    )


# -- who -----------------------------------------------------------------------


@router.get("/whoami", response_model=WhoAmI, tags=["sign-in"])
def whoami(principal: Viewer) -> WhoAmI:
    """Return the signed-in principal's name and role."""
    return WhoAmI(name=principal.name, role=principal.role)


# -- cases ---------------------------------------------------------------------


@router.get("/cases", response_model=CasePage, tags=["cases"])
def list_cases(
    request: Request,
    _: Viewer,
    status: CaseStatus | None = None,
    assignee: QueryId = None,
    subject_type: SubjectType | None = None,
    account: AccountQuery = None,
    kind: KindQuery = None,
    limit: Limit = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CasePage:
    """List cases by priority, highest first, with filters and paging.

    ``kind`` keeps the cases with an alert whose signal is of that kind
    (``intel_url``, ``brute_force``...).
    """
    query = CaseQuery(
        status=status,
        assignee=assignee,
        subject_type=subject_type,
        account=account,
        kind=kind,
        limit=limit,
        offset=offset,
    )
    found = request.app.state.review.cases(query)
    return CasePage(items=[case_out(c) for c in found], limit=limit, offset=offset)


@router.get("/cases/{case_id}", response_model=CaseDetail, tags=["cases"])
def get_case(request: Request, _: Viewer, case_id: PathId) -> CaseDetail:
    """Return a case with its evidence: alerts, actions and related rings."""
    case = request.app.state.review.case(case_id)
    if case is None:
        raise _not_found("case")
    return CaseDetail(case=case_out(case), evidence=_case_evidence(case, request))


def _case_evidence(case: Case, request: Request) -> dict[str, Any]:
    """The case's alerts, intel matches, rings and actions with dispatch state."""
    ledger = request.app.state.ledger
    evidence = case_evidence(
        case,
        request.app.state.decisions,
        ledger=ledger.get() if ledger is not None else None,
    )
    body: dict[str, Any] = msgspec.to_builtins(evidence)
    del body["case"]
    return body


@router.post("/cases/{case_id}/assign", response_model=CaseOut, tags=["cases"])
def assign_case(
    request: Request, principal: Analyst, case_id: PathId, body: AssignRequest
) -> CaseOut:
    """Give a case to an analyst, or back to the queue with ``null``.

    A case another analyst holds changes hands only when an admin asks
    (409 for others); the audit entry names whom it was taken from.
    """
    review = request.app.state.review
    before = review.case(case_id)
    if before is None:
        raise _not_found("case")
    assignee = body.assignee
    if assignee is not None:
        try:
            assignee = request.app.state.auth.assignee(assignee)
        except ConfigError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
    try:
        case = review.assign(
            case_id,
            assignee,
            by=principal.name,
            take_over=principal.allows("admin"),
        )
    except CaseHeldError as exc:
        raise _held(exc) from None
    except (CaseConflictError, ConfigError):
        raise HTTPException(
            status_code=409, detail="the case cannot be assigned"
        ) from None
    changed = before.assignee != assignee
    detail: dict[str, object] = {
        "assignee": assignee,
        **(taken_from(before, principal.name) if changed else {}),
    }
    audit(request, principal, "assign", "case", case_id, detail)
    return case_out(case)


def _held(exc: CaseHeldError) -> HTTPException:
    return HTTPException(
        status_code=409,
        detail=f"the case is assigned to {exc.assignee}; they can hand it back, "
        "or an admin can take it over",
    )


@router.post("/cases/{case_id}/resolve", response_model=ResolvedCaseOut, tags=["cases"])
def resolve_case(
    request: Request, principal: Analyst, case_id: PathId, body: ResolveRequest
) -> ResolvedCaseOut:
    """Close a case with a label (kept for training) and the action taken.

    An action is checked against the case's subject first (422 when it does
    not apply), then recorded in the decision store in ``enforce`` mode by
    ``analyst:NAME`` for ``trustwatch dispatch``, as ``cases resolve`` does.
    """
    review = request.app.state.review
    before = review.case(case_id)
    if before is None:
        raise _not_found("case")
    try:
        case, label, taken = resolve_with_action(
            review,
            case_id,
            label=body.label,
            analyst=principal.name,
            action=body.action,
            write_actions=lambda actions: _write_actions(request, actions),
            decisions=request.app.state.decisions,
            note=body.note,
            take_over=principal.allows("admin"),
        )
    except ActionNotApplicable as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except CaseHeldError as exc:
        raise _held(exc) from None
    except CaseConflictError as exc:
        # says who resolved it and when, and how to correct its label
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except ConfigError:
        raise HTTPException(
            status_code=409, detail="the case cannot be resolved"
        ) from None
    action_ids = [a.action_id for a in taken]
    audit(
        request,
        principal,
        "resolve",
        "case",
        case_id,
        {
            "label": body.label,
            "action": body.action,
            "label_id": label.label_id,
            "actions": action_ids,
            **taken_from(before, principal.name),
        },
    )
    return ResolvedCaseOut(**case_out(case).model_dump(), action_ids=action_ids)


@router.post("/cases/{case_id}/correction", response_model=CaseOut, tags=["cases"])
def correct_case(
    request: Request, principal: Analyst, case_id: PathId, body: CorrectionRequest
) -> CaseOut:
    """Correct a resolved case's label, as ``cases correct`` does.

    The earlier label stays on record; training follows the later one.
    Actions taken at resolution stand (reverse them on their own).
    """
    review = request.app.state.review
    found = review.case(case_id)
    if found is None:
        raise _not_found("case")
    if found.status != "resolved":
        raise HTTPException(
            status_code=409, detail="the case is not resolved: resolve it instead"
        )
    if found.label == body.label:
        raise HTTPException(status_code=409, detail="the case has that label already")
    try:
        case, label = review.correct(
            case_id, label=body.label, analyst=principal.name, note=body.note
        )
    except (CaseConflictError, ConfigError):
        raise HTTPException(
            status_code=409,
            detail="the case changed meanwhile; read it again and retry",
        ) from None
    audit(
        request,
        principal,
        "correct",
        "case",
        case_id,
        {"label": body.label, "label_id": label.label_id},
    )
    return case_out(case)


def _write_actions(request: Request, actions: Iterable[Action]) -> None:
    """Record analysts' actions through a short-lived writable store handle."""
    store = request.app.state.open_writable_decisions()
    try:
        store.write_actions(actions)
    finally:
        store.close()


# -- alerts --------------------------------------------------------------------


@router.get("/alerts", response_model=list[VerdictOut], tags=["alerts"])
def list_alerts(
    request: Request,
    _: Viewer,
    decision: DecisionName | None = None,
    account: AccountQuery = None,
    ip: QueryId = None,
    kind: KindQuery = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: QueryId = None,
    include_allow: bool = False,
    limit: Limit = 50,
) -> list[VerdictOut]:
    """List verdicts, newest first (those of one time by verdict id, highest
    first).

    ``since`` and ``until`` filter by time (``since <= ts < until``). To page,
    pass the last ``verdict_id`` of a page as ``after``: the next page starts
    right after it, without loss or repeats. Paging with ``until`` would skip
    the verdicts sharing the last one's time. An ``after`` that names no
    stored verdict is refused with 422.
    """
    for moment in (since, until):
        if moment is None:
            continue
        if moment.tzinfo is None:
            raise HTTPException(status_code=422, detail="times need a zone, e.g. Z")
        try:
            moment.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
            raise HTTPException(
                status_code=422, detail="times must lie within years 1 to 9999 in UTC"
            ) from None
    wanted = VerdictFilter(
        decision=decision,
        alerts_only=not include_allow and decision != "allow",
        account=account,
        ip=ip,
        kind=kind,
        since=since,
        until=until,
        after=after,
        limit=limit,
    )
    try:
        found = _reader(request).verdicts(wanted)
    except ConfigError:
        raise HTTPException(
            status_code=422, detail="after: no stored verdict has that id"
        ) from None
    return [verdict_out(v) for v in found]


@router.get("/alerts/{verdict_id}", response_model=VerdictDetail, tags=["alerts"])
def get_alert(request: Request, _: Viewer, verdict_id: PathId) -> VerdictDetail:
    """Return one verdict (by its id or its event's) with its actions."""
    reader = _reader(request)
    verdict = reader.verdict(verdict_id)
    if verdict is None:
        raise _not_found("verdict")
    actions = reader.actions_for({verdict.verdict_id})
    return VerdictDetail(
        verdict=verdict_out(verdict),
        actions=[action_out(a, request) for a in actions],
    )


# -- accounts ------------------------------------------------------------------


@router.get(
    "/accounts/{account}/timeline",
    response_model=list[TimelineEntry],
    tags=["accounts"],
)
def account_timeline(
    request: Request, _: Viewer, account: AccountPath, limit: Limit = 200
) -> list[TimelineEntry]:
    """Verdicts (allow ones too), actions, dispatch states, cases and labels
    about an account, oldest first."""
    reader = _reader(request)
    verdicts = reader.verdicts(
        VerdictFilter(account=account, alerts_only=False, limit=limit)
    )
    entries = [_verdict_entry(v) for v in verdicts]
    review = request.app.state.review
    cases = review.cases(CaseQuery(account=account, limit=limit))
    for action in account_actions(reader, account, verdicts, cases):
        shown = action_out(action, request)
        entries.append(
            TimelineEntry(
                at=action.created_at,
                kind="action",
                id=action.action_id,
                summary=f"{action.type} ({action.mode})",
                detail=shown.model_dump(mode="json", exclude={"dispatch"}),
            )
        )
        if shown.dispatch is not None and shown.dispatch.dispatched_at:
            entries.append(
                TimelineEntry(
                    at=_parse_utc(shown.dispatch.dispatched_at),
                    kind="dispatch",
                    id=action.action_id,
                    summary=f"{action.type}: {shown.dispatch.state}",
                    detail=shown.dispatch.model_dump(mode="json"),
                )
            )
    for case in cases:
        entries.append(
            TimelineEntry(
                at=case.created_at,
                kind="case",
                id=case.case_id,
                summary=f"case {case.status}: {case.title}",
                detail={"status": case.status, "assignee": case.assignee},
            )
        )
    # a ring's label is about each member the case listed
    ring_cases = {c.case_id for c in cases if c.subject_type == "ring"}
    labels = [
        *(x for x in review.labels(subject_type="account") if x.subject == account),
        *(x for x in review.labels(subject_type="ring") if x.case_id in ring_cases),
    ]
    for label in labels:
        entries.append(
            TimelineEntry(
                at=label.labelled_at,
                kind="label",
                id=label.label_id,
                summary=f"labelled {label.kind} by {label.analyst}",
                detail={"kind": label.kind, "case_id": label.case_id},
            )
        )
    entries.sort(key=lambda e: (e.at, e.kind, e.id))
    return entries[-limit:]


def _verdict_entry(verdict: Verdict) -> TimelineEntry:
    kinds = ", ".join(sorted({s.kind for s in verdict.signals})) or "no signal"
    return TimelineEntry(
        at=verdict.ts,
        kind="verdict",
        id=verdict.verdict_id,
        summary=f"{verdict.event_type}: {verdict.decision} ({kinds})",
        detail={"score": verdict.score, "decision": verdict.decision},
    )


def _parse_utc(text: str) -> datetime:
    from trustwatch.response.ledger import parse_utc

    return parse_utc(text)


# -- rings ---------------------------------------------------------------------


@router.get("/rings", response_model=list[RingOut], tags=["rings"])
def list_rings(
    request: Request,
    _: Viewer,
    min_risk: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
    account: AccountQuery = None,
    limit: Limit = 50,
) -> list[RingOut]:
    """List rings, riskiest first."""
    found = _reader(request).rings(min_risk=min_risk, account=account, limit=limit)
    return [ring_out(r) for r in found]


@router.get("/rings/{ring_id}", response_model=RingDetail, tags=["rings"])
def get_ring(request: Request, _: Viewer, ring_id: PathId) -> RingDetail:
    """Return a ring with its members and the evidence they share."""
    ring = _reader(request).ring(ring_id)
    if ring is None:
        raise _not_found("ring")
    return RingDetail(
        **ring_out(ring).model_dump(),
        members=list(ring.members),
        evidence=[(a, n) for a, n in ring.evidence],
        holdings={m: list(h) for m, h in ring.holdings.items()},
        evidence_kinds=ring.kinds(),
    )


@router.get(
    "/rings/{ring_id}/picture.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
    tags=["rings"],
)
def ring_picture(request: Request, _: Viewer, ring_id: PathId) -> Response:
    """Draw a ring as SVG: members, shared evidence (kind and digest), links."""
    ring = _reader(request).ring(ring_id)
    if ring is None:
        raise _not_found("ring")
    return Response(render_ring_svg(ring), media_type="image/svg+xml")


# -- indicators ----------------------------------------------------------------


@router.get("/indicators", response_model=list[IndicatorOut], tags=["intel"])
def search_indicators(
    request: Request,
    _: Viewer,
    value: Annotated[str, Query(min_length=1, max_length=2048, pattern=ID_PATTERN)],
) -> list[IndicatorOut]:
    """Look a value up in the synced intel database (nothing is fetched)."""
    intel = request.app.state.intel
    if intel is None:
        raise HTTPException(status_code=404, detail="no intel database configured")
    now = datetime.now(UTC)
    found = []
    for stored in intel.lookup(value):
        record = msgspec.to_builtins(stored.indicator)
        found.append(
            IndicatorOut(
                feed=str(record.get("feed", "")),
                type=str(record.get("type", "")),
                value=str(record.get("value", "")),
                live=stored.is_live(now),
                first_synced=stored.first_synced,
                last_synced=stored.last_synced,
                record=record,
            )
        )
    return found


# -- policy --------------------------------------------------------------------


@router.get("/policies", response_model=PolicyOut, tags=["policy"])
def current_policy(request: Request, _: Viewer) -> PolicyOut:
    """Return the loaded policy: its version, digest, rules and their modes."""
    policy = request.app.state.policy
    rules = [
        RuleOut(
            id=rule.id,
            signals=sorted(rule.signals),
            min_score=rule.min_score,
            action=rule.action,
            target=rule.target,
            mode=rule.mode,
            expires_seconds=rule.expires.total_seconds() if rule.expires else None,
            description=rule.description,
        )
        for rule in policy.rules
    ]
    return PolicyOut(
        name=policy.name,
        version=policy.version,
        ref=policy.ref,
        digest=policy.digest,
        modes=dict(Counter(rule.mode for rule in policy.rules)),
        rules=rules,
    )


# -- actions -------------------------------------------------------------------


@router.get("/actions", response_model=list[ActionOut], tags=["actions"])
def list_actions(
    request: Request,
    _: Viewer,
    state: DispatchState | None = None,
    type: DecisionName | None = None,
    limit: Limit = 100,
) -> list[ActionOut]:
    """List actions with their dispatch state (newest due first).

    Without a dispatch ledger, the actions of the newest alerts are listed,
    newest first, with no dispatch state.
    """
    ledger = request.app.state.ledger
    if ledger is None:
        if state is not None:
            raise HTTPException(status_code=404, detail="no dispatch ledger configured")
        # without a ledger, a type filter looks among the newest alerts' actions
        found = _reader(request).actions(limit if type is None else 500)
        found = [a for a in found if type is None or a.type == type][:limit]
        return [action_out(a, request) for a in found]
    shown = []
    for record, action in ledger.listing(state, type, limit):
        out = action_out(action, request)
        out.dispatch = DispatchOut(
            dispatch_id=record.action_id,
            state=record.state,
            attempts=record.attempts,
            last_error=record.last_error,
            dispatched_at=record.dispatched_at,
            due_at=record.due_at,
            reversal_of=record.reversal_of,
        )
        shown.append(out)
    return shown


def _enforced_ledger(request: Request, action_id: str, verb: str) -> Any:
    """The dispatch ledger, once ``action_id`` is known to be an enforced action.

    404 without a ledger or without the action; 409 for an action recorded
    in another mode (only enforced actions can be ``verb``).
    """
    ledger = request.app.state.ledger
    if ledger is None:
        raise HTTPException(status_code=404, detail="no dispatch ledger configured")
    action = ledger.action(action_id)
    if action is None:
        raise _not_found("action")
    if action.mode != "enforce":
        raise HTTPException(
            status_code=409, detail=f"only enforced actions can be {verb}"
        )
    return ledger


@router.post(
    "/actions/{action_id}/reverse", response_model=ReverseResult, tags=["actions"]
)
def reverse(
    request: Request, principal: Analyst, action_id: PathId, body: ReverseRequest
) -> ReverseResult:
    """Reverse an enforced action: queued to the platform if it was sent."""
    from trustwatch.response.dispatch import reverse_action

    ledger = _enforced_ledger(request, action_id, "reversed")
    try:
        outcome = reverse_action(
            ledger.get(), action_id, principal.name, body.reason, datetime.now(UTC)
        )
    except ConfigError:
        raise HTTPException(
            status_code=409, detail="the action is already reversed or is a reversal"
        ) from None
    audit(
        request,
        principal,
        "reverse",
        "action",
        action_id,
        {"reason": body.reason, "outcome": outcome},
    )
    reversal = ledger.get().reversal_of(action_id)
    return ReverseResult(
        action_id=action_id,
        outcome=outcome,
        reversal_id=reversal.reversal_id if reversal is not None else None,
    )


def _decide_held(
    request: Request,
    principal: Principal,
    action_id: str,
    reason: str,
    decision: Literal["release", "drop"],
) -> ReleaseResult:
    """Release or drop an action the breaker held, and audit who did it."""
    opened = _enforced_ledger(request, action_id, "held").get()
    decide = opened.release if decision == "release" else opened.drop
    try:
        outcome = decide(action_id, principal.name, reason, datetime.now(UTC))
    except ConfigError:
        raise HTTPException(
            status_code=409, detail="the action is not held by the breaker"
        ) from None
    record = opened.record(action_id)
    audit(
        request,
        principal,
        decision,
        "action",
        action_id,
        {"reason": reason, "outcome": outcome},
    )
    return ReleaseResult(
        action_id=action_id,
        state=record.state if record is not None else "unknown",
        outcome=outcome,
    )


@router.post(
    "/actions/{action_id}/release", response_model=ReleaseResult, tags=["actions"]
)
def release(
    request: Request, principal: Analyst, action_id: PathId, body: ReleaseRequest
) -> ReleaseResult:
    """Send an action the breaker held after all: it is due now."""
    return _decide_held(request, principal, action_id, body.reason, "release")


@router.post(
    "/actions/{action_id}/drop", response_model=ReleaseResult, tags=["actions"]
)
def drop(
    request: Request, principal: Analyst, action_id: PathId, body: ReleaseRequest
) -> ReleaseResult:
    """Keep an action the breaker held from ever being sent (it is reversed)."""
    return _decide_held(request, principal, action_id, body.reason, "drop")


# -- audit log and tokens (admin) ------------------------------------------------


@router.get("/audit", response_model=list[AuditOut], tags=["admin"])
def audit_log(
    request: Request, _: Admin, actor: QueryId = None, limit: Limit = 100
) -> list[AuditOut]:
    """Return the audit log, newest first."""
    entries = request.app.state.review.audit_log(actor=actor, limit=limit)
    return [AuditOut.model_validate(msgspec.to_builtins(e)) for e in entries]


def _token_file(request: Request) -> Any:
    tokens = request.app.state.auth.tokens
    if tokens is None:
        raise HTTPException(status_code=404, detail="no token file configured")
    return tokens


@router.get("/tokens", response_model=list[TokenOut], tags=["admin"])
def list_tokens(request: Request, _: Admin) -> list[TokenOut]:
    """List API tokens by name and role (never the tokens or their digests)."""
    return [
        TokenOut(name=t.name, role=t.role, created_at=t.created_at)
        for t in _token_file(request).tokens()
    ]


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["admin"])
def create_token(
    request: Request, principal: Admin, body: TokenRequest
) -> TokenCreated:
    """Create a token; the response shows it this once."""
    tokens = _token_file(request)
    if request.app.state.auth.signed_in_without_token(body.name):
        raise HTTPException(
            status_code=409,
            detail="a user of that name is signed in through the identity provider",
        )
    try:
        token, created = tokens.issue(body.name, body.role)
    except TokenExists:
        raise HTTPException(
            status_code=409, detail="a token of that name exists"
        ) from None
    audit(request, principal, "token.add", "token", body.name, {"role": body.role})
    return TokenCreated(
        name=created.name, role=created.role, created_at=created.created_at, token=token
    )


@router.delete("/tokens/{name}", status_code=204, tags=["admin"])
def revoke_token(request: Request, principal: Admin, name: PathId) -> Response:
    """Revoke a token at once: requests carrying it get 401, and the console
    sessions opened with it end. The last admin token stays while no
    identity provider can sign admins in (409): without it no one could
    manage tokens through the API again."""
    tokens = _token_file(request)
    try:
        revoked = tokens.revoke(name, keep_an_admin=request.app.state.auth.jwt is None)
    except LastAdminToken:
        raise HTTPException(
            status_code=409,
            detail="this is the last admin token; hint: add another admin token "
            "first, or revoke it on the server (`trustwatch serve token revoke`)",
        ) from None
    if not revoked:
        raise _not_found("token")
    ended = request.app.state.auth.end_sessions_of(name)
    audit(request, principal, "token.revoke", "token", name, {"sessions": ended})
    return Response(status_code=204)
