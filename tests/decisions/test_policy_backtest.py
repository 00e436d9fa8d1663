"""``trustwatch backtest``: history through two policies, scored per rule."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.decisions.policy import default_policy, policy_from_dict
from trustwatch.detectors import default_detectors
from trustwatch.detectors.base import Detector, Signal
from trustwatch.evaluation.backtest import backtest, history_events
from trustwatch.events.model import EventBase, Login
from trustwatch.events.parquet import write_events_parquet
from trustwatch.events.readers import write_events_jsonl
from trustwatch.features.context import EventContext
from trustwatch.simulation import SimulationConfig, simulate

T0 = datetime(2026, 11, 2, tzinfo=UTC)


class Scripted(Detector):
    """Raise ``suspicious`` with the score the account's name ends in (a7 -> 0.7)."""

    name = "scripted"
    signal_kinds = ("suspicious",)

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        account = event.account or ""
        if not account[-1:].isdigit():
            return []
        return [
            self.signal(
                event,
                kind="suspicious",
                score=int(account[-1]) / 10,
                entity_type="account",
                entity=account,
                reasons=("scripted",),
            )
        ]

    def get_state(self) -> dict[str, object]:
        return {}

    def set_state(self, state: dict[str, object]) -> None:
        pass


def logins(*accounts: str, day: int = 0) -> list[Login]:
    return [
        Login(
            event_id=f"d{day}-{i}",
            ts=T0 + timedelta(days=day, minutes=i),
            account=account,
            ip="198.51.100.1",
            success=True,
        )
        for i, account in enumerate(accounts)
    ]


def policy(name: str, *rules: dict):
    return policy_from_dict({"name": name, "version": "1", "rules": list(rules)}, name)


CURRENT = policy(
    "current",
    {
        "id": "review",
        "signals": ["suspicious"],
        "min_score": 0.5,
        "action": "send_to_review",
        "target": "account",
    },
)
NEW = policy(
    "new",
    {"id": "review", "signals": ["suspicious"], "min_score": 0.3,
     "action": "send_to_review", "target": "account"},
    {"id": "lock-top", "signals": ["suspicious"], "min_score": 0.5,
     "when": "signal.score >= 0.9", "action": "lock_account", "target": "account"},
    {"id": "trial", "signals": ["suspicious"], "min_score": 0.1,
     "action": "rate_limit", "target": "account", "mode": "shadow"},
    {"id": "off", "signals": ["suspicious"], "action": "lock_account",
     "mode": "disabled"},
)  # fmt: skip

# a1..a9: the digit is the score; bad accounts are a4, a6, a9 and b9
LABELS = {"a1": False, "a4": True, "a5": False, "a6": True, "a9": True, "b9": True}


def test_rules_are_scored_per_account_and_diffed_against_current():
    events = logins("a1", "a4", "a5", "a6", "a9", "a9", "plain")
    report = backtest(events, [Scripted()], NEW, CURRENT, LABELS)

    assert report.events == 7 and report.events_with_signals == 6
    review = report.new.rules["review"]
    assert (review.events_hit, review.accounts_hit) == (5, 4)  # a4 a5 a6 a9
    assert review.precision == pytest.approx(3 / 4)
    # b9 is in no replayed event: it could not be hit, and is not scored
    assert review.recall == 1.0
    assert (report.labelled_accounts, report.labelled_unseen) == (5, 1)
    lock = report.new.rules["lock-top"]
    assert (lock.events_hit, lock.accounts, lock.precision) == (2, {"a9"}, 1.0)
    trial = report.new.rules["trial"]  # shadow rules are scored too
    assert trial.mode == "shadow" and trial.accounts_hit == 5
    assert trial.precision == pytest.approx(3 / 5)
    assert report.new.rules["off"].events_hit == 0
    old = report.current.rules["review"]
    assert old.accounts == {"a5", "a6", "a9"}

    assert report.newly_hit == ["a4"]  # by review's lower bar, not by shadow
    assert report.no_longer_hit == []
    changes = report.decision_changes()
    assert changes["lock_account"] == (0, 2)
    assert changes["send_to_review"] == (4, 3)
    assert changes["allow"] == (2, 1)


def test_a_rule_whose_target_the_event_lacks_hits_no_account():
    events = [
        Login(event_id="no-ip", ts=T0, account="a9", success=True),
        *logins("a6", day=1),
    ]
    blocking = policy(
        "blocking",
        {"id": "block", "signals": ["suspicious"], "min_score": 0.5,
         "action": "block_source", "target": "ip"},
    )  # fmt: skip
    report = backtest(events, [Scripted()], blocking, CURRENT, LABELS)
    block = report.new.rules["block"]
    # a9's login names no address: the rule acted on nothing there
    assert (block.events_hit, block.accounts) == (1, {"a6"})


def test_current_policy_losing_a_rule_shows_accounts_no_longer_hit():
    events = logins("a5", "a6", "a9")
    relaxed = policy(
        "relaxed",
        {"id": "review", "signals": ["suspicious"], "min_score": 0.8,
         "action": "send_to_review", "target": "account"},
    )  # fmt: skip
    report = backtest(events, [Scripted()], relaxed, CURRENT, LABELS)
    assert report.no_longer_hit == ["a5", "a6"]
    assert report.newly_hit == []


def test_two_policies_of_one_name_and_version_are_told_apart_by_digest():
    alike = policy(
        "current",
        {
            "id": "review",
            "signals": ["suspicious"],
            "min_score": 0.9,
            "action": "send_to_review",
            "target": "account",
        },
    )
    report = backtest(logins("a9"), [Scripted()], alike, CURRENT, LABELS)
    assert report.new.policy == f"{alike.ref} ({alike.digest})"
    assert report.current.policy == f"{CURRENT.ref} ({CURRENT.digest})"
    same = backtest(logins("a9"), [Scripted()], CURRENT, CURRENT, LABELS)
    assert same.new.policy == same.current.policy == CURRENT.ref


def test_window_and_dead_letters_are_counted():
    events = [*logins("a9", day=0), *logins("a9", "a4", day=1)]
    since = T0 + timedelta(days=1)
    report = backtest(events, [Scripted()], NEW, CURRENT, LABELS, since=since)
    assert report.skipped_outside_window == 1 and report.events == 2


def test_hive_partitions_outside_the_window_are_not_read(tmp_path):
    lake = tmp_path / "lake"
    for day in range(5):
        folder = lake / f"dt=2026-11-0{day + 2}"
        folder.mkdir(parents=True)
        write_events_parquet(logins("a9", "a4", day=day), folder / "part-0.parquet")
    # broken files in pruned partitions would be dead letters if read
    for pruned in ("dt=2026-11-02", "dt=2026-11-06"):
        (lake / pruned / "part-1.parquet").write_bytes(b"not parquet")
    since = T0 + timedelta(days=2)
    until = T0 + timedelta(days=3)
    items = list(history_events([str(lake)], since=since, until=until))
    # the window's day and a day's margin either side, for local-date lakes
    assert sorted(item.event_id for item in items) == [
        f"d{day}-{i}" for day in (1, 2, 3) for i in (0, 1)
    ]
    everything = list(history_events([str(lake)]))
    assert len(everything) == 12  # ten events and the broken files' dead letters
    report = backtest(
        items, [Scripted()], NEW, CURRENT, LABELS, since=since, until=until
    )
    assert report.events == 2 and report.skipped_outside_window == 4


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    config = SimulationConfig(
        seed=5,
        accounts=120,
        days=0.5,
        attacks=("brute_force", "credential_stuffing"),
    )
    sim = simulate(config)
    folder = tmp_path_factory.mktemp("sim")
    events = folder / "events.jsonl"
    write_events_jsonl(sim.events, events)
    bad = sim.truth.bad_accounts()
    accounts = {e.account for e in sim.events if e.account} | set(bad)
    labels = folder / "labels.csv"
    labels.write_text(
        "account,label\n" + "".join(f"{a},{int(a in bad)}\n" for a in sorted(accounts))
    )
    shipped = default_policy()
    same = backtest(sim.events, default_detectors(), shipped, shipped, {})
    return sim, events, labels, same


def test_same_policy_on_the_simulator_changes_nothing(simulated):
    report = simulated[3]
    assert report.events_with_signals > 0
    assert report.newly_hit == [] and report.no_longer_hit == []
    assert report.new.decisions == report.current.decisions
    assert report.new.to_dict()["rules"] == report.current.to_dict()["rules"]


def test_backtest_command_on_the_simulator_with_a_known_change(
    simulated, tmp_path, capsys
):
    sim, events, labels, same = simulated
    bad = sorted(sim.truth.bad_accounts())
    signalled = set().union(*(r.accounts for r in same.current.rules.values()))
    chosen = sorted(set(bad) & signalled)[:2]
    assert len(chosen) == 2
    # the known change: lock exactly two bad accounts on any signal they raise,
    # and stop blocking brute force
    text = default_policy_text().replace('name = "default"', 'name = "trial"')
    text = text.replace(
        'id = "block-brute-force"\n', 'id = "block-brute-force"\nmode = "disabled"\n'
    )
    text += (
        '\n[[rules]]\nid = "lock-chosen"\nmin_score = 0.0\n'
        f"when = 'event.account in {json.dumps(chosen)}'\n"
        'action = "lock_account"\ntarget = "account"\n'
    )
    trial = tmp_path / "trial.toml"
    trial.write_text(text)

    status = main(
        ["backtest", str(events), "--policy", str(trial), "--labels", str(labels),
         "--no-geo", "--json"]
    )  # fmt: skip
    assert status == ExitCode.OK
    report = json.loads(capsys.readouterr().out)
    new_rules = {r["rule_id"]: r for r in report["new"]["rules"]}
    current_rules = {r["rule_id"]: r for r in report["current"]["rules"]}
    assert report["new"]["policy"].startswith("trial@")
    assert report["current"]["policy"].startswith("default@")
    assert new_rules["block-brute-force"]["events_hit"] == 0
    assert current_rules["block-brute-force"]["events_hit"] > 0
    locked = new_rules["lock-chosen"]
    assert locked["accounts_hit"] == 2 and locked["precision"] == 1.0
    assert locked["recall"] == pytest.approx(2 / len(bad))
    assert "lock-chosen" not in current_rules
    decisions = report["diff"]["decisions"]
    assert decisions["lock_account"]["new"] > decisions["lock_account"]["current"]
    assert decisions["block_source"]["new"] < decisions["block_source"]["current"]
    assert set(report["diff"]["newly_hit"]) <= set(chosen)
    assert report["labelled_accounts"] > 0 and report["abusive_accounts"] == len(bad)

    # the same run as a table
    assert (
        main(["backtest", str(events), "--policy", str(trial), "--labels",
              str(labels), "--no-geo"])
        == ExitCode.OK
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "lock-chosen" in out and "verdicts per decision" in out
    assert "accounts newly hit" in out


def test_backtest_refuses_a_window_that_ends_before_it_starts(simulated, capsys):
    _, events, labels, _ = simulated
    policy_path = default_policy_path()
    status = main(
        ["backtest", str(events), "--policy", str(policy_path), "--labels",
         str(labels), "--since", "2026-11-03", "--until", "2026-11-02"]
    )  # fmt: skip
    assert status == ExitCode.BAD_CONFIG
    assert "--since must come before --until" in capsys.readouterr().err


def _naive_lines(path, n: int = 4) -> None:
    # timestamps written without a zone, one line unreadable
    lines = [
        json.dumps(
            {
                "type": "login",
                "event_id": f"n{i}",
                "ts": f"2026-11-02T10:0{i}:00",
                "account": "a9",
                "ip": "198.51.100.1",
                "success": True,
            }
        )
        for i in range(n)
    ]
    path.write_text("\n".join([*lines, "{cut short"]) + "\n")


def test_backtest_reads_zoneless_times_with_source_tz_and_names_dead_letters(
    tmp_path, capsys, monkeypatch
):
    events, labels = tmp_path / "naive.jsonl", tmp_path / "labels.csv"
    _naive_lines(events)
    labels.write_text("account,label\na9,1\n")
    policy_path = default_policy_path()
    base = ["backtest", str(events), "--policy", str(policy_path), "--labels",
            str(labels), "--no-geo", "--json"]  # fmt: skip
    # without a zone every event is a dead letter: an error naming the reasons
    assert main(base) == ExitCode.BAD_INPUT
    captured = capsys.readouterr()
    assert "timestamp 4" in captured.err and "malformed_json 1" in captured.err
    assert "no record could be replayed" in captured.err
    assert json.loads(captured.out)["dead_letter_reasons"] == {
        "timestamp": 4,
        "malformed_json": 1,
    }
    assert main([*base, "--source-tz", "Europe/Berlin"]) == ExitCode.OK
    report = json.loads(capsys.readouterr().out)
    assert (report["events"], report["dead_letters"]) == (4, 1)
    monkeypatch.setenv("TRUSTWATCH_SOURCE_TZ", "UTC")
    assert main(base) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["events"] == 4
    # read, but all outside the window: no error, whatever else was unreadable
    assert main([*base, "--since", "2030-01-01"]) == ExitCode.OK
    report = json.loads(capsys.readouterr().out)
    assert (report["events"], report["skipped_outside_window"]) == (0, 4)


def test_backtest_says_which_label_rows_it_left_out_and_why(tmp_path, capsys):
    events, labels = tmp_path / "naive.jsonl", tmp_path / "labels.csv"
    _naive_lines(events)
    labels.write_text("account,label\na9,yes\n,1\na9,0\n")
    code = main(
        ["backtest", str(events), "--policy", str(default_policy_path()),
         "--labels", str(labels), "--no-geo", "--source-tz", "UTC"]
    )  # fmt: skip
    assert code == ExitCode.OK
    err = capsys.readouterr().err
    assert "2 label rows left out: 1 bad_label, 1 no_account" in err
    assert "row 2: bad_label; row 3: no_account" in err


def default_policy_path():
    from importlib import resources

    return resources.files("trustwatch.decisions").joinpath("default_policy.toml")


def default_policy_text() -> str:
    return default_policy_path().read_text("utf-8")


def test_repeated_events_are_skipped_under_both_policies():
    once = [*logins("a9", "a4", day=0), *logins("a7", day=1)]
    # a file given twice, and a line repeated
    twice = [*once, *once, once[0]]
    single = backtest(once, [Scripted()], NEW, CURRENT, LABELS)
    replayed = backtest(twice, [Scripted()], NEW, CURRENT, LABELS)
    assert (replayed.events, replayed.repeats) == (len(once), len(once) + 1)
    assert replayed.to_dict()["repeats"] == len(once) + 1
    assert single.repeats == 0
    for outcome in ("new", "current"):
        assert replayed.to_dict()[outcome] == single.to_dict()[outcome]
    # the window is checked after repeats: a repeat outside it is a repeat
    windowed = backtest(
        twice, [Scripted()], NEW, CURRENT, LABELS, since=T0 + timedelta(days=1)
    )
    assert (windowed.events, windowed.skipped_outside_window) == (1, 2)
    assert windowed.repeats == len(once) + 1


def _brute_force_lines(path) -> None:
    # 40 failed logins and one success, one account from one address
    lines = [
        {
            "type": "login",
            "event_id": f"bf{i}",
            "ts": (T0 + timedelta(minutes=i)).isoformat(),
            "account": "victim1",
            "ip": "203.0.113.9",
            "success": i == 40,
        }
        for i in range(41)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_backtest_command_skips_a_file_given_twice_as_run_does(tmp_path, capsys):
    from trustwatch.runtime.embedded import run_embedded
    from trustwatch.storage.sqlite import SqliteStore

    once, twice = tmp_path / "once.jsonl", tmp_path / "twice.jsonl"
    _brute_force_lines(once)
    twice.write_text(once.read_text() * 2)
    labels = tmp_path / "labels.csv"
    labels.write_text("account,label\nvictim1,1\n")
    policy_path = default_policy_path()
    reports = {}
    for path in (once, twice):
        status = main(
            ["backtest", str(path), "--policy", str(policy_path), "--labels",
             str(labels), "--no-geo", "--json"]
        )  # fmt: skip
        assert status == ExitCode.OK
        reports[path] = json.loads(capsys.readouterr().out)
    replayed = reports[twice]
    assert (replayed["events"], replayed["repeats"]) == (41, 41)
    assert reports[once]["repeats"] == 0
    for outcome in ("new", "current"):
        assert replayed[outcome] == reports[once][outcome]
    # the verdicts run gives over the same file
    with SqliteStore(tmp_path / "run.sqlite") as store:
        summary = run_embedded([twice], store, policy=default_policy())
    assert (summary.events, summary.repeats) == (41, 41)
    assert replayed["new"]["decisions"] == dict(summary.decisions)
    assert replayed["events_with_signals"] == summary.verdicts
    # the table says how many repeats were skipped
    status = main(
        ["backtest", str(twice), "--policy", str(policy_path), "--labels",
         str(labels), "--no-geo"]
    )  # fmt: skip
    assert status == ExitCode.OK
    assert "41 repeated events skipped" in capsys.readouterr().out


def test_backtest_json_lists_the_label_rows_it_left_out(tmp_path, capsys):
    events, labels = tmp_path / "naive.jsonl", tmp_path / "labels.csv"
    _naive_lines(events)
    labels.write_text("account,label\na9,1\na9,0\nb1,maybe\nb2,1\n")
    code = main(
        ["backtest", str(events), "--policy", str(default_policy_path()),
         "--labels", str(labels), "--no-geo", "--source-tz", "UTC", "--json"]
    )  # fmt: skip
    assert code == ExitCode.OK
    report = json.loads(capsys.readouterr().out)
    left_out = report["labels"]["file_rows_left_out"]
    assert left_out == {"bad_label": 1, "conflicting_label": 1}
