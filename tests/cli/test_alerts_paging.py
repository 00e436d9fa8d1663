"""``trustwatch alerts``: paging with --after through alerts that share a
time, and --kind taking one signal kind."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.decisions.model import Verdict
from trustwatch.detectors.base import Signal
from trustwatch.storage.sqlite import SqliteStore

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


def verdict(n: int, policy: str, kinds: tuple[str, ...] = ("brute_force",)) -> Verdict:
    """A verdict on event ``e{n}``; three events to each whole second."""
    return Verdict(
        verdict_id=f"v{n:03d}-{policy}",
        event_id=f"e{n}",
        event_type="login",
        ts=T0 + timedelta(seconds=n // 3),
        account="alice",
        ip="198.51.100.7",
        decision="challenge",
        score=0.9,
        signals=tuple(
            Signal(
                detector="d",
                detector_version="1",
                kind=kind,
                score=0.9,
                entity_type="account",
                entity="alice",
                event_id=f"e{n}",
            )
            for kind in kinds
        ),
        rules=(),
        policy=policy,
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A store of alerts sharing whole seconds, each event under two policies."""
    path = tmp_path / "store.sqlite"
    with SqliteStore(path) as store:
        store.write_verdicts(verdict(n, p) for n in range(10) for p in ("p1", "p2"))
        store.write_verdicts([verdict(50, "p1", ("login_after_failures", "risky"))])
    return str(path)


def _listed(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[list[str], str]:
    capsys.readouterr()
    assert main(["alerts", *argv, "--json"]) == ExitCode.OK
    captured = capsys.readouterr()
    ids = [json.loads(line)["verdict_id"] for line in captured.out.splitlines()]
    return ids, captured.err


def test_after_pages_through_alerts_sharing_a_time(db, capsys) -> None:
    listed: list[str] = []
    argv = ["--db", db, "--kind", "brute_force", "--limit", "4"]
    page, _ = _listed(capsys, *argv)
    while page and len(listed) < 100:  # a pager that repeats stops
        listed += page
        page, _ = _listed(capsys, *argv, "--after", page[-1])

    assert len(listed) == len(set(listed)) == 20


def test_a_full_page_names_the_next_one(db, capsys) -> None:
    capsys.readouterr()
    assert main(["alerts", "--db", db, "--limit", "2"]) == ExitCode.OK
    err = " ".join(capsys.readouterr().err.split())

    assert "the newest 2 shown; more may match" in err
    assert "next page: --after v009-p2" in err


def test_an_unknown_verdict_to_page_from_is_a_clear_error(db, capsys) -> None:
    capsys.readouterr()
    assert main(["alerts", "--db", db, "--after", "nope"]) == ExitCode.BAD_CONFIG
    assert "no verdict 'nope' to list on from" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["login_after_failures risky", "risky\t", ""])
def test_kind_takes_one_signal_kind(db, capsys, kind) -> None:
    capsys.readouterr()
    assert main(["alerts", "--db", db, "--kind", kind]) == ExitCode.BAD_INPUT
    assert "give one signal kind" in capsys.readouterr().err
    assert _listed(capsys, "--db", db, "--kind", "risky")[0] == ["v050-p1"]
