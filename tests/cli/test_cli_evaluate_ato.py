"""``trustwatch evaluate ato``: the table, the report files, the RBA input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from trustwatch.cli.evaluate import evaluate
from trustwatch.errors import ConfigError, InvalidEventError
from trustwatch.evaluation import ato as ato_module
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
            f"{index == 20}"
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
    # A limit that stops before the takeover leaves nothing to measure.
    code, _, error = invoke("--rba", str(path), "--limit", "20")
    assert code == 1 and isinstance(error, InvalidEventError)
    assert "nothing was measured in rba.csv: no attack login" in str(error)
    assert "raise --limit" in str(error)


def test_options_that_do_not_fit_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "rba.csv"
    path.write_text(",".join(RBA_COLUMNS) + "\n", encoding="utf-8")
    _, _, error = invoke("--rba", str(path), "--accounts", "10")
    assert isinstance(error, ConfigError) and "--accounts" in str(error)
    _, _, error = invoke(*SMALL, "--limit", "5")
    assert isinstance(error, ConfigError) and "--limit" in str(error)
    _, _, error = invoke("--days", "5", "--warmup-days", "5")
    assert isinstance(error, ConfigError)
    assert "--warmup-days 5 must be less than --days 5" in str(error)
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


def test_the_default_warm_up_is_named_as_a_default() -> None:
    _, _, error = invoke("--days", "10")
    assert isinstance(error, ConfigError)
    assert "--warmup-days (default 14) must be less than --days 10" in str(error)
    assert "warmup_days" not in str(error)


@pytest.mark.parametrize("option", ["--days", "--warmup-days"])
@pytest.mark.parametrize("value", ["nan", "NaN", "inf"])
def test_numbers_that_are_not_finite_are_refused_by_the_option(
    option: str, value: str
) -> None:
    code, output, _ = invoke(option, value)
    assert code == 2
    assert f"Invalid value for '{option}'" in output
    assert "finite" in output or "range" in output


def test_a_run_that_measures_nothing_fails_and_says_why(tmp_path: Path) -> None:
    out = tmp_path / "report"
    code, _, error = invoke(
        "--accounts", "1", "--days", "1", "--warmup-days", "0", "--out", str(out)
    )
    assert code == 1 and isinstance(error, ConfigError)
    assert "nothing was measured: no legitimate successful login" in str(error)
    assert "--accounts" in str(error) and "--warmup-days" not in str(error)
    assert not (out / "report.md").exists()


def _no_work(*args: object, **kwargs: object) -> None:
    raise AssertionError("the evaluation ran before --out was checked")


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the evaluation starts: --out must be refused first."""
    monkeypatch.setattr(ato_module, "evaluate_simulation", _no_work)
    monkeypatch.setattr(ato_module, "evaluate_rba", _no_work)


@pytest.mark.usefixtures("no_work")
def test_an_empty_out_is_refused_not_taken_for_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _, _, error = invoke(*SMALL, "--out", "")
    assert isinstance(error, ConfigError) and "--out is empty" in str(error)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("no_work")
@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null here")
def test_an_out_that_is_not_a_folder_is_refused() -> None:
    _, _, error = invoke(*SMALL, "--out", "/dev/null")
    assert isinstance(error, ConfigError)
    assert "--out /dev/null is not a folder" in str(error)


@pytest.mark.usefixtures("no_work")
@pytest.mark.parametrize("kind", ["fifo", "folder", "link"])
def test_a_report_name_taken_by_something_else_is_refused_before_the_work(
    tmp_path: Path, kind: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / "report.md"
    if kind == "fifo":
        os.mkfifo(target)  # writing to it would block forever
    elif kind == "folder":
        target.mkdir()
    else:
        target.symlink_to(tmp_path / "elsewhere.md")
    _, _, error = invoke(*SMALL, "--out", str(out))
    assert isinstance(error, ConfigError)
    assert str(target) in str(error) and "not a regular file" in str(error)
