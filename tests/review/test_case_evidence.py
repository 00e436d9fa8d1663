"""What an analyst sees of a case, and what a resolved case's label keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from test_case_building import ring, verdict

from trustwatch.decisions.model import Action
from trustwatch.detectors.base import IndicatorRef
from trustwatch.response.ledger import DispatchLedger
from trustwatch.review.cases import build_cases, case_evidence, resolve_case
from trustwatch.storage.sqlite import SqliteStore

T0 = datetime(2026, 5, 1, tzinfo=UTC)

INDICATOR = IndicatorRef(
    type="url", value="http://bad.example/x", feeds=("feed-a",), confidence=80
)


def action(verdict_id: str, account: str, mode: str = "enforce") -> Action:
    return Action(
        action_id=f"act-{verdict_id}",
        verdict_id=verdict_id,
        event_id="e",
        type="lock_account",
        target_type="account",
        target=account,
        mode=mode,  # type: ignore[arg-type]
        actor="policy:default@1#r1",
        reason="takeover",
        created_at=T0,
    )


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "decisions.sqlite"
    with SqliteStore(path) as store:
        store.write_rings([ring("ring-1", ("m1", "m2"))])
        store.write_verdicts(
            [
                verdict(1, "alice", "lock_account", 0.9, indicators=(INDICATOR,)),
                verdict(2, "alice"),
                verdict(3, "m1"),
            ]
        )
        store.write_actions([action("v001", "alice")])
    return path


def test_evidence_gathers_alerts_intel_rings_actions_and_dispatch(
    store_path, review_store
):
    with SqliteStore(store_path) as decisions:
        build_cases(decisions, review_store)
    alice = review_store.cases()[0]
    with DispatchLedger(store_path) as ledger:
        ledger.add("act-v001", T0)
        with SqliteStore(store_path, readonly=True) as decisions:
            evidence = case_evidence(alice, decisions, ledger=ledger)

    assert [v.verdict_id for v in evidence.verdicts] == ["v001", "v002"]
    assert evidence.verdicts[0].signals[0].reasons == ("reason 1",)
    assert len(evidence.intel_matches) == 1
    match = evidence.intel_matches[0]
    assert (match["verdict_id"], match["indicator"]["value"]) == (
        "v001",
        "http://bad.example/x",
    )
    assert [a.action_id for a in evidence.actions] == ["act-v001"]
    assert evidence.dispatch["act-v001"]["state"] == "pending"
    assert evidence.rings == ()
    assert evidence.missing_verdicts == ()
    assert msgspec.json.decode(msgspec.json.encode(evidence))["case"]["case_id"] == (
        alice.case_id
    )


def test_a_ring_case_shows_its_snapshot(store_path, review_store):
    with SqliteStore(store_path, readonly=True) as decisions:
        build_cases(decisions, review_store)
        (ring_case,) = [c for c in review_store.cases() if c.subject_type == "ring"]
        evidence = case_evidence(ring_case, decisions)

    assert [r["ring_id"] for r in evidence.rings] == ["ring-1"]
    assert evidence.rings[0]["members"] == ["m1", "m2"]


def test_evidence_names_alerts_the_store_no_longer_has(store_path, review_store):
    with SqliteStore(store_path, readonly=True) as decisions:
        build_cases(decisions, review_store)
    alice = review_store.cases()[0]
    trimmed = msgspec.structs.replace(alice, verdict_ids=(*alice.verdict_ids, "gone"))

    with SqliteStore(store_path, readonly=True) as decisions:
        evidence = case_evidence(trimmed, decisions)

    assert evidence.missing_verdicts == ("gone",)


def test_a_label_keeps_the_features_the_models_saw(store_path, review_store):
    with SqliteStore(store_path, readonly=True) as decisions:
        build_cases(decisions, review_store)
        alice = review_store.cases()[0]
        _, label = resolve_case(
            review_store,
            alice.case_id,
            label="account_takeover",
            analyst="bob",
            decisions=decisions,
            at=T0 + timedelta(days=1),
        )

    assert label.features["accounts"] == ["alice"]
    alerts = label.features["alerts"]
    assert sorted(alerts) == ["v001", "v002"]
    signal = alerts["v001"]["signals"][0]
    assert (signal["kind"], signal["score"], signal["reasons"]) == (
        "brute_force",
        0.9,
        ["reason 1"],
    )
    assert signal["evidence"] == {"failures": 1}
    assert review_store.labels()[0].features == label.features
