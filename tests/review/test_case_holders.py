"""A case's holder is compared as sign-in compares names, and an analyst's
action never comes with a benign label."""

from __future__ import annotations

import pytest

from trustwatch.review.actions import (
    ActionNotApplicable,
    analyst_actions,
    applicable_actions,
)
from trustwatch.review.model import CaseHeldError


@pytest.mark.parametrize("given", ["CAROL", "carol\u200b", "Carol\u2060"])
def test_a_look_alike_of_the_holders_name_is_the_holder(
    review_store, make_case, given
) -> None:
    review_store.upsert_cases([make_case()])
    review_store.assign("case-1", given, by="lead")

    case, _ = review_store.resolve("case-1", label="benign", analyst="carol")
    assert case.status == "resolved"


def test_another_name_still_cannot_work_a_held_case(review_store, make_case) -> None:
    review_store.upsert_cases([make_case()])
    review_store.assign("case-1", "carol", by="lead")

    with pytest.raises(CaseHeldError):
        review_store.resolve("case-1", label="benign", analyst="carole")


@pytest.mark.parametrize("action", ["lock_account", "challenge", "rate_limit"])
def test_a_benign_label_takes_no_action(make_case, action) -> None:
    with pytest.raises(ActionNotApplicable, match="labelled benign"):
        analyst_actions(make_case(), action, analyst="bob", label="benign")
    taken = analyst_actions(make_case(), action, analyst="bob", label="fake_account")
    assert [a.target for a in taken] == ["alice"]


def test_applicable_actions_follow_the_subject() -> None:
    assert applicable_actions("account") == applicable_actions("ring")
    assert "quarantine_file" not in applicable_actions("account")
    assert applicable_actions("ip") == ["rate_limit", "block_source"]
    assert applicable_actions("file") == ["quarantine_file"]
    assert applicable_actions("link") == ["disable_link"]


def test_one_who_takes_a_held_case_over_to_resolve_it_is_its_assignee(
    review_store, make_case
) -> None:
    review_store.upsert_cases([make_case()])
    review_store.assign("case-1", "carol", by="lead")

    case, _ = review_store.resolve(
        "case-1", label="benign", analyst="admin", take_over=True
    )
    assert (case.assignee, case.resolved_by) == ("admin", "admin")
    assert review_store.case("case-1").assignee == "admin"
