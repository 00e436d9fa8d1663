"""Turn analysts' labels into training labels, as they were known at a time.

Labels are replayed in the order analysts gave them (``labelled_at``): a
later label of the same subject overrides an earlier one, and a label given
after ``as_of`` is left out, so a model trained "as of" a moment learns only
what was known then (labels arrive late; training on labels from the future
flatters a model). Every kind but ``benign`` means abuse.

A ring's label applies to every member account of the ring's case; a later
label of one member overrides it for that member, and a later ring label
overrides earlier member labels.

URLs are labelled through the cases they were flagged in: a case resolved as
``phishing``, ``malware`` or ``spam`` labels every URL its alerts' signals
were about as abusive, and one resolved as ``benign`` labels them benign (the
alerts were false positives). Other kinds (``account_takeover``...) are about
the account, not the URL, and label no URL.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from trustwatch.review.model import Case, Label

__all__ = [
    "ReplayedLabels",
    "combine_labels",
    "replay_account_labels",
    "replay_url_labels",
]

#: Case labels that say what the URLs in the case's alerts are.
URL_LABEL_KINDS: dict[str, bool] = {
    "phishing": True,
    "malware": True,
    "spam": True,
    "benign": False,
}


@dataclasses.dataclass(frozen=True, slots=True)
class ReplayedLabels:
    """Training labels from the review store, and how they were chosen.

    Attributes
    ----------
    labels
        Subject (an account id or a URL) to label: True for abuse.
    given_at
        When each subject's kept label was given.
    used
        Review labels that were replayed (given at or before ``as_of``).
    after_as_of
        Labels left out because they were given after ``as_of``.
    overridden
        Subject labels replaced by a later, different label of the same
        subject (the same label again overrides nothing).
    by_kind
        Replayed labels per label kind.
    unresolved_rings
        Ring labels whose members could not be found (the case is gone and
        the label's features name no accounts).
    """

    labels: dict[str, bool]
    given_at: dict[str, datetime]
    used: int
    after_as_of: int
    overridden: int
    by_kind: dict[str, int]
    unresolved_rings: int = 0


def _in_time(
    labels: Iterable[Label], as_of: datetime | None
) -> tuple[list[Label], int]:
    """Labels in the order given; those given after ``as_of`` counted apart."""
    ordered = sorted(labels, key=lambda label: label.labelled_at)
    if as_of is None:
        return ordered, 0
    kept = [label for label in ordered if label.labelled_at <= as_of]
    return kept, len(ordered) - len(kept)


def replay_url_labels(
    labels: Iterable[Label], *, as_of: datetime | None = None
) -> ReplayedLabels:
    """Replay link labels and the URLs of resolved cases into 0/1 URL labels.

    A link label's subject is its URL. A case label of a kind in
    :data:`URL_LABEL_KINDS` labels each URL its stored alerts' signals were
    about (``entity_type == "url"`` in the label's features), in the order the
    labels were given, so a later label of a URL overrides an earlier one.
    Only labels that label a URL count: ``used``, and ``after_as_of`` for
    those given after ``as_of``.
    """
    about_urls = [(label, urls) for label in labels if (urls := _urls_of(label))]
    kept, late = _in_time((label for label, _ in about_urls), as_of)
    urls_of = {id(label): urls for label, urls in about_urls}
    chosen: dict[str, bool] = {}
    given_at: dict[str, datetime] = {}
    overridden = 0
    for label in kept:
        for url in urls_of[id(label)]:
            overridden += url in chosen and chosen[url] != label.abusive
            chosen[url] = label.abusive
            given_at[url] = label.labelled_at
    return ReplayedLabels(chosen, given_at, len(kept), late, overridden, _kinds(kept))


def _urls_of(label: Label) -> list[str]:
    """The URLs a label is about: its subject for a link, else its alerts'."""
    if label.subject_type == "link":
        return [label.subject]
    if label.kind not in URL_LABEL_KINDS:
        return []
    alerts = label.features.get("alerts")
    if not isinstance(alerts, dict):
        return []
    urls: dict[str, None] = {}
    for alert in alerts.values():
        signals = alert.get("signals") if isinstance(alert, dict) else None
        for signal in signals if isinstance(signals, list) else ():
            if not isinstance(signal, dict) or signal.get("entity_type") != "url":
                continue
            entity = signal.get("entity")
            if isinstance(entity, str) and entity:
                urls[entity] = None
    return list(urls)


def replay_account_labels(
    labels: Iterable[Label],
    *,
    case_of: Callable[[str], Case | None],
    as_of: datetime | None = None,
) -> ReplayedLabels:
    """Replay account and ring labels into one label per account.

    Parameters
    ----------
    labels
        Review labels of any subject type; those about links, files and
        addresses are skipped.
    case_of
        Looks a case up by id, to find a ring case's member accounts.
    as_of
        Leave out labels given after this time.
    """
    relevant = (label for label in labels if label.subject_type in ("account", "ring"))
    kept, late = _in_time(relevant, as_of)
    chosen: dict[str, bool] = {}
    given_at: dict[str, datetime] = {}
    overridden = unresolved = 0
    for label in kept:
        accounts = _accounts_of(label, case_of)
        if label.subject_type == "ring" and not accounts:
            unresolved += 1
        for account in accounts:
            overridden += account in chosen and chosen[account] != label.abusive
            chosen[account] = label.abusive
            given_at[account] = label.labelled_at
    return ReplayedLabels(
        chosen, given_at, len(kept), late, overridden, _kinds(kept), unresolved
    )


def _accounts_of(label: Label, case_of: Callable[[str], Case | None]) -> list[str]:
    if label.subject_type == "account":
        return [label.subject]
    case = case_of(label.case_id) if label.case_id else None
    if case is not None and case.accounts:
        return list(case.accounts)
    listed = label.features.get("accounts", [])
    return [str(account) for account in listed] if isinstance(listed, list) else []


def _kinds(labels: Iterable[Label]) -> dict[str, int]:
    return dict(sorted(Counter(label.kind for label in labels).items()))


def combine_labels(
    file_labels: Mapping[str, bool], review_labels: Mapping[str, bool]
) -> tuple[dict[str, bool], list[str]]:
    """Merge labels from a file with review labels; the review wins.

    Returns the merged labels and the subjects on which the two disagreed
    (sorted), so that the conflicts can be reported.

    Examples
    --------
    >>> combine_labels({"a": True, "b": False}, {"b": True, "c": False})
    ({'a': True, 'b': True, 'c': False}, ['b'])
    """
    conflicts = sorted(
        subject
        for subject, label in review_labels.items()
        if subject in file_labels and file_labels[subject] != label
    )
    return {**file_labels, **review_labels}, conflicts
