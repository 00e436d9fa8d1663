"""Request and response bodies of the API (pydantic models).

Every id taken from a request is at most :data:`MAX_ID` characters with no
control characters (a NUL or a newline is refused with 422 before any store
sees it); enums are checked against the values the core knows.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from trustwatch.review.actions import ANALYST_ACTIONS
from trustwatch.review.model import CaseStatus, LabelKind, SubjectType
from trustwatch.text import shows_something

__all__ = [
    "ID_PATTERN",
    "MAX_ID",
    "MAX_NOTE",
    "ActionOut",
    "AssignRequest",
    "AuditOut",
    "CaseDetail",
    "CaseOut",
    "CasePage",
    "DispatchOut",
    "Identifier",
    "IndicatorOut",
    "PolicyOut",
    "ReleaseRequest",
    "ReleaseResult",
    "ResolveRequest",
    "ResolvedCaseOut",
    "ReverseRequest",
    "ReverseResult",
    "RingDetail",
    "RingOut",
    "RuleOut",
    "TimelineEntry",
    "TokenCreated",
    "TokenOut",
    "TokenRequest",
    "VerdictDetail",
    "VerdictOut",
    "WhoAmI",
    "note_reads_as_written",
    "reads_as_written",
]

MAX_ID = 256
#: No control characters (C0, DEL), at least one character.
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID, pattern=ID_PATTERN)
]


def reads_as_written(value: str) -> bool:
    """Whether text reads as it is wherever it is shown.

    Something that shows (not only spaces, format characters such as
    zero-width spaces, or letters drawn blank such as the Hangul filler);
    no control character (a line break, a terminal escape), no line or
    paragraph separator, and none of the bidi embeddings, overrides and
    isolates that show text in another order than it is stored. Joiners and
    direction marks stay beside visible text: scripts and emoji need them.
    """
    return shows_something(value) and not any(
        c in _REORDERING or unicodedata.category(c) in _UNPRINTED for c in value
    )


def _shown_as_written(value: str) -> str:
    if not reads_as_written(value):
        raise ValueError("must not be blank or hold control or format characters")
    return value


_UNPRINTED = frozenset({"Cc", "Cs", "Zl", "Zp"})

_REORDERING = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


_NOTE_BREAKS = frozenset("\r\n\t")


def note_reads_as_written(value: str) -> bool:
    """Whether a note is shown as it is stored.

    A note may run over lines (line breaks and tabs stay); no other control
    character, no line or paragraph separator, and no bidi reordering.
    """
    return not any(
        c in _REORDERING
        or (unicodedata.category(c) in _UNPRINTED and c not in _NOTE_BREAKS)
        for c in value
    )


def _note_as_written(value: str) -> str:
    if not note_reads_as_written(value):
        raise ValueError("must not hold control or format characters")
    return value


#: The longest note kept with a case and its label, in characters.
MAX_NOTE = 2000
#: Free text kept with a case and its label.
Note = Annotated[
    str, StringConstraints(max_length=MAX_NOTE), AfterValidator(_note_as_written)
]
#: A person's name as it is recorded and shown (an assignee).
ShownName = Annotated[Identifier, AfterValidator(_shown_as_written)]
#: Why an analyst did something, recorded in the ledger and the audit log.
Reason = Annotated[
    str,
    StringConstraints(min_length=1, max_length=500),
    AfterValidator(_shown_as_written),
]
if TYPE_CHECKING:
    ResolutionAction = str
else:
    #: ``none`` or one of the actions an analyst can take (the CLI's list too).
    ResolutionAction = Literal[("none", *ANALYST_ACTIONS)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WhoAmI(_Body):
    """The signed-in principal."""

    name: str
    role: str


class CaseOut(_Body):
    """A case in the review queue."""

    case_id: str
    subject_type: SubjectType
    subject: str
    status: CaseStatus
    priority: float
    score: float
    decision: str
    title: str
    created_at: datetime
    updated_at: datetime
    first_seen: datetime
    last_seen: datetime
    verdict_ids: list[str]
    accounts: list[str]
    kinds: list[str]
    assignee: str | None
    label: LabelKind | None
    resolution_action: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    note: str


class ResolvedCaseOut(CaseOut):
    """A case just resolved, with the ids of the actions the analyst took."""

    action_ids: list[str] = Field(default_factory=list)


class CasePage(_Body):
    """One page of cases, highest priority first."""

    items: list[CaseOut]
    limit: int
    offset: int


class VerdictOut(_Body):
    """One verdict (an alert when its decision is not ``allow``)."""

    verdict_id: str
    event_id: str
    event_type: str
    ts: datetime
    account: str | None
    ip: str | None
    decision: str
    score: float
    kinds: list[str]
    policy: str
    signals: list[dict[str, Any]]
    rules: list[dict[str, Any]]


class DispatchOut(_Body):
    """Where an enforced action is in dispatch.

    ``dispatch_id`` is the dispatch row's own id: the action's, or for a
    reversal (``reversal_of`` set) the reversal's, as `trustwatch actions`
    shows it.
    """

    dispatch_id: str
    state: str
    attempts: int
    last_error: str | None
    dispatched_at: str | None
    due_at: str
    reversal_of: str | None


class ActionOut(_Body):
    """An action a verdict started, with its dispatch state when known."""

    action_id: str
    verdict_id: str
    type: str
    target_type: str
    target: str
    mode: str
    actor: str
    reason: str
    created_at: datetime
    expires_at: datetime | None
    dispatch: DispatchOut | None = None


class VerdictDetail(_Body):
    """A verdict with the actions it started."""

    verdict: VerdictOut
    actions: list[ActionOut]


class CaseDetail(_Body):
    """A case with its evidence: alerts, their actions, and the related rings."""

    case: CaseOut
    evidence: dict[str, Any]


class AssignRequest(_Body):
    """Give a case to an analyst; ``null`` hands it back to the queue.

    ``assignee`` must be given: an empty body is a mistake, not a hand-back.
    """

    assignee: ShownName | None


class ResolveRequest(_Body):
    """Close a case with a label, and the action taken (``none`` for none)."""

    label: LabelKind
    action: ResolutionAction = "none"
    note: Note = ""


class CorrectionRequest(_Body):
    """A resolved case's corrected label, and why."""

    label: LabelKind
    note: Note = ""


class ReverseRequest(_Body):
    """Why an action is reversed (recorded with the reversal)."""

    reason: Reason


class ReverseResult(_Body):
    """What the reversal did; ``reversal_id`` names the reversal's record."""

    action_id: str
    outcome: str
    reversal_id: str | None = None


class ReleaseRequest(_Body):
    """Why an action the breaker held is released or dropped (recorded)."""

    reason: Reason


class ReleaseResult(_Body):
    """What releasing or dropping a held action did, and its state now."""

    action_id: str
    state: str
    outcome: str


class TimelineEntry(_Body):
    """One thing that happened to an account, in time order."""

    at: datetime
    kind: Literal["verdict", "action", "dispatch", "label", "case"]
    id: str
    summary: str
    detail: dict[str, Any]


class RingOut(_Body):
    """A ring's summary."""

    ring_id: str
    method: str
    size: int
    risk: float
    reasons: list[str]
    founded: datetime
    updated: datetime


class RingDetail(RingOut):
    """A ring with its members and the evidence they share."""

    members: list[str]
    evidence: list[tuple[str, int]]
    holdings: dict[str, list[str]]
    evidence_kinds: dict[str, int]


class IndicatorOut(_Body):
    """One synced intel record for a value."""

    feed: str
    type: str
    value: str
    live: bool
    first_synced: datetime
    last_synced: datetime
    record: dict[str, Any]


class RuleOut(_Body):
    """One policy rule."""

    id: str
    signals: list[str]
    min_score: float
    action: str
    target: str
    mode: str
    expires_seconds: float | None
    description: str


class PolicyOut(_Body):
    """The policy the service loaded."""

    name: str
    version: str
    ref: str
    digest: str
    modes: dict[str, int]
    rules: list[RuleOut]


class AuditOut(_Body):
    """One audit log entry."""

    entry_id: str
    at: datetime
    actor: str
    role: str
    action: str
    target_type: str
    target: str
    detail: dict[str, Any]
    source: str


class TokenOut(_Body):
    """A stored API token: its name and role, never the token or its digest."""

    name: str
    role: str
    created_at: str


class TokenRequest(_Body):
    """A new token's name and role."""

    name: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    ]
    role: Literal["viewer", "analyst", "admin"]


class TokenCreated(TokenOut):
    """A new token: shown this once, stored only as a digest."""

    token: str = Field(description="The token; it cannot be shown again.")
