"""What CEL conditions on policy rules cost in ``DecisionEngine.decide``.

Builds ``--events`` synthetic login events, each with one to three signals of
kinds the policies read (scores drawn uniformly), and times ``decide()`` per
event, best of ``--repeat`` runs, under three policies with the same rules:

1. **plain**: ``signals`` and ``min_score`` only, as before conditions existed;
2. **one condition**: the same, with a ``when`` on the takeover rule only;
3. **every rule**: a ``when`` on every rule.

It prints microseconds per event, the ratio to the plain policy, the
condition evaluations per event, and the cost of building the variables, of
one evaluation and of one compile. Conditions run on the Rust CEL interpreter
(``common-expression-language``); most of an evaluation's cost is copying the
variables into it, which is why a condition is handed only the fields it
selects. A condition costs only on signals that passed its rule's kind and
score filter.

    python3 benchmarks/bench_policy_cel.py --events 3000

On a shared 2-core machine (December 2026, 3,000 events, 5,943 signals,
``--repeat 5``), moving from cel-python's tree-walking interpreter to the Rust
one took an evaluation from ~600-770 us to ~13-16 us, building the variables
from ~300 us to ~13-15 us and a compile from ~400-460 us to ~100-120 us; the
policy with one condition went from x15-18 to x1.7 the cost of the plain
policy (~8 us/event), and the one with a condition on every rule from x43-45
to x2.7-2.8.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from trustwatch.decisions.conditions import (
    compile_condition,
    event_variables,
    signal_variables,
)
from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import Policy, policy_from_dict
from trustwatch.detectors.base import Signal
from trustwatch.events.model import Login

KINDS = ("takeover_chain", "login_risk", "brute_force", "ring_member", "intel_ip")
CONDITIONS = {
    "takeover_chain": (
        '"new_device" in signal.reasons && "login_risk" in signals '
        '&& signals["login_risk"] > 0.5'
    ),
    "login_risk": "signal.features.failures >= 3 || signal.score > 0.9",
    "brute_force": 'event.type == "login" && !event.success',
    "ring_member": "has(ring.size) && ring.size >= 5",
    "intel_ip": "intel.exists(i, i.confidence >= 80)",
}


def build_policy(name: str, conditioned: set[str]) -> Policy:
    """Return one rule per kind, with a condition on the kinds in ``conditioned``."""
    rules = []
    for kind in KINDS:
        rule = {
            "id": f"act-on-{kind}",
            "signals": [kind],
            "min_score": 0.5,
            "action": "challenge",
            "target": "account",
        }
        if kind in conditioned:
            rule["when"] = CONDITIONS[kind]
        rules.append(rule)
    return policy_from_dict({"name": name, "version": "1", "rules": rules}, name)


def build_inputs(count: int, seed: int) -> list[tuple[Login, list[Signal]]]:
    """Return ``count`` events, each with one to three signals."""
    draw = random.Random(seed)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    inputs = []
    for i in range(count):
        event = Login(
            event_id=f"e{i}",
            ts=start + timedelta(seconds=i),
            account=f"acct{draw.randrange(500)}",
            ip=f"198.51.100.{draw.randrange(1, 250)}",
            success=draw.random() < 0.8,
        )
        signals = [
            Signal(
                detector="bench",
                detector_version="1",
                kind=kind,
                score=draw.random(),
                entity_type="account",
                entity=event.account or "",
                event_id=event.event_id,
                reasons=("new_device",) if draw.random() < 0.5 else ("known",),
                evidence={
                    "features": {"failures": draw.randrange(6)},
                    "ring_id": "r1",
                    "ring_size": draw.randrange(2, 9),
                    "ring_risk": 0.7,
                },
            )
            for kind in draw.sample(KINDS, draw.randint(1, 3))
        ]
        inputs.append((event, signals))
    return inputs


def time_decide(
    policy: Policy, inputs: list[tuple[Login, list[Signal]]], repeat: int
) -> tuple[float, int]:
    """Return the best microseconds per event, and the evaluations per run."""
    best = float("inf")
    evaluations = 0
    for _ in range(repeat):
        engine = DecisionEngine(policy)
        started = time.perf_counter()
        for event, signals in inputs:
            engine.decide(event, signals)
        best = min(best, time.perf_counter() - started)
        evaluations = sum(
            1
            for _, signals in inputs
            for signal in signals
            for rule in policy.rules_for(signal.kind)
            if rule.when is not None and signal.score >= rule.min_score
        )
    return best / len(inputs) * 1e6, evaluations


def time_compile(repeat: int) -> float:
    """Return microseconds to compile and check one condition."""
    started = time.perf_counter()
    for _ in range(repeat):
        for source in CONDITIONS.values():
            compile_condition(source)
    return (time.perf_counter() - started) / (repeat * len(CONDITIONS)) * 1e6


def time_parts(inputs: list[tuple[Login, list[Signal]]]) -> tuple[float, float]:
    """Return microseconds to build one signal's variables, and to evaluate."""
    condition = compile_condition(CONDITIONS["takeover_chain"])
    sample = inputs[:500]
    started = time.perf_counter()
    built = [
        {**event_variables(event, signals), **signal_variables(signals[0])}
        for event, signals in sample
    ]
    building = (time.perf_counter() - started) / len(sample) * 1e6
    started = time.perf_counter()
    for variables in built:
        condition.matches(variables)
    evaluating = (time.perf_counter() - started) / len(sample) * 1e6
    return building, evaluating


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    inputs = build_inputs(args.events, args.seed)
    print(f"{args.events:,} events, {sum(len(s) for _, s in inputs):,} signals")
    plain, _ = time_decide(build_policy("plain", set()), inputs, args.repeat)
    print(f"  plain rules          {plain:9.1f} us/event")
    for label, conditioned in (
        ("one condition", {"takeover_chain"}),
        ("every rule", set(KINDS)),
    ):
        policy = build_policy(label, conditioned)
        cost, evaluations = time_decide(policy, inputs, args.repeat)
        per_eval = (cost - plain) * len(inputs) / max(evaluations, 1)
        print(
            f"  {label:20} {cost:9.1f} us/event  x{cost / plain:5.1f}  "
            f"{evaluations / len(inputs):.2f} evaluations/event, "
            f"~{per_eval:.0f} us each"
        )
    building, evaluating = time_parts(inputs)
    print(f"  build the variables   {building:8.0f} us (once per event and signal)")
    print(f"  evaluate a condition  {evaluating:8.0f} us")
    print(f"  compile one condition {time_compile(5):8.0f} us")


if __name__ == "__main__":
    main()
