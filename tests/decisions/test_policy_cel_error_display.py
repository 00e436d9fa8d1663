"""How ``trustwatch policy check`` shows a condition that does not compile:
the caret display on lines of its own, and deep nesting named as such."""

from __future__ import annotations

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.decisions.conditions import (
    MAX_NESTING,
    ConditionError,
    compile_condition,
)

RULE = """name = "p"
version = "1"
[[rules]]
id = "r1"
signals = ["takeover_chain"]
when = '''{when}'''
action = "challenge"
"""


def _check(tmp_path, when: str, capsys) -> tuple[int, str]:
    policy = tmp_path / "policy.toml"
    policy.write_text(RULE.format(when=when), encoding="utf-8")
    capsys.readouterr()
    status = main(["policy", "check", str(policy)])
    return status, capsys.readouterr().err


def test_the_caret_display_keeps_its_line_breaks(tmp_path, capsys) -> None:
    status, err = _check(tmp_path, "signal.score >", capsys)

    assert status == ExitCode.BAD_CONFIG
    assert "\\x0a" not in err
    lines = err.splitlines()
    assert "syntax error (column 15)" in lines[0]
    assert lines[1].strip() == "signal.score >"
    assert lines[2].index("^") == lines[1].index(">") + 1


def test_control_characters_stay_escaped_within_each_line(tmp_path, capsys) -> None:
    status, err = _check(tmp_path, "signal.score > \x1b[31m", capsys)

    assert status == ExitCode.BAD_CONFIG
    assert "\x1b" not in err


def test_deep_nesting_is_named_not_a_syntax_error(tmp_path, capsys) -> None:
    status, err = _check(tmp_path, "(" * 5_000 + "true" + ")" * 5_000, capsys)

    assert status == ExitCode.BAD_CONFIG
    assert "too deeply nested" in err.splitlines()[0]
    assert "syntax error" not in err


def test_nesting_up_to_the_limit_compiles() -> None:
    inside = "[" * (MAX_NESTING - 1) + "1" + "]" * (MAX_NESTING - 1)
    assert compile_condition(f"size({inside}) == 1").matches({})


@pytest.mark.parametrize(
    "source", ["(" * (MAX_NESTING + 1) + ")" * (MAX_NESTING + 1), "[" * 1000]
)
def test_nesting_past_the_limit_is_refused_with_its_column(source) -> None:
    with pytest.raises(ConditionError, match="too deeply nested") as caught:
        compile_condition(source)
    assert caught.value.column == MAX_NESTING + 1


def test_brackets_in_strings_do_not_count() -> None:
    condition = compile_condition(f"event.account == '{'(' * 500}'")
    assert condition.matches({"event": {"account": "(" * 500}})
