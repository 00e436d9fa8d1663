from datetime import timedelta
from pathlib import Path

import pytest

from trustwatch.decisions.policy import default_policy, load_policy, parse_duration
from trustwatch.errors import PolicyError

GOOD = """
name = "p"
version = "1"
[[rules]]
id = "r1"
signals = ["brute_force"]
action = "block_source"
expires = "1h"
[[rules]]
id = "r2"
signals = ["brute_force", "credential_stuffing"]
min_score = 0.9
action = "send_to_review"
mode = "shadow"
[[rules]]
id = "off"
signals = ["brute_force"]
action = "lock_account"
mode = "disabled"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_policy_loads_and_indexes_active_rules_by_kind(tmp_path):
    policy = load_policy(write(tmp_path, GOOD))
    assert policy.ref == "p@1"
    assert [r.id for r in policy.rules_for("brute_force")] == ["r1", "r2"]
    assert [r.id for r in policy.rules_for("credential_stuffing")] == ["r2"]
    assert policy.rules_for("unknown") == ()
    assert policy.rules[0].expires == timedelta(hours=1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('action = "block_source"', "action 'explode'"),
        ('signals = ["brute_force"]', "'signals' must be a non-empty list"),
        ('expires = "1h"', "expires"),
        ('id = "r2"', "rule ids must be unique"),
    ],
)
def test_bad_rules_are_rejected_with_the_rule_named(tmp_path, change, message):
    broken = {
        'action = "block_source"': 'action = "explode"',
        'signals = ["brute_force"]': "signals = []",
        'expires = "1h"': 'expires = "soon"',
        'id = "r2"': 'id = "r1"',
    }[change]
    text = GOOD.replace(change, broken, 1)
    with pytest.raises(PolicyError, match=message) as info:
        load_policy(write(tmp_path, text))
    assert "policy.toml" in str(info.value)


def test_unknown_field_and_bad_toml_are_errors(tmp_path):
    with pytest.raises(PolicyError, match="unknown fields"):
        load_policy(write(tmp_path, GOOD.replace('id = "r1"', 'id = "r1"\nunless = 1')))
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(write(tmp_path, "name = "))
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    "top",
    [
        'mode = "shadow"',
        "dry_run = true",
        "[breaker]\nmax_actions = 0",
        '[[rule]]\nid = "x"',
    ],
)
def test_unknown_top_level_keys_are_errors(tmp_path, top):
    text = GOOD.replace('version = "1"\n', f'version = "1"\n{top}\n', 1)
    with pytest.raises(PolicyError, match="unknown top-level keys") as info:
        load_policy(write(tmp_path, text))
    assert "each rule its own mode" in str(info.value)


def test_allow_is_no_rule_action(tmp_path):
    text = GOOD.replace('action = "block_source"', 'action = "allow"', 1)
    with pytest.raises(PolicyError, match="action 'allow' is what an event gets"):
        load_policy(write(tmp_path, text))


def test_default_policy_ships_and_covers_every_signal_kind():
    policy = default_policy()
    kinds = {k for rule in policy.rules for k in rule.signals}
    assert {
        "brute_force",
        "credential_stuffing",
        "login_after_failures",
        "intel_url",
        "intel_hash",
        "intel_ip",
        "risky_url",
        "content_spread_uploads",
    } <= kinds


def test_parse_duration():
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("7d") == timedelta(days=7)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("7 weeks")


@pytest.mark.parametrize("text", ["0s", "999999999d", "99999999999h"])
def test_durations_out_of_range_are_refused(text):
    with pytest.raises(ValueError, match="out of range"):
        parse_duration(text)


def test_an_expiry_out_of_range_is_a_policy_error(tmp_path):
    text = GOOD.replace('expires = "1h"', 'expires = "999999999d"')
    with pytest.raises(PolicyError, match="out of range"):
        load_policy(write(tmp_path, text))


def test_every_broken_rule_is_reported_at_once(tmp_path):
    text = (
        GOOD.replace('version = "1"', 'version = ""')
        .replace('action = "block_source"', 'action = "explode"')
        .replace("min_score = 0.9", "min_score = 9")
        .replace('id = "off"', 'id = "r1"')
    )
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, text))
    lines = str(info.value).split("\n")
    assert len(lines) == 4, lines
    assert "top-level 'version'" in lines[0]
    assert "rule r1: action 'explode'" in lines[1]
    assert "rule r2: min_score" in lines[2]
    # a repeated id is reported even where one of the rules is broken
    assert lines[3].endswith("rule ids must be unique; repeated: ['r1']")
    assert all(line.startswith(str(tmp_path / "policy.toml")) for line in lines)


def test_every_fault_of_one_rule_is_reported_at_once(tmp_path):
    rule = (
        '[[rules]]\nid = "r1"\nsignals = []\naction = "nuke"\nmin_score = 1.5\n'
        'mode = "maybe"\nexpires = "forever"\ntarget = "planet"\n'
        'delay = "30m-5m"\nwhen = "signal.score >"\nextra = 1\n'
    )
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, f'name = "p"\nversion = "1"\n{rule}'))
    text = str(info.value)
    for fault in (
        "unknown fields ['extra']",
        "when: syntax error",
        "'signals' must be a non-empty list",
        "action 'nuke'",
        "min_score must be",
        "target 'planet'",
        "mode 'maybe'",
        "expires: 'forever'",
        "delay: '30m-5m'",
    ):
        assert f"rule r1: {fault}" in text, fault


def test_ids_of_other_types_are_no_repeats_and_long_lists_are_cut(tmp_path):
    text = GOOD.replace('id = "r1"', "id = 1").replace('id = "r2"', "id = true")
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, text))
    lines = str(info.value).split("\n")
    assert [line.split(": ", 2)[1:] for line in lines] == [
        ["rule 1", "'id' must be a str"],
        ["rule True", "'id' must be a str"],
    ]
    broken = "".join(
        f'[[rules]]\nid = "r{n}"\nsignals = ["x"]\naction = "explode"\n'
        for n in range(60)
    )
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, f'name = "p"\nversion = "1"\n{broken}'))
    lines = str(info.value).split("\n")
    assert len(lines) == 51
    assert "rule r49: action 'explode'" in lines[49]
    assert lines[50].endswith(": and 10 more problems")


@pytest.mark.parametrize(
    ("text", "written"),
    [("1d", "1d"), ("90m", "90m"), ("3600s", "1h"), ("25h", "25h"), ("45s", "45s")],
)
def test_a_duration_is_written_back_as_the_policy_reads_it(text, written):
    from trustwatch.decisions.policy import duration_text, parse_duration

    assert duration_text(parse_duration(text)) == written
    assert parse_duration(written) == parse_duration(text)
