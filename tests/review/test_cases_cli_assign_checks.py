"""``cases assign --to`` takes only names the API takes, and ``cases assign``
and ``cases resolve`` refuse a review store that is not there."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.review.store import SqliteReviewStore


@pytest.fixture
def review(tmp_path: Path, make_case) -> Path:
    """A review store holding one open case, ``case-x``."""
    path = tmp_path / "review.sqlite"
    with SqliteReviewStore(path) as store:
        store.upsert_cases([make_case("case-x")])
    return path


@pytest.mark.parametrize(
    "name",
    [
        "\x1b[31mroot",  # a terminal escape
        "ann\u202egro",  # a right-to-left override
        "carol\u2028x",  # a line separator
        "   ",  # blank
        "\u200b\u3164",  # nothing drawn: a zero-width space, the Hangul filler
        "x" * 257,  # longer than an id the API takes
    ],
)
def test_assign_refuses_a_name_the_api_refuses(review, capsys, name) -> None:
    argv = ["cases", "assign", "case-x", "--to", name, "--as", "lead"]
    capsys.readouterr()

    assert main([*argv, "--review-db", str(review)]) == ExitCode.BAD_INPUT
    err = " ".join(capsys.readouterr().err.split())
    assert "must not be blank or hold control or format characters" in err
    with SqliteReviewStore(review) as store:
        assert store.case("case-x").assignee is None
        assert store.audit_log() == []


def test_assign_to_nobody_is_refused_in_favour_of_unassign(review, capsys) -> None:
    db = ["--review-db", str(review), "--as", "lead"]
    capsys.readouterr()

    assert main(["cases", "assign", "case-x", "--to", "", *db]) == ExitCode.BAD_INPUT
    assert "--unassign hands the case back" in capsys.readouterr().err
    assert main(["cases", "assign", "case-x", "--to", "carol", *db]) == ExitCode.OK
    taking = ["--take-over"]  # carol holds the case
    assert (
        main(["cases", "assign", "case-x", "--unassign", *taking, *db]) == ExitCode.OK
    )
    with SqliteReviewStore(review) as store:
        case = store.case("case-x")
        actions = [(e.action, e.detail) for e in store.audit_log()]
    assert (case.status, case.assignee) == ("open", None)
    assert sorted(actions, key=str) == sorted(
        [
            ("assign", {"assignee": "carol"}),
            ("unassign", {"assignee": None, "taken_from": "carol"}),
        ],
        key=str,
    )


def test_a_name_that_reads_as_written_is_taken(review) -> None:
    argv = ["cases", "assign", "case-x", "--to", "José 🔒 O'Brien", "--as", "lead"]

    assert main([*argv, "--review-db", str(review)]) == ExitCode.OK
    with SqliteReviewStore(review) as store:
        assert store.case("case-x").assignee == "José 🔒 O'Brien"


@pytest.mark.parametrize(
    "command",
    [
        ["assign", "case-x", "--to", "carol"],
        ["assign", "case-x", "--unassign"],
        ["resolve", "case-x", "--label", "benign"],
    ],
)
def test_working_a_case_refuses_a_missing_review_store(tmp_path, capsys, command):
    missing = tmp_path / "typo" / "review.sqlite"
    argv = ["cases", *command, "--as", "lead", "--review-db", str(missing)]
    capsys.readouterr()

    assert main(argv) == ExitCode.BAD_CONFIG
    err = " ".join(capsys.readouterr().err.split())
    assert "no review store at" in err
    assert "trustwatch cases build" in err
    assert not missing.parent.exists()


def test_working_a_case_upgrades_an_older_review_store(tmp_path, make_case) -> None:
    from trustwatch.review import migrate

    path = tmp_path / "review.sqlite"
    old = SqliteReviewStore(path, migrate=False)
    migrate.upgrade(old._engine, old.schema, "0001")
    # a case as the first revision held it: kinds came with the second
    old.upsert_cases([msgspec.structs.replace(make_case("case-x"), kinds=())])
    old.close()

    argv = ["cases", "assign", "case-x", "--to", "carol", "--as", "lead"]
    assert main([*argv, "--review-db", str(path)]) == ExitCode.OK

    with SqliteReviewStore(path) as store:
        assert store.case("case-x").assignee == "carol"
