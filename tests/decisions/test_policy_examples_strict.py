"""``trustwatch policy test`` reads examples strictly: deep nesting, label
typos, unknown rule ids and out-of-range scores are bad lines with their
line numbers; an empty file is an error."""

from __future__ import annotations

import json

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.decisions.policy import load_policy
from trustwatch.evaluation.policy_examples import read_examples, run_examples

POLICY = """name = "strict"
version = "1"

[[rules]]
id = "review-takeover"
signals = ["takeover_chain"]
min_score = 0.6
action = "send_to_review"
target = "account"
"""


def _example(**overrides) -> dict:
    base = {
        "account": "alice",
        "signals": [{"kind": "takeover_chain", "score": 0.9}],
        "expect": {"rules": ["review-takeover"]},
    }
    return {**base, **overrides}


@pytest.fixture
def policy_path(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def _report(tmp_path, policy_path, lines: list[str]):
    examples = tmp_path / "examples.jsonl"
    examples.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run_examples(load_policy(policy_path), read_examples(examples))


def _bad(report) -> dict[int, str]:
    return {bad.line: bad.reason for bad in report.bad_lines}


def test_deeply_nested_line_is_a_bad_line_not_a_crash(tmp_path, policy_path) -> None:
    lines = [json.dumps(_example()), "[" * 100_000, '{"a":' * 50_000]

    report = _report(tmp_path, policy_path, lines)

    assert [r.line for r in report.results] == [1]
    assert "nested too deeply" in _bad(report)[2]
    assert "nested too deeply" in _bad(report)[3]


def test_labels_are_spelled_exactly(tmp_path, policy_path) -> None:
    accepted = ["abusive", "benign", 0, 1, True, False, "phishing", "true", "0"]
    refused = ["Benign", "bengin", "ABUSIVE", 2, "", " benign"]
    lines = [json.dumps(_example(label=label)) for label in accepted + refused]

    report = _report(tmp_path, policy_path, lines)

    assert len(report.results) == len(accepted)
    bad = _bad(report)
    assert sorted(bad) == list(range(len(accepted) + 1, len(lines) + 1))
    assert all("is not a label; hint: benign, abusive" in r for r in bad.values())
    assert "coordinated_ring" in bad[len(accepted) + 1]


def test_rules_the_policy_lacks_make_a_bad_line(tmp_path, policy_path) -> None:
    lines = [
        json.dumps(_example(expect={"not_rules": ["allow-vpi"]})),
        json.dumps(_example(expect={"rules": ["review-takeover", "reset-typo"]})),
        json.dumps(_example(expect={"not_rules": ["review-takeover"]})),
    ]

    report = _report(tmp_path, policy_path, lines)

    bad = _bad(report)
    assert "no rule 'allow-vpi' in the policy" in bad[1]
    assert "no rule 'reset-typo' in the policy" in bad[2]
    assert [r.line for r in report.results] == [3]
    assert report.failed == 1


@pytest.mark.parametrize(
    "score", [1.5, -0.1, "0.9", None, True, 1e309, float("nan")], ids=str
)
def test_scores_are_finite_numbers_in_the_unit_range(
    tmp_path, policy_path, score
) -> None:
    signal = {"kind": "takeover_chain", "score": score}
    line = json.dumps(_example(signals=[signal]))

    report = _report(tmp_path, policy_path, [line])

    assert report.results == []
    assert "'score' must be a number from 0 to 1" in _bad(report)[1]


def test_a_signal_kind_no_detector_raises_makes_a_bad_line(
    tmp_path, policy_path
) -> None:
    lines = [
        json.dumps(_example(signals=[{"kind": "brute_forse", "score": 0.9}])),
        json.dumps(_example(signals={"takeover_chain": 0.9})),
        json.dumps(_example()),
    ]

    report = _report(tmp_path, policy_path, lines)

    bad = _bad(report)
    assert "no detector raises kind 'brute_forse'" in bad[1]
    assert "did you mean 'brute_force'" in bad[1]
    assert '[{"kind": "takeover_chain", "score": 0.9}]' in bad[2]
    assert [r.line for r in report.results] == [3]


def test_an_empty_examples_file_is_bad_input(tmp_path, policy_path, capsys) -> None:
    examples = tmp_path / "empty.jsonl"
    examples.write_text("\n\n", encoding="utf-8")

    status = main(["policy", "test", str(policy_path), "--examples", str(examples)])

    assert status == ExitCode.BAD_INPUT
    assert "holds no examples" in capsys.readouterr().err


def test_a_timestamp_without_zone_gets_a_hint_for_examples(
    tmp_path, policy_path
) -> None:
    line = json.dumps(_example(ts="2026-01-01T10:00:00"))

    report = _report(tmp_path, policy_path, [line])

    reason = _bad(report)[1]
    assert "no time zone" in reason
    assert "--source-tz" not in reason
    assert "2026-01-01T10:00:00Z" in reason
