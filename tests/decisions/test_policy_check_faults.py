"""``trustwatch policy check`` reports what makes a rule dead or always fail:
a signal kind no detector raises, and a condition that is a value of a type
that is never true or false. ``run`` keeps loading the first with a warning."""

from __future__ import annotations

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.cli.pipeline_setup import checked_policy
from trustwatch.decisions.conditions import ConditionError, compile_condition
from trustwatch.decisions.policy import load_policy

HEAD = 'name = "p"\nversion = "1"\n'


def _rule(rule_id: str, kinds: str = '["takeover_chain"]', when: str = "") -> str:
    condition = f"when = '''{when}'''\n" if when else ""
    return (
        f'[[rules]]\nid = "{rule_id}"\nsignals = {kinds}\n{condition}'
        'action = "challenge"\n'
    )


def _check(tmp_path, capsys, *rules: str) -> tuple[int, str, str]:
    path = tmp_path / "policy.toml"
    path.write_text(HEAD + "".join(rules), encoding="utf-8")
    capsys.readouterr()
    status = main(["policy", "check", str(path)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# ------------------------------------------------ kinds no detector raises


def test_a_misspelt_kind_is_a_fault_with_a_suggestion(tmp_path, capsys):
    status, out, err = _check(
        tmp_path, capsys, _rule("reset", '["takeover_chian"]'), _rule("fine")
    )

    assert status == ExitCode.BAD_CONFIG
    assert out == ""
    assert (
        "rule reset: reads signal kind 'takeover_chian', which no detector "
        "raises; the rule never fires; hint: did you mean 'takeover_chain'?"
    ) in err
    assert "rule fine" not in err


def test_a_kind_the_condition_reads_is_checked_too(tmp_path, capsys):
    status, _, err = _check(
        tmp_path,
        capsys,
        _rule("indexed", when='signals["login_risk"] >= 0.7'),
        _rule("tested", when='"risky_logins" in signals'),
        _rule("fine", when='"risky_login" in signals && signals["intel_ip"] > 0'),
    )

    assert status == ExitCode.BAD_CONFIG
    assert "rule indexed: when reads signal kind 'login_risk'" in err
    assert "'login_risk' is a detector; it raises 'risky_login'" in err
    assert "rule tested: when reads signal kind 'risky_logins'" in err
    assert "did you mean 'risky_login'?" in err
    assert "rule fine" not in err


def test_every_fault_of_every_rule_comes_at_once(tmp_path, capsys):
    status, _, err = _check(
        tmp_path,
        capsys,
        _rule("dead", '["brute_forse"]'),
        _rule("broken", when="signal.score >"),
    )

    assert status == ExitCode.BAD_CONFIG
    assert "rule dead: reads signal kind 'brute_forse'" in err
    assert "rule broken: when: syntax error" in err


@pytest.mark.parametrize(
    "kind",
    [
        "ring_community",  # opt-in: --add-detector communities
        "ring_dense_block",  # opt-in: --add-detector dense_blocks
        "graph_risky_account",  # with --graph-model
        "yara_match",  # with --yara
        "file_risky_link",  # with --content-dir
        "malicious_content",
    ],
)
def test_kinds_of_detectors_that_do_not_run_by_default_are_known(
    tmp_path, capsys, kind
):
    status, out, err = _check(tmp_path, capsys, _rule("r", f'["{kind}"]'))

    assert status == ExitCode.OK, err
    assert f"r (enforce): {kind} >= 0.5" in out


def test_run_still_loads_a_dead_rule_and_only_warns(tmp_path, capsys):
    path = tmp_path / "policy.toml"
    path.write_text(HEAD + _rule("reset", '["takeover_chian"]'), encoding="utf-8")

    assert [rule.id for rule in load_policy(path).rules] == ["reset"]
    assert [rule.id for rule in checked_policy(path).rules] == ["reset"]
    assert "reads signal kind 'takeover_chian', which no detector raises" in (
        capsys.readouterr().err
    )


def test_run_warns_of_a_kind_only_the_condition_reads(tmp_path, capsys):
    path = tmp_path / "policy.toml"
    rule = _rule("indexed", when='signals["login_risk"] > 0.5')
    path.write_text(HEAD + rule, encoding="utf-8")

    assert [rule.id for rule in checked_policy(path).rules] == ["indexed"]
    assert "reads signal kind 'login_risk', which no detector raises" in (
        capsys.readouterr().err
    )


def test_the_shipped_policy_passes_the_check(capsys):
    assert main(["policy", "check", _shipped()]) == ExitCode.OK


def _shipped() -> str:
    from importlib import resources

    path = resources.files("trustwatch.decisions").joinpath("default_policy.toml")
    return str(path)


# ------------------------------------------------ values that are never bools


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("signal.score", "a double"),
        ("(signal.score)", "a double"),
        ("signal.kind", "a string"),
        ("signal.reasons", "a list"),
        ("signal.evidence", "a map"),
        ('signals["risky_login"]', "a double"),
        ("size(signal.reasons)", "an int"),
        ("signal.reasons.size()", "an int"),
        ("event.ts", "a timestamp"),
        ("event.change", "a string"),
        ("event.size", "an int"),
        ("ring.risk", "a double"),
        ("intel", "a list"),
        ("signal", "a map"),
    ],
)
def test_a_value_of_a_non_boolean_type_is_refused(source, kind):
    with pytest.raises(ConditionError) as caught:
        compile_condition(source)

    assert f"the condition is {source}, {kind}, never true or false" in str(
        caught.value
    )


@pytest.mark.parametrize(
    "source",
    [
        "event.success",  # a boolean on logins
        "event.mfa",
        "event.public",
        "event.via_recovery",
        "signal.evidence.flag",  # its type depends on the detector
        "signal.features.known_device",
        'event.type == "login" ? event.success : false',
        "has(ring.id)",
        "signal.score > 0.5",
    ],
)
def test_a_value_that_may_be_a_boolean_compiles(source):
    assert compile_condition(source).source == source


def test_policy_check_points_at_a_non_boolean_condition(tmp_path, capsys):
    status, out, err = _check(tmp_path, capsys, _rule("r", when="signal.score"))

    assert status == ExitCode.BAD_CONFIG
    assert out == ""
    lines = err.splitlines()
    assert lines[0].endswith(
        "rule r: when: the condition is signal.score, a double, never true or "
        "false; hint: compare it, e.g. 'signal.score > 0.5' (column 1)"
    )
    assert lines[1].strip() == "signal.score"
    assert lines[2].strip() == "^"


def test_kinds_read_are_plain_literals_next_to_signals():
    condition = compile_condition(
        'signals["a"] > 0.5 && "b" in signals && signal.evidence.signals["c"] > 1'
        ' && "d" in signal.reasons && signals[signal.kind] > 0.1'
    )

    assert condition.kinds_read == {"a", "b"}
