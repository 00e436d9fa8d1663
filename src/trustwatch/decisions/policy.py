"""Policies: rules that turn detector signals into verdicts and actions.

A policy is a TOML file::

    name = "default"
    version = "2026.12.1"

    [[rules]]
    id = "block-credential-stuffing"
    signals = ["credential_stuffing"]   # signal kinds this rule reads
    min_score = 0.5                     # the signal's score must reach this
    action = "block_source"             # what to do
    target = "entity"                   # the signal's entity, or "account"/"ip"
    mode = "enforce"                    # enforce | shadow | disabled
    expires = "1h"                      # how long the action lasts (optional)
    delay = "5m-30m"                    # random wait before dispatch (optional)

A rule whose ``target`` is ``"evidence:<type>"`` (``"evidence:link"``, say)
acts on every target of that type the signal lists in its evidence, under
``evidence["targets"][<type>]``: one action per listed link, file or account.
A signal that lists none gives that rule nothing to act on::

    [[rules]]
    id = "disable-links-to-malicious-content"
    signals = ["malicious_content"]
    action = "disable_link"
    target = "evidence:link"

A rule may also carry a condition in CEL, the Common Expression Language
(https://github.com/google/cel-spec), evaluated only on signals that passed
its ``signals`` and ``min_score`` filter, so a condition costs nothing on
other events::

    [[rules]]
    id = "reset-password-strong-takeover"
    signals = ["takeover_chain"]
    min_score = 0.8
    when = '''
      "new_device" in signal.reasons
      && signals["risky_login"] >= 0.7
      && event.type == "password_changed"
    '''
    action = "force_password_reset"
    target = "account"

A condition reads these variables:

``signal``
    The signal being matched: ``kind``, ``score``, ``detector``,
    ``detector_version``, ``entity_type``, ``entity``, ``reasons`` (a list
    of strings), ``features`` (``evidence["features"]`` when the detector
    records one, else an empty map), ``evidence`` (a map) and
    ``indicators`` (the intel matches, as in ``intel``).
``signals``
    Every signal kind the event raised, mapped to its highest score, so a
    rule can combine signals: ``signals["login_risk"] > 0.8``,
    ``"intel_ip" in signals``.
``event``
    The event: ``type``, ``event_id``, ``account``, ``ip``, ``ts`` (a CEL
    timestamp) and the event type's own fields (``success``, ``link_id``,
    ...); a field the event left out is ``null``.
``ring``
    Ring membership when the signal carries it (``ring_member`` and
    ``ring_attach``): ``id``, ``size``, ``risk``; an empty map otherwise,
    so test ``has(ring.id)`` first.
``intel``
    The signal's matched indicators, each with ``type``, ``value``,
    ``feed`` (the first feed), ``feeds``, ``confidence`` (0-100) and
    ``reference``: ``intel.exists(i, i.confidence >= 80)``.

A rule with ``when`` may leave ``signals`` out: it is then evaluated on every
signal of every event whose score reaches ``min_score`` (0.5 unless set),
which costs a condition evaluation per such signal; prefer naming the kinds.

Conditions are compiled when the policy loads. A syntax error, a name that is
not one of the variables above, or a result that is plainly not a boolean is
a :class:`~trustwatch.errors.PolicyError` naming the file, the rule and the
column, with a caret under it. A condition that fails while running (a key
the map lacks, a type mismatch) does not match; the engine counts such
failures per rule (:attr:`~trustwatch.decisions.engine.DecisionEngine.rule_errors`).

Rules are checked on load; an error names the file, the rule and the field.
Given the signal kinds the detectors raise (``known_kinds``), a load also
refuses a rule that reads a kind none raises, in ``signals`` or in its
condition (``signals["<kind>"]``, ``"<kind>" in signals``): such a rule never
fires, or its condition never reads what it meant to. ``trustwatch policy
check`` loads so; a run only warns (see :func:`unknown_kinds`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
from collections import Counter
from collections.abc import Set
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from trustwatch.decisions.conditions import (
    CelCondition,
    ConditionError,
    compile_condition,
)
from trustwatch.decisions.model import (
    ACTION_SEVERITY,
    ACTION_TARGETS,
    ActionType,
    acts_on,
)
from trustwatch.errors import PolicyError

__all__ = [
    "EVIDENCE_PREFIX",
    "EVIDENCE_TARGET_TYPES",
    "Policy",
    "Rule",
    "default_policy",
    "load_policy",
    "parse_delay",
    "parse_duration",
    "policy_from_dict",
    "unknown_kinds",
]

RuleMode = Literal["enforce", "shadow", "disabled"]
_TARGETS = ("entity", "account", "ip")
#: Target types a rule may take from a signal's ``evidence["targets"]``.
EVIDENCE_TARGET_TYPES = ("account", "ip", "file", "link")
EVIDENCE_PREFIX = "evidence:"
# ASCII digits only: int() would read other scripts' digits too
_DURATION_RE = re.compile(r"^([0-9]+)\s*([smhd])$", re.ASCII)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


#: The longest expiry a rule may give an action (ten years).
MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """Parse ``"30s"``, ``"15m"``, ``"24h"`` or ``"7d"`` into a timedelta.

    The duration must be at least one second and at most :data:`MAX_DURATION`;
    leave ``expires`` out for an action that does not expire. Only ASCII
    digits count, and anything but a string is refused.
    """
    if not isinstance(text, str):
        raise ValueError(
            f"{text!r} is not a duration like '15m', '24h' or '7d'; hint: quote "
            "it, with its unit"
        )
    match = _DURATION_RE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration like '15m', '24h' or '7d'")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not 1 <= seconds <= MAX_DURATION.total_seconds():
        raise ValueError(
            f"{text!r} is out of range: from 1s to {MAX_DURATION.days}d; "
            "leave expires out for an action that does not expire"
        )
    return timedelta(seconds=seconds)


def duration_text(duration: timedelta) -> str:
    """Write a duration as :func:`parse_duration` reads it: ``"7d"``, ``"90m"``.

    The largest unit that divides it exactly is used.
    """
    seconds = int(duration.total_seconds())
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_delay(text: str) -> tuple[timedelta, timedelta]:
    """Parse a delay range like ``"5m-30m"`` (or one duration, ``"10m"``)."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a delay like '5m-30m' or '10m'")
    low, _, high = text.partition("-")
    bounds = (parse_duration(low), parse_duration(high or low))
    if bounds[0] > bounds[1]:
        raise ValueError(f"{text!r}: the shortest delay comes first, as in '5m-30m'")
    return bounds


@dataclass(frozen=True, slots=True)
class Rule:
    """One checked policy rule."""

    id: str
    signals: frozenset[str]
    min_score: float
    action: ActionType
    target: str
    mode: RuleMode
    expires: timedelta | None
    description: str = ""
    delay: tuple[timedelta, timedelta] | None = None
    when: CelCondition | None = None

    @property
    def any_signal(self) -> bool:
        """Tell whether the rule reads every signal kind (it names none)."""
        return not self.signals


@dataclass(frozen=True)
class Policy:
    """A named, versioned list of rules, indexed by the signal kinds they read."""

    name: str
    version: str
    rules: tuple[Rule, ...]
    digest: str = ""
    _by_kind: dict[str, tuple[Rule, ...]] = field(init=False, repr=False, compare=False)

    _any_kind: tuple[Rule, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        active = [rule for rule in self.rules if rule.mode != "disabled"]
        kinds = sorted({kind for rule in active for kind in rule.signals})
        # rules that name no kind read every kind, in policy order with the rest
        index = {
            kind: tuple(r for r in active if kind in r.signals or r.any_signal)
            for kind in kinds
        }
        object.__setattr__(self, "_by_kind", index)
        object.__setattr__(self, "_any_kind", tuple(r for r in active if r.any_signal))

    @property
    def ref(self) -> str:
        """Return ``name@version``, the policy's id in provenance."""
        return f"{self.name}@{self.version}"

    def rules_for(self, kind: str) -> tuple[Rule, ...]:
        """Return the active rules that read signals of ``kind``."""
        return self._by_kind.get(kind, self._any_kind)


def _rule(raw: dict[str, Any], where: str, known_kinds: Set[str] | None) -> Rule:
    """Build one rule; every fault it has is reported at once.

    With ``known_kinds``, a signal kind the rule reads that is not among
    them is a fault too.

    Raises
    ------
    PolicyError
        Naming each fault of the rule, one a line.
    """
    faults: list[str] = []

    def need(key: str, kind: type) -> Any:
        if key not in raw:
            faults.append(f"{where}: missing {key!r}")
        elif not isinstance(raw[key], kind):
            faults.append(f"{where}: {key!r} must be a {kind.__name__}")
        elif kind is str and not raw[key].strip():
            faults.append(f"{where}: {key!r} must not be empty")
        else:
            return raw[key]
        return None

    unknown = set(raw) - {
        "id",
        "signals",
        "min_score",
        "action",
        "target",
        "mode",
        "expires",
        "description",
        "delay",
        "when",
    }
    if unknown:
        faults.append(f"{where}: unknown fields {sorted(unknown)}")
    rule_id = need("id", str)
    when = None
    if "when" in raw:
        try:
            when = _condition(raw["when"], where)
        except PolicyError as exc:
            faults.append(str(exc))
    signals: list[str] = []
    if "signals" in raw or "when" not in raw:
        signals = need("signals", list) or []
        if (
            "signals" in raw
            and isinstance(raw["signals"], list)
            and (
                not signals
                or not all(isinstance(s, str) and s.strip() for s in signals)
            )
        ):
            faults.append(f"{where}: 'signals' must be a non-empty list of kinds")
    if known_kinds is not None:
        faults.extend(_unknown_kind_faults(signals, when, known_kinds, where))
    if when is not None and signals:
        faults.extend(_unmet_faults(signals, when, known_kinds, where))
    action = need("action", str)
    if action == "allow":
        faults.append(
            f"{where}: action 'allow' is what an event gets when no rule acts, "
            "not an action; hint: to exempt accounts, add a `when` condition "
            "to the rules that should not act on them"
        )
    elif action is not None and action not in ACTION_SEVERITY:
        known = ", ".join(a for a in ACTION_SEVERITY if a != "allow")
        faults.append(f"{where}: action {action!r} is not one of {known}")
    score = raw.get("min_score", 0.5)
    if (
        isinstance(score, bool)
        or not isinstance(score, int | float)
        or not 0 <= score <= 1
    ):
        faults.append(f"{where}: min_score must be a number in [0, 1]")
    target = raw.get("target", "entity")
    if not _known_target(target):
        listed = [f"{EVIDENCE_PREFIX}{kind}" for kind in EVIDENCE_TARGET_TYPES]
        faults.append(
            f"{where}: target {target!r} is not one of {(*_TARGETS, *listed)}"
        )
    elif action in ACTION_SEVERITY:
        faults.extend(_target_faults(action, target, where))
    mode = raw.get("mode", "enforce")
    if mode not in ("enforce", "shadow", "disabled"):
        faults.append(f"{where}: mode {mode!r} is not enforce/shadow/disabled")
    expires = delay = None
    try:
        expires = parse_duration(raw["expires"]) if "expires" in raw else None
    except (ValueError, AttributeError, OverflowError) as exc:
        faults.append(f"{where}: expires: {exc}")
    try:
        delay = parse_delay(raw["delay"]) if "delay" in raw else None
    except (ValueError, AttributeError, OverflowError) as exc:
        faults.append(f"{where}: delay: {exc}")
    if expires is not None and delay is not None and delay[1] >= expires:
        faults.append(
            f"{where}: delay {raw['delay']!r} is not shorter than expires "
            f"{raw['expires']!r}: every action would expire before it is sent; "
            "hint: shorten the delay, or let the action last longer"
        )
    if faults:
        raise PolicyError("\n".join(faults))
    return Rule(
        id=rule_id,
        signals=frozenset(signals),
        min_score=float(score),
        action=cast(ActionType, action),
        target=target,
        mode=cast(RuleMode, mode),
        expires=expires,
        description=str(raw.get("description", "")),
        delay=delay,
        when=when,
    )


def _target_faults(action: str, target: str, where: str) -> list[str]:
    """Return a fault when the rule's target is a kind its action cannot act on.

    ``account``, ``ip`` and ``evidence:<type>`` name their kind; the kind of
    ``entity`` is the signal's, known only when the rule decides (the engine
    then acts on nothing, see :mod:`trustwatch.decisions.engine`).
    """
    kind = target.removeprefix(EVIDENCE_PREFIX)
    if target == "entity" or acts_on(action, kind):
        return []
    kinds = sorted(ACTION_TARGETS[action] or ())
    listed = [f"{EVIDENCE_PREFIX}{kind}" for kind in EVIDENCE_TARGET_TYPES]
    fitting = [
        t
        for t in ("entity", *_TARGETS[1:], *listed)
        if t == "entity" or t.removeprefix(EVIDENCE_PREFIX) in kinds
    ]
    return [
        f"{where}: target {target!r} is {'an' if kind[0] in 'aeiou' else 'a'} "
        f"{kind}, and action {action!r} acts only on {' or '.join(kinds)} "
        f"targets; hint: target {' or '.join(repr(t) for t in fitting)}, or "
        "choose an action that acts on this target"
    ]


def _unknown_kind_faults(
    signals: list[Any],
    when: CelCondition | None,
    known_kinds: Set[str],
    where: str,
) -> list[str]:
    """Return a fault for each signal kind the rule reads that none raises."""
    faults = []
    named = {kind for kind in signals if isinstance(kind, str)}
    for kind in sorted(named - known_kinds):
        faults.append(
            f"{where}: reads signal kind {kind!r}, which no detector raises; "
            f"the rule never fires; hint: {_kind_hint(kind, known_kinds)}"
        )
    for kind in sorted((when.kinds_read if when else frozenset()) - known_kinds):
        faults.append(
            f"{where}: when reads signal kind {kind!r}, which no detector "
            f"raises; hint: {_kind_hint(kind, known_kinds)}"
        )
    return faults


def _unmet_faults(
    signals: list[Any],
    when: CelCondition,
    known_kinds: Set[str] | None,
    where: str,
) -> list[str]:
    """Return a fault for each requirement of ``when`` the rule's kinds never meet.

    ``signal.kind == "K"`` with K not among the rule's ``signals``, and
    ``event.type == "T"`` when no detector raises the rule's kinds on a T
    event: the condition can never match. A kind none of ``known_kinds``
    is reported as unknown instead.
    """
    named = sorted({kind for kind in signals if isinstance(kind, str)})
    faults = []
    for path, value in sorted(when.required):
        unknown = known_kinds is not None and value not in known_kinds
        if path == "signal.kind" and value not in named and not unknown:
            faults.append(
                f"{where}: when requires signal.kind == {value!r}, and the rule "
                f"reads only {', '.join(named)}: it never matches; hint: add "
                f"{value!r} to signals, or test a kind the rule reads"
            )
        if path == "event.type":
            raised_on = _event_types(named)
            if raised_on is not None and value not in raised_on:
                faults.append(
                    f"{where}: when requires event.type == {value!r}, and "
                    f"{', '.join(named)} {'is' if len(named) == 1 else 'are'} "
                    f"raised only on {', '.join(sorted(raised_on))} events: it "
                    "never matches; hint: test one of those types, or read a "
                    f"kind raised on {value} events"
                )
    return faults


def _event_types(kinds: list[str]) -> set[str] | None:
    """Return the event types the detectors raise ``kinds`` on; None if any."""
    from trustwatch.detectors.registry import available

    found: set[str] = set()
    for kind in kinds:
        raisers = [d for d in available().values() if kind in d.signal_kinds]
        if not raisers:
            return None  # a kind no detector raises is reported on its own
        for detector in raisers:
            if detector.event_types is None:
                return None
            found.update(str(t.__struct_config__.tag) for t in detector.event_types)
    return found


def _kind_hint(kind: str, known_kinds: Set[str]) -> str:
    """Suggest the known kind closest to ``kind``, or where to find them.

    A detector's name given as a kind (``login_risk``) is answered with the
    kinds that detector raises (``risky_login``).
    """
    from trustwatch.detectors.registry import available

    detector = available().get(kind)
    raised = [k for k in detector.signal_kinds if k in known_kinds] if detector else []
    if raised:
        kinds = " or ".join(repr(k) for k in raised)
        return f"{kind!r} is a detector; it raises {kinds}"
    close = difflib.get_close_matches(kind, sorted(known_kinds), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return "`trustwatch detectors` lists the kinds each detector raises"


def _condition(source: Any, where: str) -> CelCondition:
    """Compile a rule's ``when``; errors point at the column with a caret."""
    if not isinstance(source, str) or not source.strip():
        raise PolicyError(f"{where}: 'when' must be a CEL expression in a string")
    try:
        return compile_condition(source)
    except ConditionError as exc:
        raise PolicyError(f"{where}: when: {_pointed(source, exc)}") from None


def _pointed(source: str, exc: ConditionError) -> str:
    """Return the error with the expression's line and a caret at the column."""
    if exc.column is None:
        return exc.message
    lines = source.split("\n")
    number = min(max(exc.line, 1), len(lines))
    where = f"line {number}, " if len(lines) > 1 else ""
    caret = " " * (exc.column - 1) + "^"
    shown = lines[number - 1]
    return f"{exc.message} ({where}column {exc.column})\n    {shown}\n    {caret}"


def _known_target(target: Any) -> bool:
    """Tell whether ``target`` is a rule target the engine can resolve."""
    if not isinstance(target, str):
        return False
    if target.startswith(EVIDENCE_PREFIX):
        return target.removeprefix(EVIDENCE_PREFIX) in EVIDENCE_TARGET_TYPES
    return target in _TARGETS


#: What a policy file may hold at its top level.
_TOP_LEVEL_KEYS = frozenset({"name", "version", "description", "rules"})
#: Faults listed in one policy error; more are counted on a last line.
_PROBLEMS_LISTED = 50


def policy_from_dict(
    data: dict[str, Any], source: str, known_kinds: Set[str] | None = None
) -> Policy:
    """Check and build a policy from parsed TOML; errors name ``source``.

    Every fault is reported at once (every fault of every rule, up to
    ``_PROBLEMS_LISTED`` of them), so that fixing a policy takes one round,
    not one per fault. With ``known_kinds`` (the kinds the detectors raise),
    a rule reading any other kind is a fault.
    """
    problems: list[str] = []
    unknown = sorted(set(data) - _TOP_LEVEL_KEYS)
    if unknown:
        problems.append(
            f"{source}: unknown top-level keys {unknown}; hint: a policy holds "
            f"only {sorted(_TOP_LEVEL_KEYS)} at the top, and each rule its own "
            "mode (enforce, shadow or disabled)"
        )
    for key in ("name", "version"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{source}: top-level {key!r} (a string) is required")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        problems.append(f"{source}: at least one [[rules]] table is required")
        raw_rules = []
    rules = []
    for i, raw in enumerate(raw_rules, 1):
        if not isinstance(raw, dict):
            problems.append(f"{source}: rule #{i} must be a [[rules]] table")
            continue
        try:
            where = f"{source}: rule {raw.get('id', f'#{i}')}"
            rules.append(_rule(raw, where, known_kinds))
        except PolicyError as exc:
            problems.append(str(exc))
    # ids of broken rules count too: a repeat is a fault of its own (an id
    # that is not a string is reported with its rule)
    ids = Counter(
        raw["id"]
        for raw in raw_rules
        if isinstance(raw, dict) and isinstance(raw.get("id"), str)
    )
    dupes = sorted(i for i, n in ids.items() if n > 1)
    if dupes:
        problems.append(f"{source}: rule ids must be unique; repeated: {dupes}")
    if len(problems) > _PROBLEMS_LISTED:
        left = len(problems) - _PROBLEMS_LISTED
        problems[_PROBLEMS_LISTED:] = [f"{source}: and {left} more problems"]
    if problems:
        raise PolicyError("\n".join(problems))
    canonical = json.dumps(data, sort_keys=True, default=str).encode()
    digest = hashlib.blake2b(canonical, digest_size=8).hexdigest()
    return Policy(
        name=data["name"], version=data["version"], rules=tuple(rules), digest=digest
    )


def load_policy(path: str | Path, known_kinds: Set[str] | None = None) -> Policy:
    """Load and check a policy file (see :func:`policy_from_dict`)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise PolicyError(f"cannot read policy {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from exc
    return policy_from_dict(data, str(path), known_kinds)


def unknown_kinds(policy: Policy, known: set[str]) -> list[str]:
    """Return the signal kinds the policy reads that no detector raises.

    Both the kinds a rule names in ``signals`` and those its condition reads
    (``signals["<kind>"]``, ``"<kind>" in signals``) count.
    """
    read = {k for rule in policy.rules for k in rule.signals}
    read.update(k for rule in policy.rules if rule.when for k in rule.when.kinds_read)
    return sorted(read - known)


def default_policy() -> Policy:
    """Return the policy that ships with trustwatch."""
    text = resources.files("trustwatch.decisions").joinpath("default_policy.toml")
    return policy_from_dict(tomllib.loads(text.read_text("utf-8")), "default_policy")
