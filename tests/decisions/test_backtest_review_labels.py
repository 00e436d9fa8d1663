"""``trustwatch backtest`` scored against the labels analysts gave in review."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.evaluation.backtest import backtest_labels
from trustwatch.review.model import Case, Label
from trustwatch.review.store import SqliteReviewStore, open_review_store

T0 = datetime(2026, 5, 1, tzinfo=UTC)
POLICY = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "trustwatch"
    / "decisions"
    / "default_policy.toml"
)


def label(
    n: int,
    subject: str,
    kind: str,
    hours: int,
    *,
    subject_type: str = "account",
    case_id: str | None = None,
) -> Label:
    return Label(
        label_id=f"label-{n}",
        subject_type=subject_type,  # type: ignore[arg-type]
        subject=subject,
        kind=kind,  # type: ignore[arg-type]
        analyst="dana",
        labelled_at=T0 + timedelta(hours=hours),
        observed_at=T0,
        case_id=case_id,
    )


def ring_case(case_id: str, members: tuple[str, ...]) -> Case:
    return Case(
        case_id=case_id,
        subject_type="ring",
        subject="ring-1",
        status="resolved",
        priority=1.0,
        score=0.5,
        decision="challenge",
        title="ring",
        created_at=T0,
        updated_at=T0,
        first_seen=T0,
        last_seen=T0,
        accounts=members,
    )


@pytest.fixture
def review(tmp_path: Path) -> Path:
    """A review store: bad1 abusive, good1 benign, then good1 abusive at 5 h."""
    path = tmp_path / "review.sqlite"
    with SqliteReviewStore(path) as store:
        store.add_label(label(1, "bad1", "credential_attack", 1))
        store.add_label(label(2, "good1", "benign", 1))
        store.add_label(label(3, "good1", "account_takeover", 5))
    return path


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Bursts of failed logins on bad1 and good1, each from its own address."""
    path = tmp_path / "events.jsonl"
    lines = []
    for n, (account, ip, minute) in enumerate(
        (("bad1", "198.51.100.7", 0), ("good1", "198.51.100.8", 30))
    ):
        for i in range(40):
            ts = T0 + timedelta(minutes=minute, seconds=i)
            event = {
                "type": "login",
                "event_id": f"e{n}-{i}",
                "ts": ts.isoformat(),
                "account": account,
                "ip": ip,
                "success": False,
            }
            lines.append(json.dumps(event))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _backtest(
    history: Path, *extra: str, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    code = main(
        [
            "backtest",
            str(history),
            "--policy",
            str(POLICY),
            "--no-geo",
            "--json",
            *extra,
        ]
    )
    captured = capsys.readouterr()
    assert code == ExitCode.OK, captured.err
    report: dict[str, Any] = json.loads(captured.out)
    return report


def _brute_force_rule(report: dict[str, Any]) -> dict[str, Any]:
    (rule,) = [r for r in report["new"]["rules"] if r["events_hit"]]
    return rule


def test_review_labels_alone_score_the_rules(
    history: Path, review: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _backtest(history, "--review-db", str(review), capsys=capsys)

    assert report["labelled_accounts"] == 2
    assert report["abusive_accounts"] == 2
    assert report["labels"]["review_labels_overridden"] == 1
    assert _brute_force_rule(report)["precision"] == 1.0


def test_as_of_leaves_out_labels_given_later(
    history: Path, review: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    as_of = (T0 + timedelta(hours=2)).isoformat()

    report = _backtest(
        history, "--review-db", str(review), "--as-of", as_of, capsys=capsys
    )

    assert report["abusive_accounts"] == 1
    assert report["labels"]["review_labels_after_as_of"] == 1
    assert report["labels"]["as_of"] == as_of
    rule = _brute_force_rule(report)
    assert (rule["precision"], rule["recall"]) == (0.5, 1.0)


def test_a_label_file_adds_accounts_and_the_review_wins_conflicts(
    history: Path, review: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("account,label\nbad1,0\nother,1\n", encoding="utf-8")

    report = _backtest(
        history, "--labels", str(labels), "--review-db", str(review), capsys=capsys
    )

    # "other" is in no replayed event: counted apart, not scored
    assert (report["labelled_accounts"], report["labelled_unseen"]) == (2, 1)
    assert report["labels"]["file_labels"] == 2
    assert report["labels"]["conflict_examples"] == ["bad1"]
    assert _brute_force_rule(report)["precision"] == 1.0


def test_the_table_report_says_where_labels_came_from(
    history: Path, review: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "backtest",
            str(history),
            "--policy",
            str(POLICY),
            "--no-geo",
            "--review-db",
            str(review),
        ]
    )

    out = capsys.readouterr().out
    assert code == ExitCode.OK
    assert "review labels: 3 used (1 overridden by a later one" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "pass --labels FILE, --review-db REVIEW"),
        (("--labels", "{labels}", "--as-of", "2026-05-01"), "add --review-db"),
        (("--review-db", "{missing}"), "no review store at"),
    ],
)
def test_labels_are_required_from_somewhere(
    history: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    message: str,
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("account,label\nbad1,1\n", encoding="utf-8")
    missing = tmp_path / "no-such-review.sqlite"
    args = [a.format(labels=labels, missing=missing) for a in extra]

    code = main(["backtest", str(history), "--policy", str(POLICY), *args])

    assert code == ExitCode.BAD_CONFIG
    assert message in capsys.readouterr().err
    assert not missing.exists()


def test_backtest_labels_replay_ring_labels_onto_members(tmp_path: Path) -> None:
    with open_review_store(tmp_path / "review.sqlite") as store:
        store.upsert_cases([ring_case("case-ring", ("m1", "m2"))])
        store.add_label(
            label(
                1,
                "ring-1",
                "coordinated_ring",
                1,
                subject_type="ring",
                case_id="case-ring",
            )
        )
        store.add_label(label(2, "m2", "benign", 2))

        labels, sources = backtest_labels({"m3": True}, store)

    assert labels == {"m1": True, "m2": False, "m3": True}
    assert sources.review_accounts == 2 and sources.file_labels == 1
    assert sources.conflicts == ()


def test_backtest_labels_without_a_review_store_are_the_files() -> None:
    labels, sources = backtest_labels({"a": True}, None)

    assert labels == {"a": True}
    assert sources.review_accounts is None
    assert sources.to_dict()["file_labels"] == 1
