"""Decisions: policies turn detector signals into verdicts and actions."""

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.model import (
    ACTION_SEVERITY,
    Action,
    ActionType,
    Mode,
    RuleHit,
    Verdict,
    stable_id,
)
from trustwatch.decisions.policy import (
    Policy,
    Rule,
    default_policy,
    load_policy,
    parse_duration,
)

__all__ = [
    "ACTION_SEVERITY",
    "Action",
    "ActionType",
    "DecisionEngine",
    "Mode",
    "Policy",
    "Rule",
    "RuleHit",
    "Verdict",
    "default_policy",
    "load_policy",
    "parse_duration",
    "stable_id",
]
