"""Cases from a decision store's alerts: grouping, priority, incremental builds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trustwatch.decisions.model import Verdict
from trustwatch.detectors.base import IndicatorRef, Signal
from trustwatch.graph.rings import RingSnapshot
from trustwatch.review.cases import (
    CURSOR_KEY,
    build_cases,
    case_id_for,
    priority_of,
)
from trustwatch.review.model import CaseQuery
from trustwatch.storage.sqlite import SqliteStore

T0 = datetime(2026, 5, 1, tzinfo=UTC)
NOW = datetime(2026, 5, 2, tzinfo=UTC)


def verdict(
    n: int,
    account: str | None,
    decision: str = "challenge",
    score: float = 0.7,
    kind: str = "brute_force",
    ip: str | None = "198.51.100.7",
    indicators: tuple[IndicatorRef, ...] = (),
) -> Verdict:
    signal = Signal(
        detector="d",
        detector_version="1",
        kind=kind,
        score=score,
        entity_type="account",
        entity=account or "-",
        event_id=f"e{n}",
        reasons=(f"reason {n}",),
        evidence={"failures": n},
        indicators=indicators,
    )
    return Verdict(
        verdict_id=f"v{n:03d}",
        event_id=f"e{n}",
        event_type="login",
        ts=T0 + timedelta(minutes=n),
        account=account,
        ip=ip,
        decision=decision,  # type: ignore[arg-type]
        score=score,
        signals=(signal,),
        rules=(),
        policy="default@1",
    )


def ring(ring_id: str, members: tuple[str, ...]) -> RingSnapshot:
    return RingSnapshot(
        ring_id=ring_id,
        method="lockstep",
        size=len(members),
        risk=0.9,
        reasons=("joined together",),
        founded=T0.timestamp(),
        updated=T0.timestamp() + 60,
        members=members,
        evidence=(("ip:203.0.113.9", len(members)),),
        holdings={},
    )


@pytest.fixture
def decisions(tmp_path: Path):
    with SqliteStore(tmp_path / "decisions.sqlite") as store:
        yield store


def build(decisions, review_store, **options):
    return build_cases(decisions, review_store, clock=lambda: NOW, **options)


def test_alerts_group_per_account_and_allow_is_left_out(decisions, review_store):
    decisions.write_verdicts(
        [
            verdict(1, "alice", "challenge", 0.6),
            verdict(2, "alice", "lock_account", 0.9, kind="takeover_chain"),
            verdict(3, "bob", "send_to_review", 0.5),
            verdict(4, "carol", "allow", 0.8),
        ]
    )

    summary = build(decisions, review_store)

    assert (summary.verdicts, summary.alerts, summary.cases_opened) == (3, 3, 2)
    alice, bob = review_store.cases()
    assert (alice.subject, bob.subject) == ("alice", "bob")
    assert alice.case_id == case_id_for("account", "alice", 0)
    assert alice.verdict_ids == ("v001", "v002")
    assert alice.decision == "lock_account"
    assert alice.priority == priority_of("lock_account", 0.9)
    assert alice.kinds == ("brute_force", "takeover_chain")
    assert alice.title == (
        "account alice: 2 alerts, lock_account (brute_force, takeover_chain)"
    )
    assert (alice.first_seen, alice.last_seen) == (
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=2),
    )
    assert alice.created_at == NOW
    assert '"verdict_id":"v003"' in review_store.state(CURSOR_KEY)


def test_a_review_threshold_adds_high_scoring_allowed_events(decisions, review_store):
    decisions.write_verdicts(
        [verdict(1, "carol", "allow", 0.8), verdict(2, "dave", "allow", 0.3)]
    )

    build(decisions, review_store, review_threshold=0.75)

    assert [c.subject for c in review_store.cases()] == ["carol"]


def test_ring_members_share_the_ring_case(decisions, review_store):
    decisions.write_rings([ring("ring-1", ("m1", "m2", "m3"))])
    decisions.write_verdicts(
        [
            verdict(1, "m1", kind="ring_member"),
            verdict(2, "m3", kind="ring_member"),
            verdict(3, "loner"),
        ]
    )

    build(decisions, review_store)

    ring_case = review_store.cases(CaseQuery(subject_type="ring"))[0]
    assert ring_case.subject == "ring-1"
    assert ring_case.accounts == ("m1", "m2", "m3")
    assert ring_case.verdict_ids == ("v001", "v002")
    assert ring_case.title.startswith("ring ring-1 (3 accounts): 2 alerts")
    assert [c.case_id for c in review_store.cases(CaseQuery(account="m2"))] == [
        ring_case.case_id
    ]
    assert review_store.cases(CaseQuery(subject_type="account"))[0].subject == "loner"


def test_an_event_without_account_is_a_case_about_its_address(decisions, review_store):
    decisions.write_verdicts(
        [verdict(1, None, ip="203.0.113.50"), verdict(2, None, ip=None)]
    )

    summary = build(decisions, review_store)

    assert summary.alerts == 1
    (case,) = review_store.cases()
    assert (case.subject_type, case.subject, case.accounts) == (
        "ip",
        "203.0.113.50",
        (),
    )


def test_a_rebuild_adds_only_new_alerts_to_the_open_case(decisions, review_store):
    decisions.write_verdicts([verdict(1, "alice"), verdict(2, "bob")])
    build(decisions, review_store)
    review_store.assign(case_id_for("account", "alice", 0), "carol", by="carol")

    again = build(decisions, review_store)
    assert (again.alerts, again.cases_changed) == (0, 0)

    decisions.write_verdicts([verdict(3, "alice", "lock_account", 0.95)])
    later = build(decisions, review_store)

    assert (later.alerts, later.cases_changed, later.cases_opened) == (1, 1, 0)
    alice = review_store.case(case_id_for("account", "alice", 0))
    assert alice.verdict_ids == ("v001", "v003")
    assert alice.decision == "lock_account"
    assert (alice.status, alice.assignee) == ("assigned", "carol")
    assert alice.title.startswith("account alice: 2 alerts, lock_account")


def test_a_late_alert_older_than_the_last_one_is_still_picked_up(
    decisions, review_store
):
    decisions.write_verdicts([verdict(5, "alice")])
    build(decisions, review_store)

    decisions.write_verdicts([verdict(1, "alice")])

    assert build(decisions, review_store).alerts == 1
    assert review_store.cases()[0].verdict_ids == ("v005", "v001")


def test_new_alerts_on_a_resolved_subject_open_a_new_case(decisions, review_store):
    decisions.write_verdicts([verdict(1, "alice")])
    build(decisions, review_store)
    first = case_id_for("account", "alice", 0)
    review_store.resolve(first, label="benign", analyst="bob")

    decisions.write_verdicts([verdict(2, "alice")])
    summary = build(decisions, review_store)

    second = case_id_for("account", "alice", 1)
    assert second != first
    assert summary.cases_opened == 1
    assert review_store.case(first).verdict_ids == ("v001",)
    assert review_store.case(second).verdict_ids == ("v002",)
    assert review_store.case(second).status == "open"


def test_priority_puts_locks_before_reviews_and_sure_before_unsure():
    assert priority_of("lock_account", 0.1) > priority_of("challenge", 1.0)
    assert priority_of("challenge", 0.9) > priority_of("challenge", 0.5)
    assert priority_of("send_to_review", 1.0) < priority_of("challenge", 0.0)
