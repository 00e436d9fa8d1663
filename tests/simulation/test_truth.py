"""Ground truth: collection, freezing and the aggregate views."""

from __future__ import annotations

from datetime import UTC, datetime

from trustwatch.simulation.truth import AttackTruth, GroundTruth, TruthRecorder


def test_freeze_sorts_entities_and_keeps_targets_apart_from_takeovers() -> None:
    rec = TruthRecorder("brute_force")
    rec.event_ids += ["e2", "e1"]
    rec.accounts.add("acct-b")
    rec.targets.update({"acct-b", "acct-a"})
    rec.ips.update({"203.0.113.9", "198.51.100.3"})
    frozen = rec.freeze()
    assert frozen.event_ids == ("e2", "e1")
    assert frozen.ips == ("198.51.100.3", "203.0.113.9")
    assert frozen.targets == ("acct-a",)


def test_discard_forgets_only_the_named_events() -> None:
    rec = TruthRecorder("phishing_links")
    rec.event_ids += ["e1", "e2", "e3"]
    rec.discard(["e2"])
    assert rec.freeze().event_ids == ("e1", "e3")


def test_aggregate_views_span_every_attack() -> None:
    truth = GroundTruth(
        seed=1,
        start=datetime(2026, 11, 2, tzinfo=UTC),
        end=datetime(2026, 11, 3, tzinfo=UTC),
        attacks={
            "a": AttackTruth(
                attack="a",
                event_ids=("e1",),
                urls=("https://x.example/1", "https://x.example/2"),
                unlisted_urls=("https://x.example/2",),
            ),
            "b": AttackTruth(attack="b", event_ids=("e2",), ips=("203.0.113.1",)),
        },
    )
    assert truth.malicious_event_ids() == {"e1", "e2"}
    assert truth.unlisted_urls() == {"https://x.example/2"}
    assert len(truth.malicious_urls()) == 2
    assert truth.attacker_ips() == {"203.0.113.1"}
