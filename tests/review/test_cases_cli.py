"""End to end: run on simulated events, build and work cases, train on labels."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.graph.inject import RingSpec, inject_rings
from trustwatch.graphmodel.saved import load_scorer
from trustwatch.review.store import SqliteReviewStore
from trustwatch.simulation import SimulationConfig, simulate, write_simulation
from trustwatch.storage.sqlite import SqliteStore

BENIGN_CASES = 6


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """Events with one ring mixed in, and the store `trustwatch run` wrote."""
    folder = tmp_path_factory.mktemp("cases")
    sim = simulate(SimulationConfig(seed=5, accounts=300, days=1))
    # a ring large enough that its members, labelled by one resolution, give
    # the account model the labels per class it needs to split
    events, key = inject_rings(sim.events, [RingSpec(members=32, proxies=2)], seed=5)
    paths = write_simulation(replace(sim, events=events), folder)
    db = folder / "store.sqlite"
    assert main(["run", str(paths.events), "--db", str(db), "--no-geo"]) == 0
    return paths.events, db, sorted(key[0].members)


def _json_lines(capsys, argv: list[str]) -> list[dict]:
    capsys.readouterr()
    assert main(argv) == ExitCode.OK
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.slow
def test_cases_from_a_run_are_worked_audited_and_trained_on(
    run_folder, tmp_path, capsys
):
    events, db, members = run_folder
    review = ["--review-db", str(tmp_path / "review.sqlite")]

    # build, then rebuild: the second adds nothing
    capsys.readouterr()
    assert main(["cases", "build", "--db", str(db), *review]) == ExitCode.OK
    assert "new alerts into" in capsys.readouterr().out
    assert main(["cases", "build", "--db", str(db), *review]) == ExitCode.OK
    assert "0 new alerts into 0 cases" in capsys.readouterr().out

    listed = _json_lines(capsys, ["cases", "list", *review, "--json", "--limit", "500"])
    (ring_case,) = [c for c in listed if c["subject_type"] == "ring"]
    assert set(ring_case["accounts"]) == set(members)
    benign = [c for c in listed if c["subject_type"] == "account"][-BENIGN_CASES:]
    late = next(c for c in listed if c["subject_type"] == "account" and c not in benign)

    # assign, resolve; each action audited under the analyst's name
    assert (
        main(
            [
                "cases",
                "assign",
                ring_case["case_id"],
                "--to",
                "carol",
                "--as",
                "lead",
                *review,
            ]
        )
        == ExitCode.OK
    )
    assert (
        main(
            [
                "cases",
                "resolve",
                ring_case["case_id"],
                "--label",
                "coordinated_ring",
                "--action",
                "lock_account",
                "--db",
                str(db),
                "--as",
                "carol",
                *review,
            ]
        )
        == ExitCode.OK
    )
    # the analyst's action: one enforced lock per ring member, for dispatch
    with SqliteStore(db, readonly=True) as decisions:
        taken = [a for a in decisions.iter_actions() if a.actor == "analyst:carol"]
    assert sorted(a.target for a in taken) == sorted(members)
    assert {(a.type, a.mode, a.target_type) for a in taken} == {
        ("lock_account", "enforce", "account")
    }
    # an action that cannot act on the subject is refused before resolving
    capsys.readouterr()
    wrong = ["cases", "resolve", benign[0]["case_id"], "--label", "phishing"]
    wrong += ["--action", "quarantine_file", "--db", str(db), "--as", "bob"]
    assert main([*wrong, *review]) == ExitCode.BAD_INPUT
    assert "quarantine_file acts on file targets" in capsys.readouterr().err
    for case in benign:
        argv = ["cases", "resolve", case["case_id"], "--label", "benign"]
        assert main([*argv, "--db", str(db), "--as", "bob", *review]) == ExitCode.OK
    as_of = datetime.now(UTC)
    argv = ["cases", "resolve", late["case_id"], "--label", "account_takeover"]
    assert main([*argv, "--db", str(db), "--as", "bob", *review]) == ExitCode.OK

    # a resolved case can be neither resolved again nor assigned
    capsys.readouterr()
    again = ["cases", "resolve", ring_case["case_id"], "--label", "benign"]
    assert main([*again, "--as", "bob", *review]) == ExitCode.BAD_INPUT
    assert "trustwatch cases correct" in capsys.readouterr().err
    reassign = ["cases", "assign", ring_case["case_id"], "--to", "bob"]
    assert main([*reassign, "--as", "bob", *review]) == ExitCode.BAD_INPUT

    labels = _json_lines(capsys, ["cases", "labels", *review, "--json"])
    assert len(labels) == BENIGN_CASES + 2
    assert labels[0]["kind"] == "coordinated_ring"
    assert labels[0]["features"]["alerts"]
    with SqliteReviewStore(tmp_path / "review.sqlite") as store:
        log = store.audit_log()
    assert [(e.actor, e.action) for e in log][-2:] == [
        ("carol", "resolve"),
        ("lead", "assign"),
    ]
    assert len(log) == BENIGN_CASES + 3

    shown = _json_lines(
        capsys,
        ["cases", "show", ring_case["case_id"], "--db", str(db), *review, "--json"],
    )[0]
    assert shown["case"]["status"] == "resolved"
    assert shown["rings"][0]["ring_id"] == ring_case["subject"]
    assert len(shown["verdicts"]) == len(ring_case["verdict_ids"])

    # the cases' benign accounts and more from a file: enough of each class
    in_cases = {a for c in listed for a in c["accounts"]}
    seen = {json.loads(line).get("account") for line in events.read_text().splitlines()}
    quiet = sorted(a for a in seen if a and a not in in_cases and a not in members)
    more = tmp_path / "benign.csv"
    more.write_text("account,label\n" + "".join(f"{a},0\n" for a in quiet[:40]))
    labels = ["--labels", str(more)]

    # train as of before the late label: it is not used
    out = tmp_path / "accounts.model"
    figures = _json_lines(
        capsys,
        [
            "train",
            "accounts",
            str(events),
            *review,
            *labels,
            "--as-of",
            as_of.isoformat(),
            "--out",
            str(out),
            "--json",
        ],
    )[0]
    assert figures["labels"]["review_labels_used"] == BENIGN_CASES + 1
    assert figures["labels"]["review_labels_after_as_of"] == 1
    assert figures["labelled"] == len(members) + BENIGN_CASES + 40
    assert figures["labels"]["abusive"] == len(members)
    assert load_scorer(out).threshold == figures["threshold"]

    # without --as-of the late label joins
    figures = _json_lines(
        capsys,
        [
            "train",
            "accounts",
            str(events),
            *review,
            *labels,
            "--out",
            str(out),
            "--json",
        ],
    )[0]
    assert figures["labels"]["review_labels_used"] == BENIGN_CASES + 2
    assert figures["labels"]["abusive"] == len(members) + 1


def test_an_action_needs_an_actor(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("USER", raising=False)
    review = ["--review-db", str(tmp_path / "review.sqlite")]

    status = main(["cases", "assign", "case-x", "--to", "carol", *review])

    assert status == ExitCode.BAD_CONFIG
    assert "--as NAME" in capsys.readouterr().err


def test_the_actor_defaults_to_the_user(tmp_path, monkeypatch, make_case):
    monkeypatch.setenv("USER", "dana")
    path = tmp_path / "review.sqlite"
    with SqliteReviewStore(path) as store:
        store.upsert_cases([make_case("case-x")])

    status = main(
        ["cases", "assign", "case-x", "--to", "carol", "--review-db", str(path)]
    )

    assert status == ExitCode.OK
    with SqliteReviewStore(path) as store:
        (entry,) = store.audit_log()
        assert store.case("case-x").assignee == "carol"
    assert (entry.actor, entry.action, entry.target) == ("dana", "assign", "case-x")
    assert entry.detail == {"assignee": "carol"}


def test_a_resolved_case_s_label_is_corrected_and_audited(tmp_path, make_case, capsys):
    path = tmp_path / "review.sqlite"
    with SqliteReviewStore(path) as store:
        store.upsert_cases([make_case("case-x")])
    review = ["--review-db", str(path)]
    resolve = ["cases", "resolve", "case-x", "--label", "account_takeover"]
    assert main([*resolve, "--as", "bob", *review]) == ExitCode.OK
    correct = ["cases", "correct", "case-x", "--label", "benign", "--note", "owner"]
    assert main([*correct, "--as", "carol", *review]) == ExitCode.OK
    assert "label corrected to benign" in capsys.readouterr().out
    assert main([*correct, "--as", "carol", *review]) == ExitCode.BAD_INPUT
    assert "already labelled benign" in capsys.readouterr().err
    with SqliteReviewStore(path) as store:
        assert store.case("case-x").label == "benign"
        kinds = [(label.kind, label.analyst) for label in store.labels()]
        actions = [(e.actor, e.action, e.detail["label"]) for e in store.audit_log()]
    assert kinds == [("account_takeover", "bob"), ("benign", "carol")]
    assert sorted(actions) == [
        ("bob", "resolve", "account_takeover"),
        ("carol", "correct", "benign"),
    ]


def test_a_name_that_does_not_read_as_written_is_refused(tmp_path, make_case, capsys):
    path = tmp_path / "review.sqlite"
    with SqliteReviewStore(path) as store:
        store.upsert_cases([make_case("case-x")])
    for name in ("\x1b[31mroot", "ann\u202egro"):
        argv = ["cases", "assign", "case-x", "--to", "carol", "--as", name]
        assert main([*argv, "--review-db", str(path)]) == ExitCode.BAD_CONFIG
        assert "control or format characters" in capsys.readouterr().err
    for command in ("resolve", "correct"):
        argv = ["cases", command, "case-x", "--label", "benign", "--as", "bob"]
        argv += ["--note", "oops \u202egnp.exe", "--review-db", str(path)]
        assert main(argv) == ExitCode.BAD_CONFIG
        assert "--note holds control or format" in capsys.readouterr().err
    with SqliteReviewStore(path) as store:
        assert store.audit_log() == []


def test_an_unknown_case_is_bad_input(tmp_path, capsys):
    SqliteReviewStore(tmp_path / "review.sqlite").close()
    review = ["--review-db", str(tmp_path / "review.sqlite"), "--as", "bob"]

    assert main(["cases", "assign", "case-x", "--to", "carol", *review]) == (
        ExitCode.BAD_INPUT
    )
    assert "no case 'case-x'" in capsys.readouterr().err


def test_train_accounts_without_any_label_is_a_config_error(tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    events.write_text("")
    SqliteReviewStore(tmp_path / "review.sqlite").close()
    review = ["--review-db", str(tmp_path / "review.sqlite")]

    status = main(
        ["train", "accounts", str(events), *review, "--out", str(tmp_path / "m.model")]
    )

    assert status == ExitCode.BAD_CONFIG
    assert "no account labels" in capsys.readouterr().err


def _link_labels(path: Path) -> list[str]:
    """Thirty link labels, one an hour from T0; even ones phishing."""
    from datetime import timedelta

    from trustwatch.review.model import Label

    start = datetime(2026, 5, 1, tzinfo=UTC)
    urls = []
    with SqliteReviewStore(path) as store:
        for i in range(30):
            bad = i % 2 == 0
            url = (
                f"http://login-verify-{i}.example/account/update.php?id={i}"
                if bad
                else f"https://www.site{i}.example/blog/post-{i}"
            )
            urls.append(url)
            store.add_label(
                Label(
                    label_id=f"link-{i}",
                    subject_type="link",
                    subject=url,
                    kind="phishing" if bad else "benign",
                    analyst="bob",
                    labelled_at=start + timedelta(hours=i),
                    observed_at=start,
                )
            )
    return urls


@pytest.mark.slow
def test_train_urls_from_link_labels_as_of_a_time(tmp_path, capsys):
    review_db = tmp_path / "review.sqlite"
    urls = _link_labels(review_db)
    extra = tmp_path / "extra.csv"
    extra.write_text(
        "url,label\n"
        f"{urls[0]},benign\n"
        "https://docs.example/guide,benign\n"
        "http://verify-account.example/signin.php,malicious\n"
    )
    out = tmp_path / "links.npz"

    status = main(
        [
            "train",
            "urls",
            "--review-db",
            str(review_db),
            "--labelled",
            str(extra),
            "--as-of",
            "2026-05-01T20:00:00Z",
            "--out",
            str(out),
        ]
    )

    text = capsys.readouterr().out
    assert status == ExitCode.OK
    assert "21 used" in text and "9 given later left out" in text
    assert "1 subjects labelled differently" in text
    assert "training on 23 URLs (12 malicious)" in text
    assert out.is_file()


@pytest.mark.slow
def test_phishing_cases_label_the_urls_their_alerts_flagged(
    run_folder, tmp_path, capsys
):
    _, db, _ = run_folder
    review = ["--review-db", str(tmp_path / "review.sqlite")]
    assert main(["cases", "build", "--db", str(db), *review]) == ExitCode.OK
    listed = _json_lines(capsys, ["cases", "list", *review, "--json", "--limit", "500"])
    phishing = [c for c in listed if "malicious_url" in c["kinds"]][:3]
    assert len(phishing) == 3
    with SqliteStore(db) as store:
        flagged = {
            signal.entity
            for verdict in store.iter_verdicts()
            if verdict.verdict_id in {v for c in phishing for v in c["verdict_ids"]}
            for signal in verdict.signals
            if signal.entity_type == "url"
        }
    assert flagged
    for case in phishing:
        argv = ["cases", "resolve", case["case_id"], "--label", "phishing"]
        assert main([*argv, "--db", str(db), *review, "--as", "bob"]) == ExitCode.OK
    capsys.readouterr()

    out = tmp_path / "urls.npz"
    labelled = tmp_path / "more.csv"
    rows = ["url,label"] + [f"https://good{n}.example/news/{n},0" for n in range(20)]
    labelled.write_text("\n".join(rows) + "\n")
    argv = ["train", "urls", *review, "--labelled", str(labelled), "--out", str(out)]
    assert main(argv) == ExitCode.OK

    text = capsys.readouterr().out
    assert f"over {len(flagged)} subjects" in text
    assert f"training on {len(flagged) + 20} URLs ({len(flagged)} malicious)" in text
    card = out.with_suffix(".md").read_text(encoding="utf-8")
    assert f"| review store | malicious | {len(flagged)} |" in card


@pytest.mark.slow
def test_train_accounts_as_of_a_time_leaves_out_later_events(
    run_folder, tmp_path, capsys
):
    events, _, members = run_folder
    rows = [json.loads(line) for line in events.read_text().splitlines()]
    times = sorted(datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) for r in rows)
    as_of = times[len(times) * 9 // 10]
    quiet = sorted({r["account"] for r in rows if r.get("account")} - set(members))
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "account,label\n"
        + "".join(f"{a},1\n" for a in members)
        + "".join(f"{a},0\n" for a in quiet[:40])
    )
    SqliteReviewStore(tmp_path / "review.sqlite").close()
    argv = ["train", "accounts", str(events), "--labels", str(labels)]
    argv += ["--review-db", str(tmp_path / "review.sqlite"), "--json"]

    figures = _json_lines(
        capsys,
        [*argv, "--as-of", as_of.isoformat(), "--out", str(tmp_path / "m.model")],
    )[0]

    later = sum(t > as_of for t in times)
    assert later > 0
    assert figures["events_after_as_of"] == later
    assert figures["events"] == len(times) - later


def test_a_note_keeps_its_lines_and_the_apis_length(tmp_path, make_case, capsys):
    path = tmp_path / "review.sqlite"
    db = tmp_path / "store.sqlite"
    SqliteStore(db).close()
    with SqliteReviewStore(path) as store:
        store.upsert_cases([make_case("case-x")])
    review = ["--review-db", str(path), "--as", "bob"]
    long = ["cases", "resolve", "case-x", "--label", "benign", "--note", "x" * 2001]
    assert main([*long, *review]) == ExitCode.BAD_CONFIG
    assert "keep it to 2,000" in capsys.readouterr().err
    argv = ["cases", "resolve", "case-x", "--label", "benign"]
    argv += ["--note", "called the owner\nshe was travelling"]
    assert main([*argv, *review]) == ExitCode.OK
    capsys.readouterr()
    show = ["cases", "show", "case-x", "--db", str(db), "--review-db", str(path)]
    assert main(show) == ExitCode.OK
    shown = capsys.readouterr().out
    assert "note: called the owner\n      she was travelling" in shown
    assert "\\x0a" not in shown


def test_cases_list_pages_with_offset(tmp_path, make_case, capsys):
    path = tmp_path / "review.sqlite"
    with SqliteReviewStore(path) as store:
        store.upsert_cases(
            [
                make_case(f"case-{i}", subject=f"acct-{i}", priority=9 - i)
                for i in range(5)
            ]
        )
    review = ["--review-db", str(path), "--json"]
    whole = [c["case_id"] for c in _json_lines(capsys, ["cases", "list", *review])]
    pages = [
        c["case_id"]
        for offset in (0, 2, 4)
        for c in _json_lines(
            capsys, ["cases", "list", *review, "--limit", "2", "--offset", str(offset)]
        )
    ]
    assert pages == whole and len(whole) == 5
