"""Verdicts and actions: what trustwatch decided about an event, and why.

Ids are derived from their inputs (the event's id and content, the policy's
name, version and rules, the rule, the target and the mode), so processing the
same event twice yields the same ids and the stores can ignore the repeat:
decisions are idempotent per event. Two different events that reuse an
``event_id`` get different verdicts, and so does a changed policy.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal, TypeAlias

import msgspec

from trustwatch.detectors.base import Signal

__all__ = [
    "ACTION_SEVERITY",
    "ACTION_TARGETS",
    "Action",
    "ActionType",
    "Mode",
    "RuleHit",
    "Verdict",
    "acts_on",
    "stable_id",
]

ActionType: TypeAlias = Literal[
    "allow",
    "send_to_review",
    "rate_limit",
    "challenge",
    "force_password_reset",
    "disable_link",
    "quarantine_file",
    "block_source",
    "lock_account",
]
Mode: TypeAlias = Literal["dry_run", "shadow", "enforce"]

#: Order of actions from mildest to strongest; a verdict is its strongest action.
#: ``rate_limit`` slows the target down, ``challenge`` asks for a second factor
#: or a fresh login, ``force_password_reset`` ends the sessions and makes the
#: owner choose a new password.
ACTION_SEVERITY: dict[str, int] = {
    "allow": 0,
    "send_to_review": 1,
    "rate_limit": 2,
    "challenge": 3,
    "force_password_reset": 4,
    "disable_link": 5,
    "quarantine_file": 6,
    "block_source": 7,
    "lock_account": 8,
}

#: The kinds of target each action can act on; ``None`` for any kind. A
#: source is an address or a network, a link may be given by its URL.
ACTION_TARGETS: dict[str, frozenset[str] | None] = {
    "allow": None,
    "send_to_review": None,
    "rate_limit": frozenset({"account", "ip", "network"}),
    "challenge": frozenset({"account"}),
    "force_password_reset": frozenset({"account"}),
    "disable_link": frozenset({"link", "url"}),
    "quarantine_file": frozenset({"file"}),
    "block_source": frozenset({"ip", "network"}),
    "lock_account": frozenset({"account"}),
}


def acts_on(action: str, target_type: str) -> bool:
    """Tell whether ``action`` can act on a target of kind ``target_type``."""
    kinds = ACTION_TARGETS.get(action)
    return kinds is None or target_type in kinds


def stable_id(prefix: str, *parts: str) -> str:
    """Return ``prefix`` plus a hash of ``parts``: the same inputs, the same id."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12)
    return f"{prefix}-{digest.hexdigest()}"


class RuleHit(msgspec.Struct, frozen=True, kw_only=True):
    """One policy rule that matched, and the signal that made it match."""

    rule_id: str
    action: ActionType
    mode: Mode
    signal_kind: str
    score: float
    target_type: str
    target: str
    in_force: bool = False


class Action(msgspec.Struct, frozen=True, kw_only=True):
    """An action taken, or that would be taken, on one target.

    ``mode`` says whether it was enforced, only recorded (``dry_run``), or
    evaluated in ``shadow`` for a rule under trial. ``actor`` is the policy rule
    (``policy:<name>@<version>#<rule>``) or, later, the person who took it.
    """

    action_id: str
    verdict_id: str
    event_id: str
    type: ActionType
    target_type: str
    target: str
    mode: Mode
    actor: str
    reason: str
    created_at: datetime
    expires_at: datetime | None = None


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """The decision on one event, with its full provenance.

    Attributes
    ----------
    verdict_id
        Derived from the event id and the policy name and version.
    decision
        The strongest action of the matching rules, or ``"allow"``.
    score
        The highest signal score.
    signals
        Every signal the event raised, with detector names and versions,
        reasons, evidence and matched indicators.
    rules
        The rules that matched.
    policy
        ``name@version`` of the policy that decided.
    policy_digest
        Hash of the policy's rules: two policies with the same version but
        different rules never share verdicts.
    """

    verdict_id: str
    event_id: str
    event_type: str
    ts: datetime
    account: str | None
    ip: str | None
    decision: ActionType
    score: float
    signals: tuple[Signal, ...]
    rules: tuple[RuleHit, ...]
    policy: str
    policy_digest: str = ""
