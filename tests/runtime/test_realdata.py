"""The main job on real third-party data: SSH logs, live feeds, hash lists.

The stream comes from ``trustwatch.devdata`` (real OpenSSH and honeypot logins,
real URLhaus and PhishTank URLs among real benign URLs, real malicious hashes
among random ones); the intel is the URLhaus, PhishTank and signature-base
files themselves. The labels come from the builder's answer key, derived from
the raw data without trustwatch's detectors.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import msgspec
import pytest

from trustwatch.devdata import build_dev_stream
from trustwatch.runtime.embedded import RunSummary, load_intel, run_embedded
from trustwatch.storage.sqlite import SqliteStore

pytestmark = pytest.mark.datasets

INTEL = (
    "urlhaus-2025-04-21/urlhaus.csv",
    "phishtank-2021-03/verified_online.csv",
    "hashes-signature-base/iocs_hash-iocs.txt",
)


class Outcome:
    """The run's summary, its verdicts by event, the events and the answer key."""

    def __init__(self, root: Path, summary: RunSummary, store: SqliteStore) -> None:
        self.summary = summary
        self.truth: dict[str, Any] = json.loads((root / "truth.json").read_text())
        self.verdicts = {v.event_id: v for v in store.iter_verdicts()}
        lines = (root / "events.jsonl").read_bytes().splitlines()
        self.events = [msgspec.json.decode(line) for line in lines]

    def acted(self, event_id: str) -> bool:
        verdict = self.verdicts.get(event_id)
        return verdict is not None and verdict.decision != "allow"

    def flagged_sources(self) -> set[str]:
        return {
            s.entity
            for v in self.verdicts.values()
            if v.decision != "allow"
            for s in v.signals
            if s.entity_type == "ip"
        }


@pytest.fixture(scope="module")
def outcome(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    root = tmp_path_factory.mktemp("dev")
    built = build_dev_stream(datasets_dir, root)
    intel = load_intel([datasets_dir / path for path in INTEL])
    with SqliteStore(root / "store.sqlite") as store:
        summary = run_embedded([built.events_path], store, intel=intel)
        return Outcome(root, summary, store)


def test_openssh_brute_force_sources_are_flagged(outcome: Outcome) -> None:
    labelled = {
        ip["ip"]
        for ip in outcome.truth["ips"]
        if ip["source"] == "openssh-bruteforce-rule"
    }
    assert len(labelled) >= 5
    assert labelled <= outcome.flagged_sources()


def test_legitimate_ssh_sources_are_not_flagged(outcome: Outcome) -> None:
    benign = {ip["ip"] for ip in outcome.truth["ips"] if ip["label"] == "benign"}
    wrongly = benign & outcome.flagged_sources()
    assert len(benign) >= 1000
    assert len(wrongly) / len(benign) <= 0.01


def _url_events(outcome: Outcome) -> dict[str, list[str]]:
    by_status: dict[str, list[str]] = defaultdict(list)
    status = {u["url"]: u["status"] for u in outcome.truth["urls"]}
    for event in outcome.events:
        url = event.get("url")
        if url in status:
            by_status[status[url]].append(event["event_id"])
    return by_status


def test_every_intel_listed_url_is_caught(outcome: Outcome) -> None:
    listed = _url_events(outcome)["listed"]
    assert len(listed) >= 100
    missed = [e for e in listed if not outcome.acted(e)]
    assert missed == []
    kinds = Counter(s.kind for e in listed for s in outcome.verdicts[e].signals)
    assert kinds["intel_url"] == len(listed)


def test_benign_url_false_positive_rate_is_bounded(outcome: Outcome) -> None:
    benign = _url_events(outcome)["benign"]
    assert len(benign) >= 1000
    acted = sum(outcome.acted(e) for e in benign)
    flagged = sum(e in outcome.verdicts for e in benign)
    # acted on: a decision other than allow; flagged: any signal at all
    assert acted / len(benign) <= 0.005
    assert flagged / len(benign) <= 0.05


def test_intel_listed_hashes_are_quarantined_and_benign_ones_are_not(
    outcome: Outcome,
) -> None:
    label = {h["value"]: h["malicious"] for h in outcome.truth["hashes"]}
    caught, false = Counter(), Counter()
    for event in outcome.events:
        if event["type"] != "file_uploaded":
            continue
        digest = event.get("sha256") or event.get("sha1") or event.get("md5")
        verdict = outcome.verdicts.get(event["event_id"])
        quarantined = verdict is not None and verdict.decision == "quarantine_file"
        (caught if label[digest] else false)[quarantined] += 1
    assert caught[True] >= 100 and caught[False] == 0
    assert false[True] == 0


def test_real_run_reads_everything(outcome: Outcome) -> None:
    assert outcome.summary.events == len(outcome.events)
    assert outcome.summary.dead_letters == 0
    assert outcome.summary.intel
