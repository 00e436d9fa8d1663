"""``trustwatch evaluate ato``: the table, the report files, the RBA input."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from trustwatch.cli.evaluate import evaluate
from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.events.rba import RBA_COLUMNS

SMALL = ["--accounts", "300", "--days", "6", "--warmup-days", "3", "--seed", "2"]


def invoke(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(evaluate, ["ato", *args])
    return result.exit_code, result.output, result.exception


def test_the_table_compares_model_and_rule_per_attacker_kind() -> None:
    code, output, error = invoke(*SMALL)
    assert code == 0, error
    assert "# Account takeover: simulated logins" in output
    for kind in ("| naive |", "| stuffing |", "| targeted |", "| all |"):
        assert kind in output
    assert "rule @1%" in output and "rule @5%" in output
    assert "seed 2, accounts 300, days 6.0" in output


def test_json_and_report_files(tmp_path: Path) -> None:
    out = tmp_path / "report"
    code, output, error = invoke(*SMALL, "--json", "--out", str(out))
    assert code == 0, error
    payload = json.loads(output)
    assert payload["kinds"] == ["naive", "stuffing", "targeted"]
    assert json.loads((out / "report.json").read_text()) == payload
    assert "| attacker |" in (out / "report.md").read_text()
    names = {scorer["name"] for scorer in payload["scorers"]}
    assert "country_rule" in names


def test_the_rba_file_replaces_the_simulator(tmp_path: Path) -> None:
    rows = [",".join(RBA_COLUMNS)]
    for index in range(40):
        rows.append(
            f"{index},2020-02-03 12:{index:02d}:00.000,{index % 4},,10.0.0.{index % 4},"
            f"NO,-,-,29695,Mozilla/5.0,Firefox 1,Linux,desktop,True,False,"
            f"{index == 39}"
        )
    path = tmp_path / "rba.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, output, error = invoke("--rba", str(path), "--json", "--limit", "39")
    assert code == 0, error
    payload = json.loads(output)
    assert payload["kinds"] == ["account_takeover", "attack_ip"]
    assert payload["logins"] == 39
    code, output, error = invoke("--rba", str(path))
    assert code == 0, error
    assert "| account_takeover | 1 |" in output


def test_options_that_do_not_fit_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "rba.csv"
    path.write_text(",".join(RBA_COLUMNS) + "\n", encoding="utf-8")
    _, _, error = invoke("--rba", str(path), "--accounts", "10")
    assert isinstance(error, ConfigError) and "--accounts" in str(error)
    _, _, error = invoke(*SMALL, "--limit", "5")
    assert isinstance(error, ConfigError) and "--limit" in str(error)
    _, _, error = invoke("--days", "5", "--warmup-days", "5")
    assert isinstance(error, ConfigError) and "warmup_days" in str(error)
    _, _, error = invoke("--rba", str(path))
    assert isinstance(error, InvalidEventError)  # a header and no row


def test_bad_values_are_usage_errors(tmp_path: Path) -> None:
    code, output, _ = invoke("--accounts", "0")
    assert code == 2 and "--accounts" in output
    code, output, _ = invoke("--rba", str(tmp_path / "missing.csv"))
    assert code == 2 and "does not exist" in output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _, _, error = invoke(*SMALL, "--out", str(blocker / "sub"))
    assert isinstance(error, ConfigError) and "cannot write" in str(error)
