"""Replay history through two policies and compare them: ``trustwatch backtest``.

The detectors run once over the events; every event that raised signals is
then decided under both the new policy and the current one, with the same
signals, so any difference comes from the policies alone.

Per rule of each policy the report counts the events and the accounts it hit
and scores it against account labels: precision is the share of the labelled
accounts it hit that are abusive, recall the share of the abusive accounts it
hit (unlabelled accounts count in neither). Only labelled accounts the
replayed events name count: one outside the window, or in no event, could
not have been hit, and is reported apart. Shadow rules are scored like the
others; disabled rules never run and show zero.

The comparison is at the level of accounts a policy acts on: an account is
hit when an enforced (not shadow) rule other than ``allow`` hit it, or hit an
event of it. The report lists the accounts only the new policy hits, those
only the current one hits, and the verdicts per decision under each.

Labels come from a file, from the analysts' labels in the review store, or
both (:func:`backtest_labels`): review labels are replayed as for training
(:mod:`trustwatch.review.training`: a later label overrides an earlier one,
a ring's label applies to its members, and labels given after ``as_of`` are
left out), and where a file and the review store disagree the review wins.

History can be files, folders or globs of JSON Lines or Parquet. A Parquet
data lake laid out in Hive-style partitions (``dt=YYYY-MM-DD/``) is pruned by
``since`` and ``until`` before anything is read. As in ``trustwatch run``, an
event identical to one of the last 50,000 read (a line repeated, a file given
twice) is counted as a repeat and skipped, under both policies
(:class:`~trustwatch.events.repeats.RepeatedEvents`).

References
----------
Precision and recall as in scikit-learn's ``precision_score`` and
``recall_score``, computed over accounts instead of samples.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.model import ACTION_SEVERITY, Verdict
from trustwatch.decisions.policy import Policy
from trustwatch.detectors.base import Detector
from trustwatch.enrichment.geo import GeoResolver
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.decode import EventDecoder
from trustwatch.events.model import EventBase
from trustwatch.events.readers import read_events, resolve_inputs
from trustwatch.events.repeats import RepeatedEvents
from trustwatch.review.model import ReviewStore
from trustwatch.review.training import combine_labels, replay_account_labels
from trustwatch.runtime.pipeline import Pipeline

__all__ = [
    "BacktestReport",
    "LabelSources",
    "PolicyOutcome",
    "RuleOutcome",
    "backtest",
    "backtest_labels",
    "history_events",
]

log = logging.getLogger(__name__)

_PARTITION = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")
_MARGIN = timedelta(days=1)


@dataclass
class RuleOutcome:
    """What one rule would have done over the history."""

    rule_id: str
    mode: str
    action: str
    events_hit: int = 0
    accounts: set[str] = field(default_factory=set, repr=False)
    condition_errors: int = 0
    precision: float | None = None
    recall: float | None = None

    @property
    def accounts_hit(self) -> int:
        """The number of distinct accounts the rule hit."""
        return len(self.accounts)

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as plain values."""
        return {
            "rule_id": self.rule_id,
            "mode": self.mode,
            "action": self.action,
            "events_hit": self.events_hit,
            "accounts_hit": self.accounts_hit,
            "condition_errors": self.condition_errors,
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass
class PolicyOutcome:
    """One policy's rules, decisions and the accounts it acts on."""

    policy: str
    rules: dict[str, RuleOutcome]
    decisions: Counter[str] = field(default_factory=Counter)
    accounts: set[str] = field(default_factory=set, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as plain values."""
        return {
            "policy": self.policy,
            "accounts_hit": len(self.accounts),
            "decisions": dict(sorted(self.decisions.items(), key=_by_severity)),
            "rules": [rule.to_dict() for rule in self.rules.values()],
        }


@dataclass(frozen=True, slots=True)
class LabelSources:
    """Where a backtest's account labels came from.

    Attributes
    ----------
    file_labels
        Labels read from a file (0 without one).
    review_accounts
        Accounts labelled by the review store's replayed labels (``None``
        without a review store).
    review_used, review_after_as_of, review_overridden
        Review labels replayed, left out as given after ``as_of``, and
        overridden by a later label of the same account.
    unresolved_rings
        Ring labels whose members could not be found.
    as_of
        The time review labels were taken as of (``None``: all of them).
    conflicts
        Accounts the file and the review store label differently (the
        review label is kept), sorted.
    file_rows_left_out
        Rows of the labels file left out, by reason (``conflicting_label``
        for an account the file itself labels both ways).
    """

    file_labels: int = 0
    review_accounts: int | None = None
    review_used: int = 0
    review_after_as_of: int = 0
    review_overridden: int = 0
    unresolved_rings: int = 0
    as_of: datetime | None = None
    conflicts: tuple[str, ...] = ()
    file_rows_left_out: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the sources as plain values."""
        return {
            "file_labels": self.file_labels,
            "review_accounts": self.review_accounts,
            "review_labels_used": self.review_used,
            "review_labels_after_as_of": self.review_after_as_of,
            "review_labels_overridden": self.review_overridden,
            "unresolved_rings": self.unresolved_rings,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "conflicts": len(self.conflicts),
            "conflict_examples": list(self.conflicts[:5]),
            "file_rows_left_out": dict(self.file_rows_left_out),
        }


def backtest_labels(
    file_labels: Mapping[str, bool] | None,
    review: ReviewStore | None,
    *,
    as_of: datetime | None = None,
) -> tuple[dict[str, bool], LabelSources]:
    """Return the account labels to score against, and where they came from.

    Parameters
    ----------
    file_labels
        Account labels read from a file, or ``None``.
    review
        A review store whose account and ring labels are replayed (as
        ``trustwatch train accounts`` does), or ``None``.
    as_of
        Leave out review labels given after this time.

    Returns
    -------
    tuple
        The merged labels (the review store wins on conflict) and a
        :class:`LabelSources`.
    """
    from_file = dict(file_labels or {})
    if review is None:
        return from_file, LabelSources(file_labels=len(from_file), as_of=as_of)
    replayed = replay_account_labels(review.labels(), case_of=review.case, as_of=as_of)
    labels, conflicts = combine_labels(from_file, replayed.labels)
    return labels, LabelSources(
        file_labels=len(from_file),
        review_accounts=len(replayed.labels),
        review_used=replayed.used,
        review_after_as_of=replayed.after_as_of,
        review_overridden=replayed.overridden,
        unresolved_rings=replayed.unresolved_rings,
        as_of=as_of,
        conflicts=tuple(conflicts),
    )


@dataclass
class BacktestReport:
    """The two policies' outcomes over the same history, and their difference."""

    new: PolicyOutcome
    current: PolicyOutcome
    events: int = 0
    events_with_signals: int = 0
    skipped_outside_window: int = 0
    #: Events identical to one of the last 50,000 read, skipped undecided (as
    #: ``trustwatch run`` skips them).
    repeats: int = 0
    dead_letters: int = 0
    #: Dead letters by reason (``timestamp``, ``malformed_json``...).
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    labelled_accounts: int = 0
    abusive_accounts: int = 0
    #: Labelled accounts no replayed event named, left out of the scores.
    labelled_unseen: int = 0
    label_sources: LabelSources | None = None

    @property
    def newly_hit(self) -> list[str]:
        """Accounts the new policy acts on and the current one does not."""
        return sorted(self.new.accounts - self.current.accounts)

    @property
    def no_longer_hit(self) -> list[str]:
        """Accounts the current policy acts on and the new one does not."""
        return sorted(self.current.accounts - self.new.accounts)

    def decision_changes(self) -> dict[str, tuple[int, int]]:
        """Return verdicts per decision: ``(current, new)``, mildest first."""
        kinds = set(self.new.decisions) | set(self.current.decisions)
        return {
            kind: (self.current.decisions[kind], self.new.decisions[kind])
            for kind in sorted(kinds, key=ACTION_SEVERITY.__getitem__)
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain values, for ``--json``."""
        return {
            "events": self.events,
            "events_with_signals": self.events_with_signals,
            "skipped_outside_window": self.skipped_outside_window,
            "repeats": self.repeats,
            "dead_letters": self.dead_letters,
            "dead_letter_reasons": dict(self.dead_letter_reasons.most_common()),
            "labelled_accounts": self.labelled_accounts,
            "abusive_accounts": self.abusive_accounts,
            "labelled_unseen": self.labelled_unseen,
            "labels": self.label_sources.to_dict() if self.label_sources else None,
            "new": self.new.to_dict(),
            "current": self.current.to_dict(),
            "diff": {
                "newly_hit": self.newly_hit,
                "no_longer_hit": self.no_longer_hit,
                "decisions": {
                    kind: {"current": before, "new": after}
                    for kind, (before, after) in self.decision_changes().items()
                },
            },
        }


def history_events(
    paths: Sequence[str | Path],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    format: str = "auto",
    source_tz: str | None = None,
) -> Iterator[EventBase | DeadLetter]:
    """Read history, leaving out ``dt=`` partitions wholly outside the window.

    ``source_tz`` is the zone of timestamps written without one, and of
    syslog lines, as in ``trustwatch run``.

    Raises
    ------
    ConfigError
        As :func:`~trustwatch.events.readers.read_events` does, before
        anything is read.
    """
    inputs = resolve_inputs(paths, format=format)
    kept = [path for path, _ in inputs if _in_window(path, since, until)]
    if len(kept) < len(inputs):
        log.info(
            "%d partition files outside the window left unread", len(inputs) - len(kept)
        )
    if not kept:
        return iter(())
    return read_events(
        kept,
        decoder=EventDecoder(source_tz=source_tz),
        format=format,
        sshlog_tz=source_tz,
    )


def _in_window(path: Path, since: datetime | None, until: datetime | None) -> bool:
    """Tell whether a file's ``dt=`` partitions can hold events in the window.

    A partition's date is read as a UTC day, with a day's margin either side
    for lakes partitioned by a local date: pruning only saves reading, and
    :func:`backtest` still checks each event's time.
    """
    for part in path.parts:
        match = _PARTITION.match(part)
        if match is None:
            continue
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError:
            return True  # not a date after all: read it
        start = datetime.combine(day, time(), UTC) - _MARGIN
        end = start + timedelta(days=1) + 2 * _MARGIN
        if since is not None and end <= since:
            return False
        if until is not None and start >= until:
            return False
    return True


def backtest(
    events: Iterable[EventBase | DeadLetter],
    detectors: Sequence[Detector],
    new: Policy,
    current: Policy,
    labels: dict[str, bool],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    geo: GeoResolver | None = None,
    label_sources: LabelSources | None = None,
) -> BacktestReport:
    """Run the detectors once over ``events`` and decide each under both policies.

    Parameters
    ----------
    events
        History in time order; dead letters are counted and skipped, and so
        are events identical to one of the last 50,000 read (repeats), as
        ``trustwatch run`` skips them, whether or not they fall in the window.
    detectors
        Fresh detectors, as ``trustwatch run`` builds them.
    new, current
        The policy under test and the one to compare it with.
    labels
        Account to label (True for abusive).
    since, until
        Only events with ``since <= ts < until`` are replayed.
    geo
        Resolves source addresses for the detectors.
    label_sources
        Where ``labels`` came from (:func:`backtest_labels`), for the report.
    """
    new_engine, current_engine = DecisionEngine(new), DecisionEngine(current)
    pipeline = Pipeline(detectors, new_engine, geo)
    # two files of one name and version are told apart by their digests
    named_alike = new.ref == current.ref and new.digest != current.digest
    report = BacktestReport(
        new=_outcome(new, named_alike),
        current=_outcome(current, named_alike),
        label_sources=label_sources,
    )
    # a line repeated or a file given twice would count twice in every window
    # and baseline, and twice in each rule's hits: skipped, as run skips it
    repeated = RepeatedEvents()
    named: set[str] = set()  # accounts of the replayed events
    for item in events:
        if isinstance(item, DeadLetter):
            report.dead_letters += 1
            report.dead_letter_reasons[item.reason] += 1
            continue
        if repeated.is_repeat(item):
            report.repeats += 1
            continue
        if (since is not None and item.ts < since) or (
            until is not None and item.ts >= until
        ):
            report.skipped_outside_window += 1
            continue
        report.events += 1
        if item.account:
            named.add(item.account)
        decision = pipeline.process_one(item, item.ts.timestamp())
        report.dead_letters += len(pipeline.failures)
        report.dead_letter_reasons.update(f.reason for f in pipeline.failures)
        pipeline.failures.clear()
        if decision is None:
            continue
        report.events_with_signals += 1
        verdict = decision.verdict
        _tally(report.new, verdict)
        _tally(report.current, current_engine.decide(item, verdict.signals)[0])
    for outcome in (report.new, report.current):
        for rule in outcome.rules.values():
            named |= rule.accounts  # an account target, too, was in play
    present = {a: bad for a, bad in labels.items() if a in named}
    for outcome, engine in ((report.new, new_engine), (report.current, current_engine)):
        _score(outcome, present, engine.rule_errors)
    report.labelled_accounts = len(present)
    report.abusive_accounts = sum(present.values())
    report.labelled_unseen = len(labels) - len(present)
    return report


def _outcome(policy: Policy, with_digest: bool = False) -> PolicyOutcome:
    rules = {
        rule.id: RuleOutcome(rule.id, rule.mode, rule.action) for rule in policy.rules
    }
    name = f"{policy.ref} ({policy.digest})" if with_digest else policy.ref
    return PolicyOutcome(name, rules)


def _tally(outcome: PolicyOutcome, verdict: Verdict) -> None:
    """Add one verdict to a policy's counts."""
    outcome.decisions[verdict.decision] += 1
    counted: set[str] = set()
    for hit in verdict.rules:
        if not hit.target:  # the event lacks the rule's target: it acted on nothing
            continue
        rule = outcome.rules[hit.rule_id]
        if hit.rule_id not in counted:
            rule.events_hit += 1
            counted.add(hit.rule_id)
        account = hit.target if hit.target_type == "account" else verdict.account
        if not account:
            continue
        rule.accounts.add(account)
        if hit.mode != "shadow" and hit.action != "allow":
            outcome.accounts.add(account)


def _score(
    outcome: PolicyOutcome, labels: dict[str, bool], errors: Counter[str]
) -> None:
    """Fill each rule's precision, recall and condition errors."""
    abusive = {account for account, bad in labels.items() if bad}
    for rule in outcome.rules.values():
        rule.condition_errors = errors[rule.rule_id]
        labelled = [a for a in rule.accounts if a in labels]
        caught = sum(1 for a in labelled if labels[a])
        rule.precision = caught / len(labelled) if labelled else None
        rule.recall = caught / len(abusive) if abusive else None


def _by_severity(item: tuple[str, int]) -> int:
    return ACTION_SEVERITY[item[0]]
