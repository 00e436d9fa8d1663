"""Load checks that refuse rules which can never work as written.

An action given a target it cannot act on, a delay that outlasts the action,
a misspelt kind read as ``signals.<kind>`` or ``signal.kind == "<kind>"``, a
condition that is the same on every event, one that asks for an event type
the rule's kinds are never raised on, and a duration that is not ASCII digits
and a unit.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.decisions.conditions import ConditionError, compile_condition
from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import parse_duration, policy_from_dict
from trustwatch.detectors.base import Signal
from trustwatch.detectors.registry import known_signal_kinds
from trustwatch.errors import ConfigError, PolicyError
from trustwatch.events.model import UrlPosted
from trustwatch.intel.feedlist import parse_duration as feed_duration


def _policy(**rule: object):
    raw = {"id": "r", "signals": ["brute_force"], "action": "block_source", **rule}
    return policy_from_dict(
        {"name": "p", "version": "1", "rules": [raw]}, "p.toml", known_signal_kinds()
    )


def _refused(**rule: object) -> str:
    with pytest.raises(PolicyError) as caught:
        _policy(**rule)
    return str(caught.value)


# ---------------------------------------------------------- action targets


@pytest.mark.parametrize(
    ("action", "target", "kind"),
    [
        ("quarantine_file", "ip", "ip"),
        ("lock_account", "evidence:file", "file"),
        ("block_source", "account", "account"),
        ("challenge", "evidence:link", "link"),
        ("disable_link", "ip", "ip"),
    ],
)
def test_a_target_the_action_cannot_act_on_is_refused(action, target, kind):
    message = _refused(action=action, target=target)
    assert (
        f"target {target!r} is a{'n' if kind[0] in 'aeiou' else ''} {kind}" in message
    )
    assert f"action {action!r} acts only on" in message
    assert "hint: target 'entity'" in message


@pytest.mark.parametrize(
    ("action", "target"),
    [
        ("lock_account", "account"),
        ("block_source", "ip"),
        ("rate_limit", "ip"),
        ("send_to_review", "evidence:file"),
        ("quarantine_file", "evidence:file"),
        ("disable_link", "evidence:link"),
        ("lock_account", "entity"),
    ],
)
def test_a_target_the_action_acts_on_loads(action, target):
    assert _policy(action=action, target=target).rules[0].target == target


@pytest.mark.parametrize("action", ["block_source", "lock_account", "challenge"])
def test_an_entity_the_action_cannot_act_on_gets_no_action(action, caplog):
    policy = policy_from_dict(
        {
            "name": "p",
            "version": "1",
            "rules": [{"id": "r", "signals": ["intel_url"], "action": action}],
        },
        "p.toml",
    )
    engine = DecisionEngine(policy, mode="enforce")
    url = "http://lure.example.net/login"
    event = UrlPosted(event_id="u1", ts=_ts(), account="alice", ip="192.0.2.5", url=url)
    signal = Signal(
        detector="intel_match",
        detector_version="1",
        kind="intel_url",
        score=0.9,
        entity_type="url",
        entity=url,
        event_id="u1",
    )
    verdict, actions = engine.decide(event, [signal])
    assert actions == []
    assert verdict.decision == "allow"
    assert [(h.target_type, h.target) for h in verdict.rules] == [("url", "")]
    assert engine.unfit_targets["r"] == 1
    assert f"{action} cannot act on the url target" in caplog.text


def test_a_link_may_be_disabled_by_its_url():
    policy = policy_from_dict(
        {
            "name": "p",
            "version": "1",
            "rules": [{"id": "r", "signals": ["intel_url"], "action": "disable_link"}],
        },
        "p.toml",
    )
    url = "http://lure.example.net/login"
    event = UrlPosted(event_id="u1", ts=_ts(), account="alice", ip="192.0.2.5", url=url)
    signal = Signal(
        detector="intel_match",
        detector_version="1",
        kind="intel_url",
        score=0.9,
        entity_type="url",
        entity=url,
        event_id="u1",
    )
    _, actions = DecisionEngine(policy, mode="enforce").decide(event, [signal])
    assert [(a.type, a.target_type, a.target) for a in actions] == [
        ("disable_link", "url", url)
    ]


def _ts():
    from datetime import UTC, datetime

    return datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


# ------------------------------------------------------- delay and expires


@pytest.mark.parametrize(
    ("delay", "expires"), [("2h", "1s"), ("1h", "1h"), ("5m-2h", "1h")]
)
def test_a_delay_not_shorter_than_expires_is_refused(delay, expires):
    message = _refused(delay=delay, expires=expires)
    assert f"delay {delay!r} is not shorter than expires {expires!r}" in message
    assert "hint:" in message


def test_a_delay_shorter_than_expires_loads():
    rule = _policy(delay="5m-30m", expires="1h").rules[0]
    assert rule.delay == (timedelta(minutes=5), timedelta(minutes=30))


# ------------------------------------------------------ kinds in conditions


@pytest.mark.parametrize(
    "when",
    [
        "signals.risky_logn > 0.1",
        "has(signals.takeover_chian)",
        'signal.kind == "takeover_chian"',
        '"takeover_chian" != signal.kind',
    ],
)
def test_a_misspelt_kind_in_a_condition_is_refused(when):
    message = _refused(signals=["takeover_chain"], action="challenge", when=when)
    misspelt = "risky_logn" if "logn" in when else "takeover_chian"
    assert f"when reads signal kind {misspelt!r}, which no detector raises" in message
    assert "did you mean" in message


def test_a_kind_the_rule_does_not_read_never_matches():
    message = _refused(
        signals=["takeover_chain"],
        action="challenge",
        when='signal.kind == "brute_force"',
    )
    assert "when requires signal.kind == 'brute_force'" in message
    assert "reads only takeover_chain" in message


def test_an_event_type_the_kinds_are_never_raised_on_is_refused():
    message = _refused(when='event.type == "url_posted" && signal.score > 0.7')
    assert "when requires event.type == 'url_posted'" in message
    assert "raised only on login events" in message


@pytest.mark.parametrize(
    "when",
    [
        'event.type == "login"',
        'event.type == "url_posted" || signal.score > 0.9',
        'signal.kind == "brute_force" && signals.brute_force > 0.6',
    ],
)
def test_conditions_the_kinds_can_meet_load(when):
    assert _policy(when=when).rules[0].when is not None


# --------------------------------------------------------- constant values


@pytest.mark.parametrize(
    ("when", "value"),
    [
        ("false", "false"),
        ("!false", "true"),
        ("true", "true"),
        ("signal.score > 0.5 && false", "false"),
        ("(false || signal.score > 0.5) && !true", "false"),
        ("signal.score > 0.5 || !false", "true"),
    ],
)
def test_a_constant_condition_is_refused(when, value):
    with pytest.raises(ConditionError, match=f"always {value}, whatever the event"):
        compile_condition(when)


@pytest.mark.parametrize(
    ("when", "value"),
    [
        ("signal.score > 2.0", "false"),
        ("signal.score >= 0", "true"),
        ('signals["risky_login"] < -0.5', "false"),
        ("1.5 <= signals.risky_login", "false"),
        ("signal.score != 7", "true"),
    ],
)
def test_a_score_compared_out_of_its_range_is_refused(when, value):
    with pytest.raises(ConditionError, match=f"lies in \\[0, 1\\].*always {value}"):
        compile_condition(when)


@pytest.mark.parametrize(
    "when", ['signals["risky_login"] >= 0', "signals.risky_login <= 1.0"]
)
def test_a_kind_s_score_always_in_range_is_refused_with_a_presence_hint(when):
    with pytest.raises(ConditionError, match="always true wherever the kind is ra"):
        compile_condition(when)
    with pytest.raises(ConditionError, match='write "risky_login" in signals'):
        compile_condition(when)


@pytest.mark.parametrize(
    "when",
    [
        "signal.score > 0.9995",
        "signal.score >= 1.0",
        "-signal.score < 0.0",
        "signal.score * 2.0 > 1.5",
        "signal.score > 0.5 && true",
        "signal.evidence.count > 20",
    ],
)
def test_conditions_that_depend_on_the_event_load(when):
    assert compile_condition(when).source == when


def test_policy_check_refuses_a_constant_condition(tmp_path, capsys):
    path = tmp_path / "p.toml"
    path.write_text(
        'name = "p"\nversion = "1"\n[[rules]]\nid = "r"\n'
        "signals = [\"risky_login\"]\nwhen = 'signal.score > 0.5 && false'\n"
        'action = "challenge"\n'
    )
    assert main(["policy", "check", str(path)]) == ExitCode.BAD_CONFIG
    assert "always false, whatever the event" in capsys.readouterr().err


# --------------------------------------------------------------- durations


@pytest.mark.parametrize("expires", [5, 1.5, True, "٣d", "３h"])
def test_a_duration_that_is_not_ascii_digits_and_a_unit_is_refused(expires):
    message = _refused(expires=expires)
    assert f"expires: {expires!r} is not a duration like '15m'" in message
    assert "attribute" not in message


def test_durations_elsewhere_take_only_ascii_digits():
    assert parse_duration(" 90m ") == timedelta(minutes=90)
    assert feed_duration("2w") == timedelta(weeks=2)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("٣d")
    with pytest.raises(ConfigError, match="not a duration"):
        feed_duration("٣d")
