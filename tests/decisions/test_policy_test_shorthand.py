"""What ``trustwatch policy test --help`` says of an example without an event
matches what the examples reader does with one."""

from __future__ import annotations

import json

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.decisions.policy import load_policy
from trustwatch.evaluation.policy_examples import (
    BadExample,
    Example,
    read_examples,
    run_examples,
)

POLICY = """name = "p"
version = "1"

[[rules]]
id = "review"
signals = ["takeover_chain"]
action = "send_to_review"
target = "account"
"""


def _help(capsys) -> str:
    assert main(["policy", "test", "--help"]) == ExitCode.OK
    return " ".join(capsys.readouterr().out.split())


def test_the_help_names_the_shorthand_and_its_limits(capsys):
    text = _help(capsys)

    assert "In place of event, the event's fields beside those keys" in text
    assert "(ip, file_id, an mfa_changed change) as given" in text
    assert "a field the type lacks makes the line bad" in text


def test_the_shorthand_reads_as_the_help_says(tmp_path):
    chain = [{"kind": "takeover_chain", "score": 0.9}]
    lines = [
        {"account": "a", "signals": chain},
        {"account": "a", "type": "mfa_changed", "signals": chain},
        {"account": "a", "type": "file_shared", "signals": chain},
        {"account": "a", "type": "mfa_changed", "change": "disabled", "signals": chain},
        {"account": "a", "type": "file_shared", "file_id": "f1", "signals": chain},
        {"account": "a", "chnage": "disabled", "signals": chain},
        {
            "event": {
                "type": "file_shared",
                "event_id": "s1",
                "ts": "2026-12-01T10:00:00Z",
                "account": "a",
                "file_id": "f1",
            },
            "signals": chain,
        },
    ]
    path = tmp_path / "examples.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")

    read = list(read_examples(path))
    report = run_examples(load_policy(policy), iter(read))

    login, mfa, shared, disabled, shared_file, typo, whole = read
    assert isinstance(login, Example) and login.event.success is True
    assert isinstance(mfa, Example) and mfa.event.change == "enabled"
    assert isinstance(shared, BadExample) and "file_id" in shared.reason
    assert isinstance(disabled, Example) and disabled.event.change == "disabled"
    assert isinstance(shared_file, Example) and shared_file.event.file_id == "f1"
    assert isinstance(typo, BadExample) and "has no field 'chnage'" in typo.reason
    assert isinstance(whole, Example)
    assert [r.line for r in report.results] == [1, 2, 4, 5, 7]
