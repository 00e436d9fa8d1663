"""``trustwatch demo``: simulate, run, and report against the answer key."""

from pathlib import Path

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.storage.sqlite import SqliteStore


def test_demo_reports_every_attack_and_replays_idempotently(tmp_path: Path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--accounts", "400", "--days", "1", "--out", str(out)]
    assert main(args) == ExitCode.OK
    report = capsys.readouterr().out
    for attack in (
        "brute_force",
        "credential_stuffing",
        "phishing_links",
        "malware_links",
        "malware_spread",
    ):
        assert attack in report
    assert "benign events acted on" in report
    assert "ring (injected-0)" in report and "24/24 accounts" in report
    assert "ring (injected-1)" in report and "10/10 accounts" in report
    assert "dead letters: 2" in report
    with SqliteStore(out / "trustwatch.sqlite") as store:
        first = store.counts()
        letters = {d.reason for d in store.dead_letters()}
    assert first["verdicts"] > 0 and first["actions"] > 0
    with SqliteStore(out / "trustwatch.sqlite") as store:
        assert sorted(r.size for r in store.rings()) == [10, 24]
    assert letters == {"malformed_json", "duplicate_key"}

    assert main(args) == ExitCode.OK
    with SqliteStore(out / "trustwatch.sqlite") as store:
        assert store.counts() == first
