"""The trustwatch command, end to end, on small inputs."""

import json
from pathlib import Path

import msgspec
import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.testing import synthetic_events


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    events = tmp_path / "events.jsonl"
    lines = [msgspec.json.encode(e) for e in synthetic_events(600)]
    events.write_bytes(b"\n".join([*lines, b"{broken"]) + b"\n")
    intel = tmp_path / "intel.txt"
    intel.write_text("hxxp://198.51.100[.]7:8080/bin.sh\n")
    return events, intel


def run(*args: str) -> int:
    return main(list(args))


def test_run_then_alerts_list_filter_and_explain(tmp_path, inputs, capsys):
    events, intel = inputs
    db = str(tmp_path / "store.sqlite")
    assert run("run", str(events), "--intel", str(intel), "--db", db) == ExitCode.OK
    out = capsys.readouterr().out
    assert "600" in out and "dead letters" in out

    assert run("alerts", "--db", db, "--kind", "intel_url", "--json") == ExitCode.OK
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed
    assert all("intel_url" in {s["kind"] for s in v["signals"]} for v in listed)

    assert run("alerts", "--db", db, "explain", listed[0]["verdict_id"]) == 0
    explained = capsys.readouterr().out
    assert "198.51.100.7" in explained and "intel-listed-url" in explained

    assert run("dead-letters", "--db", db) == ExitCode.OK
    assert "malformed_json" in capsys.readouterr().out

    # filters that cannot match are said to be so; a cut list says it is cut
    assert run("alerts", "--db", db, "--decision", "nuke") == ExitCode.BAD_INPUT
    assert "'nuke' is not one of" in capsys.readouterr().err
    assert run("alerts", "--db", db, "--kind", "nosuch") == ExitCode.OK
    assert "no registered detector raises 'nosuch'" in capsys.readouterr().err
    assert run("alerts", "--db", db, "--limit", "1") == ExitCode.OK
    assert "the newest 1 shown; more may match" in capsys.readouterr().err


def test_missing_store_and_bad_policy_exit_with_clear_codes(tmp_path, inputs, capsys):
    events, _ = inputs
    assert run("alerts", "--db", str(tmp_path / "none.sqlite")) == ExitCode.BAD_CONFIG
    assert "no store at" in capsys.readouterr().err
    for dsn in (
        "postgresql://app:hunter2@127.0.0.1:5432/tw",
        "host=127.0.0.1 dbname=tw password=hunter2",
    ):
        for command in ("alerts", "dead-letters", "rings", "run"):
            argv = [command, "--db", dsn] + ([str(events)] if command == "run" else [])
            assert run(*argv) == ExitCode.BAD_INPUT
            err = capsys.readouterr().err
            assert "names a PostgreSQL store" in err and "hunter2" not in err
    assert not [p for p in Path.cwd().iterdir() if "hunter2" in p.name]
    policy = tmp_path / "p.toml"
    policy.write_text('name = "p"\nversion = "1"\n[[rules]]\nid = "x"\n')
    code = run("run", str(events), "--policy", str(policy), "--db", str(tmp_path / "d"))
    assert code == ExitCode.BAD_CONFIG
    assert "rule x: missing 'signals'" in capsys.readouterr().err


def test_missing_event_file_is_a_config_error(tmp_path, capsys):
    code = run("run", str(tmp_path / "nope.jsonl"), "--db", str(tmp_path / "d"))
    assert code == ExitCode.BAD_CONFIG
    assert "nope.jsonl" in capsys.readouterr().err


def test_schema_prints_the_event_json_schema(capsys):
    assert run("schema") == ExitCode.OK
    schema = json.loads(capsys.readouterr().out)
    text = json.dumps(schema)
    for tag in ("login", "file_uploaded", "url_posted", "link_accessed"):
        assert f'"{tag}"' in text


def test_detectors_and_policy_check(capsys):
    assert run("detectors") == ExitCode.OK
    out = capsys.readouterr().out
    assert "credential_attacks" in out and "intel_match" in out
    assert "``" not in out and ":func:" not in out  # docstring markup is dropped
    assert "Raise brand_impersonation for URLs" in out
    assert "opt-in: run --add-detector communities" in out
    assert "runs with run --graph-model" in out and "runs by default" in out
    policy = Path(__file__).parents[2] / "src/trustwatch/decisions/default_policy.toml"
    assert run("policy", "check", str(policy)) == ExitCode.OK
    assert "default@" in capsys.readouterr().out


def test_help_shows_environment_variables(capsys):
    assert main(["run", "--help"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "TRUSTWATCH_DB" in out and "TRUSTWATCH_POLICY" in out


def test_store_path_comes_from_the_environment(tmp_path, inputs, monkeypatch):
    events, _ = inputs
    db = tmp_path / "from-env.sqlite"
    monkeypatch.setenv("TRUSTWATCH_DB", str(db))
    assert run("run", str(events), "--no-geo") == ExitCode.OK
    assert db.exists()


def test_a_csv_of_logins_is_pointed_at_the_rba_evaluation(tmp_path, capsys):
    path = tmp_path / "rba-dataset.csv"
    path.write_text("index,Login Timestamp\n")
    assert run("run", str(path), "--db", str(tmp_path / "s.sqlite")) != ExitCode.OK
    assert "evaluate ato --rba FILE" in capsys.readouterr().err
