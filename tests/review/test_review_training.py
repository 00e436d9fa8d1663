"""Replaying analysts' labels into training labels, as known at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trustwatch.review.model import Case, Label
from trustwatch.review.training import (
    combine_labels,
    replay_account_labels,
    replay_url_labels,
)

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def label(
    n: int,
    subject: str,
    kind: str,
    hours: int,
    subject_type: str = "account",
    case_id: str | None = None,
    features: dict | None = None,
) -> Label:
    return Label(
        label_id=f"label-{n}",
        subject_type=subject_type,  # type: ignore[arg-type]
        subject=subject,
        kind=kind,  # type: ignore[arg-type]
        analyst="bob",
        labelled_at=T0 + timedelta(hours=hours),
        observed_at=T0,
        case_id=case_id,
        features=features or {},
    )


def ring_case(case_id: str, members: tuple[str, ...]) -> Case:
    return Case(
        case_id=case_id,
        subject_type="ring",
        subject="ring-1",
        status="resolved",
        priority=1.0,
        score=0.5,
        decision="challenge",
        title="ring",
        created_at=T0,
        updated_at=T0,
        first_seen=T0,
        last_seen=T0,
        accounts=members,
    )


def no_case(case_id: str) -> None:
    return None


def test_a_later_label_of_the_same_account_wins_whatever_the_input_order():
    labels = [label(2, "alice", "benign", 5), label(1, "alice", "spam", 1)]

    replayed = replay_account_labels(labels, case_of=no_case)

    assert replayed.labels == {"alice": False}
    assert (replayed.used, replayed.overridden) == (2, 1)
    assert replayed.given_at["alice"] == T0 + timedelta(hours=5)


def test_labels_given_after_as_of_are_left_out():
    labels = [label(1, "alice", "spam", 1), label(2, "alice", "benign", 5)]
    labels.append(label(3, "bob", "phishing", 6))

    replayed = replay_account_labels(
        labels, case_of=no_case, as_of=T0 + timedelta(hours=2)
    )

    assert replayed.labels == {"alice": True}
    assert (replayed.used, replayed.after_as_of) == (1, 2)
    assert replayed.by_kind == {"spam": 1}


def test_a_ring_label_applies_to_each_member_and_members_can_override():
    cases = {"case-r": ring_case("case-r", ("m1", "m2", "m3"))}
    labels = [
        label(1, "ring-1", "coordinated_ring", 1, "ring", case_id="case-r"),
        label(2, "m2", "benign", 2),
        label(3, "x", "spam", 3, "link"),
    ]

    replayed = replay_account_labels(labels, case_of=cases.get)

    assert replayed.labels == {"m1": True, "m2": False, "m3": True}
    assert replayed.used == 2


def test_a_ring_label_falls_back_to_the_accounts_its_features_name():
    labels = [
        label(1, "ring-1", "spam", 1, "ring", "gone", {"accounts": ["a", "b"]}),
        label(2, "ring-2", "spam", 2, "ring", "gone-too"),
    ]

    replayed = replay_account_labels(labels, case_of=no_case)

    assert replayed.labels == {"a": True, "b": True}
    assert replayed.unresolved_rings == 1


def test_link_labels_replay_per_url():
    labels = [
        label(1, "http://a.example/", "phishing", 1, "link"),
        label(2, "http://a.example/", "benign", 3, "link"),
        label(3, "http://b.example/", "malware", 2, "link"),
        label(4, "alice", "spam", 1),
    ]

    replayed = replay_url_labels(labels)

    assert replayed.labels == {"http://a.example/": False, "http://b.example/": True}
    assert replayed.used == 3


def test_review_labels_win_over_file_labels_and_conflicts_are_named():
    merged, conflicts = combine_labels(
        {"a": True, "b": False, "c": True}, {"b": True, "c": True, "d": False}
    )

    assert merged == {"a": True, "b": True, "c": True, "d": False}
    assert conflicts == ["b"]


def alerts_about(*entities: tuple[str, str]) -> dict:
    """Label features whose one alert has a signal about each (type, entity)."""
    signals = [{"entity_type": kind, "entity": entity} for kind, entity in entities]
    return {"accounts": ["alice"], "alerts": {"v1": {"signals": signals}}}


def test_a_resolved_case_labels_the_urls_its_alerts_flagged():
    flagged = alerts_about(
        ("url", "http://login.bad.example/"),
        ("account", "alice"),
        ("url", "http://login.bad.example/"),
        ("url", "http://drop.bad.example/x.exe"),
    )
    cleared = alerts_about(("url", "https://docs.example/"))
    takeover = alerts_about(("url", "http://other.example/"))
    labels = [
        label(1, "alice", "phishing", 1, "account", "c1", flagged),
        label(2, "bob", "benign", 2, "account", "c2", cleared),
        label(3, "carol", "account_takeover", 3, "account", "c3", takeover),
        label(4, "ring-1", "malware", 4, "ring", "c4", alerts_about()),
    ]

    replayed = replay_url_labels(labels)

    assert replayed.labels == {
        "http://login.bad.example/": True,
        "http://drop.bad.example/x.exe": True,
        "https://docs.example/": False,
    }
    # only the labels that labelled a URL count as used
    assert replayed.used == 2
    assert replayed.by_kind == {"benign": 1, "phishing": 1}


def test_url_labels_replay_in_the_order_given_with_link_labels():
    labels = [
        label(1, "dave", "benign", 1, "account", "c1", alerts_about(("url", "u:a"))),
        label(2, "u:a", "phishing", 2, "link"),
        label(3, "erin", "spam", 5, "account", "c2", alerts_about(("url", "u:b"))),
        label(4, "frank", "benign", 3, "account", "c3", {"alerts": "not a map"}),
    ]

    replayed = replay_url_labels(labels, as_of=T0 + timedelta(hours=4))

    assert replayed.labels == {"u:a": True}
    assert replayed.overridden == 1
    assert replayed.after_as_of == 1
    assert replayed.given_at["u:a"] == T0 + timedelta(hours=2)


def test_labels_that_label_no_url_are_not_counted_as_left_out():
    labels = [
        label(1, "dave", "phishing", 1, "account", "c1", alerts_about(("url", "u:a"))),
        *(label(n, "erin", "account_takeover", 5 + n, "account") for n in range(2, 7)),
        label(9, "frank", "spam", 9, "account", "c2", alerts_about(("url", "u:b"))),
    ]

    replayed = replay_url_labels(labels, as_of=T0 + timedelta(hours=4))

    assert replayed.labels == {"u:a": True}
    assert (replayed.used, replayed.after_as_of) == (1, 1)


def test_the_same_label_again_overrides_nothing():
    labels = [
        label(1, "alice", "spam", 1),
        label(2, "alice", "phishing", 2),  # abuse again: not an override
        label(3, "alice", "benign", 3),  # an override
    ]
    replayed = replay_account_labels(labels, case_of=no_case)
    assert (replayed.used, replayed.overridden) == (3, 1)
    links = [
        label(1, "http://a.example/", "phishing", 1, "link"),
        label(2, "http://a.example/", "spam", 2, "link"),  # still malicious
        label(3, "http://a.example/", "benign", 3, "link"),
    ]
    assert replay_url_labels(links).overridden == 1
