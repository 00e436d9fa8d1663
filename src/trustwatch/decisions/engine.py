"""The decision engine: signals in, one verdict and its actions out.

For every event that raised signals the engine finds the policy rules those
signals satisfy, resolves each rule's targets, and records a verdict whose
decision is the strongest enforced action. A rule usually acts on one target;
a rule with ``target = "evidence:<type>"`` acts on every target of that type
the signal lists in ``evidence["targets"]`` (each link to a malicious file).
Actions already in force on the same target (a source blocked an hour ago) are
not issued again until they expire; the verdict still lists the rule, so the
record stays complete. An action is in force for event times from its own
event's time to its expiry, and for events that arrive late: those dated up
to its length before it (at most a day, :data:`LATE_COVER`). An event dated
earlier still (one dated far ahead came first, by a wrong clock or a forged
field) issues its own action, so no event dated in the future holds back
enforcement on its target; from then on the two actions' times and those
between them are covered, so events alternating between two times issue at
most two actions. A
rule whose action lasts longer than the one in force (a permanent lock over
a one-minute lock) issues its action anew, and when
several rules give one action to one target on the same event, the longest
lasting acts. A rule whose target the event lacks (``target = "account"`` on
a login for an unknown user) is listed with an empty target and acts on
nothing: it does not count toward the decision. So is a rule whose signal's
entity is a kind its action cannot act on (``lock_account`` on the URL of an
``intel_url`` signal, with ``target = "entity"``): such targets are counted
per rule in :attr:`DecisionEngine.unfit_targets` and logged once per rule;
a policy check refuses the targets whose kind is known before (``account``,
``ip``, ``evidence:<type>``). Action ids derive from the
verdict, the rule, the target and the mode, so a replay issues the same ids.

A rule with a CEL condition (``when``) is evaluated only on signals that
passed its kind and score filter. Only the variables a condition reads are
built, on first use, once per event (``event``, ``signals``) or per signal
(``signal``, ``ring``, ``intel``); rules without one cost nothing. A condition that
fails while running does not match: the failure is counted per rule in
:attr:`DecisionEngine.rule_errors` and logged once per rule, without data
from the event.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import msgspec

from trustwatch.decisions.conditions import (
    SIGNAL_VARIABLES,
    ConditionFailed,
    event_variable,
    strongest_signals,
)
from trustwatch.decisions.model import (
    ACTION_SEVERITY,
    Action,
    ActionType,
    Mode,
    RuleHit,
    Verdict,
    acts_on,
    stable_id,
)
from trustwatch.decisions.policy import EVIDENCE_PREFIX, Policy, Rule
from trustwatch.detectors.base import Signal
from trustwatch.events.model import EventBase, type_name
from trustwatch.features.windows import LruDict

__all__ = ["LATE_COVER", "DecisionEngine"]

log = logging.getLogger(__name__)

_FOREVER = float("inf")
#: Seconds before its own event an action in force covers events that
#: arrive late (its length, when shorter): the same action is not issued
#: again for an event a little out of order.
LATE_COVER = 86_400.0
_encode = msgspec.json.Encoder().encode


class DecisionEngine:
    """Apply a policy to the signals of each event.

    Parameters
    ----------
    policy
        The rules to apply.
    mode
        ``"dry_run"`` records actions without dispatching them (the embedded
        default); ``"enforce"`` marks them for dispatch. Rules in shadow mode
        always produce ``"shadow"`` actions.
    max_active
        Bound on remembered in-force actions (the least recently issued are
        forgotten first).
    """

    def __init__(
        self, policy: Policy, mode: Mode = "dry_run", max_active: int = 500_000
    ) -> None:
        self.policy = policy
        self.mode: Mode = mode
        self.max_active = max_active
        # (action:mode, target_type:target) -> (in force from, until, for how
        # long): the event times some issued action covers
        self._active: LruDict[tuple[str, str], tuple[float, float, float]] = LruDict(
            max_active
        )
        #: Run-time failures of each rule's condition, by rule id.
        self.rule_errors: Counter[str] = Counter()
        #: Targets each rule could not act on (a URL to lock), by rule id.
        self.unfit_targets: Counter[str] = Counter()

    def decide(
        self, event: EventBase, signals: Sequence[Signal]
    ) -> tuple[Verdict, list[Action]]:
        """Return the verdict on ``event`` and the actions it starts."""
        # one hit per rule and target: the strongest signal that satisfies it
        hits: dict[tuple[str, str, str], tuple[Rule, Signal]] = {}
        variables = _Variables(event, signals)
        for signal in signals:
            for rule in self.policy.rules_for(signal.kind):
                if signal.score < rule.min_score:
                    continue
                if rule.when is not None and not self._holds(rule, signal, variables):
                    continue
                for target_type, target in _targets(rule, signal, event):
                    if target and not acts_on(rule.action, target_type):
                        self._count_unfit(rule, target_type)
                        target = ""  # listed, acting on nothing
                    key = (rule.id, target_type, target)
                    if key not in hits or signal.score > hits[key][1].score:
                        hits[key] = (rule, signal)
        verdict_id = stable_id(
            "vrd", event.event_id, _content(event), self.policy.ref, self.policy.digest
        )
        found = list(hits.items())
        issued: dict[int, Action] = {}
        # the longest lasting rule of one action on one target acts first, so
        # that the shorter ones find it in force (file order breaks ties)
        for i in sorted(range(len(found)), key=lambda i: -_lasting(found[i][1][0])):
            (_, target_type, target), (rule, signal) = found[i]
            mode: Mode = "shadow" if rule.mode == "shadow" else self.mode
            action = self._action(
                event, verdict_id, rule, signal, mode, target_type, target
            )
            if action is not None:
                issued[i] = action
        rule_hits, actions = [], []
        for i, ((_, target_type, target), (rule, signal)) in enumerate(found):
            action = issued.get(i)
            if action is not None:
                actions.append(action)
            rule_hits.append(
                RuleHit(
                    rule_id=rule.id,
                    action=rule.action,
                    mode="shadow" if rule.mode == "shadow" else self.mode,
                    signal_kind=signal.kind,
                    score=signal.score,
                    target_type=target_type,
                    target=target,
                    in_force=action is None and bool(target) and rule.action != "allow",
                )
            )
        verdict = Verdict(
            verdict_id=verdict_id,
            event_id=event.event_id,
            event_type=type_name(event),
            ts=event.ts,
            account=event.account,
            ip=event.ip,
            decision=_strongest(rule_hits),
            score=max((s.score for s in signals), default=0.0),
            signals=tuple(signals),
            rules=tuple(rule_hits),
            policy=self.policy.ref,
            policy_digest=self.policy.digest,
        )
        return verdict, actions

    def _holds(self, rule: Rule, signal: Signal, variables: _Variables) -> bool:
        """Evaluate the rule's condition; a failure counts and does not match."""
        if rule.when is None:
            return True
        try:
            values = variables.for_condition(signal, rule.when.variables)
        except (ValueError, TypeError, OverflowError):
            # a value from the detectors that CEL cannot hold
            failure: Exception = ConditionFailed("unusable signal or event value")
        else:
            try:
                return rule.when.matches(values)
            except ConditionFailed as exc:
                failure = exc
        self._count_failure(rule, failure)
        return False

    def _count_failure(self, rule: Rule, failure: Exception) -> None:
        """Count a condition's failure; log the first of each rule."""
        self.rule_errors[rule.id] += 1
        if self.rule_errors[rule.id] == 1:
            log.warning(
                "policy %s rule %s: condition failed (%s); the rule does not "
                "match where it fails, and further failures are only counted",
                self.policy.ref,
                rule.id,
                failure,
            )

    def _count_unfit(self, rule: Rule, target_type: str) -> None:
        """Count a target the rule's action cannot act on; log the first."""
        self.unfit_targets[rule.id] += 1
        if self.unfit_targets[rule.id] == 1:
            log.warning(
                "policy %s rule %s: %s cannot act on the %s target of a "
                "signal, so the rule "
                "acts on nothing there; further ones are only counted; hint: "
                "name the signal kinds whose entity it can act on, or set "
                "target",
                self.policy.ref,
                rule.id,
                rule.action,
                target_type,
            )

    def get_state(self) -> dict[str, Any]:
        """Return the actions in force as plain values, for checkpoints.

        ``active`` holds ``[kind, target, until]`` as before actions kept
        how long they last (earlier versions read it as is); ``lasting``
        holds each one's length and ``started`` the event time from which it
        is in force, in the same order.
        """
        # infinity is not JSON: actions without expiry are kept as None
        active, lasting, started = [], [], []
        for (kind, target), (start, until, length) in self._active.items():
            active.append([kind, target, None if until == _FOREVER else until])
            lasting.append(None if length == _FOREVER else length)
            started.append(None if start == -_FOREVER else start)
        return {"active": active, "lasting": lasting, "started": started}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore the actions in force from :meth:`get_state`.

        A state saved before actions kept how long they last has no
        ``lasting``: its actions count as lasting as long as the longest
        rule, so no rule issues them again before they expire. One saved
        without ``started`` is in force from its expiry less its length
        (from any time, when either is unbounded).
        """
        active = state.get("active", [])
        lasting = state.get("lasting")
        started = state.get("started")
        if lasting is None:
            lasting = [None] * len(active)
        if started is None:
            started = [None] * len(active)
        if len(lasting) != len(active) or len(started) != len(active):
            raise ValueError(
                f"{len(active)} actions in force but {len(lasting)} lengths "
                f"and {len(started)} start times"
            )
        self._active = LruDict(
            self.max_active, map(_in_force, active, lasting, started)
        )

    def _action(
        self,
        event: EventBase,
        verdict_id: str,
        rule: Rule,
        signal: Signal,
        mode: Mode,
        target_type: str,
        target: str,
    ) -> Action | None:
        if rule.action == "allow" or not target:
            return None
        now = event.ts.timestamp()
        key = (f"{rule.action}:{mode}", f"{target_type}:{target}")
        lasting = _lasting(rule)
        in_force = self._active.get(key)
        if in_force is not None:
            start, until, length = in_force
            late = min(length, LATE_COVER)
            if start - late <= now < until and lasting <= length:
                return None  # in force on this target, for as long or longer
        self._active.put(key, _covering(in_force, now, now + lasting, lasting))
        return Action(
            action_id=stable_id("act", verdict_id, rule.id, target_type, target, mode),
            verdict_id=verdict_id,
            event_id=event.event_id,
            type=rule.action,
            target_type=target_type,
            target=target,
            mode=mode,
            actor=f"policy:{self.policy.ref}#{rule.id}",
            reason="; ".join(signal.reasons) or signal.kind,
            created_at=event.ts,
            expires_at=event.ts + rule.expires if rule.expires is not None else None,
        )


class _Variables:
    """The CEL variables of one event, each built on first use and kept."""

    __slots__ = ("_event", "_per_signal", "_shared", "_signals")

    def __init__(self, event: EventBase, signals: Sequence[Signal]) -> None:
        self._event = event
        self._signals = signals
        self._shared: dict[str, Any] = {}
        self._per_signal: dict[tuple[int, str], Any] = {}

    def for_condition(self, signal: Signal, names: frozenset[str]) -> dict[str, Any]:
        """Return the variables ``names`` for a condition read on ``signal``."""
        values = {}
        for name in names:
            if name in SIGNAL_VARIABLES:
                key = (id(signal), name)
                if key not in self._per_signal:
                    self._per_signal[key] = SIGNAL_VARIABLES[name](signal)
                values[name] = self._per_signal[key]
            else:
                if name not in self._shared:
                    self._shared[name] = (
                        event_variable(self._event)
                        if name == "event"
                        else strongest_signals(self._signals)
                    )
                values[name] = self._shared[name]
        return values


def _content(event: EventBase) -> str:
    """Return a digest of the event's content (its fields, not just its id)."""
    return hashlib.blake2b(_encode(event), digest_size=12).hexdigest()


def _targets(rule: Rule, signal: Signal, event: EventBase) -> list[tuple[str, str]]:
    """Resolve what a rule's action applies to for this event and signal."""
    if rule.target.startswith(EVIDENCE_PREFIX):
        return _evidence_targets(rule.target.removeprefix(EVIDENCE_PREFIX), signal)
    return [_target(rule, signal, event)]


def _evidence_targets(target_type: str, signal: Signal) -> list[tuple[str, str]]:
    """Return the targets of ``target_type`` the signal's evidence lists, in order.

    Anything that is not a list of non-empty strings lists no target.
    """
    listed = signal.evidence.get("targets")
    values = listed.get(target_type) if isinstance(listed, dict) else None
    if not isinstance(values, list | tuple):
        return []
    found = dict.fromkeys(v for v in values if isinstance(v, str) and v)
    return [(target_type, value) for value in found]


def _target(rule: Rule, signal: Signal, event: EventBase) -> tuple[str, str]:
    """Resolve the one target of a rule that does not read the evidence."""
    if rule.target == "account":
        return "account", event.account or ""
    if rule.target == "ip":
        return "ip", event.ip or ""
    # the link or file object itself, when the event names one
    if rule.action == "disable_link" and getattr(event, "link_id", None):
        return "link", event.link_id  # type: ignore[attr-defined]
    if rule.action == "quarantine_file" and getattr(event, "file_id", None):
        return "file", event.file_id  # type: ignore[attr-defined]
    return signal.entity_type, signal.entity


def _lasting(rule: Rule) -> float:
    """How many seconds the rule's action lasts (infinity without expiry)."""
    return _FOREVER if rule.expires is None else rule.expires.total_seconds()


def _covering(
    in_force: tuple[float, float, float] | None,
    start: float,
    until: float,
    lasting: float,
) -> tuple[float, float, float]:
    """The event times covered once an action over ``[start, until)`` is issued.

    The new action joins the one in force: from the earlier start to the
    later expiry. Both were issued, and both are sent when dispatched, so
    the target is acted on over the whole span; keeping only the newest
    would let events alternating between two times issue an action each.
    """
    if in_force is None:
        return start, until, lasting
    old_start, old_until, old_lasting = in_force
    return min(start, old_start), max(until, old_until), max(lasting, old_lasting)


def _in_force(
    entry: Sequence[Any], lasting: float | None, started: float | None
) -> tuple[tuple[str, str], tuple[float, float, float]]:
    """One saved in-force action as its key and (from, until, lasting)."""
    kind, target, until = entry
    end = _FOREVER if until is None else float(until)
    length = _FOREVER if lasting is None else float(lasting)
    if started is not None:
        start = float(started)
    elif math.isfinite(end) and math.isfinite(length):
        start = end - length
    else:
        start = -_FOREVER
    return (kind, target), (start, end, length)


def _strongest(hits: list[RuleHit]) -> ActionType:
    enforced = [hit.action for hit in hits if hit.mode != "shadow" and hit.target]
    return max(enforced, key=ACTION_SEVERITY.__getitem__, default="allow")
