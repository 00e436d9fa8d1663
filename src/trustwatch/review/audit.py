"""Write one audit entry per analyst action, the same way from every front end."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from trustwatch.review.model import AuditEntry, Case, ReviewStore

__all__ = ["record_action", "taken_from"]


def record_action(
    store: ReviewStore,
    *,
    actor: str,
    action: str,
    target_type: str,
    target: str,
    detail: dict[str, Any] | None = None,
    role: str = "analyst",
    source: str = "cli",
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> AuditEntry:
    """Append who did what to which record to the audit log; return the entry.

    ``detail`` holds the action's arguments (a label, an assignee, a note);
    callers put no secrets or raw content there.
    """
    entry = AuditEntry(
        entry_id=f"audit-{uuid.uuid4().hex}",
        at=clock(),
        actor=actor,
        role=role,
        action=action,
        target_type=target_type,
        target=target,
        detail=dict(detail or {}),
        source=source,
    )
    store.audit(entry)
    return entry


def taken_from(before: Case, name: str) -> dict[str, str]:
    """Return the audit detail of ``name`` changing a case another analyst held.

    ``{"taken_from": HOLDER}`` when ``before`` (the case as it was) was
    assigned to someone other than ``name``, else ``{}``.
    """
    holder = before.assignee
    if before.status == "assigned" and holder and holder != name:
        return {"taken_from": holder}
    return {}
