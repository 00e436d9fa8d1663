"""``trustwatch policy test``: a policy against labelled examples."""

import json

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.decisions.policy import load_policy
from trustwatch.evaluation.policy_examples import (
    BadExample,
    read_examples,
    run_examples,
)

POLICY = """name = "examples"
version = "1"

[[rules]]
id = "review-takeover"
signals = ["takeover_chain"]
min_score = 0.6
action = "send_to_review"
target = "account"

[[rules]]
id = "reset-new-device"
signals = ["takeover_chain"]
min_score = 0.8
when = '"new_device" in signal.reasons && signals["risky_login"] >= 0.7'
action = "force_password_reset"
target = "account"

[[rules]]
id = "trial-rate-limit"
signals = ["password_spraying"]
action = "rate_limit"
target = "ip"
mode = "shadow"
"""


def chain(score: float, *reasons: str) -> dict:
    return {"kind": "takeover_chain", "score": score, "reasons": list(reasons)}


RISK = {"kind": "risky_login", "score": 0.9}

GOOD_EXAMPLES = [
    {  # a full event, a confident chain: reset
        "event": {
            "type": "login",
            "event_id": "x1",
            "ts": "2026-12-01T10:00:00Z",
            "account": "alice",
            "ip": "203.0.113.9",
            "success": True,
        },
        "signals": [chain(0.9, "new_device"), RISK],
        "expect": {
            "decision": "force_password_reset",
            "rules": ["review-takeover", "reset-new-device"],
        },
        "label": "account_takeover",
    },
    {  # only an account: the short form
        "account": "bob",
        "signals": [chain(0.7, "new_device")],
        "expect": {"decision": "send_to_review", "not_rules": ["reset-new-device"]},
        "label": "benign",
    },
    {  # shadow rules hit but never decide
        "account": "carol",
        "ip": "198.51.100.4",
        "signals": [{"kind": "password_spraying", "score": 0.8}],
        "expect": {"decision": "allow", "rules": ["trial-rate-limit"]},
        "label": "abusive",
    },
    {"account": "dave", "signals": [chain(0.3)], "label": "benign"},
]


def write_lines(tmp_path, lines: list[str]):
    path = tmp_path / "examples.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def policy_path(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def test_passing_examples_exit_zero_with_rule_scores(tmp_path, policy_path, capsys):
    examples = write_lines(tmp_path, [json.dumps(e) for e in GOOD_EXAMPLES])
    status = main(["policy", "test", str(policy_path), "--examples", str(examples)])
    out = capsys.readouterr().out
    assert status == ExitCode.OK
    assert "line 1: pass (force_password_reset)" in out
    assert "4 passed, 0 failed, 0 lines skipped" in out
    assert "reset-new-device" in out and "precision" in out


def test_scores_per_rule_against_labels(tmp_path, policy_path):
    examples = write_lines(tmp_path, [json.dumps(e) for e in GOOD_EXAMPLES])
    report = run_examples(load_policy(policy_path), read_examples(examples))
    scores = {score.rule_id: score for score in report.rules}
    review = scores["review-takeover"]
    # hits alice (abusive) and bob (benign); two abusive examples in all
    assert (review.hits, review.precision, review.recall) == (2, 0.5, 0.5)
    reset = scores["reset-new-device"]
    assert (reset.hits, reset.precision, reset.recall) == (1, 1.0, 0.5)
    trial = scores["trial-rate-limit"]
    assert (trial.mode, trial.hits, trial.precision) == ("shadow", 1, 1.0)


def test_failed_expectations_say_what_differed_and_exit_one(
    tmp_path, policy_path, capsys
):
    wrong = {
        "account": "erin",
        "signals": [chain(0.95, "new_device"), RISK],
        "expect": {
            "decision": "lock_account",
            "rules": ["trial-rate-limit"],
            "not_rules": ["review-takeover"],
        },
    }
    examples = write_lines(tmp_path, [json.dumps(GOOD_EXAMPLES[0]), json.dumps(wrong)])
    args = ["policy", "test", str(policy_path), "--examples", str(examples)]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "line 1: pass" in out
    assert (
        "line 2: FAIL: decision is force_password_reset, expected lock_account; "
        "rule trial-rate-limit did not hit; rule review-takeover hit"
    ) in out

    assert main([*args, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["failed"] == 1 and report["examples"] == 2
    assert report["results"][1]["failures"][0].startswith("decision is")


def test_bad_lines_are_reported_with_line_numbers_not_a_crash(
    tmp_path, policy_path, capsys
):
    lines = [
        json.dumps(GOOD_EXAMPLES[1]),
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"account": "x", "signals": []}),
        json.dumps({"signals": [chain(0.9)]}),
        json.dumps({"account": "x", "signals": [{"kind": "k"}]}),
        json.dumps({"account": "x", "signals": [chain(0.9)], "expect": {"x": 1}}),
        json.dumps(
            {"account": "x", "signals": [chain(0.9)], "expect": {"decision": "ban"}}
        ),
        json.dumps({"event": {"type": "login"}, "signals": [chain(0.9)]}),
        json.dumps({"account": "x", "signals": [chain(0.9)], "label": 7}),
    ]
    examples = write_lines(tmp_path, lines)
    items = list(read_examples(examples))
    bad = [item for item in items if isinstance(item, BadExample)]
    assert [b.line for b in bad] == list(range(2, 11))
    reasons = " | ".join(b.reason for b in bad)
    for fragment in (
        "not JSON",
        "not a JSON object",
        "non-empty list",
        "at least an 'account'",
        "signal #1",
        "unknown expectations",
        "not an action type",
        "event:",
        "'label'",
    ):
        assert fragment in reasons

    status = main(["policy", "test", str(tmp_path / "policy.toml"), "--examples",
                   str(examples)])  # fmt: skip
    captured = capsys.readouterr()
    # the one readable example passes, but a check with unread lines fails
    assert status == ExitCode.BAD_INPUT
    assert "warning: line 2 skipped: not JSON" in captured.err
    assert "error: 9 lines of" in captured.err
    assert "1 passed, 0 failed, 9 lines skipped" in captured.out


def test_no_readable_example_is_bad_input(tmp_path, policy_path, capsys):
    examples = write_lines(tmp_path, ["{broken", "[]"])
    status = main(["policy", "test", str(policy_path), "--examples", str(examples)])
    assert status == ExitCode.BAD_INPUT
    assert "no example could be read" in capsys.readouterr().err


def test_condition_errors_are_counted_in_the_report(tmp_path, capsys):
    policy = tmp_path / "errors.toml"
    policy.write_text(
        'name = "e"\nversion = "1"\n[[rules]]\nid = "needs-window"\n'
        'signals = ["takeover_chain"]\nwhen = "signal.evidence.window > 3"\n'
        'action = "challenge"\n'
    )
    bob = {**GOOD_EXAMPLES[1], "expect": {"decision": "send_to_review"}}
    examples = write_lines(tmp_path, [json.dumps(bob)])
    args = ["policy", "test", str(policy), "--examples", str(examples), "--json"]
    assert main(args) == 1  # bob expected send_to_review
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["rules"][0]["condition_errors"] == 1
    assert "warning: rule needs-window: its condition failed on 1 example of 1" in (
        captured.err
    )


def test_policy_check_lists_conditions(policy_path, capsys):
    assert main(["policy", "check", str(policy_path)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert 'when "new_device" in signal.reasons' in out
    assert "force_password_reset on account" in out


def test_policy_test_refuses_a_broken_policy_naming_the_rule(tmp_path, capsys):
    broken = tmp_path / "broken.toml"
    broken.write_text(POLICY.replace('signals["risky_login"]', 'sigals["risky_login"]'))
    examples = write_lines(tmp_path, [json.dumps(GOOD_EXAMPLES[0])])
    status = main(["policy", "test", str(broken), "--examples", str(examples)])
    assert status == ExitCode.BAD_CONFIG
    err = capsys.readouterr().err
    assert "rule reset-new-device" in err and "^" in err


def test_condition_failures_are_counted_per_example_not_per_signal(tmp_path, capsys):
    policy = tmp_path / "p.toml"
    policy.write_text(
        'name = "p"\nversion = "1"\n[[rules]]\nid = "r"\n'
        'signals = ["risky_login", "brute_force"]\n'
        "when = 'signal.evidence.missing > 1.0'\n"
        'action = "send_to_review"\ntarget = "account"\n'
    )
    two_signals = [
        {"kind": "risky_login", "score": 0.9},
        {"kind": "brute_force", "score": 0.9},
    ]
    examples = write_lines(
        tmp_path,
        [
            json.dumps({"account": "a1", "signals": two_signals}),
            json.dumps({"account": "a2", "signals": two_signals[:1]}),
            json.dumps(
                {"account": "a3", "signals": [{"kind": "risky_login", "score": 0.1}]}
            ),
        ],
    )
    capsys.readouterr()
    main(["policy", "test", str(policy), "--examples", str(examples), "--json"])
    captured = capsys.readouterr()
    scores = {r["rule_id"]: r for r in json.loads(captured.out)["rules"]}
    assert scores["r"]["condition_errors"] == 2
    assert "its condition failed on 2 examples of 3" in captured.err
