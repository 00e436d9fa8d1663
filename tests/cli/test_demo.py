"""``trustwatch demo``: simulate, run, and report against the answer key."""

import json
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
    key = json.loads((out / "rings.json").read_text())
    assert [len(r["members"]) for r in key["rings"]] == [24, 10]
    assert [len(r["late_joiners"]) for r in key["rings"]] == [2, 0]
    assert set(key["rings"][0]["late_joiners"]) <= set(key["rings"][0]["members"])
    with SqliteStore(out / "trustwatch.sqlite") as store:
        stored = {m for ring in store.rings() for m in ring.members}
    assert stored == {m for r in key["rings"] for m in r["members"]}
    events = (out / "events.jsonl").read_text().splitlines()[:-2]
    injected = {json.loads(line)["event_id"] for line in events} & set(key["event_ids"])
    assert injected == set(key["event_ids"]) and injected
    assert f"answer key: {out / 'truth.json'}" in report

    assert main(args) == ExitCode.OK
    with SqliteStore(out / "trustwatch.sqlite") as store:
        assert store.counts() == first
