"""Commands that only read the review store refuse a missing file, or a file
that is not a review store, and leave it exactly as it was; only the commands
that write cases create or migrate one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.errors import ConfigError
from trustwatch.review.store import SqliteReviewStore
from trustwatch.storage.sqlite import SqliteStore

POLICY = Path("src/trustwatch/decisions/default_policy.toml")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def decision_store(tmp_path: Path) -> Path:
    """A decision store: a SQLite file with tables, none of them a review's."""
    path = tmp_path / "decisions.sqlite"
    SqliteStore(path).close()
    return path


def _read_only_commands(review: str, tmp_path: Path) -> list[list[str]]:
    events = tmp_path / "events.jsonl"
    events.write_text("")
    return [
        ["cases", "list", "--review-db", review],
        ["cases", "labels", "--review-db", review],
        ["cases", "show", "case-x", "--review-db", review],
        ["backtest", str(events), "--policy", str(POLICY), "--review-db", review],
        [
            "train",
            "accounts",
            str(events),
            "--review-db",
            review,
            "--out",
            str(tmp_path / "m.model"),
        ],
    ]


def test_read_only_commands_refuse_a_missing_review_store(tmp_path, capsys) -> None:
    review = tmp_path / "typo" / "review.sqlite"
    for argv in _read_only_commands(str(review), tmp_path):
        capsys.readouterr()
        assert main(argv) == ExitCode.BAD_CONFIG, argv
        err = capsys.readouterr().err
        assert "no review store at" in err, argv
        assert "trustwatch cases build" in err, argv
    assert not review.parent.exists()


def test_read_only_commands_leave_a_decision_store_untouched(
    decision_store, tmp_path, capsys
) -> None:
    before = _digest(decision_store)
    for argv in _read_only_commands(str(decision_store), tmp_path):
        capsys.readouterr()
        assert main(argv) == ExitCode.BAD_CONFIG, argv
        assert "is not a review store" in capsys.readouterr().err, argv
        assert _digest(decision_store) == before, argv


def test_read_only_commands_open_an_existing_review_store(tmp_path, capsys) -> None:
    review = tmp_path / "review.sqlite"
    SqliteReviewStore(review).close()
    capsys.readouterr()

    assert main(["cases", "list", "--review-db", str(review)]) == ExitCode.OK
    assert "no cases" in capsys.readouterr().out
    assert main(["cases", "labels", "--review-db", str(review)]) == ExitCode.OK


def test_cases_build_creates_the_review_store(decision_store, tmp_path, capsys):
    review = tmp_path / "new" / "review.sqlite"
    argv = ["cases", "build", "--db", str(decision_store), "--review-db", str(review)]

    assert main(argv) == ExitCode.OK
    assert review.is_file()
    assert main(["cases", "list", "--review-db", str(review)]) == ExitCode.OK


def test_resolve_refuses_a_decision_store_that_is_not_there(tmp_path, capsys):
    review = tmp_path / "review.sqlite"
    SqliteReviewStore(review).close()
    missing = tmp_path / "nonexistent.sqlite"
    argv = ["cases", "resolve", "case-x", "--label", "benign", "--as", "ana"]
    capsys.readouterr()

    status = main([*argv, "--db", str(missing), "--review-db", str(review)])

    assert status == ExitCode.BAD_CONFIG
    assert "no decision store at" in capsys.readouterr().err
    assert not missing.exists()


def test_the_two_stores_are_not_written_into_each_other(tmp_path, capsys):
    import sqlite3

    from trustwatch.review.migrate import VERSION_TABLE
    from trustwatch.storage import sqlite as decision_sqlite

    assert decision_sqlite._REVIEW_VERSION_TABLE == VERSION_TABLE
    decisions, review = tmp_path / "store.sqlite", tmp_path / "review.sqlite"
    SqliteStore(decisions).close()
    SqliteReviewStore(review).close()

    def tables(path):
        with sqlite3.connect(path) as db:
            return {r[0] for r in db.execute("SELECT name FROM sqlite_master")}

    before = (tables(decisions), tables(review))
    with pytest.raises(ConfigError, match="is a decision store"):
        SqliteReviewStore(decisions)
    with pytest.raises(ConfigError, match="is a review store"):
        SqliteStore(review)
    assert main(["db", "upgrade", "--review-db", str(decisions)]) != ExitCode.OK
    assert "is a decision store" in capsys.readouterr().err
    assert main(["cases", "build", "--db", str(decisions), "--review-db",
                 str(decisions)]) != ExitCode.OK  # fmt: skip
    assert (tables(decisions), tables(review)) == before
