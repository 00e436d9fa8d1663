"""A case another analyst holds changes hands only when taken over on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.review import CaseHeldError
from trustwatch.review.store import SqliteReviewStore


@pytest.fixture
def review(tmp_path: Path, make_case) -> Path:
    """A review store holding ``case-x``, assigned to carol."""
    path = tmp_path / "review.sqlite"
    with SqliteReviewStore(path) as store:
        store.upsert_cases([make_case("case-x")])
        store.assign("case-x", "carol", by="carol")
    return path


@pytest.mark.parametrize("assignee", ["dave", None])
def test_another_analyst_cannot_take_or_release_a_held_case(
    review: Path, assignee: str | None
) -> None:
    with SqliteReviewStore(review) as store:
        with pytest.raises(CaseHeldError, match="assigned to carol") as caught:
            store.assign("case-x", assignee, by="dave")
        assert caught.value.assignee == "carol"
        assert store.case("case-x").assignee == "carol"


def test_another_analyst_cannot_resolve_a_held_case(review: Path) -> None:
    with SqliteReviewStore(review) as store:
        with pytest.raises(CaseHeldError):
            store.resolve("case-x", label="phishing", analyst="dave")
        assert store.case("case-x").status == "assigned"
        assert store.labels() == []


def test_the_holder_gives_on_hands_back_and_resolves(review: Path) -> None:
    with SqliteReviewStore(review) as store:
        # naming the holder again changes nothing, whoever asks
        assert store.assign("case-x", "carol", by="dave").assignee == "carol"
        assert store.assign("case-x", None, by="carol").status == "open"
        # an open case is anyone's to take
        assert store.assign("case-x", "dave", by="dave").assignee == "dave"
        case, label = store.resolve("case-x", label="benign", analyst="dave")
    assert (case.status, case.resolved_by) == ("resolved", "dave")
    assert label.analyst == "dave"


def test_taking_over_on_purpose_works(review: Path) -> None:
    with SqliteReviewStore(review) as store:
        case = store.assign("case-x", "dave", by="dave", take_over=True)
        assert case.assignee == "dave"
        store.assign("case-x", "carol", by="dave")  # dave gives it back
        case, _ = store.resolve("case-x", label="spam", analyst="erin", take_over=True)
    assert case.resolved_by == "erin"


def test_the_cli_asks_for_take_over_and_audits_whom_from(
    review: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(review.parent)  # no decision store at the default path
    db = ["--review-db", str(review), "--as", "dave"]
    capsys.readouterr()

    assert main(["cases", "assign", "case-x", "--to", "dave", *db]) != ExitCode.OK
    err = capsys.readouterr().err
    assert "assigned to carol" in err and "--take-over" in err
    resolve = ["cases", "resolve", "case-x", "--label", "benign", *db]
    assert main(resolve) != ExitCode.OK
    assert "assigned to carol" in capsys.readouterr().err

    assert main(["cases", "assign", "case-x", "--to", "dave", "--take-over", *db]) == 0
    with SqliteReviewStore(review) as store:
        entries = [(e.actor, e.action, e.detail) for e in store.audit_log()]
        assert store.case("case-x").assignee == "dave"
    assert entries == [("dave", "assign", {"assignee": "dave", "taken_from": "carol"})]
