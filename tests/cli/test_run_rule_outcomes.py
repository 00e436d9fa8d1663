"""What `run` says about rules: failed conditions, and targets an event lacks."""

from __future__ import annotations

import json

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main

POSTS = [
    {
        "type": "url_posted",
        "event_id": f"u{i}",
        "ts": f"2026-11-02T10:0{i}:00Z",
        "url": "http://lure.example.net/login",
        "account": None,
        "ip": "192.0.2.5",
    }
    for i in range(3)
]
POLICY = """
name = "p"
version = "1"
[[rules]]
id = "review-poster"
signals = ["intel_url"]
action = "send_to_review"
target = "account"
[[rules]]
id = "typed-wrong"
signals = ["intel_url"]
when = 'signal.score > "high"'
action = "challenge"
target = "account"
"""


def test_run_counts_failed_conditions_and_acts_on_no_missing_target(
    tmp_path, capsys
) -> None:
    events = tmp_path / "posts.jsonl"
    events.write_text("".join(json.dumps(p) + "\n" for p in POSTS))
    (tmp_path / "intel.txt").write_text("http://lure.example.net/login\n")
    (tmp_path / "p.toml").write_text(POLICY)
    db = str(tmp_path / "s.sqlite")
    code = main(
        [
            "run",
            str(events),
            "--intel",
            str(tmp_path / "intel.txt"),
            "--policy",
            str(tmp_path / "p.toml"),
            "--db",
            db,
        ]
    )
    assert code == ExitCode.OK
    captured = capsys.readouterr()
    assert "rule typed-wrong: condition failed" in captured.out
    assert "rule typed-wrong's condition failed 3 times" in captured.err
    # no account: the review rule acts on nothing, and decides nothing
    assert main(["alerts", "--db", db, "--all", "--json"]) == ExitCode.OK
    verdicts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {v["decision"] for v in verdicts} == {"allow"}
    assert main(["alerts", "--db", db, "explain", "u0"]) == ExitCode.OK
    explained = capsys.readouterr().out
    assert "the event names no account: nothing to act on" in explained
    assert "already in force" not in explained


def test_alerts_says_when_only_verdicts_decided_allow_match(tmp_path, capsys) -> None:
    events = tmp_path / "posts.jsonl"
    events.write_text("".join(json.dumps(p) + "\n" for p in POSTS))
    (tmp_path / "intel.txt").write_text("http://lure.example.net/login\n")
    (tmp_path / "p.toml").write_text(
        POLICY.replace('target = "ip"', 'target = "ip"\nmode = "shadow"')
    )
    db = str(tmp_path / "s.sqlite")
    intel = str(tmp_path / "intel.txt")
    policy = str(tmp_path / "p.toml")
    assert (
        main(["run", str(events), "--intel", intel, "--policy", policy, "--db", db])
        == 0
    )
    capsys.readouterr()
    assert main(["alerts", "--db", db]) == ExitCode.OK
    assert "--all lists them" in capsys.readouterr().err
    assert main(["alerts", "--db", db, "--all"]) == ExitCode.OK
    assert "--all lists them" not in capsys.readouterr().err
    assert main(["alerts", "--db", db, "--account", "nobody"]) == ExitCode.OK
    assert "--all lists them" not in capsys.readouterr().err


def test_explain_by_event_id_names_the_events_other_verdicts(tmp_path, capsys) -> None:
    again = dict(POSTS[0], ts="2026-11-02T10:05:00Z")  # same id, other content
    events = tmp_path / "posts.jsonl"
    events.write_text("".join(json.dumps(p) + "\n" for p in [*POSTS, again]))
    (tmp_path / "intel.txt").write_text("http://lure.example.net/login\n")
    db = str(tmp_path / "s.sqlite")
    intel = str(tmp_path / "intel.txt")
    assert main(["run", str(events), "--intel", intel, "--db", db]) == ExitCode.OK
    capsys.readouterr()
    assert main(["alerts", "--db", db, "--all", "--json"]) == ExitCode.OK
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ids = sorted(v["verdict_id"] for v in listed if v["event_id"] == "u0")
    assert len(ids) == 2
    assert main(["alerts", "--db", db, "explain", "u0"]) == ExitCode.OK
    err = capsys.readouterr().err
    assert "has other verdicts" in err
    assert sum(v in err for v in ids) == 1
    assert main(["alerts", "--db", db, "explain", ids[0]]) == ExitCode.OK
    assert "has other verdicts" not in capsys.readouterr().err


def test_run_warns_of_a_rule_whose_action_cannot_act_on_its_signals_entity(
    tmp_path, capsys
) -> None:
    events = tmp_path / "posts.jsonl"
    events.write_text("".join(json.dumps(p) + "\n" for p in POSTS))
    (tmp_path / "intel.txt").write_text("http://lure.example.net/login\n")
    (tmp_path / "p.toml").write_text(
        'name = "p"\nversion = "1"\n[[rules]]\nid = "lock-the-url"\n'
        'signals = ["intel_url"]\naction = "lock_account"\ntarget = "entity"\n'
    )
    intel, policy = tmp_path / "intel.txt", tmp_path / "p.toml"
    args = ["--intel", str(intel), "--policy", str(policy)]
    code = main(["run", str(events), *args, "--db", str(tmp_path / "s.sqlite")])

    assert code == ExitCode.OK
    assert (
        "warning: rule lock-the-url matched 3 times on targets its action cannot "
        "act on" in capsys.readouterr().err
    )
