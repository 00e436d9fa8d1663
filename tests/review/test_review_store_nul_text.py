"""NUL in any text the review store keeps: PostgreSQL text cannot hold it, so
filter columns hold U+FFFD there, the JSON bodies keep the exact value, and
lookups by the exact value still find the rows (on both backends)."""

from __future__ import annotations

from datetime import timedelta

from tests.review.conftest import T0

from trustwatch.review.model import AuditEntry, CaseQuery

ACCOUNT = "mal\x00lory"
ANALYST = "ana\x00lyst"


def test_a_nul_account_is_stored_found_and_worked(review_store, make_case) -> None:
    hostile = make_case("case-nul", subject=ACCOUNT, verdicts=("v-nul",))
    plain = make_case("case-ok", subject="bob", verdicts=("v-ok",), minute=1)

    assert review_store.upsert_cases([hostile, plain]) == 2

    (found,) = review_store.cases(CaseQuery(account=ACCOUNT))
    assert found.subject == ACCOUNT
    assert found.accounts == (ACCOUNT,)
    assert review_store.cases(CaseQuery(subject=ACCOUNT))[0].case_id == "case-nul"
    assert review_store.cased_verdicts(["v-nul", "v-ok"]) == {
        "v-nul": "case-nul",
        "v-ok": "case-ok",
    }
    assigned = review_store.assign("case-nul", ANALYST, by="lead")
    assert assigned.assignee == ANALYST
    assert [c.case_id for c in review_store.cases(CaseQuery(assignee=ANALYST))] == [
        "case-nul"
    ]
    case, label = review_store.resolve(
        "case-nul",
        label="account_takeover",
        analyst=ANALYST,
        note="seen \x00 twice",
        at=T0 + timedelta(hours=1),
    )
    assert case.note == "seen \x00 twice"
    (kept,) = review_store.labels()
    assert (kept.subject, kept.analyst, kept.note) == (
        ACCOUNT,
        ANALYST,
        "seen \x00 twice",
    )
    assert kept.label_id == label.label_id


def test_audit_entries_with_nul_are_kept_exactly(review_store) -> None:
    entry = AuditEntry(
        entry_id="audit-nul",
        at=T0,
        actor=ANALYST,
        role="analyst",
        action="resolve",
        target_type="case",
        target="case-\x00",
        detail={"note": "a\x00b", "accounts": [ACCOUNT]},
    )

    review_store.audit(entry)
    review_store.set_state("cursor\x00", "v\x00")

    (kept,) = review_store.audit_log(actor=ANALYST)
    assert kept.detail == {"note": "a\x00b", "accounts": [ACCOUNT]}
    assert kept == entry
    assert review_store.state("cursor\x00") in ("v\x00", "v\ufffd")
