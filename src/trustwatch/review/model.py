"""The review side's records: cases, analyst labels and the audit log.

A *case* gathers the alerts (verdicts at or above the review threshold) about
one subject, an account or a ring, so that an analyst works it once. Resolving
a case records a *label* (an abuse kind, or ``benign``) for its subject, with
the features the models saw at the time, and optionally an action an analyst
takes. Every analyst action, through the API or the command line, is written
to the *audit log*.

The stores behind :class:`ReviewStore` (embedded SQLite, or PostgreSQL when
running as a service) hold these records; :mod:`trustwatch.review.store`
opens one from a path or a ``postgresql://`` address.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, TypeAlias

import msgspec

from trustwatch.errors import TrustwatchError

__all__ = [
    "LABEL_KINDS",
    "AuditEntry",
    "Case",
    "CaseConflictError",
    "CaseHeldError",
    "CaseNotFoundError",
    "CaseQuery",
    "CaseStatus",
    "Label",
    "LabelKind",
    "ReviewStore",
    "SubjectType",
]

CaseStatus: TypeAlias = Literal["open", "assigned", "resolved"]
SubjectType: TypeAlias = Literal["account", "ring", "link", "file", "ip"]
LabelKind: TypeAlias = Literal[
    "benign",
    "account_takeover",
    "credential_attack",
    "phishing",
    "malware",
    "spam",
    "fake_account",
    "coordinated_ring",
    "other_abuse",
]
#: Every label an analyst may give; all but ``benign`` mean abuse.
LABEL_KINDS: tuple[str, ...] = LabelKind.__args__  # type: ignore[attr-defined]


class Case(msgspec.Struct, frozen=True, kw_only=True):
    """Alerts about one subject, worked by one analyst at a time.

    Attributes
    ----------
    case_id
        Derived from the subject (``stable_id("case", type, id)`` plus the
        number of earlier resolved cases of that subject), so rebuilding cases
        from the same alerts gives the same ids.
    subject_type, subject
        What the case is about: an account, or a ring and its members.
    status
        ``open`` (nobody on it), ``assigned`` or ``resolved``.
    priority
        Higher is more urgent: the strongest decision's severity and the
        highest score, so locks before reviews and sure before unsure.
    verdict_ids
        The alerts in the case, oldest first.
    accounts
        Accounts the case concerns (one for an account case, the members for
        a ring).
    label, resolution_action, resolved_by, resolved_at, note
        Set when the case is resolved.
    """

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
    verdict_ids: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    assignee: str | None = None
    label: LabelKind | None = None
    resolution_action: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    note: str = ""


class Label(msgspec.Struct, frozen=True, kw_only=True):
    """An analyst's verdict on a subject, kept for training.

    ``observed_at`` is the time of the newest event the label is about (what
    the models saw); ``labelled_at`` is when the analyst gave it. Training
    replays labels by ``labelled_at``, so a model learns a label only from the
    moment it existed. ``features`` holds the signals' scores, reasons and
    features as they were in the case's alerts.
    """

    label_id: str
    subject_type: SubjectType
    subject: str
    kind: LabelKind
    analyst: str
    labelled_at: datetime
    observed_at: datetime
    case_id: str | None = None
    verdict_ids: tuple[str, ...] = ()
    features: dict[str, Any] = {}
    note: str = ""

    @property
    def abusive(self) -> bool:
        """True for every kind but ``benign``."""
        return self.kind != "benign"


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One thing a person did: who, what, to what, when and from where."""

    entry_id: str
    at: datetime
    actor: str
    role: str
    action: str
    target_type: str
    target: str
    detail: dict[str, Any] = {}
    source: str = ""


class CaseQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Filters for listing cases; ``None`` means any.

    ``kind`` keeps the cases with an alert whose signal is of that kind
    (``intel_url``, ``brute_force``...), as listed in :attr:`Case.kinds`.
    """

    status: CaseStatus | None = None
    assignee: str | None = None
    subject_type: SubjectType | None = None
    account: str | None = None
    limit: int = 50
    offset: int = 0
    subject: str | None = None
    kind: str | None = None


class CaseNotFoundError(TrustwatchError, LookupError):
    """No case has the id asked for."""


class CaseConflictError(TrustwatchError):
    """A case changed state in a way that forbids the action asked for.

    Resolving a resolved case, or assigning one that was resolved (or changed)
    since it was read; the message says which, and what to do.
    """


class CaseHeldError(CaseConflictError):
    """The case is assigned to another analyst, and was not taken over.

    ``assignee`` names who holds it. Taking over a held case is asked for on
    purpose (``take_over``): the API allows it to admins, the CLI with
    ``--take-over``.
    """

    def __init__(self, message: str, assignee: str) -> None:
        super().__init__(message)
        self.assignee = assignee


class ReviewStore(Protocol):
    """Cases, labels and the audit log, in SQLite or PostgreSQL."""

    def close(self) -> None: ...

    def upsert_cases(self, cases: Iterable[Case]) -> int:
        """Add new cases and merge new alerts into open ones; return the changed."""
        ...

    def case(self, case_id: str) -> Case | None: ...

    def cases(self, query: CaseQuery | None = None) -> list[Case]:
        """Cases by priority (highest first), then newest alert first."""
        ...

    def assign(
        self, case_id: str, assignee: str | None, *, by: str, take_over: bool = False
    ) -> Case:
        """Give a case to an analyst (``None`` hands it back to the queue)."""
        ...

    def resolve(
        self,
        case_id: str,
        *,
        label: LabelKind,
        analyst: str,
        action: str | None = None,
        note: str = "",
        features: dict[str, Any] | None = None,
        at: datetime | None = None,
        take_over: bool = False,
    ) -> tuple[Case, Label]:
        """Close a case with a label; the label is stored for training."""
        ...

    def correct(
        self,
        case_id: str,
        *,
        label: LabelKind,
        analyst: str,
        note: str = "",
        at: datetime | None = None,
    ) -> tuple[Case, Label]:
        """Correct a resolved case's label with a later label on its subject."""
        ...

    def add_label(self, label: Label) -> bool:
        """Store a label given outside a case; False when already stored."""
        ...

    def labels(
        self,
        *,
        subject_type: SubjectType | None = None,
        since: datetime | None = None,
    ) -> list[Label]:
        """Labels in the order they were given (``labelled_at``)."""
        ...

    def audit(self, entry: AuditEntry) -> None:
        """Append to the audit log (never updated or deleted)."""
        ...

    def audit_log(
        self, *, actor: str | None = None, limit: int = 100
    ) -> Sequence[AuditEntry]:
        """Newest entries first."""
        ...
