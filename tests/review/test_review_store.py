"""The review store's contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from trustwatch.errors import ConfigError
from trustwatch.review.model import (
    AuditEntry,
    CaseConflictError,
    CaseNotFoundError,
    CaseQuery,
    Label,
)

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def entry(n: int, actor: str = "bob") -> AuditEntry:
    return AuditEntry(
        entry_id=f"audit-{n}",
        at=T0 + timedelta(seconds=n),
        actor=actor,
        role="analyst",
        action="resolve",
        target_type="case",
        target=f"case-{n}",
        detail={"label": "spam"},
    )


def test_a_new_case_is_stored_and_read_back_equal(review_store, make_case):
    case = make_case()

    assert review_store.upsert_cases([case]) == 1
    assert review_store.case(case.case_id) == case
    assert review_store.case("case-missing") is None


def test_upserting_the_same_case_again_changes_nothing(review_store, make_case):
    review_store.upsert_cases([make_case()])

    assert review_store.upsert_cases([make_case()]) == 0


def test_new_alerts_merge_into_an_open_case(review_store, make_case):
    review_store.upsert_cases([make_case(verdicts=("v1",), priority=2.5)])

    changed = review_store.upsert_cases(
        [make_case(verdicts=("v2",), priority=6.9, minute=5)]
    )

    merged = review_store.case("case-1")
    assert changed == 1
    assert merged.verdict_ids == ("v1", "v2")
    assert merged.priority == 6.9
    assert merged.last_seen == T0 + timedelta(minutes=5)
    assert merged.first_seen == T0
    assert review_store.cased_verdicts(["v1", "v2", "v3"]) == {
        "v1": "case-1",
        "v2": "case-1",
    }


def test_a_resolved_case_takes_no_new_alerts(review_store, make_case):
    review_store.upsert_cases([make_case()])
    review_store.resolve("case-1", label="spam", analyst="bob")

    assert review_store.upsert_cases([make_case(verdicts=("v9",))]) == 0
    assert review_store.case("case-1").verdict_ids == ("v1",)


def test_cases_come_by_priority_then_newest_and_filter(review_store, make_case):
    review_store.upsert_cases(
        [
            make_case("low", subject="a", priority=1.5, minute=9),
            make_case("high-old", subject="b", priority=6.9, minute=1),
            make_case("high-new", subject="c", priority=6.9, minute=2),
            make_case(
                "ring", subject="ring-1", subject_type="ring", accounts=("d", "e")
            ),
        ]
    )
    review_store.assign("low", "carol", by="carol")

    ids = [c.case_id for c in review_store.cases()]
    assert ids == ["high-new", "high-old", "ring", "low"]
    assert [c.case_id for c in review_store.cases(CaseQuery(account="e"))] == ["ring"]
    assert [c.case_id for c in review_store.cases(CaseQuery(assignee="carol"))] == [
        "low"
    ]
    assert [c.case_id for c in review_store.cases(CaseQuery(status="assigned"))] == [
        "low"
    ]
    assert [c.case_id for c in review_store.cases(CaseQuery(subject_type="ring"))] == [
        "ring"
    ]
    assert [c.case_id for c in review_store.cases(CaseQuery(limit=2, offset=1))] == [
        "high-old",
        "ring",
    ]


def test_assign_and_hand_back(review_store, make_case):
    review_store.upsert_cases([make_case()])

    assigned = review_store.assign("case-1", "carol", by="lead")
    assert (assigned.status, assigned.assignee) == ("assigned", "carol")
    assert review_store.case("case-1").assignee == "carol"

    back = review_store.assign("case-1", None, by="carol")
    assert (back.status, back.assignee) == ("open", None)


def test_resolve_stores_the_case_and_its_label_together(review_store, make_case):
    review_store.upsert_cases([make_case(verdicts=("v1", "v2"), minute=3)])
    at = T0 + timedelta(days=1)

    case, label = review_store.resolve(
        "case-1",
        label="account_takeover",
        analyst="bob",
        action="lock_account",
        note="confirmed with the owner",
        features={"v1": {"signals": {"brute_force": 0.9}}},
        at=at,
    )

    assert case.status == "resolved"
    assert (case.label, case.resolved_by, case.resolved_at) == (
        "account_takeover",
        "bob",
        at,
    )
    assert review_store.case("case-1") == case
    assert review_store.labels() == [label]
    assert label.subject == "alice"
    assert label.observed_at == T0 + timedelta(minutes=3)
    assert label.labelled_at == at
    assert label.verdict_ids == ("v1", "v2")
    assert label.features == {"v1": {"signals": {"brute_force": 0.9}}}
    assert label.abusive


def test_resolving_a_resolved_case_is_refused(review_store, make_case):
    review_store.upsert_cases([make_case()])
    review_store.resolve("case-1", label="spam", analyst="bob")

    with pytest.raises(CaseConflictError, match="cases correct"):
        review_store.resolve("case-1", label="benign", analyst="carol")
    assert review_store.case("case-1").label == "spam"
    assert len(review_store.labels()) == 1


def test_a_correction_is_a_later_label_that_training_follows(review_store, make_case):
    from trustwatch.review.training import replay_account_labels

    review_store.upsert_cases([make_case(minute=3)])
    first_at, later = T0 + timedelta(days=1), T0 + timedelta(days=2)
    review_store.resolve(
        "case-1",
        label="account_takeover",
        analyst="bob",
        features={"v1": {"signals": {"brute_force": 0.9}}},
        at=first_at,
    )
    case, correction = review_store.correct(
        "case-1", label="benign", analyst="carol", note="the owner", at=later
    )
    assert (case.status, case.label, case.resolved_by) == ("resolved", "benign", "bob")
    assert review_store.case("case-1") == case
    first, second = review_store.labels()
    assert second == correction
    assert (first.kind, second.kind) == ("account_takeover", "benign")
    assert (second.analyst, second.labelled_at, second.note) == (
        "carol",
        later,
        "the owner",
    )
    # what the models saw is the same: only the verdict on it changed
    assert second.observed_at == first.observed_at == T0 + timedelta(minutes=3)
    assert second.features == first.features
    replayed = replay_account_labels(review_store.labels(), case_of=review_store.case)
    assert replayed.labels == {"alice": False}
    before = replay_account_labels(
        review_store.labels(), case_of=review_store.case, as_of=first_at
    )
    assert before.labels == {"alice": True}


def test_only_a_resolved_case_with_another_label_can_be_corrected(
    review_store, make_case
):
    review_store.upsert_cases([make_case()])
    with pytest.raises(CaseConflictError, match="not resolved"):
        review_store.correct("case-1", label="benign", analyst="carol")
    review_store.resolve("case-1", label="spam", analyst="bob")
    with pytest.raises(CaseConflictError, match="already labelled spam"):
        review_store.correct("case-1", label="spam", analyst="carol")
    with pytest.raises(CaseNotFoundError):
        review_store.correct("case-9", label="benign", analyst="carol")
    with pytest.raises(ConfigError):
        review_store.correct("case-1", label="nonsense", analyst="carol")
    assert len(review_store.labels()) == 1


def test_a_resolved_case_cannot_be_assigned(review_store, make_case):
    review_store.upsert_cases([make_case()])
    review_store.resolve("case-1", label="spam", analyst="bob")

    with pytest.raises(CaseConflictError, match="cannot be assigned"):
        review_store.assign("case-1", "carol", by="carol")
    assert review_store.case("case-1").assignee is None


def test_unknown_cases_and_label_kinds_are_clear_errors(review_store, make_case):
    review_store.upsert_cases([make_case()])

    with pytest.raises(CaseNotFoundError, match="case-nope"):
        review_store.assign("case-nope", "carol", by="carol")
    with pytest.raises(CaseNotFoundError, match="case-nope"):
        review_store.resolve("case-nope", label="spam", analyst="bob")
    with pytest.raises(ConfigError, match="not a label kind"):
        review_store.resolve("case-1", label="evil", analyst="bob")
    assert review_store.case("case-1").status == "open"


def test_concurrent_resolves_let_exactly_one_win(review_store, make_case):
    review_store.upsert_cases([make_case()])
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def resolve(analyst: str) -> None:
        start.wait()
        try:
            review_store.resolve("case-1", label="spam", analyst=analyst)
            outcomes.append("won")
        except CaseConflictError:
            outcomes.append("refused")

    threads = [threading.Thread(target=resolve, args=(f"a{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refused", "refused", "refused", "won"]
    assert len(review_store.labels()) == 1


def test_builders_saving_the_cursor_at_once_never_collide(review_store):
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def save(builder: str) -> None:
        start.wait()
        for n in range(150):
            try:
                review_store.set_state("cases.cursor", f"{builder}-{n}")
            except BaseException as exc:  # reported below
                failures.append(exc)

    threads = [threading.Thread(target=save, args=(name,)) for name in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert review_store.state("cases.cursor") in {"a-149", "b-149"}


def test_labels_come_in_the_order_given_and_filter(review_store):
    def label(n: int, hours: int, subject_type: str = "account") -> Label:
        return Label(
            label_id=f"label-{n}",
            subject_type=subject_type,  # type: ignore[arg-type]
            subject=f"s{n}",
            kind="spam",
            analyst="bob",
            labelled_at=T0 + timedelta(hours=hours),
            observed_at=T0,
        )

    assert review_store.add_label(label(1, 5))
    assert review_store.add_label(label(2, 1, "link"))
    assert review_store.add_label(label(3, 3))
    assert not review_store.add_label(label(1, 5))

    assert [x.label_id for x in review_store.labels()] == [
        "label-2",
        "label-3",
        "label-1",
    ]
    assert [x.label_id for x in review_store.labels(subject_type="account")] == [
        "label-3",
        "label-1",
    ]
    assert [x.label_id for x in review_store.labels(since=T0 + timedelta(hours=3))] == [
        "label-3",
        "label-1",
    ]


def test_the_audit_log_reads_newest_first_by_actor(review_store):
    for n, actor in enumerate(["bob", "carol", "bob"]):
        review_store.audit(entry(n, actor))

    assert [e.entry_id for e in review_store.audit_log()] == [
        "audit-2",
        "audit-1",
        "audit-0",
    ]
    assert [e.entry_id for e in review_store.audit_log(actor="bob", limit=1)] == [
        "audit-2"
    ]
    assert review_store.audit_log()[0] == entry(2, "bob")


def test_the_audit_log_refuses_update_and_delete_in_the_database(review_store):
    review_store.audit(entry(1))
    table = (
        "audit_log"
        if review_store.schema is None
        else (f'"{review_store.schema}".audit_log')
    )

    for statement in (f"UPDATE {table} SET actor = 'mallory'", f"DELETE FROM {table}"):
        with (
            pytest.raises(sa.exc.DBAPIError, match="append-only"),
            review_store._engine.begin() as db,
        ):
            db.exec_driver_sql(statement)

    assert review_store.audit_log() == [entry(1)]
    assert not hasattr(review_store, "delete_audit")


def test_build_state_is_saved_and_replaced(review_store):
    assert review_store.state("cursor") is None

    review_store.set_state("cursor", "a")
    review_store.set_state("cursor", "b")

    assert review_store.state("cursor") == "b"


def test_naive_times_are_refused(review_store, make_case):
    review_store.upsert_cases([make_case()])

    with pytest.raises(ValueError, match="no timezone"):
        review_store.resolve(
            "case-1", label="spam", analyst="bob", at=datetime(2026, 5, 1)
        )


def test_one_batch_may_carry_the_same_case_twice(review_store, make_case):
    changed = review_store.upsert_cases(
        [make_case(verdicts=("v1",)), make_case(verdicts=("v2",), minute=4)]
    )

    assert changed == 1
    assert review_store.case("case-1").verdict_ids == ("v1", "v2")
    assert review_store.cased_verdicts(["v1", "v2"]) == {
        "v1": "case-1",
        "v2": "case-1",
    }


def test_cases_are_found_by_subject_oldest_first(review_store, make_case):
    review_store.upsert_cases(
        [
            make_case("later", subject="alice", minute=9, verdicts=("v2",)),
            make_case("first", subject="alice", minute=1, verdicts=("v1",)),
            make_case("ring", subject="alice", subject_type="ring", verdicts=("v3",)),
            make_case("other", subject="bob", verdicts=("v4",)),
        ]
    )

    found = review_store.subject_cases([("account", "alice"), ("ip", "nobody")])

    assert [c.case_id for c in found[("account", "alice")]] == ["first", "later"]
    assert found[("ip", "nobody")] == []
    assert set(found) == {("account", "alice"), ("ip", "nobody")}
