"""The main job on real third-party data: SSH logs, live feeds, hash lists.

The stream comes from ``trustwatch.devdata`` (real OpenSSH and honeypot logins,
real URLhaus and PhishTank URLs among real benign URLs, real malicious hashes
among random ones); the intel is the URLhaus, PhishTank and signature-base
files themselves. The labels come from the builder's answer key, derived from
the raw data without trustwatch's detectors.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from trustwatch.decisions.model import Verdict
from trustwatch.devdata import EvaluationRow, build_dev_stream, evaluate_dev_run
from trustwatch.runtime.embedded import RunSummary, load_intel, run_embedded
from trustwatch.storage.sqlite import SqliteStore

pytestmark = pytest.mark.datasets

INTEL = (
    "urlhaus-2025-04-21/urlhaus.csv",
    "phishtank-2021-03/verified_online.csv",
    "hashes-signature-base/iocs_hash-iocs.txt",
)


class Outcome:
    """The run's summary and verdicts, scored against the answer key."""

    def __init__(self, summary: RunSummary, verdicts: list[Verdict], stream: Path):
        self.summary = summary
        self.verdicts = verdicts
        self.rows = {row.group: row for row in evaluate_dev_run(stream, verdicts)}

    def row(self, group: str) -> EvaluationRow:
        return self.rows[group]


@pytest.fixture(scope="module")
def outcome(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    root = tmp_path_factory.mktemp("dev")
    built = build_dev_stream(datasets_dir, root)
    intel = load_intel([datasets_dir / path for path in INTEL])
    with SqliteStore(root / "store.sqlite") as store:
        summary = run_embedded([built.events_path], store, intel=intel)
        verdicts = list(store.iter_verdicts())
    assert summary.events == built.events
    return Outcome(summary, verdicts, root)


def test_openssh_brute_force_sources_are_flagged(outcome: Outcome) -> None:
    row = outcome.row("openssh-bruteforce-rule sources (attacker)")
    assert row.total >= 5
    assert row.acted == row.total


def test_legitimate_ssh_sources_are_not_flagged(outcome: Outcome) -> None:
    row = outcome.row("ssh-legitimate sources (benign)")
    assert row.total >= 1000
    assert row.rate <= 0.01


def test_every_intel_listed_url_is_caught(outcome: Outcome) -> None:
    row = outcome.row("listed URL events")
    assert row.total >= 100
    assert row.acted == row.total
    kinds = Counter(s.kind for v in outcome.verdicts for s in v.signals)
    assert kinds["intel_url"] >= row.total


def test_benign_url_false_positive_rate_is_bounded(outcome: Outcome) -> None:
    row = outcome.row("benign URL events")
    assert row.total >= 1000
    assert row.rate <= 0.005


def test_intel_listed_hashes_are_caught_and_benign_ones_are_not(
    outcome: Outcome,
) -> None:
    caught = outcome.row("malicious-hash uploads")
    wrong = outcome.row("benign-hash uploads")
    assert caught.total >= 100 and caught.acted == caught.total
    assert wrong.total >= 1000 and wrong.acted == 0
    quarantined = {
        v.event_id for v in outcome.verdicts if v.decision == "quarantine_file"
    }
    assert len(quarantined) >= caught.total


def test_real_run_reads_everything(outcome: Outcome) -> None:
    assert outcome.summary.dead_letters == 0
    loaded = {Path(path).parent.name: n for path, n in outcome.summary.intel.items()}
    assert set(loaded) == {path.split("/")[0] for path in INTEL}
    assert all(n > 1000 for n in loaded.values())
