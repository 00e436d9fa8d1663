"""Actions an analyst takes when resolving a case.

A resolution may name an action (lock the account, block the source...). It
becomes one :class:`~trustwatch.decisions.model.Action` per target, recorded in
``enforce`` mode in the decision store with the analyst as its actor
(``analyst:<name>``), so ``trustwatch dispatch`` sends it through the same
adapters, breaker budgets, expiry and reversal as a policy's actions. Ids
derive from the case, the action type and the target: resolving again, or
a retried request, adds nothing.

Which targets an action takes follows the case's subject:

==================  ===============================================
subject             targets
==================  ===============================================
account             the account
ring                every member account the case lists
ip                  the address (``block_source``, ``rate_limit``)
link / file         the link (``disable_link``) or file
                    (``quarantine_file``)
==================  ===============================================

An action that does not apply to the subject (``quarantine_file`` on an
account case, say) is refused with :class:`ActionNotApplicable`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from trustwatch.decisions.model import ACTION_SEVERITY, Action, ActionType, stable_id
from trustwatch.review.model import Case, CaseNotFoundError, Label, LabelKind

if TYPE_CHECKING:
    from trustwatch.review.cases import VerdictSource
    from trustwatch.review.store import SqlReviewStore

log = logging.getLogger(__name__)

__all__ = [
    "ANALYST_ACTIONS",
    "ActionNotApplicable",
    "analyst_actions",
    "applicable_actions",
    "resolve_with_action",
]

#: Actions an analyst may take on a case, by the target type each acts on.
ANALYST_ACTIONS: dict[str, str] = {
    "challenge": "account",
    "force_password_reset": "account",
    "lock_account": "account",
    "rate_limit": "account|ip",
    "block_source": "ip",
    "disable_link": "link",
    "quarantine_file": "file",
}


class ActionNotApplicable(ValueError):
    """The action cannot act on the case's subject."""


def applicable_actions(subject_type: str) -> list[str]:
    """Return the analyst actions that can act on a case about ``subject_type``."""
    found = []
    for action, kinds in ANALYST_ACTIONS.items():
        takes = kinds.split("|")
        if subject_type in takes or (subject_type == "ring" and "account" in takes):
            found.append(action)
    return found


def _targets(case: Case, action: str) -> list[tuple[str, str]]:
    kinds = ANALYST_ACTIONS[action].split("|")
    if case.subject_type == "ring" and "account" in kinds:
        return [("account", account) for account in case.accounts]
    if case.subject_type in kinds:
        return [(case.subject_type, case.subject)]
    raise ActionNotApplicable(
        f"{action} acts on {' or '.join(kinds)} targets, and this case is about "
        f"{'an' if case.subject_type[0] in 'aeiou' else 'a'} {case.subject_type}; "
        "hint: choose an action for its subject, or resolve without one"
    )


def analyst_actions(
    case: Case,
    action: str,
    *,
    analyst: str,
    label: str,
    at: datetime | None = None,
) -> list[Action]:
    """Return the actions ``analyst`` takes on ``case`` by resolving it.

    Parameters
    ----------
    case
        The case being resolved; its newest alert is the actions' verdict.
    action
        One of :data:`ANALYST_ACTIONS`.
    analyst
        Who decided; the actions' actor is ``analyst:<name>``.
    label
        The label given, quoted in the actions' reason.
    at
        When (now by default).

    Raises
    ------
    ActionNotApplicable
        When ``action`` is unknown, cannot act on the case's subject, or
        comes with a ``benign`` label (every analyst action acts against
        abuse).
    """
    if action not in ANALYST_ACTIONS or action not in ACTION_SEVERITY:
        raise ActionNotApplicable(
            f"{action!r} is not an action an analyst can take; hint: one of "
            f"{', '.join(ANALYST_ACTIONS)}"
        )
    if label == "benign":
        raise ActionNotApplicable(
            f"{action} acts against abuse, and the case is labelled benign; hint: "
            "resolve a benign case without an action, or give the abuse label "
            "the action answers"
        )
    when = at or datetime.now(UTC)
    verdict_id = case.verdict_ids[-1] if case.verdict_ids else case.case_id
    return [
        Action(
            action_id=stable_id("act", case.case_id, action, target_type, target),
            verdict_id=verdict_id,
            event_id=f"case:{case.case_id}",
            type=cast(ActionType, action),
            target_type=target_type,
            target=target,
            mode="enforce",
            actor=f"analyst:{analyst}",
            reason=f"case {case.case_id} resolved as {label} by {analyst}",
            created_at=when,
        )
        for target_type, target in _targets(case, action)
    ]


def resolve_with_action(
    review: SqlReviewStore,
    case_id: str,
    *,
    label: LabelKind,
    analyst: str,
    action: str | None,
    write_actions: Callable[[Iterable[Action]], object] | None,
    decisions: VerdictSource | None = None,
    note: str = "",
    at: datetime | None = None,
    take_over: bool = False,
) -> tuple[Case, Label, list[Action]]:
    """Resolve a case and record the action the analyst takes on its subject.

    The one path the CLI, the API and the console share: the action is
    checked against the case's subject before anything changes, the case is
    resolved (:func:`~trustwatch.review.cases.resolve_case`), and then the
    action's records go to ``write_actions`` (a decision store's
    ``write_actions``), in ``enforce`` mode for ``trustwatch dispatch``. When
    they cannot be written, the resolution is taken back
    (:meth:`~trustwatch.review.store.SqlReviewStore.reopen`) and the error
    raised: a case is never resolved with its action lost.

    Parameters
    ----------
    review
        The review store.
    case_id
        The case to resolve.
    label
        The analyst's verdict on the subject.
    analyst
        Who decided.
    action
        One of :data:`ANALYST_ACTIONS`, or ``None`` (or ``"none"``) for none.
    write_actions
        Stores the actions; needed only when there is an action.
    decisions
        The decision store the alerts' features are read from, if at hand.
    note
        Free text kept with the case and the label.
    at
        When (now by default).
    take_over
        Resolve a case another analyst holds.

    Returns
    -------
    tuple
        The resolved case, its label and the actions recorded (maybe none).

    Raises
    ------
    ActionNotApplicable
        When the action is unknown or cannot act on the case's subject; the
        case is left as it was.
    CaseNotFoundError
        When there is no such case.
    CaseHeldError
        When another analyst holds the case and ``take_over`` is not set.
    CaseConflictError
        When the case is already resolved.
    """
    from trustwatch.review.cases import resolve_case

    taking = None if action in (None, "", "none") else action
    taken: list[Action] = []
    if taking is not None:
        case = review.case(case_id)
        if case is None:
            raise CaseNotFoundError(f"no case {case_id!r}")
        taken = analyst_actions(case, taking, analyst=analyst, label=label, at=at)
        if write_actions is None:
            raise ActionNotApplicable(
                f"{taking} is recorded in the decision store, and none is open "
                "for writing; hint: resolve with a decision store at hand"
            )
    resolved, given = resolve_case(
        review,
        case_id,
        label=label,
        analyst=analyst,
        decisions=decisions,
        action=taking,
        note=note,
        at=at,
        take_over=take_over,
    )
    if taken and write_actions is not None:
        try:
            write_actions(taken)
        except BaseException:
            # the action is the point of this resolution: without it the case
            # goes back to the queue, so the analyst sees the failure and can
            # resolve again (the actions' ids do not change)
            try:
                review.reopen(resolved)
            except Exception as failure:  # the first error is the one to report
                log.error(
                    "case %s stays resolved without its %s: %s; hint: take "
                    "the action with `trustwatch cases resolve` once the "
                    "decision store is back",
                    case_id,
                    taking,
                    type(failure).__name__,
                )
            raise
    return resolved, given, taken
