"""What the command line shows can come from an attacker; errors stay clear."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.cli.render import clean
from trustwatch.events.model import Login, UrlPosted

T0 = datetime(2026, 4, 1, tzinfo=UTC)
HOSTILE = "[bold red]admin[/] \x1b[2J\x1b]0;pwned\x07 \u202e[/dim]"


def hostile_store(tmp_path: Path) -> str:
    events = [
        Login(
            event_id=f"e{i}",
            ts=T0 + timedelta(seconds=i),
            account=HOSTILE,
            username=HOSTILE,
            ip="203.0.113.9",
            success=False,
        )
        for i in range(12)
    ]
    events.append(
        UrlPosted(
            event_id="u",
            ts=T0,
            account=HOSTILE,
            url="http://203.0.113.9:8080/[/dim]/x.exe",
        )
    )
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in events))
    db = str(tmp_path / "s.sqlite")
    assert main(["run", str(path), "--db", db, "--no-geo"]) == ExitCode.OK
    return db


def test_clean_escapes_control_and_format_characters():
    assert clean("plain [bold]text[/]") == "plain [bold]text[/]"
    assert clean("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert clean("\u202eevil") == "\\u202eevil"
    assert clean("tab\there") == "tab\\x09here"


def test_hostile_values_are_shown_literally_and_never_reach_the_terminal(
    tmp_path, capsys
):
    db = hostile_store(tmp_path)
    capsys.readouterr()
    assert main(["alerts", "--db", db, "--limit", "100"]) == ExitCode.OK
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\u202e" not in shown
    assert "[bold" in shown  # markup shown as text, not interpreted
    assert main(["alerts", "--db", db, "explain", "u"]) == ExitCode.OK
    explained = capsys.readouterr().out
    assert "[/dim]/x.exe" in explained
    assert "(dry_run)" in explained  # modes are not swallowed as markup


def test_read_commands_refuse_other_databases_without_touching_them(tmp_path, capsys):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    before = other.read_bytes()
    assert main(["alerts", "--db", str(other)]) == ExitCode.DEPENDENCY_FAILED
    assert "not a trustwatch store" in capsys.readouterr().err
    assert other.read_bytes() == before


def test_since_accepts_zones_and_compares_instants(tmp_path, capsys):
    db = hostile_store(tmp_path)
    capsys.readouterr()
    for since, expected in (
        ("2026-04-01T00:00:10Z", 2),
        ("2026-04-01T02:00:10+02:00", 2),
        ("2026-04-01 00:00:10", 2),
        ("2026-04-01T00:00:00.5Z", 3),
        ("2026-03-31T23:59:59Z", 4),
    ):
        args = ["alerts", "--db", db, "--all", "--json", "--since", since]
        assert main([*args, "--limit", "100"]) == ExitCode.OK
        out = capsys.readouterr().out.splitlines()
        assert len(out) == expected, since


def test_alerts_refuses_a_window_that_ends_before_it_starts(tmp_path, capsys):
    db = hostile_store(tmp_path)
    capsys.readouterr()
    args = ["alerts", "--db", db, "--since", "2026-04-02T00:00:00Z"]
    assert main([*args, "--until", "2026-04-01T00:00:00Z"]) == ExitCode.BAD_CONFIG
    assert "--since must come before --until" in capsys.readouterr().err


def test_a_run_where_nothing_could_be_read_exits_with_bad_input(tmp_path, capsys):
    path = tmp_path / "junk.jsonl"
    path.write_bytes(b"not json\n{also not\n")
    code = main(["run", str(path), "--db", str(tmp_path / "s"), "--no-geo"])
    assert code == ExitCode.BAD_INPUT
    assert "2 records could not be read" in capsys.readouterr().err


@pytest.mark.parametrize("text", [b"", b"\n  \n\n"])
def test_files_without_events_are_a_warning(tmp_path, capsys, text):
    path = tmp_path / "events.jsonl"
    path.write_bytes(text)
    assert main(["run", str(path), "--db", str(tmp_path / "s"), "--no-geo"]) == 0
    assert "warning: no events were read" in capsys.readouterr().err


def test_an_empty_event_path_is_refused(tmp_path, capsys):
    assert main(["run", "", "--db", str(tmp_path / "s")]) == ExitCode.BAD_CONFIG
    assert "empty" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"\xff\xfe name", "not UTF-8"),
        (b'name = "p"\nversion = "1"\nrules = [1]\n', "must be a [[rules]] table"),
        (
            b'name = "p"\nversion = "1"\n[[rules]]\nid = "r"\nsignals = ["x"]\n'
            b'action = "challenge"\nexpires = "99999999999999d"\n',
            "expires",
        ),
        (
            b'name = "p"\nversion = "1"\n[[rules]]\nid = "r"\nsignals = ["x"]\n'
            b'action = "challenge"\nmin_score = true\n',
            "min_score",
        ),
        (b'name = ""\nversion = "1"\n', "'name'"),
    ],
)
def test_bad_policies_are_clear_errors(tmp_path, capsys, text, message):
    path = tmp_path / "p.toml"
    path.write_bytes(text)
    assert main(["policy", "check", str(path)]) == ExitCode.BAD_CONFIG
    assert message in capsys.readouterr().err


def test_policy_check_lists_every_broken_rule(tmp_path, capsys):
    path = tmp_path / "p.toml"
    path.write_bytes(
        b'name = "p"\nversion = "1"\n'
        b'[[rules]]\nid = "a"\nsignals = ["brute_force"]\naction = "explode"\n'
        b'[[rules]]\nid = "b"\nsignals = ["brute_force"]\naction = "challenge"\n'
        b'[[rules]]\nid = "c"\nsignals = ["brute_force"]\naction = "challenge"\n'
        b'when = "1 +"\n'
    )
    assert main(["policy", "check", str(path)]) == ExitCode.BAD_CONFIG
    err = capsys.readouterr().err
    assert "rule a: action 'explode'" in err
    assert "rule c: when:" in err
    assert "rule b" not in err


def test_policy_check_refuses_kinds_no_detector_raises(tmp_path, capsys):
    path = tmp_path / "p.toml"
    path.write_bytes(
        b'\xef\xbb\xbfname = "p"\nversion = "1"\n[[rules]]\nid = "r"\n'
        b'signals = ["brute-force"]\naction = "challenge"\n'
    )
    assert main(["policy", "check", str(path)]) == ExitCode.BAD_CONFIG
    captured = capsys.readouterr()
    assert "rule r: reads signal kind 'brute-force', which no detector" in (
        captured.err
    )
    assert "did you mean 'brute_force'?" in captured.err
    assert captured.out == ""


def test_dead_letters_filter_and_json(tmp_path, capsys):
    path = tmp_path / "e.jsonl"
    good = msgspec.json.encode(
        Login(event_id="ok", ts=T0, account="a", ip="203.0.113.1", success=True)
    )
    path.write_bytes(b"{cut\n" + good + b'\n{"type":"nope","event_id":"x"}\n')
    db = str(tmp_path / "s")
    assert main(["run", str(path), "--db", db, "--no-geo"]) == ExitCode.OK
    capsys.readouterr()
    assert main(["dead-letters", "--db", db, "--reason", "malformed_json"]) == 0
    out = capsys.readouterr().out
    # the total is of the reason asked for, not of the whole store
    assert "1 shown of 1 dead letters with reason 'malformed_json'" in out
    assert main(["dead-letters", "--db", db, "--json"]) == ExitCode.OK
    lines = capsys.readouterr().out.splitlines()
    records = [msgspec.json.decode(line) for line in lines]
    assert [r["location"] for r in records] == ["line 1", "line 3"]
    assert records[0]["raw"] == "{cut"
    assert main(["dead-letters", "--db", db, "--reason", "malformed"]) == 0
    captured = capsys.readouterr()
    assert "0 shown of 0 dead letters with reason 'malformed'" in captured.out
    assert (
        "no dead letter has reason 'malformed'; the store holds malformed_json (1), "
        "unknown_type (1)"
    ) in captured.err


def test_version(capsys):
    assert main(["--version"]) == ExitCode.OK
    assert "trustwatch" in capsys.readouterr().out


def test_devdata_evaluate_refuses_a_folder_that_is_not_a_dev_stream(tmp_path, capsys):
    db = hostile_store(tmp_path)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "events.jsonl").write_text("")
    (tmp_path / "demo" / "truth.json").write_text('{"seed": 1}')
    for folder in (tmp_path, tmp_path / "demo"):
        capsys.readouterr()
        code = main(["devdata", "evaluate", str(folder), "--db", db])
        assert code == ExitCode.BAD_CONFIG
        assert "dev stream" in capsys.readouterr().err


def test_intel_paths_take_folders_and_globs_and_refuse_missing_ones(tmp_path, capsys):
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "a.txt").write_text("203.0.113.9\n")
    (feeds / "b.txt").write_text("http://203.0.113.9:8080/x.exe\n")
    events = tmp_path / "e.jsonl"
    events.write_bytes(
        msgspec.json.encode(
            Login(event_id="l", ts=T0, account="a", ip="203.0.113.9", success=True)
        )
        + b"\n"
    )
    db = str(tmp_path / "s")
    for intel in (str(feeds), str(feeds / "*.txt")):
        assert main(["run", str(events), "--intel", intel, "--db", db, "--no-geo"]) == 0
        assert "a.txt" in capsys.readouterr().out
    missing = str(tmp_path / "nope.txt")
    code = main(["run", str(events), "--intel", missing, "--db", db, "--no-geo"])
    assert code == ExitCode.BAD_CONFIG
    assert "nope.txt" in capsys.readouterr().err
