"""CEL conditions on policy rules: checked on load, evaluated only on candidates."""

import copy
import enum
import logging
import math
import pickle
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from fractions import Fraction

import pytest

from trustwatch.decisions.conditions import (
    EVENT_FIELDS,
    RING_FIELDS,
    SIGNAL_FIELDS,
    CelCondition,
    ConditionError,
    ConditionFailed,
    compile_condition,
    signal_variables,
    to_cel,
)
from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.model import ACTION_SEVERITY
from trustwatch.decisions.policy import default_policy, load_policy, policy_from_dict
from trustwatch.detectors.base import IndicatorRef, Signal
from trustwatch.errors import PolicyError
from trustwatch.events.model import EVENT_TYPES, Login, PasswordChanged

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def login(account: str = "alice", event_id: str = "e1") -> Login:
    return Login(
        event_id=event_id, ts=T0, account=account, ip="203.0.113.9", success=True
    )


def signal(kind: str = "takeover_chain", score: float = 0.9, **more) -> Signal:
    values = {
        "detector": "d",
        "detector_version": "1",
        "kind": kind,
        "score": score,
        "entity_type": "account",
        "entity": "alice",
        "event_id": "e1",
    }
    values.update(more)
    return Signal(**values)


def policy(*rules: dict, name: str = "cel"):
    return policy_from_dict({"name": name, "version": "1", "rules": list(rules)}, "t")


def rule(when: str | None = None, **more) -> dict:
    values = {
        "id": "r",
        "signals": ["takeover_chain"],
        "min_score": 0.5,
        "action": "force_password_reset",
        "target": "account",
    }
    if when is not None:
        values["when"] = when
    values.update(more)
    return values


def hits(engine: DecisionEngine, event, signals) -> list[str]:
    verdict, _ = engine.decide(event, signals)
    return [hit.rule_id for hit in verdict.rules]


def write(tmp_path, text: str):
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("when", "matches"),
    [
        ('"new_device" in signal.reasons', True),
        ('"old_device" in signal.reasons', False),
        ("signal.features.failures >= 10", True),
        ('signal.detector == "d" && signal.score > 0.85', True),
        ('signals["login_risk"] >= 0.7', True),
        ('"intel_ip" in signals', False),
        ('event.type == "login" && event.success', True),
        ('event.account == "alice" && event.ip.startsWith("203.0.113.")', True),
        ('event.ts > timestamp("2026-11-30T00:00:00Z")', True),
        ("!has(ring.id)", True),
        ("!has(signal.evidence.window)", True),
        ("!has(signal.features.failures)", False),
        ("has(signal.kind) && !has(signal.evidence.missing)", True),
        ("size(intel) == 0", True),
        ('event.ts < timestamp("2026-12-01T09:00:01Z")', True),
        ('event.ts == timestamp("2026-12-01T10:00:00+01:00")', True),
        ('event.ts - duration("1h") > timestamp("2026-12-01T07:30:00Z")', True),
        ("event.ts.getHours() == 9", True),
        ("event.username == null && event.mfa == false", True),
    ],
)
def test_condition_reads_signal_event_and_other_signals(when, matches):
    engine = DecisionEngine(policy(rule(when)))
    raised = [
        signal(reasons=("new_device",), evidence={"features": {"failures": 12}}),
        signal(kind="login_risk", score=0.8),
    ]
    assert hits(engine, login(), raised) == (["r"] if matches else [])
    assert engine.rule_errors["r"] == 0


def test_condition_reads_ring_membership_from_ring_evidence():
    ring_rule = rule(
        "has(ring.id) && ring.size >= 5 && ring.risk > 0.6",
        signals=["ring_member"],
    )
    engine = DecisionEngine(policy(ring_rule))
    evidence = {"ring_id": "ring-7", "ring_size": 8, "ring_risk": 0.75}
    member = signal(kind="ring_member", evidence=evidence)
    small = signal(kind="ring_member", evidence={**evidence, "ring_size": 3})
    assert hits(engine, login(), [member]) == ["r"]
    assert hits(engine, login(event_id="e2"), [small]) == []


def test_condition_reads_intel_matches():
    engine = DecisionEngine(
        policy(
            rule(
                'intel.exists(i, i.feed == "abuse.ch" && i.confidence >= 80)',
                signals=["intel_ip"],
            )
        )
    )
    ref = IndicatorRef(
        type="ip", value="203.0.113.9", feeds=("abuse.ch", "other"), confidence=90
    )
    weak = IndicatorRef(type="ip", value="203.0.113.9", feeds=("x",), confidence=95)
    assert hits(engine, login(), [signal(kind="intel_ip", indicators=(ref,))]) == ["r"]
    assert (
        hits(engine, login("bob"), [signal(kind="intel_ip", indicators=(weak,))]) == []
    )


def test_condition_is_not_evaluated_below_min_score_or_for_other_kinds():
    # a condition that always fails at run time: any evaluation would count
    engine = DecisionEngine(policy(rule("signal.evidence.missing > 1", min_score=0.8)))
    assert hits(engine, login(), [signal(score=0.7), signal(kind="other")]) == []
    assert engine.rule_errors["r"] == 0
    assert hits(engine, login(event_id="e2"), [signal(score=0.9)]) == []
    assert engine.rule_errors["r"] == 1


def test_rules_without_condition_behave_as_before():
    plain = policy(rule())
    engine = DecisionEngine(plain)
    assert hits(engine, login(), [signal(score=0.6)]) == ["r"]
    assert plain.rules[0].when is None


def test_rule_with_condition_and_no_signals_reads_every_kind():
    any_kind = {k: v for k, v in rule('signal.kind.startsWith("intel_")').items()}
    del any_kind["signals"]
    checked = policy(any_kind, rule(id="other", signals=["brute_force"]))
    engine = DecisionEngine(checked)
    assert checked.rules[0].any_signal
    assert hits(engine, login(), [signal(kind="intel_host")]) == ["r"]
    assert hits(engine, login(event_id="e2"), [signal(kind="brute_force")]) == ["other"]


def test_rule_without_signals_needs_a_condition():
    bare = rule()
    del bare["signals"]
    with pytest.raises(PolicyError, match="missing 'signals'"):
        policy(bare)


# ---------------------------------------------------------- load errors


def test_syntax_error_names_file_rule_and_column_with_caret(tmp_path):
    text = """name = "p"
version = "1"

[[rules]]
id = "reset-on-chain"
signals = ["takeover_chain"]
when = 'signal.score > && true'
action = "force_password_reset"
"""
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, text))
    message = str(info.value)
    assert "policy.toml" in message
    assert "rule reset-on-chain" in message
    assert "syntax error (column 16)" in message
    lines = message.splitlines()
    assert lines[-2].strip() == "signal.score > && true"
    assert lines[-1].index("^") - lines[-2].index("signal") == 15


def test_unknown_variable_points_at_its_line_and_column(tmp_path):
    text = '''name = "p"
version = "1"

[[rules]]
id = "r9"
signals = ["takeover_chain"]
when = """signal.score > 0.5 &&
  acount.age < 3"""
action = "challenge"
'''
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, text))
    message = str(info.value)
    assert "rule r9" in message
    assert "unknown variable 'acount'" in message
    assert "(line 2, column 3)" in message
    assert message.splitlines()[-1] == "      ^"


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("signal.score + 1", "must give true or false"),
        ('"yes"', "constant that is not true or false"),
        ("[signal.score]", "must give true or false"),
        ("", "CEL expression in a string"),
        ("intel.exists(i, j > 1)", "unknown variable 'j'"),
        ("signal.scor > 0.5", "signal has no field 'scor'; did you mean 'score'"),
        ("has(ring.sise) && ring.size > 3", "ring has no field 'sise'"),
        ("event.acount == 'a'", "event has no field 'acount'; did you mean 'account'"),
        ("signal.xyzzy > 0.5", "signal has no field 'xyzzy'; its fields are detector"),
    ],
)
def test_conditions_that_cannot_be_right_are_refused_on_load(when, message):
    with pytest.raises(PolicyError, match=message) as info:
        policy(rule(when, id="bad-rule"))
    assert "rule bad-rule" in str(info.value)


def test_condition_must_be_a_string():
    with pytest.raises(PolicyError, match="CEL expression in a string"):
        policy(rule(when=None, id="x") | {"when": 3})


# ------------------------------------------------------- run-time errors


def test_runtime_errors_do_not_match_and_are_counted_not_raised(caplog):
    engine = DecisionEngine(
        policy(
            rule("signal.evidence.window > 10", id="missing-key"),
            rule('signal.score > "high"', id="type-mismatch"),
            rule("signal.evidence.note", id="not-bool"),
            rule("signal.score > 0.5", id="fine"),
        )
    )
    with caplog.at_level(logging.WARNING, logger="trustwatch.decisions.engine"):
        for i in range(3):
            secret = f"secret-{i}"
            raised = [signal(reasons=(secret,), evidence={"note": secret})]
            assert hits(engine, login(event_id=f"e{i}"), raised) == ["fine"]
    assert engine.rule_errors == {"missing-key": 3, "type-mismatch": 3, "not-bool": 3}
    warned = [r for r in caplog.records if r.name == "trustwatch.decisions.engine"]
    assert len(warned) == 3  # once per rule
    assert "missing key" in caplog.text and "type mismatch" in caplog.text
    assert "secret" not in caplog.text


def test_cel_library_logs_no_event_data_at_debug(caplog):
    engine = DecisionEngine(policy(rule('"x" in signal.reasons')))
    with caplog.at_level(logging.DEBUG):
        hits(engine, login(), [signal(reasons=("private-reason",))])
    assert "private-reason" not in caplog.text


# ------------------------------------------------ modes, digest, actions


def test_shadow_rule_with_condition_records_but_never_acts():
    engine = DecisionEngine(
        policy(rule("signal.score > 0.5", mode="shadow")), mode="enforce"
    )
    verdict, actions = engine.decide(login(), [signal()])
    assert [hit.mode for hit in verdict.rules] == ["shadow"]
    assert verdict.decision == "allow"
    assert [a.mode for a in actions] == ["shadow"]


def test_disabled_rule_condition_is_never_evaluated():
    engine = DecisionEngine(
        policy(rule("signal.evidence.missing > 1", mode="disabled"))
    )
    assert hits(engine, login(), [signal()]) == []
    assert engine.rule_errors["r"] == 0


def test_digest_and_verdict_ids_change_with_the_condition():
    first = policy(rule("signal.score > 0.5"))
    second = policy(rule("signal.score > 0.6"))
    assert first.digest != second.digest
    a, _ = DecisionEngine(first).decide(login(), [signal()])
    b, _ = DecisionEngine(second).decide(login(), [signal()])
    assert a.verdict_id != b.verdict_id


def test_new_action_types_are_ordered_between_the_old_ones():
    order = sorted(ACTION_SEVERITY, key=ACTION_SEVERITY.__getitem__)
    assert order == [
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
    engine = DecisionEngine(
        policy(
            rule(id="slow", action="rate_limit"),
            rule(id="mfa", action="challenge"),
            rule(id="reset", action="force_password_reset"),
        )
    )
    verdict, actions = engine.decide(
        PasswordChanged(event_id="p1", ts=T0, account="alice"), [signal()]
    )
    assert verdict.decision == "force_password_reset"
    assert sorted(a.type for a in actions) == [
        "challenge",
        "force_password_reset",
        "rate_limit",
    ]


def test_default_policy_resets_passwords_on_confident_takeover_in_shadow():
    shipped = default_policy()
    reset = next(r for r in shipped.rules if r.action == "force_password_reset")
    assert reset.mode == "shadow"
    verdict, _ = DecisionEngine(shipped).decide(login(), [signal(score=0.92)])
    assert "reset-password-takeover-chain" in [h.rule_id for h in verdict.rules]
    assert verdict.decision == "challenge"  # the shadow rule does not decide


def test_rules_compare_by_their_condition_text():
    assert policy(rule("signal.score > 0.5")) == policy(rule("signal.score > 0.5"))
    assert policy(rule("signal.score > 0.5")) != policy(rule("signal.score > 0.6"))


class Unprintable:
    def __str__(self) -> str:
        raise TypeError("no text")


def test_values_cel_cannot_hold_count_as_failures_not_crashes():
    engine = DecisionEngine(policy(rule("signal.score > 0.5")))
    odd = signal(evidence={"thing": Unprintable()})
    assert hits(engine, login(), [odd]) == []
    assert engine.rule_errors["r"] == 1


# ------------------------------------------- values handed to the interpreter


class Colour(enum.IntEnum):
    RED = 1


def test_to_cel_turns_values_the_interpreter_refuses_into_ones_it_holds():
    converted = to_cel(
        {
            1: ("a", None),
            "set": {"b", "a"},
            "big": 2**70,
            "huge": -(10**400),
            "naive": datetime(2026, 12, 1, 9),
            "paris": datetime(2026, 12, 1, 10, tzinfo=timezone(timedelta(hours=1))),
            "day": date(2026, 12, 1),
            "enum": Colour.RED,
            "fraction": Fraction(1, 4),
            "other": object,
        }
    )
    assert converted["1"] == ["a", None]
    assert converted["set"] == ["a", "b"]
    assert converted["big"] == float(2**70)
    assert converted["huge"] == -math.inf
    assert converted["naive"] == converted["paris"] == T0
    assert converted["naive"].tzinfo is UTC
    assert converted["day"] == "2026-12-01"
    assert converted["enum"] == 1 and type(converted["enum"]) is int
    assert converted["fraction"] == 0.25
    assert converted["other"] == "<class 'object'>"


@pytest.mark.parametrize(
    ("when", "evidence"),
    [
        ("signal.evidence.note == null", {"note": None}),
        ("signal.evidence.seen[1] == null", {"seen": ("x", None)}),
        ('signal.evidence["7"] == "seven"', {7: "seven"}),
        ("signal.evidence.big > 1.0e20", {"big": 2**70}),
        ('signal.evidence.tags == ["a", "b"]', {"tags": frozenset({"b", "a"})}),
        ('signal.evidence.window == duration("90s")', {"window": timedelta(0, 90)}),
        ('signal.evidence.raw == b"\\x00"', {"raw": b"\x00"}),
        (
            'signal.evidence.seen_at == timestamp("2026-12-01T09:00:00Z")',
            {"seen_at": datetime(2026, 12, 1, 9)},
        ),
    ],
)
def test_evidence_values_of_every_shape_reach_the_condition(when, evidence):
    engine = DecisionEngine(policy(rule(when)))
    assert hits(engine, login(), [signal(evidence=evidence)]) == ["r"]
    assert engine.rule_errors["r"] == 0


def test_nan_fails_the_comparison_and_is_counted():
    engine = DecisionEngine(policy(rule("signal.evidence.ratio > 0.5", id="nan")))
    raised = [signal(evidence={"ratio": float("nan")})]
    assert hits(engine, login(), raised) == []
    assert engine.rule_errors["nan"] == 1


def test_only_the_fields_a_condition_selects_are_handed_over():
    # an object the interpreter cannot hold, in a field the condition skips
    variables = {"signal": {"score": 0.9, "unread": object()}}
    assert compile_condition("signal.score > 0.5").matches(variables)
    assert compile_condition("has(signal.score)").matches(variables)
    with pytest.raises(ConditionFailed, match="unusable signal or event value"):
        compile_condition("size(signal) == 2").matches(variables)
    with pytest.raises(ConditionFailed, match="unusable signal or event value"):
        compile_condition('signal["score"] > 0.5').matches(variables)


def test_condition_lists_the_variables_it_reads():
    condition = compile_condition(
        'event.type == "login" && intel.exists(signal, signal.confidence > 5)'
    )
    assert condition.variables == {"event", "intel", "signal"}
    assert compile_condition('size("signal") > size("event")').variables == frozenset()


# ---------------------------------------------------- load checks, more


@pytest.mark.parametrize(
    "when",
    [
        "(signal.score > 0.5)",
        "!(signal.score > 0.5)",
        "signal.score > 0.5 ? true : false",
        'signal.reasons.exists(r, r == "x")',
        "-signal.score < 0.0",
        '"a" + "b" == "ab"',
        '"a+b" in signal.reasons',
        "[1, 2].size() == 2",
        "signal.score > 0.5 // acount is a comment, not a name",
        "r'\\' == signal.kind && 'acount' != signal.kind",
        "'''acount\n''' != signal.kind",
        "intel.map(i, i.confidence).all(c, c > 50)",
        "intel.filter(signal, signal.confidence > 50).size() > 0",
    ],
)
def test_conditions_that_may_give_a_boolean_load(when):
    assert policy(rule(when)).rules[0].when is not None


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("-signal.score", "must give true or false"),
        ("(signal.score * 2)", "must give true or false"),
        ('"a" + signal.kind', "must give true or false"),
        ('{"a": signal.score}', "must give true or false"),
        ("null", "constant that is not true or false"),
        ("((1.5))", "constant that is not true or false"),
        ('b"x"', "constant that is not true or false"),
        ("intel.exists(i, i.confidence > 5) && j", "unknown variable 'j'"),
        ("intel.exists(i, true) || acount.age < 3", "unknown variable 'acount'"),
        ("signal.?score", "syntax error"),
    ],
)
def test_more_conditions_that_cannot_be_right_are_refused(when, message):
    with pytest.raises(PolicyError, match=message):
        policy(rule(when, id="bad-rule"))


def test_syntax_error_column_counts_characters_on_its_line(tmp_path):
    text = '''name = "p"
version = "1"

[[rules]]
id = "r"
signals = ["takeover_chain"]
when = """signal.kind == "é" &&
  signal.score > && true"""
action = "challenge"
'''
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, text))
    assert "syntax error (line 2, column 18)" in str(info.value)
    assert str(info.value).splitlines()[-1] == "    " + " " * 17 + "^"


# ------------------------------------------------ run-time failures, more


@pytest.mark.parametrize(
    ("when", "kind"),
    [
        ("signal.score / 0 > 1.0", "type mismatch"),
        ("signal.features.failures / 0 > 1", "arithmetic error"),
        ('signal.reasons[5] == "x"', "index out of range"),
        ('signal.kind.lowerAscii() == "x"', "unknown name or function"),
        ("intel.exists(i, true) || i > 1", "unknown name or function"),
    ],
)
def test_runtime_failures_are_named_by_kind(when, kind):
    variables = {
        "signal": {
            "score": 0.9,
            "kind": "k",
            "reasons": [],
            "features": {"failures": 3},
        },
        "intel": [],
    }
    with pytest.raises(ConditionFailed, match=kind):
        compile_condition(when).matches(variables)


class PanicException(BaseException):
    """Stands in for PyO3's panic exception, which derives from BaseException."""


PanicException.__module__ = "pyo3_runtime"


class Raising:
    """A compiled program whose every run raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def execute(self, context: object) -> object:
        raise self.error


def test_a_panic_in_the_interpreter_fails_the_condition_only():
    with pytest.raises(ConditionFailed, match="evaluation error"):
        CelCondition("true", Raising(PanicException("boom"))).matches({})
    with pytest.raises(KeyboardInterrupt):
        CelCondition("true", Raising(KeyboardInterrupt())).matches({})


def test_one_compiled_condition_serves_many_threads():
    condition = compile_condition('signal.score > 0.5 && "x" in signal.reasons')

    def check(i: int) -> bool:
        return condition.matches({"signal": {"score": i / 100, "reasons": ["x"]}})

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(check, range(100)))
    assert results == [i > 50 for i in range(100)]


def test_policies_with_conditions_pickle_and_copy():
    checked = policy(rule('"new_device" in signal.reasons'))
    for restored in (pickle.loads(pickle.dumps(checked)), copy.deepcopy(checked)):
        assert restored == checked
        engine = DecisionEngine(restored)
        assert hits(engine, login(), [signal(reasons=("new_device",))]) == ["r"]


def test_syntax_error_position_ignores_look_alikes_in_the_expression():
    with pytest.raises(PolicyError, match=r"syntax error \(column 33\)"):
        policy(rule('signal.kind == "<input>:9:9:" &&', id="tricky"))


@pytest.mark.parametrize(
    "when",
    [
        "signal.evidence.window > 3 || signal.features.x > 1",
        "event.account == 'a' && event.failure_reason == 'bad' "
        "&& event.type != 'login'",
        "signals.brute_force > 0.5 || ring.risk > 0.5",
        # a macro's bound name may shadow a variable with fixed fields
        "intel.exists(signal, signal.confidence > 5)",
        "signal.reasons.exists(r, r.startsWith('new'))",
        # methods and macros on the map itself
        "signal.size() > 3 && event.exists(k, k == 'account')",
        "ring.exists(k, k == 'id') || signal.all(k, k != '')",
    ],
)
def test_fields_that_exist_or_vary_are_accepted(when):
    assert policy(rule(when, id="ok")).rules[0].when is not None


def test_the_fixed_fields_are_the_fields_the_engine_builds():
    built = signal_variables(signal(kind="ring", evidence={"ring_id": "r1"}))
    assert set(built["signal"]) == SIGNAL_FIELDS
    assert set(built["ring"]) == RING_FIELDS
    for name, kind in EVENT_TYPES.items():
        assert {"type", *kind.__struct_fields__} <= EVENT_FIELDS, name


# ---------------------------------------------------- comparisons that tell nothing


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('event.success == "false"', "write event.success == false"),
        ("event.ip == 45", "event.ip holds string, never an int"),
        ('event.change == "disable"', "did you mean 'disabled'"),
        ('"phishing" != event.type', "event.type is one of"),
        ('event.ts == "2026-01-01T00:00:00Z"', "timestamp("),
        ('signal.score >= 0.5 && signal.score == "0.9"', "never a string"),
        ("1 == 2", "two constants"),
    ],
)
def test_a_comparison_that_never_tells_events_apart_is_refused(
    source: str, expected: str
) -> None:
    with pytest.raises(ConditionError, match="never tells events apart") as caught:
        compile_condition(source)
    assert expected in str(caught.value)
    assert caught.value.column is not None


@pytest.mark.parametrize(
    "source",
    [
        'event.change == "disabled"',
        "event.success == false",
        'event.type == "login" && event.ip == "198.51.100.7"',
        "event.size == 10 || event.size == 1.5",
        "ring.size == 3",
        "event.ip == null",
        'signal.kind == "risky_login"',
        "event.size == 10 + 1",  # an expression, not a literal: left alone
    ],
)
def test_comparisons_that_can_go_either_way_pass(source: str) -> None:
    assert compile_condition(source).source == source
