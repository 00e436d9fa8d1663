"""Run a policy against labelled examples: ``trustwatch policy test``.

An examples file is JSON Lines, one example per line::

    {"event": {"type": "login", "event_id": "e1", "ts": "2026-12-01T10:00:00Z",
               "account": "alice", "ip": "203.0.113.9", "success": true},
     "signals": [{"kind": "takeover_chain", "score": 0.97,
                  "reasons": ["new_device"], "features": {"failures": 12}}],
     "expect": {"decision": "force_password_reset",
                "rules": ["reset-strong-takeover"], "not_rules": ["allow-vip"]},
     "label": "account_takeover"}

``event`` is a trustwatch event (as ``trustwatch schema`` describes); an
example may instead give the event's fields beside its own keys: at least
``account``, with ``type`` (default ``"login"``), ``ts``, ``event_id`` and,
for a login, ``success`` (default true) filled in when left out; any other
field of the type (``ip``, ``file_id``, an ``mfa_changed``'s ``change``) is
taken as given, and a field the type does not have makes the line bad.
Each signal needs ``kind`` (one a registered detector raises: a misspelt
kind makes the line bad) and ``score``; ``reasons``, ``features`` (kept
as ``evidence["features"]``), ``evidence``, ``detector``, ``entity_type``,
``entity`` and ``indicators`` are optional; the entity defaults to the event's account.

Expectations are all optional: ``expect.decision`` (the verdict's decision),
``expect.rules`` (rule ids that must hit, in any mode) and
``expect.not_rules`` (ids that must not); a rule id the policy does not
have makes the line bad. ``label`` is ``"benign"``, ``"abusive"`` or the name
of an abuse (one of :data:`~trustwatch.review.model.LABEL_KINDS`, which counts
as abusive), spelled exactly; ``true``, ``false``, ``1`` and ``0`` work too.
A signal's ``score`` is a finite number from 0 to 1. Per rule the report
gives the examples it hit and, over the labelled examples, its precision and
recall.

A line that cannot be read becomes a :class:`BadExample` with its line
number; the other lines still run.
"""

from __future__ import annotations

import difflib
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.model import ACTION_SEVERITY, Verdict
from trustwatch.decisions.policy import Policy
from trustwatch.detectors.base import Signal
from trustwatch.detectors.registry import known_signal_kinds
from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.events.decode import EventDecoder
from trustwatch.events.model import EventBase, type_name
from trustwatch.review.model import LABEL_KINDS

__all__ = [
    "BadExample",
    "Example",
    "ExampleResult",
    "PolicyTestReport",
    "RuleScore",
    "read_examples",
    "run_examples",
]

_DEFAULT_TS = "2026-01-01T00:00:00Z"
#: Label spellings accepted besides the label kinds, and whether each is abusive.
_LABEL_WORDS = {"abusive": True, "true": True, "1": True, "false": False, "0": False}
_MAX_LINE = 1_000_000


@dataclass(frozen=True)
class Example:
    """One labelled example: an event, its signals and what should happen."""

    line: int
    event: EventBase
    signals: tuple[Signal, ...]
    decision: str | None = None
    rules: tuple[str, ...] = ()
    not_rules: tuple[str, ...] = ()
    abusive: bool | None = None


@dataclass(frozen=True)
class BadExample:
    """A line of the examples file that could not be read, and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class ExampleResult:
    """What the policy decided on one example, and what differed."""

    line: int
    decision: str
    rules_hit: tuple[str, ...]
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Tell whether every expectation of the example held."""
        return not self.failures


@dataclass
class RuleScore:
    """How one rule did on the examples.

    ``precision`` and ``recall`` are over labelled examples only, and
    ``None`` where undefined (no labelled hit, no abusive example).
    ``condition_errors`` counts the examples on which the rule's condition
    failed at least once.
    """

    rule_id: str
    mode: str
    hits: int = 0
    true_positives: int = 0
    labelled_hits: int = 0
    condition_errors: int = 0
    precision: float | None = None
    recall: float | None = None


@dataclass
class PolicyTestReport:
    """Results per example, scores per rule, and the lines left out."""

    policy: str
    results: list[ExampleResult] = field(default_factory=list)
    rules: list[RuleScore] = field(default_factory=list)
    bad_lines: list[BadExample] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Examples with at least one failed expectation."""
        return sum(not r.passed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain values, for ``--json``."""
        return {
            "policy": self.policy,
            "examples": len(self.results),
            "failed": self.failed,
            "bad_lines": [{"line": b.line, "reason": b.reason} for b in self.bad_lines],
            "results": [
                {
                    "line": r.line,
                    "passed": r.passed,
                    "decision": r.decision,
                    "rules_hit": list(r.rules_hit),
                    "failures": list(r.failures),
                }
                for r in self.results
            ],
            "rules": [vars(score) for score in self.rules],
        }


def read_examples(path: str | Path) -> Iterator[Example | BadExample]:
    """Yield the examples of a JSON Lines file, and a :class:`BadExample` per bad line.

    Raises
    ------
    ConfigError
        When the file cannot be read at all.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read examples {source}: {exc}; hint: give a UTF-8 JSON Lines "
            "file, one example per line"
        ) from exc
    decoder = EventDecoder()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield _example(number, line, decoder)
        except _Unreadable as exc:
            yield BadExample(number, str(exc))
        except RecursionError:
            yield BadExample(number, "nested too deeply to read")


class _Unreadable(ValueError):
    """An example line that cannot be used."""


def _example(number: int, line: str, decoder: EventDecoder) -> Example:
    if len(line) > _MAX_LINE:
        raise _Unreadable(f"longer than {_MAX_LINE:,} characters")
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"not JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError:
        raise _Unreadable("not JSON") from None
    except RecursionError:
        raise _Unreadable("nested too deeply to read") from None
    if not isinstance(raw, dict):
        raise _Unreadable("not a JSON object")
    event = _event(number, raw, decoder)
    signals = raw.get("signals", [])
    if not isinstance(signals, list) or not signals:
        raise _Unreadable(
            "'signals' must be a non-empty list of signal objects, such as "
            '[{"kind": "takeover_chain", "score": 0.9}]'
        )
    expect = raw.get("expect", {})
    if not isinstance(expect, dict):
        raise _Unreadable("'expect' must be an object")
    unknown = set(expect) - {"decision", "rules", "not_rules"}
    if unknown:
        raise _Unreadable(f"unknown expectations {sorted(unknown)}")
    decision = expect.get("decision")
    if decision is not None and decision not in ACTION_SEVERITY:
        raise _Unreadable(f"expect.decision {decision!r} is not an action type")
    return Example(
        line=number,
        event=event,
        signals=tuple(_signal(s, event, i) for i, s in enumerate(signals)),
        decision=decision,
        rules=_ids(expect.get("rules", []), "expect.rules"),
        not_rules=_ids(expect.get("not_rules", []), "expect.not_rules"),
        abusive=_label(raw.get("label")),
    )


#: An example's own keys; in the shorthand, the others are the event's fields.
_EXAMPLE_KEYS = frozenset({"event", "signals", "expect", "label"})


def _event(number: int, raw: dict[str, Any], decoder: EventDecoder) -> EventBase:
    """Decode the example's event, or make one from ``account`` and ``type``."""
    given = raw.get("event")
    if given is None:
        if not isinstance(raw.get("account"), str):
            raise _Unreadable("give an 'event' object, or at least an 'account'")
        # every key that is not the example's own is a field of the event
        given = {k: v for k, v in raw.items() if k not in _EXAMPLE_KEYS}
        given.setdefault("type", "login")
        given.setdefault("event_id", f"example-{number}")
        given.setdefault("ts", _DEFAULT_TS)
        if given["type"] == "login":
            given.setdefault("success", True)
    if not isinstance(given, dict):
        raise _Unreadable("'event' must be an object")
    try:
        event = decoder.decode(json.dumps(given).encode())
    except InvalidEventError as exc:
        message = str(exc)
        if "no time zone" in message:
            # the decoder's hint names --source-tz, which this command lacks
            message = message.split("; hint:")[0] + (
                "; hint: write the example's ts with an offset, such as "
                "2026-01-01T10:00:00Z or 2026-01-01T10:00:00+02:00"
            )
        raise _Unreadable(f"event: {message}") from None
    # events in a stream may carry fields of later versions; an example's
    # unknown field is a typo, which would test something else than meant
    unknown = sorted(set(given) - {"type", *event.__struct_fields__})
    if unknown:
        raise _Unreadable(
            f"event: {type_name(event)!r} has no field {unknown[0]!r}; hint: "
            "`trustwatch schema` lists each type's fields"
        )
    return event


def _signal(raw: Any, event: EventBase, index: int) -> Signal:
    """Build one signal, filling what an example may leave out."""
    if not isinstance(raw, dict):
        raise _Unreadable(f"signal #{index + 1} is not an object")
    values = dict(raw)
    evidence = values.pop("evidence", {})
    features = values.pop("features", None)
    if not isinstance(evidence, dict):
        raise _Unreadable(f"signal #{index + 1}: 'evidence' must be an object")
    if features is not None:
        evidence = {**evidence, "features": features}
    kind = values.get("kind")
    known = known_signal_kinds()
    if isinstance(kind, str) and kind not in known:
        close = difflib.get_close_matches(kind, sorted(known), n=1)
        hint = f"did you mean {close[0]!r}" if close else "`trustwatch detectors`"
        raise _Unreadable(
            f"signal #{index + 1}: no detector raises kind {kind[:60]!r}; hint: {hint}"
        )
    values.setdefault("detector", "example")
    values.setdefault("detector_version", "0")
    values.setdefault("entity_type", "account")
    values.setdefault("entity", event.account or "")
    values.setdefault("event_id", event.event_id)
    score = values.get("score")
    if (
        isinstance(score, bool)
        or not isinstance(score, int | float)
        or not math.isfinite(score)
        or not 0.0 <= score <= 1.0
    ):
        raise _Unreadable(
            f"signal #{index + 1}: 'score' must be a number from 0 to 1, "
            f"not {str(score)[:40]!r}"
        )
    try:
        return msgspec.convert({**values, "evidence": evidence}, Signal)
    except msgspec.ValidationError as exc:
        raise _Unreadable(f"signal #{index + 1}: {exc}") from None


def _ids(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Unreadable(f"{name} must be a list of rule ids")
    return tuple(value)


def _label(value: Any) -> bool | None:
    """Return True for abusive, False for benign, None for no label.

    Spelled exactly: a typo such as ``"bengin"`` or ``"Benign"`` would
    otherwise count silently as abusive.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value in _LABEL_WORDS:
        return _LABEL_WORDS[value]
    if isinstance(value, str) and value in LABEL_KINDS:
        return value != "benign"
    raise _Unreadable(
        f"'label' {str(value)[:40]!r} is not a label; hint: benign, abusive, "
        f"true, false, 0, 1, or a kind of abuse: "
        f"{', '.join(k for k in LABEL_KINDS if k != 'benign')}"
    )


def run_examples(
    policy: Policy, examples: Iterable[Example | BadExample]
) -> PolicyTestReport:
    """Decide every example under ``policy`` and check what was expected."""
    engine = DecisionEngine(policy)
    report = PolicyTestReport(policy=policy.ref)
    outcomes: list[tuple[bool | None, set[str]]] = []
    # examples on which each rule's condition failed (an example may fail a
    # condition once per signal; the engine counts those)
    failed_on: Counter[str] = Counter()
    rule_ids = {rule.id for rule in policy.rules}
    for example in examples:
        unknown = (
            [r for r in (*example.rules, *example.not_rules) if r not in rule_ids]
            if isinstance(example, Example)
            else []
        )
        if unknown:
            example = BadExample(
                example.line, f"no rule {unknown[0]!r} in the policy {policy.ref}"
            )
        if isinstance(example, BadExample):
            report.bad_lines.append(example)
            continue
        before = Counter(engine.rule_errors)
        verdict, _ = engine.decide(example.event, example.signals)
        failed_on.update(r for r, n in engine.rule_errors.items() if n > before[r])
        report.results.append(_checked(example, verdict))
        outcomes.append((example.abusive, {hit.rule_id for hit in verdict.rules}))
    report.rules = _scores(policy, outcomes, failed_on)
    return report


def _checked(example: Example, verdict: Verdict) -> ExampleResult:
    """Compare one verdict with the example's expectations."""
    hit = list(dict.fromkeys(h.rule_id for h in verdict.rules))
    failures = []
    if example.decision is not None and verdict.decision != example.decision:
        failures.append(f"decision is {verdict.decision}, expected {example.decision}")
    failures += [f"rule {r} did not hit" for r in example.rules if r not in hit]
    failures += [f"rule {r} hit" for r in example.not_rules if r in hit]
    return ExampleResult(example.line, verdict.decision, tuple(hit), tuple(failures))


def _scores(
    policy: Policy,
    outcomes: list[tuple[bool | None, set[str]]],
    errors: Counter[str],
) -> list[RuleScore]:
    """Score every rule of the policy over the examples' labels."""
    abusive = sum(1 for label, _ in outcomes if label)
    scores = []
    for rule in policy.rules:
        score = RuleScore(rule.id, rule.mode, condition_errors=errors[rule.id])
        for label, hit in outcomes:
            if rule.id not in hit:
                continue
            score.hits += 1
            if label is not None:
                score.labelled_hits += 1
                score.true_positives += bool(label)
        if score.labelled_hits:
            score.precision = score.true_positives / score.labelled_hits
        if abusive:
            score.recall = score.true_positives / abusive
        scores.append(score)
    return scores
